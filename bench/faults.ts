/**
 * `npm run faults`: the fault matrix (test/faults/matrix.ts) at a larger size than CI runs it. Prints one line per
 * row as it finishes (stderr), then the table (stdout), and exits non-zero when any row lost or damaged a file.
 *
 *   npm run faults                      every row, BENCH_SCALE
 *   npm run faults -- --ci              every row at the size the jest test uses
 *   npm run faults -- --only origin     rows whose fault or id contains "origin"
 */
import { Command } from 'commander';
import { BENCH_SCALE, CI_SCALE, FAULT_ROWS, formatTable, runMatrix, type RowResult } from '../test/faults/matrix';

interface Options {
  ci?: boolean;
  only?: string;
}

function describeScale(ci: boolean): string {
  const scale = ci ? CI_SCALE : BENCH_SCALE;
  const largeMiB = (scale.largeBytes / (1024 * 1024)).toFixed(1);
  return `${scale.smallFiles} gzip logs of ${scale.smallLines} lines + ${scale.largeFiles} x ${largeMiB} MiB (multipart) per row`;
}

function progressLine(result: RowResult): string {
  const verdict = result.lost === 0 && result.damaged === 0 ? 'ok' : 'FAILED';
  const facts = Object.entries(result.facts)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  return `${verdict.padEnd(6)} ${result.fault} (${(result.durationMs / 1000).toFixed(1)} s) ${facts}`;
}

async function main(): Promise<void> {
  const options = new Command()
    .name('faults')
    .description('Run the fault matrix against the loopback emulators and print the table')
    .option('--ci', 'use the CI size (what test/faults/fault-matrix.test.ts runs)')
    .option('--only <text>', 'only rows whose fault or id contains this text')
    .parse()
    .opts<Options>();

  const only = options.only?.toLowerCase();
  const rows = FAULT_ROWS.filter((row) => !only || row.fault.toLowerCase().includes(only) || row.id.includes(only));
  if (rows.length === 0) throw new Error(`no row matches --only ${options.only}`);

  // urllib warns "callback twice" whenever an upload body fails, which most rows do on purpose.
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('[urllib:warn]')) return;
    warn(...args);
  };

  process.stderr.write(`fault matrix: ${rows.length} rows, ${describeScale(Boolean(options.ci))}\n`);
  const startedMs = Date.now();
  const results = await runMatrix(rows, options.ci ? CI_SCALE : BENCH_SCALE, (result) => {
    process.stderr.write(`${progressLine(result)}\n`);
    for (const problem of result.problems) process.stderr.write(`         ! ${problem}\n`);
  });

  process.stdout.write(`${formatTable(results)}\n`);
  const failed = results.filter((r) => r.lost > 0 || r.damaged > 0);
  process.stderr.write(
    `${results.length} rows in ${((Date.now() - startedMs) / 1000).toFixed(1)} s: ` +
      (failed.length === 0 ? 'nothing lost, nothing damaged\n' : `${failed.length} rows lost or damaged files\n`),
  );
  if (failed.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`faults: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 2;
});
