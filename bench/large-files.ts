/**
 * Large files: one file per run, archived by the function package's handler (streamed multipart above
 * MULTIPART_THRESHOLD_MB) and moved by the raw baseline, alternating which goes first. The same runs give the
 * archiver's peak RSS per file size, which must not grow with the size.
 */
import { logName } from '../sandbox/logdata';
import type { RawClient } from './raw-transfer';
import { atLeastRatio, atMostRatio, below, CPU_SECTION_TITLE, figure, MB, median, MiB, type Section, SECTION_TITLES } from './figures';
import {
  assertArchived,
  rawJobsFor,
  runHandler,
  runRaw,
  startBenchCloud,
  type BenchCloud,
  type BenchContext,
  type MeasuredRun,
} from './sandbox-runs';

const DOMAIN = 'big.example.com';
/** The throughput target is about files of this size and more. */
const LARGE_FILE_MIN_BYTES = 256 * MiB;
const MEMORY_LIMIT_MB = 200;
/** Past the default MULTIPART_THRESHOLD_MB, so the warm-up takes the multipart path too. */
const WARM_UP_BYTES = 96 * MiB;

/**
 * raw: the baseline. rawSdk: the same PUT through ali-oss's putStream (what the SDK alone costs).
 * archiver: the default configuration, so streamed multipart (16 MiB parts) above 64 MiB.
 * archiverSimplePut: MULTIPART_THRESHOLD_MB raised past the file, so the archiver sends one streamed PutObject as
 * the baseline does, and the emulators do exactly the same work on both sides.
 */
const PATHS = ['raw', 'rawSdk', 'archiver', 'archiverSimplePut'] as const;
type PathName = (typeof PATHS)[number];

export type LargeFileRuns = { sizeBytes: number } & Record<PathName, MeasuredRun[]>;

export async function benchLargeFiles(ctx: BenchContext, sizesBytes: number[], repeats: number): Promise<{ sections: Section[]; runs: LargeFileRuns[] }> {
  const bench = await startBenchCloud(ctx, 'large', [DOMAIN]);
  const runs: LargeFileRuns[] = [];
  try {
    // Unrecorded runs of every path on a smaller file first: the emulators' code is cold on its first requests.
    const warmUpBytes = Math.min(WARM_UP_BYTES, ...sizesBytes);
    for (const path of PATHS) {
      if (path === 'raw' || path === 'rawSdk') await rawOnce(ctx, bench, warmUpBytes, `warm-${path}`, path === 'raw' ? 'http' : 'ali-oss');
      else await archiveOnce(ctx, bench, warmUpBytes, path === 'archiverSimplePut' ? { MULTIPART_THRESHOLD_MB: '5120' } : {});
      await removeArchived(bench);
    }
    for (const sizeBytes of sizesBytes) {
      const entry: LargeFileRuns = { sizeBytes, raw: [], rawSdk: [], archiver: [], archiverSimplePut: [] };
      runs.push(entry);
      for (let rep = 0; rep < repeats; rep++) {
        // Rotate the order so that no path always runs on a warmer (or busier) machine.
        const order = PATHS.map((_, i) => PATHS[(i + rep) % PATHS.length]);
        for (const path of order) {
          const run =
            path === 'raw' || path === 'rawSdk'
              ? await rawOnce(ctx, bench, sizeBytes, `${path}-${rep}`, path === 'raw' ? 'http' : 'ali-oss')
              : await archiveOnce(ctx, bench, sizeBytes, path === 'archiverSimplePut' ? { MULTIPART_THRESHOLD_MB: '5120' } : {});
          entry[path].push(run);
          ctx.log(`  large ${sizeBytes / MiB} MiB ${path.padEnd(17)} ${mbPerSec(sizeBytes, run).toFixed(0)} MB/s, ` +
            `peak RSS ${(run.maxRssBytes / MB).toFixed(0)} MB, child CPU ${cpuShare(run)}%, requests ${requestsText(run)}`);
          await removeArchived(bench);
        }
      }
    }
  } finally {
    await bench.close();
  }
  return { sections: [throughputSection(runs), memorySection(runs), cpuSection(runs)], runs };
}

async function archiveOnce(ctx: BenchContext, bench: BenchCloud, sizeBytes: number, env: Record<string, string>): Promise<MeasuredRun> {
  const hour = bench.nextHourMs();
  bench.cloud.live.seedLogs(DOMAIN, hour, [{ name: logName(DOMAIN, hour, 0), source: { size: sizeBytes, seed: `large-${sizeBytes}` } }]);
  const run = await runHandler(ctx, bench, hour, env);
  assertArchived(run.report, 1, sizeBytes);
  return run;
}

