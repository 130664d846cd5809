/**
 * What every throughput benchmark shares: the loopback cloud in this (the parent) process, a timer event for a
 * given hour, and the archiver run in a child from the function package, with the emulators' CPU time taken
 * over the same interval.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { HOUR_MS } from '../lib/time';
import { startSandboxCloud, type SandboxCloud } from '../sandbox/cloud';
import type { ChildResult, ReportSummary } from './child';
import { PROJECT_ROOT, type ChildRunner } from './child-process';
import type { FunctionPackage } from './function-package';
import type { RawClient, RawJob } from './raw-transfer';

export interface BenchContext {
  workDir: string;
  child: ChildRunner;
  pkg: FunctionPackage;
  log(line: string): void;
}

export interface MeasuredRun extends ChildResult {
  /** CPU time of this process (the three emulators) while the child ran. */
  emulatorCpuMs: number;
}

export interface BenchCloud {
  cloud: SandboxCloud;
  /** A distinct past hour for every archiver run, so no run finds another's manifest. */
  nextHourMs(): number;
  close(): Promise<void>;
}

export async function startBenchCloud(ctx: BenchContext, name: string, domains: string[]): Promise<BenchCloud> {
  const dataDir = path.join(ctx.workDir, `oss-${name}`);
  await mkdir(dataDir, { recursive: true });
  const cloud = await startSandboxCloud({ domains, dataDir });
  // Counted back from the hour the cloud started in, not from the clock at each call: a benchmark that crossed
  // the top of the hour handed out one hour twice, and the second run found the first one's manifest.
  const startHourMs = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  let hoursUsed = 0;
  return {
    cloud,
    nextHourMs: () => {
      hoursUsed += 1;
      return startHourMs - hoursUsed * HOUR_MS;
    },
    close: async () => {
      await cloud.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** FC's timer event for the run that archives `hourStartMs` (five past the next hour). */
export function timerEventFor(hourStartMs: number): string {
  const triggerTime = new Date(hourStartMs + HOUR_MS + 5 * 60_000).toISOString().replace('.000Z', 'Z');
  return JSON.stringify({ triggerTime, triggerName: 'hourly', payload: '' });
}

async function measured(run: () => Promise<ChildResult>): Promise<MeasuredRun> {
  const before = process.cpuUsage();
  const result = await run();
  const cpu = process.cpuUsage(before);
  return { ...result, emulatorCpuMs: (cpu.user + cpu.system) / 1000 };
}

/** The function package's handler, invoked with a Buffer timer event and an FC context, in a child process. */
export function runHandler(
  ctx: BenchContext,
  bench: BenchCloud,
  hourStartMs: number,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<MeasuredRun> {
  return measured(() =>
    ctx.child.run(
      {
        kind: 'handler',
        bundleIndex: ctx.pkg.index,
        event: timerEventFor(hourStartMs),
        context: bench.cloud.context({ timeoutSec: 3600, requestId: `bench-${hourStartMs}` }),
      },
      { env: { ...bench.cloud.env, LOOKBACK_HOURS: '0', LOG_LEVEL: 'warn', ...env }, nodeArgs },
    ),
  );
}

/** lib/archiver.ts straight from source through ts-node, for CPU profiles that name each module. */
export function runArchiverFromSource(
  ctx: BenchContext,
  bench: BenchCloud,
  hourStartMs: number,
  env: Record<string, string>,
  nodeArgs: string[],
): Promise<MeasuredRun> {
  return measured(() =>
    ctx.child.run(
      { kind: 'archiver', event: timerEventFor(hourStartMs), context: bench.cloud.context({ timeoutSec: 3600 }) },
      { env: { ...bench.cloud.env, LOOKBACK_HOURS: '0', LOG_LEVEL: 'warn', ...env }, nodeArgs, fromSource: true },
    ),
  );
}

/** The raw baseline over the same emulators: hand-signed HTTP, or the same PUT through ali-oss. */
export function runRaw(ctx: BenchContext, bench: BenchCloud, jobs: RawJob[], concurrency: number, client: RawClient = 'http'): Promise<MeasuredRun> {
  const { cloud } = bench;
  const credentials = cloud.context().credentials;
  return measured(() =>
    ctx.child.run({
      kind: 'raw',
      target: { endpoint: cloud.oss.endpoint, bucket: cloud.bucket, region: cloud.oss.region, credentials },
      jobs,
      concurrency,
      client,
      projectRoot: PROJECT_ROOT,
    }),
  );
}

/** Fails the benchmark loudly when the archiver did not do the work being timed. */
export function assertArchived(report: ReportSummary | undefined, files: number, bytes: number): void {
  if (!report) throw new Error('the archiver child returned no report');
  const t = report.totals;
  if (!report.ok || t.archivedNow !== files || t.bytesArchived !== bytes) {
    throw new Error(
      `archiver run did not archive ${files} files / ${bytes} bytes: ${JSON.stringify(t)} ` +
        `errors ${JSON.stringify(report.errors)} failures ${JSON.stringify(report.failures)}`,
    );
  }
}

/** Plain-URL jobs for the raw baseline: files registered with the origin directly, signed for an hour. */
export function rawJobsFor(bench: BenchCloud, prefix: string, sources: { size: number; seed: string }[]): RawJob[] {
  const { origin } = bench.cloud;
  const expiresAtSec = Math.floor(Date.now() / 1000) + 3600;
  return sources.map((source, i) => {
    const originPath = `/raw/${prefix}/${i}.log.gz`;
    origin.addFile(originPath, source);
    return { url: origin.signedUrl(originPath, expiresAtSec), key: `raw/${prefix}/${i}.log.gz`, size: source.size };
  });
}
