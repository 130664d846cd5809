/**
 * Many small files: one hour of `smallFiles` logs of 10-100 KB, archived by the handler at CONCURRENCY and moved
 * by the raw baseline at the same concurrency. Files per second, and the archiver's peak RSS.
 */
import { logName } from '../sandbox/logdata';
import { atLeastRatio, below, CPU_SECTION_TITLE, figure, MB, median, type Section, SECTION_TITLES } from './figures';
import type { BenchOptions } from './options';
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

const DOMAIN = 'busy.example.com';
const MEMORY_LIMIT_MB = 200;


export interface SmallFileRuns {
  files: number;
  bytes: number;
  concurrency: number;
  archiver: MeasuredRun[];
  /** Hand-signed PUTs, and the same PUTs through ali-oss's putStream. */
  raw: MeasuredRun[];
  rawSdk: MeasuredRun[];
}

const PATHS = ['raw', 'rawSdk', 'archiver'] as const;

/** Sizes spread evenly over [min, max] by a fixed-seed generator: the same hour every run and every machine. */
export function smallFileSizes(count: number, minBytes: number, maxBytes: number): number[] {
  let state = 0x9e3779b9;
  const next = () => {
    // xorshift32: deterministic, and good enough to spread sizes.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return Array.from({ length: count }, () => minBytes + Math.floor(next() * (maxBytes - minBytes + 1)));
}

export async function benchSmallFiles(ctx: BenchContext, options: BenchOptions): Promise<{ sections: Section[]; runs: SmallFileRuns }> {
  const sizes = smallFileSizes(options.smallFiles, options.smallMinBytes, options.smallMaxBytes);
  const totalBytes = sizes.reduce((a, b) => a + b, 0);
  const runs: SmallFileRuns = { files: sizes.length, bytes: totalBytes, concurrency: options.concurrency, archiver: [], raw: [], rawSdk: [] };
  const bench = await startBenchCloud(ctx, 'small', [DOMAIN]);
  try {
    // The emulators' first hours of this many files cost them 2-4x the CPU of later ones, user and system time
    // alike (measured: 3-6.9 s against 1.4-1.6 s; 300 files first did not take it away): one unrecorded run of
    // every path at full size first, so every recorded run meets the same warm emulators.
    const warmUp = sizes;
    for (const path of PATHS) {
      const sources = warmUp.map((size, i) => ({ size, seed: `small-warm-${path}-${i}` }));
      const run = path === 'archiver'
        ? await archiveHour(ctx, bench, sources, options.concurrency)
        : await runRaw(ctx, bench, rawJobsFor(bench, `small-warm-${path}`, sources), options.concurrency, path === 'raw' ? 'http' : 'ali-oss');
      ctx.log(`  warm-up x${sources.length} ${path.padEnd(9)} ${filesPerSec(sources.length, run).toFixed(0)} files/s, emulators ${run.emulatorCpuMs.toFixed(0)} ms`);
    }
    for (let rep = 0; rep < options.smallRepeats; rep++) {
      // Rotate the order so that no path always runs on a warmer (or busier) machine.
      const order = PATHS.map((_, i) => PATHS[(i + rep) % PATHS.length]);
      for (const path of order) {
        const sources = sizes.map((size, i) => ({ size, seed: `small-${rep}-${path}-${i}` }));
        const run =
          path === 'archiver'
            ? await archiveHour(ctx, bench, sources, options.concurrency)
            : await runRaw(ctx, bench, rawJobsFor(bench, `small-${path}-${rep}`, sources), options.concurrency, path === 'raw' ? 'http' : 'ali-oss');
        runs[path].push(run);
        ctx.log(`  small x${sizes.length} ${path.padEnd(9)} ${filesPerSec(sizes.length, run).toFixed(0)} files/s, ` +
          `peak RSS ${(run.maxRssBytes / MB).toFixed(0)} MB (${memoryText(run)}), CPU ${(run.cpuUserMs + run.cpuSystemMs).toFixed(0)} ms, ` +
          `emulators ${run.emulatorCpuMs.toFixed(0)} ms`);
      }
    }
  } finally {
    await bench.close();
  }
  return { sections: sections(runs), runs };
}

async function archiveHour(ctx: BenchContext, bench: BenchCloud, sources: { size: number; seed: string }[], concurrency: number): Promise<MeasuredRun> {
  const hour = bench.nextHourMs();
  bench.cloud.live.seedLogs(
    DOMAIN,
    hour,
    sources.map((source, i) => ({ name: logName(DOMAIN, hour, i), source })),
  );
  const run = await runHandler(ctx, bench, hour, { CONCURRENCY: String(concurrency) });
  assertArchived(run.report, sources.length, sources.reduce((sum, s) => sum + s.size, 0));
  return run;
}

/** Peak of each kind of memory, to tell heap objects from buffers. */
export function memoryText(run: MeasuredRun): string {
  const p = run.peakMemory;
  return `heap ${(p.heapUsed / MB).toFixed(0)}/${(p.heapTotal / MB).toFixed(0)} MB, buffers ${(p.arrayBuffers / MB).toFixed(0)} MB`;
}

function filesPerSec(files: number, run: MeasuredRun): number {
  return files / (run.elapsedMs / 1000);
}

function sections(runs: SmallFileRuns): Section[] {
  const { files, archiver, raw, concurrency } = runs;
  const throughput: Section = {
    title: SECTION_TITLES.smallThroughput,
    figures: [
      figure({
        id: 'small.filesPerSec',
        label: `archive ${files} files of 10-100 KB, one hour, concurrency ${concurrency} (median of ${archiver.length})`,
        unit: 'files/s',
        value: median(archiver.map((r) => filesPerSec(files, r))),
        baseline: { label: `raw GET->PUT, ${concurrency} at once`, value: median(raw.map((r) => filesPerSec(files, r))) },
        target: atLeastRatio(0.8),
      }),
      figure({
        id: 'small.filesPerSecRawSdk',
        label: `  the raw baseline with its PUT through ali-oss putStream (the SDK the archiver must use)`,
        unit: 'files/s',
        value: median(runs.rawSdk.map((r) => filesPerSec(files, r))),
        baseline: { label: 'raw GET->PUT, hand-signed', value: median(raw.map((r) => filesPerSec(files, r))) },
        note: 'what the SDK alone leaves of the baseline',
      }),
    ],
    notes: [],
  };
  const memory: Section = {
    title: SECTION_TITLES.memory,
    figures: [
      figure({
        id: 'memory.small.peakRss',
        label: `archiver peak RSS, ${files} small files`,
        unit: 'MB',
        value: Math.max(...archiver.map((r) => r.maxRssBytes)) / MB,
        baseline: { label: 'raw process', value: Math.max(...raw.map((r) => r.maxRssBytes)) / MB },
        target: below(MEMORY_LIMIT_MB, 'MB'),
      }),
    ],
    notes: archiver.length
      ? [`archiver, ${files} small files: ${memoryText(archiver.reduce((a, b) => (b.maxRssBytes > a.maxRssBytes ? b : a)))}`]
      : [],
  };
  const perFile = (list: MeasuredRun[]) => median(list.map((r) => (r.cpuUserMs + r.cpuSystemMs) / files));
  const sdk = { label: 'raw through ali-oss', value: perFile(runs.rawSdk) };
  const cpu: Section = {
    title: CPU_SECTION_TITLE,
    figures: [
      figure({ id: 'cpu.small.raw', label: `${files} small files: raw GET->PUT, hand-signed, CPU per file`, unit: 'ms', value: perFile(raw) }),
      figure({
        id: 'cpu.small.rawSdk',
        label: `${files} small files: raw GET->ali-oss putStream`,
        unit: 'ms',
        value: sdk.value,
        baseline: { label: 'hand-signed', value: perFile(raw) },
      }),
      figure({ id: 'cpu.small.archiver', label: `${files} small files: archiver`, unit: 'ms', value: perFile(archiver), baseline: sdk }),
      figure({
        id: 'cpu.small.emulators',
        label: `${files} small files: the emulators (parent process), archiver run`,
        unit: 'ms',
        value: median(archiver.map((r) => r.emulatorCpuMs / files)),
        baseline: { label: 'raw run', value: median(raw.map((r) => r.emulatorCpuMs / files)) },
      }),
      figure({
        id: 'cpu.small.total',
        label: `${files} small files: child + emulators, archiver run`,
        unit: 'ms',
        value: median(archiver.map((r) => (r.cpuUserMs + r.cpuSystemMs + r.emulatorCpuMs) / files)),
        baseline: { label: 'raw run', value: median(raw.map((r) => (r.cpuUserMs + r.cpuSystemMs + r.emulatorCpuMs) / files)) },
        note: 'with both cores busy, throughput ratio ~ 1 / this ratio',
      }),
    ],
    notes: [],
  };
  return [throughput, memory, cpu];
}