async function rawOnce(ctx: BenchContext, bench: BenchCloud, sizeBytes: number, name: string, client: RawClient): Promise<MeasuredRun> {
  const jobs = rawJobsFor(bench, `large-${sizeBytes}-${name}`, [{ size: sizeBytes, seed: `large-${sizeBytes}` }]);
  return runRaw(ctx, bench, jobs, 1, client);
}

/** Archived bodies are gigabytes on disk: drop them after each run (manifests and leases are small and stay). */
async function removeArchived(bench: BenchCloud): Promise<void> {
  const { oss, bucket } = bench.cloud;
  for (const key of [...oss.listKeys(bucket, 'live-logs/'), ...oss.listKeys(bucket, 'raw/')]) await oss.deleteObject(bucket, key);
}

function requestsText(run: MeasuredRun): string {
  return Object.entries(run.requests)
    .map(([name, t]) => `${name} x${t.count} ${t.totalMs.toFixed(0)} ms`)
    .join(', ');
}

/** Client-side time spent waiting for CompleteMultipartUpload (the emulator moves the part files into the object then). */
function completeMs(run: MeasuredRun): number {
  return run.requests['OSS CompleteMultipartUpload']?.totalMs ?? 0;
}

function mbPerSec(bytes: number, run: MeasuredRun): number {
  return bytes / MB / (run.elapsedMs / 1000);
}

function cpuShare(run: MeasuredRun): string {
  return ((100 * (run.cpuUserMs + run.cpuSystemMs)) / run.elapsedMs).toFixed(0);
}

function cpuMsPerGiB(run: MeasuredRun, bytes: number): number {
  return (run.cpuUserMs + run.cpuSystemMs) / (bytes / (1024 * MiB));
}

function sizeLabel(bytes: number): string {
  return bytes >= 1024 * MiB && bytes % (1024 * MiB) === 0 ? `${bytes / (1024 * MiB)} GiB` : `${(bytes / MiB).toFixed(0)} MiB`;
}

function throughputSection(runs: LargeFileRuns[]): Section {
  const figures = runs.flatMap(({ sizeBytes, raw, archiver, archiverSimplePut }) => {
    const label = sizeLabel(sizeBytes);
    const rawMBps = { label: 'raw GET->PUT', value: median(raw.map((r) => mbPerSec(sizeBytes, r))) };
    const smallNote = sizeBytes < LARGE_FILE_MIN_BYTES ? { note: 'smaller than the 256 MiB the target is set for (--quick)' } : {};
    return [
      figure({
        id: `large.${sizeBytes}.throughput`,
        label: `archive one ${label} file, default config: multipart (median of ${archiver.length})`,
        unit: 'MB/s',
        value: median(archiver.map((r) => mbPerSec(sizeBytes, r))),
        baseline: rawMBps,
        target: atLeastRatio(0.9),
        ...smallNote,
      }),
      figure({
        id: `large.${sizeBytes}.throughputWithoutComplete`,
        label: `  same, less the wait for the emulator's CompleteMultipartUpload`,
        unit: 'MB/s',
        value: median(archiver.map((r) => sizeBytes / MB / ((r.elapsedMs - completeMs(r)) / 1000))),
        baseline: rawMBps,
        note: 'the OSS emulator copies every part file into the object on Complete; real OSS does not',
      }),
      figure({
        id: `large.${sizeBytes}.throughputSimplePut`,
        label: `archive one ${label} file, MULTIPART_THRESHOLD_MB=5120: one streamed PUT, as the baseline`,
        unit: 'MB/s',
        value: median(archiverSimplePut.map((r) => mbPerSec(sizeBytes, r))),
        baseline: rawMBps,
        target: atLeastRatio(0.9),
        ...smallNote,
      }),
    ];
  });
  return { title: SECTION_TITLES.largeThroughput, figures, notes: [] };
}

