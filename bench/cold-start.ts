/**
 * Cold start: the size of the package s.yaml deploys, and the time a fresh Node takes to load its handler,
 * against a floor built in the same run: a minified bundle of only the SDKs the hourly path cannot do without
 * (ali-oss, @alicloud/pop-core, luxon), loaded the same way. Then one hourly invocation from the package, in a
 * child, to see which of its files were loaded: the FC SDK vendor files must not be.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { logName } from '../sandbox/logdata';
import { PROJECT_ROOT, runNode } from './child-process';
import { atMostRatio, below, exactly, figure, median, MiB, type Section, SECTION_TITLES } from './figures';
import { runHandler, startBenchCloud, type BenchContext } from './sandbox-runs';

const FLOOR_PACKAGES = ['ali-oss', '@alicloud/pop-core', 'luxon'];
const MAX_PACKAGE_MIB = 2.5;
const IMPORT_RATIO_LIMIT = 1.15;

export interface ColdStartDetails {
  packageFiles: { file: string; bytes: number }[];
  floorBytes: number;
  importMs: { package: number[]; floor: number[] };
  loadedOnHourlyPath: string[];
  firstInvocationMs: number;
}

/** The floor: the SDKs alone, bundled with the options scripts/bundle.mjs uses for the package. */
async function buildFloor(workDir: string): Promise<{ file: string; bytes: number }> {
  const dir = path.join(workDir, 'floor');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'index.js');
  const result = await esbuild.build({
    stdin: {
      contents: FLOOR_PACKAGES.map((name) => `require(${JSON.stringify(name)});`).join('\n'),
      resolveDir: PROJECT_ROOT,
      loader: 'js',
    },
    outfile: file,
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // As scripts/bundle.mjs builds the hourly path: minified, without keepNames.
    minify: true,
    keepNames: false,
    legalComments: 'none',
    external: ['proxy-agent'],
    metafile: true,
    logLevel: 'error',
  });
  const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
  return { file, bytes };
}

/** Milliseconds to `require` the file in a fresh node started in `cwd` (no node_modules above it). */
async function importMs(file: string, cwd: string): Promise<number> {
  const script = `const t = process.hrtime.bigint(); require(${JSON.stringify(file)}); ` +
    `process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));`;
  return Number(await runNode(['-e', script], { cwd, env: { PATH: process.env.PATH ?? '' } }));
}

export async function benchColdStart(ctx: BenchContext, runs: number): Promise<{ section: Section; details: ColdStartDetails }> {
  const { pkg } = ctx;
  const floor = await buildFloor(ctx.workDir);
  const timings = { package: [] as number[], floor: [] as number[] };
  // Interleaved, so a busy moment on a shared machine lands on both sides.
  for (let i = 0; i < runs; i++) {
    timings.package.push(await importMs(pkg.index, ctx.workDir));
    timings.floor.push(await importMs(floor.file, ctx.workDir));
  }
  const hourly = await hourlyInvocation(ctx);
  const fanOutLoaded = hourly.loaded.filter((file) => pkg.fanOutOnlyFiles.includes(file));
  ctx.log(`  import ms package ${timings.package.map((t) => t.toFixed(0)).join(' ')}; floor ${timings.floor.map((t) => t.toFixed(0)).join(' ')}`);
  ctx.log(`  loaded on the hourly path: ${hourly.loaded.join(', ')}`);

  const section: Section = {
    title: SECTION_TITLES.coldStart,
    figures: [
      figure({
        id: 'cold.packageSize',
        label: 'code package s.yaml deploys',
        unit: 'MiB',
        value: pkg.totalBytes / MiB,
        baseline: { label: 'floor: the 3 SDKs, minified', value: floor.bytes / MiB },
        target: below(MAX_PACKAGE_MIB, 'MiB'),
        note: pkg.files.map((f) => `${f.file} ${(f.bytes / 1024).toFixed(0)} KiB`).join(', '),
      }),
      figure({
        id: 'cold.importMs',
        label: `require the handler in a fresh node (median of ${runs})`,
        unit: 'ms',
        value: median(timings.package),
        baseline: { label: `floor: ${FLOOR_PACKAGES.join(' + ')}`, value: median(timings.floor) },
        target: atMostRatio(IMPORT_RATIO_LIMIT),
      }),
      figure({
        id: 'cold.fanOutFilesLoaded',
        label: 'FC SDK vendor files loaded by an hourly invocation',
        unit: '',
        value: fanOutLoaded.length,
        target: exactly(0),
        note: `loaded: ${hourly.loaded.join(', ')}`,
      }),
      figure({
        id: 'cold.firstInvocationMs',
        label: '  first hourly invocation after the load (1 small file)',
        unit: 'ms',
        value: hourly.elapsedMs,
      }),
    ],
    notes: [],
  };
  return {
    section,
    details: {
      packageFiles: pkg.files,
      floorBytes: floor.bytes,
      importMs: timings,
      loadedOnHourlyPath: hourly.loaded,
      firstInvocationMs: hourly.elapsedMs,
    },
  };
}

async function hourlyInvocation(ctx: BenchContext): Promise<{ loaded: string[]; elapsedMs: number }> {
  const domain = 'cold.example.com';
  const bench = await startBenchCloud(ctx, 'cold', [domain]);
  try {
    const hour = bench.nextHourMs();
    bench.cloud.live.seedLogs(domain, hour, [{ name: logName(domain, hour, 0), source: { size: 30_000, seed: 'cold' } }]);
    const run = await runHandler(ctx, bench, hour);
    if (!run.report?.ok || run.report.totals.archivedNow !== 1) throw new Error(`hourly invocation failed: ${JSON.stringify(run.report)}`);
    return { loaded: run.loadedPackageFiles ?? [], elapsedMs: run.elapsedMs };
  } finally {
    await bench.close();
  }
}
