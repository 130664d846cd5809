/**
 * The parent side of bench/child.ts: builds it once into plain JavaScript, then runs one job per fresh `node`
 * process with the emulators' endpoints in its environment, and reads back what the child measured.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as esbuild from 'esbuild';
import type { ChildJob, ChildResult } from './child';

export const PROJECT_ROOT = path.resolve(__dirname, '..');

export interface ChildRunner {
  run(job: DistributiveOmit<ChildJob, 'resultFile'>, opts?: ChildRunOptions): Promise<ChildResult>;
}

export interface ChildRunOptions {
  env?: Record<string, string>;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  cwd?: string;
  /**
   * Run bench/child.ts through ts-node instead of the built file: every module keeps its own file name, which a
   * CPU profile needs to say where the time went. (The TypeScript compiler then sits in the process: never
   * read memory from such a run.)
   */
  fromSource?: boolean;
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** Compiles bench/child.ts to one small file: only the child's own code and the raw baseline. */
export async function buildChild(workDir: string): Promise<ChildRunner> {
  const childFile = path.join(workDir, 'bench-child.js');
  await esbuild.build({
    entryPoints: [path.join(PROJECT_ROOT, 'bench/child.ts')],
    outfile: childFile,
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // The same module shape lib code has under ts-node (see scripts/bundle.mjs).
    supported: { 'dynamic-import': false },
    // The built child runs the function package or the raw baseline; lib/ (the `archiver` job) only ever runs
    // from source. Left out, it is not parsed into the measured process, whose memory it changed by 50 MB.
    external: ['../lib/archiver'],
    logLevel: 'error',
  });
  let sequence = 0;
  return {
    async run(job, opts = {}) {
      sequence += 1;
      const jobFile = path.join(workDir, `job-${sequence}.json`);
      const resultFile = path.join(workDir, `result-${sequence}.json`);
      await writeFile(jobFile, JSON.stringify({ ...job, resultFile }));
      const entry = opts.fromSource
        ? ['-r', 'ts-node/register/transpile-only', path.join(PROJECT_ROOT, 'bench/child.ts')]
        : [childFile];
      await runNode([...(opts.nodeArgs ?? []), ...entry], {
        cwd: opts.fromSource ? PROJECT_ROOT : (opts.cwd ?? workDir),
        // Only what the job needs: Function Compute gives the function its configured variables, not ours.
        env: { PATH: process.env.PATH ?? '', ...opts.env, BENCH_CHILD_JOB_FILE: jobFile },
      });
      return JSON.parse(await readFile(resultFile, 'utf8')) as ChildResult;
    },
  };
}

/** Runs node with `args`; stdout (the handler's log lines) is dropped, stderr kept for the failure message. */
export function runNode(args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      // Bounded: a log line per file of a 2,000-file hour is not worth keeping.
      if (stdout.length < 1_000_000) stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 100_000) stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`node ${args.join(' ')} exited with ${signal ?? code}: ${stderr.slice(-2000)}`));
    });
  });
}
