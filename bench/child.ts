/**
 * The process under measurement. The emulators run in the parent; this child does one job (an archiver
 * invocation or the raw baseline), then writes what it measured about itself: wall time of the job, CPU time,
 * peak RSS, and which files of the function package it loaded. Built with esbuild by bench/child-process.ts and
 * run with plain `node`, so neither ts-node nor the TypeScript compiler sits in the measured memory; only the
 * `archiver` job (lib/ from source, for CPU profiles) runs through ts-node.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { installRequestTiming, type RequestTimings } from './http-timing';
import { closeRawAgents, rawTransferAll, type RawClient, type RawJob, type RawOssTarget } from './raw-transfer';

export type ChildJob =
  | {
      kind: 'handler';
      /** index.js of the function package (scripts/bundle.mjs output), loaded as Function Compute loads it. */
      bundleIndex: string;
      event: string;
      context: unknown;
      resultFile: string;
    }
  | { kind: 'archiver'; event: string; context: unknown; resultFile: string }
  | {
      kind: 'raw';
      target: RawOssTarget;
      jobs: RawJob[];
      concurrency: number;
      client: RawClient;
      /** Where ali-oss is installed, for the `ali-oss` client. */
      projectRoot: string;
      resultFile: string;
    };

export interface ReportSummary {
  ok: boolean;
  totals: Record<string, number>;
  errors: string[];
  failures: { name: string; reason: string }[];
}

export interface ChildResult {
  elapsedMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Peak resident set of this process over its whole life (VmHWM on Linux, see peakRssBytes). */
  maxRssBytes: number;
  /** Resident set after the code was loaded, before the job started. */
  rssBeforeJobBytes: number;
  /** When the job started on the monotonic clock, in µs: the clock of V8's CPU profile timestamps. */
  jobStartedUs: number;
  report?: ReportSummary;
  /** Files of the function package in require.cache after the invocation, relative to its folder. */
  loadedPackageFiles?: string[];
  /** Every HTTP request the job made, by service and operation (client side, creation to end of response). */
  requests: RequestTimings;
  /** Peaks of process.memoryUsage() fields, sampled every MEMORY_SAMPLE_MS: which kind of memory made the RSS. */
  peakMemory: Record<'rss' | 'heapTotal' | 'heapUsed' | 'external' | 'arrayBuffers', number>;
  /** Heap still in use after a full GC at the end: only when the child runs with --expose-gc. */
  retainedHeapBytes?: number;
}

// Often enough to catch the peaks of each kind, rarely enough not to show in a CPU profile.
const MEMORY_SAMPLE_MS = 100;

function sampleMemoryPeaks(): { peaks: ChildResult['peakMemory']; stop(): void } {
  const peaks: ChildResult['peakMemory'] = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const now = process.memoryUsage();
    for (const name of Object.keys(peaks) as (keyof typeof peaks)[]) peaks[name] = Math.max(peaks[name], now[name]);
  };
  const timer = setInterval(sample, MEMORY_SAMPLE_MS);
  return {
    peaks,
    stop() {
      clearInterval(timer);
      sample();
    },
  };
}

/**
 * This process's own peak RSS. Not getrusage's ru_maxrss (process.resourceUsage().maxRSS): on Linux a spawned
 * child inherits the parent's high-water mark through fork, so every child reported at least the benchmark
 * parent's RSS (the emulators' process, ~150-170 MB) whatever it used itself (a 40 MB child of a 340 MB parent
 * reads 290 MB there, 39 MB in VmHWM). /proc/self/status VmHWM is the high-water mark of this process's own memory.
 */
function peakRssBytes(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) * 1024;
  } catch {
    // Not Linux: fall back to getrusage.
  }
  return process.resourceUsage().maxRSS * 1024;
}

type Handler = (event: Buffer, context: unknown) => Promise<ReportSummary>;

function loadHandler(job: ChildJob): { handler: Handler; packageDir?: string } {
  if (job.kind === 'handler') {
    // A run-time path: esbuild must leave this require alone, as Function Compute's loader would.
    const load = module.require.bind(module) as (id: string) => { handler: Handler };
    return { handler: load(job.bundleIndex).handler, packageDir: path.dirname(job.bundleIndex) };
  }
  // Required here, and left out of the built child: only the from-source (profiling) runs take this path.
  const { createArchiver } = require('../lib/archiver') as typeof import('../lib/archiver');
  const archive = createArchiver();
  return { handler: (event, context) => archive(event, context as never) };
}

function summarize(report: ReportSummary): ReportSummary {
  return {
    ok: report.ok,
    totals: report.totals,
    errors: report.errors.slice(0, 5),
    failures: report.failures.slice(0, 5).map((f) => ({ name: f.name, reason: f.reason })),
  };
}

async function runJob(job: ChildJob): Promise<ChildResult> {
  // Before any SDK is loaded, so that every request of the job is seen.
  const requests = installRequestTiming();
  const loaded = job.kind === 'raw' ? null : loadHandler(job);
  const rssBeforeJobBytes = process.memoryUsage().rss;
  const memory = sampleMemoryPeaks();
  const cpuBefore = process.cpuUsage();
  const startedNs = process.hrtime.bigint();
  let report: ReportSummary | undefined;
  if (job.kind === 'raw') {
    await rawTransferAll(job.target, job.jobs, job.concurrency, job.client, job.projectRoot);
    closeRawAgents();
  } else {
    report = summarize(await loaded!.handler(Buffer.from(job.event), job.context));
  }
  const elapsedMs = Number(process.hrtime.bigint() - startedNs) / 1e6;
  const cpu = process.cpuUsage(cpuBefore);
  memory.stop();
  const packageDir = loaded?.packageDir;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  return {
    elapsedMs,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    maxRssBytes: peakRssBytes(),
    rssBeforeJobBytes,
    jobStartedUs: Number(startedNs / 1000n),
    report,
    requests,
    peakMemory: memory.peaks,
    ...(gc ? { retainedHeapBytes: process.memoryUsage().heapUsed } : {}),
    loadedPackageFiles: packageDir
      ? Object.keys(require.cache)
          .filter((file) => file.startsWith(packageDir + path.sep))
          .map((file) => path.relative(packageDir, file).split(path.sep).join('/'))
          .sort()
      : undefined,
  };
}

async function main(): Promise<void> {
  const jobFile = process.env.BENCH_CHILD_JOB_FILE;
  if (!jobFile) throw new Error('BENCH_CHILD_JOB_FILE is not set: this file is run by bench/child-process.ts');
  // A file, not an environment variable: 2,000 signed URLs are larger than one variable may be.
  const job = JSON.parse(readFileSync(jobFile, 'utf8')) as ChildJob;
  const result = await runJob(job);
  writeFileSync(job.resultFile, JSON.stringify(result));
}

main().then(
  // Keep-alive sockets of the SDK clients would hold the process open; the job is done.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