function cpuSection(runs: LargeFileRuns[]): Section {
  const perGiB = (list: MeasuredRun[], sizeBytes: number) => median(list.map((r) => cpuMsPerGiB(r, sizeBytes)));
  const emulatorPerGiB = (list: MeasuredRun[], sizeBytes: number) => median(list.map((r) => r.emulatorCpuMs / (sizeBytes / (1024 * MiB))));
  // All the CPU one GiB cost on the machine: on two cores both processes compete for, this is what sets the pace.
  const totalPerGiB = (list: MeasuredRun[], sizeBytes: number) =>
    median(list.map((r) => (r.cpuUserMs + r.cpuSystemMs + r.emulatorCpuMs) / (sizeBytes / (1024 * MiB))));
  const figures = runs.flatMap(({ sizeBytes, raw, rawSdk, archiver, archiverSimplePut }) => {
    const label = sizeLabel(sizeBytes);
    const sdk = { label: 'raw through ali-oss', value: perGiB(rawSdk, sizeBytes) };
    return [
      figure({ id: `cpu.large.${sizeBytes}.raw`, label: `${label}: raw GET->PUT, hand-signed, CPU per GiB`, unit: 'ms', value: perGiB(raw, sizeBytes) }),
      figure({
        id: `cpu.large.${sizeBytes}.rawSdk`,
        label: `${label}: raw GET->ali-oss putStream`,
        unit: 'ms',
        value: sdk.value,
        baseline: { label: 'hand-signed', value: perGiB(raw, sizeBytes) },
      }),
      figure({ id: `cpu.large.${sizeBytes}.simplePut`, label: `${label}: archiver, one streamed PUT`, unit: 'ms', value: perGiB(archiverSimplePut, sizeBytes), baseline: sdk }),
      figure({ id: `cpu.large.${sizeBytes}.multipart`, label: `${label}: archiver, multipart (default)`, unit: 'ms', value: perGiB(archiver, sizeBytes), baseline: sdk }),
      figure({
        id: `cpu.large.${sizeBytes}.emulators`,
        label: `${label}: the emulators (parent process), archiver multipart run`,
        unit: 'ms',
        value: emulatorPerGiB(archiver, sizeBytes),
        baseline: { label: 'raw run', value: emulatorPerGiB(raw, sizeBytes) },
      }),
      figure({
        id: `cpu.large.${sizeBytes}.totalSimplePut`,
        label: `${label}: child + emulators, archiver one streamed PUT`,
        unit: 'ms',
        value: totalPerGiB(archiverSimplePut, sizeBytes),
        baseline: { label: 'raw run', value: totalPerGiB(raw, sizeBytes) },
        note: 'with both cores busy, throughput ratio ~ 1 / this ratio',
      }),
      figure({
        id: `cpu.large.${sizeBytes}.totalMultipart`,
        label: `${label}: child + emulators, archiver multipart`,
        unit: 'ms',
        value: totalPerGiB(archiver, sizeBytes),
        baseline: { label: 'raw run', value: totalPerGiB(raw, sizeBytes) },
      }),
    ];
  });
  return { title: CPU_SECTION_TITLE, figures, notes: [] };
}

function memorySection(runs: LargeFileRuns[]): Section {
  const peakOf = (list: MeasuredRun[]) => Math.max(...list.map((r) => r.maxRssBytes)) / MB;
  const figures = runs.flatMap(({ sizeBytes, archiver, archiverSimplePut, raw }) => [
    figure({
      id: `memory.large.${sizeBytes}.peakRss`,
      label: `archiver peak RSS, one ${sizeLabel(sizeBytes)} file (multipart)`,
      unit: 'MB',
      value: peakOf(archiver),
      baseline: { label: 'raw process', value: peakOf(raw) },
      target: below(MEMORY_LIMIT_MB, 'MB'),
    }),
    figure({
      id: `memory.large.${sizeBytes}.peakRssSimplePut`,
      label: `archiver peak RSS, one ${sizeLabel(sizeBytes)} file (one streamed PUT)`,
      unit: 'MB',
      value: peakOf(archiverSimplePut),
      baseline: { label: 'raw process', value: peakOf(raw) },
      target: below(MEMORY_LIMIT_MB, 'MB'),
    }),
  ]);
  if (runs.length >= 2) {
    const smallest = runs[0];
    const largest = runs[runs.length - 1];
    figures.push(
      figure({
        id: 'memory.large.flatness',
        label: `archiver peak RSS, ${sizeLabel(largest.sizeBytes)} vs ${sizeLabel(smallest.sizeBytes)} file`,
        unit: 'MB',
        value: peakOf(largest.archiver),
        baseline: { label: sizeLabel(smallest.sizeBytes), value: peakOf(smallest.archiver) },
        // Flat: a file 4x larger may not cost more than a tenth more memory.
        target: atMostRatio(1.1),
      }),
    );
  }
  const largest = runs[runs.length - 1];
  const worst = largest?.archiver.reduce((a, b) => (b.maxRssBytes > a.maxRssBytes ? b : a));
  const notes = worst
    ? [
        `archiver, ${sizeLabel(largest.sizeBytes)} multipart: before the job ${(worst.rssBeforeJobBytes / MB).toFixed(0)} MB RSS; ` +
          `peaks sampled: heap used ${(worst.peakMemory.heapUsed / MB).toFixed(0)} MB, array buffers ${(worst.peakMemory.arrayBuffers / MB).toFixed(0)} MB`,
      ]
    : [];
  return { title: SECTION_TITLES.memory, figures, notes };
}
