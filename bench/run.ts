/**
 * `npm run bench`: throughput (large and small files), memory, request counts, cold start and the checksum's
 * own speed, each beside a baseline measured in the same run. Prints a table and writes the same figures as
 * JSON (bench/results/latest.json). Benchmarks report; they do not fail on a missed target.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildChild, PROJECT_ROOT } from './child-process';
import { benchColdStart } from './cold-start';
import { mergeSections, renderTable, type Section } from './figures';
import { buildFunctionPackage } from './function-package';
import { benchLargeFiles } from './large-files';
import { machineInfo } from './machine';
import { benchMicro } from './micro';
import { parseBenchOptions, USAGE, type BenchOptions } from './options';
import { benchProfile } from './profile';
import { benchRequests } from './requests';
import type { BenchContext } from './sandbox-runs';
import { benchSmallFiles, smallFileSizes } from './small-files';

async function main(): Promise<void> {
  const parsed = parseBenchOptions(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const options: BenchOptions = parsed;
  const machine = machineInfo();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`bench on ${machine.nproc} x ${machine.cpuModel}, ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, node ${machine.node}` +
    `${options.quick ? ' (--quick)' : ''}; load average ${machine.loadAverageAtStart.toFixed(2)}`);
  const startedMs = Date.now();
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'live-log-archiver-bench-'));
  const sections: Section[] = [];
  const details: Record<string, unknown> = {};
  try {
    log('building the function package and the benchmark child ...');
    const [pkg, child] = await Promise.all([buildFunctionPackage(workDir), buildChild(workDir)]);
    const ctx: BenchContext = { workDir, child, pkg, log };
    const want = new Set(options.suites);

    // Small files first: after the micro-benchmarks' and the large files' traffic the emulators (this process) took 3-6 s of
    // CPU per 2,000-file hour for the next five hours or so, against 1.5 s from a fresh start.
    if (want.has('small')) {
      log('many small files ...');
      const small = await benchSmallFiles(ctx, options);
      sections.push(...small.sections);
      details.smallFiles = small.runs;
    }
    if (want.has('crc')) {
      log('micro-benchmarks: CRC-64, stream plumbing, the emulators\' per-byte work ...');
      const micro = await benchMicro(options.crcBytes, { count: options.smallFiles, concurrency: options.concurrency });
      sections.push(micro.section);
      details.micro = micro.details;
    }
    if (want.has('large')) {
      log('large files ...');
      const large = await benchLargeFiles(ctx, options.largeSizesBytes, options.largeRepeats);
      sections.push(...large.sections);
      details.largeFiles = large.runs;
    }
    if (want.has('requests')) {
      log('request counts ...');
      const requests = await benchRequests(ctx, options);
      sections.push(requests.section);
      details.requests = requests.details;
    }
    if (want.has('cold')) {
      log('cold start ...');
      const cold = await benchColdStart(ctx, options.importRuns);
      sections.push(cold.section);
      details.coldStart = cold.details;
    }
    if (want.has('profile')) {
      log('CPU profiles of the archiver: one large file, then the many-small-files hour ...');
      const large = await benchProfile(ctx, {
        name: `one ${(options.profileBytes / 2 ** 20).toFixed(0)} MiB file`,
        sizesBytes: [options.profileBytes],
        env: {},
      });
      const small = await benchProfile(ctx, {
        name: `${options.smallFiles} small files`,
        sizesBytes: smallFileSizes(options.smallFiles, options.smallMinBytes, options.smallMaxBytes),
        env: { CONCURRENCY: String(options.concurrency) },
      });
      sections.push(large.section, small.section);
      details.profile = [large.details, small.details];
    }
  } finally {
    // BENCH_KEEP_WORKDIR=1 keeps the CPU profiles and the built package for a closer look.
    if (process.env.BENCH_KEEP_WORKDIR === '1') log(`kept ${workDir}`);
    else await rm(workDir, { recursive: true, force: true });
  }

  const merged = mergeSections(sections);
  const table = renderTable(merged);
  process.stdout.write(`\n${table}\n`);
  const outFile = path.resolve(PROJECT_ROOT, options.outFile);
  await mkdir(path.dirname(outFile), { recursive: true });
  const durationSec = (Date.now() - startedMs) / 1000;
  await writeFile(
    outFile,
    `${JSON.stringify(
      // The load average at the end covers the last minutes of the run: other work on a shared machine shows in it.
      { measuredAt: new Date(startedMs).toISOString(), durationSec, machine, loadAverageAtEnd: os.loadavg(), options, sections: merged, details },
      null,
      2,
    )}\n`,
  );
  log(`\n${merged.flatMap((s) => s.figures).filter((f) => f.met === false).length} targets missed; ` +
    `${durationSec.toFixed(0)} s; figures written to ${path.relative(process.cwd(), outFile)}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
