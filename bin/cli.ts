/**
 * The operator CLI over the same library as the function, configured by the same environment variables
 * (lib/config.ts) and credentials from ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET / _SECURITY_TOKEN.
 *
 *   run       one archive run now, locally, as the hourly timer would
 *   backfill  archive a range in place (or, with --remote, fan it out to the deployed function)
 *   status    per domain x hour from the manifests, as a grid
 *   verify    HEAD every archived object of a range and compare size and CRC-64 with its manifest
 *   sandbox   the `npm start` run against the embedded emulators
 *
 * This file parses arguments and prints; the work is in lib/. Exit codes: 0 all good, 1 failures found (or a
 * run/verify that failed), 2 a usage or configuration error (the message names the flag or variable and the fix).
 */
import { randomUUID } from 'node:crypto';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { DateTime } from 'luxon';
import { createArchiver, type FcContext } from '../lib/archiver';
import { backfillUnits, combineReports, dispatchUnits, unitBackfillEvent, type DispatchResult } from '../lib/backfill';
import { buildClients } from '../lib/clients';
import { MAX_HOURS_BACK, credentialsFromEnv, loadConfig, normalizeHostname, type Config } from '../lib/config';
import { ArchiverError, ConfigError, EventError } from '../lib/errors';
import { parseEvent } from '../lib/events';
import { createInvoker, invokerTargetFrom, type Invoker, type InvokerTarget } from '../lib/invoke';
import type { WorkUnit } from '../lib/plan';
import { createProgress, progressMode, type Progress, type TextStream } from '../lib/progress';
import { redactError } from '../lib/redact';
import { buildStatusGrid, cellId, readListedNames, readManifests, renderStatus } from '../lib/status';
import { HOUR_MS, LUXON_LOCALE, apiTime, hourStart, hoursBetween } from '../lib/time';
import type { Credentials, RunReport } from '../lib/types';
import { renderVerify, verifyArchive } from '../lib/verify';

export interface CliIo {
  stdout: TextStream;
  stderr: TextStream;
  env: Record<string, string | undefined>;
  /** Whether stdout is a terminal: colour and progress bars only then. */
  isTTY: boolean;
  /** Terminal width for the status grid; 120 when unknown. */
  columns?: number;
}

export const ExitCode = { Ok: 0, FailuresFound: 1, Usage: 2 } as const;

/** A usage problem found after commander's own checks: printed as is, exit code 2. */
class UsageError extends Error {
  override name = 'UsageError';
}

const DEFAULT_WIDTH_COLS = 120;
/** Local runs have no platform timeout; this bounds one run (or one backfill unit) instead. */
const DEFAULT_LOCAL_TIMEOUT_SEC = 3600;
const DEFAULT_STATUS_HOURS = 24;
const MAX_LOCAL_TIMEOUT_SEC = 7 * 24 * 3600;
const DEFAULT_VERIFY_CONCURRENCY = 16;
const MAX_VERIFY_CONCURRENCY = 128;
/** Manifests outlive the Live API's 31 days, so status and verify may look back further; a year is a typo guard. */
const MAX_INSPECT_HOURS = 366 * 24;
/** Reads of manifests in flight at once for status. */
const STATUS_READ_CONCURRENCY = 16;

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    return reportError(err, io);
  }
}

function buildProgram(io: CliIo, setExitCode: (code: number) => void): Command {
  const program = new Command('live-log-archiver')
    .description('Operator CLI for the live-log-archiver: archive, backfill, inspect and verify relay logs in OSS.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)')
    .option('--no-color', 'plain symbols without ANSI colour (also when NO_COLOR is set or stdout is not a terminal)')
    .addHelpText(
      'after',
      '\nConfiguration comes from the same environment variables as the function (ARCHIVER_DOMAINS, OSS_BUCKET, ...),\n' +
        'credentials from ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN.\n' +
        'Exit codes: 0 ok, 1 failures found, 2 usage or configuration error.',
    );
  const colorWanted = () => program.opts<{ color: boolean }>().color;

  program
    .command('run')
    .description('one archive run now, locally: the hour before the current one plus LOOKBACK_HOURS, as the timer does')
    .option('--domain <domain...>', 'only these configured domains (repeat, or separate with commas)')
    .option('--lookback-hours <n>', 'override LOOKBACK_HOURS for this run', wholeNumberIn(0, MAX_HOURS_BACK))
    .option('--timeout-sec <n>', 'time budget of the run; no transfer starts in its last DEADLINE_MARGIN_SEC', wholeNumberIn(1, MAX_LOCAL_TIMEOUT_SEC), DEFAULT_LOCAL_TIMEOUT_SEC)
    .option('--json', 'print the RunReport as JSON')
    .option('--verbose', "write the archiver's JSON log lines to stderr")
    .action(async (opts: RunOptions) => setExitCode(await runCommand(opts, io)));

  program
    .command('backfill')
    .description('archive every hour of a range (end exclusive; at most the last 31 days, which the Live API keeps)')
    .requiredOption('--from <time>', 'start, ISO-8601 (UTC when no zone is given), e.g. 2026-11-01T00:00:00Z', instant)
    .requiredOption('--to <time>', 'end (exclusive), ISO-8601, e.g. 2026-11-08T00:00:00Z', instant)
    .option('--domain <domain...>', 'only these configured domains (repeat, or separate with commas)')
    .option('--remote', 'fan the range out to the deployed function (FANOUT_* variables) as asynchronous invocations instead of running here')
    .option('--fc-region <region>', "with --remote: the function's region, when FANOUT_ENDPOINT's host does not name it")
    .option('--account-id <id>', "with --remote: the function's account ID, when FANOUT_ENDPOINT's host does not name it (FC 2.0)")
    .option('--timeout-sec <n>', 'time budget of each (domain, day) unit run here', wholeNumberIn(1, MAX_LOCAL_TIMEOUT_SEC), DEFAULT_LOCAL_TIMEOUT_SEC)
    .option('--json', 'print the combined RunReport as JSON (no progress)')
    .option('--verbose', "write the archiver's JSON log lines to stderr")
    .action(async (opts: BackfillOptions) => setExitCode(await backfillCommand(opts, io)));

  program
    .command('status')
    .description('archive state per domain x hour from the manifests and the Live API listing, drawn as a grid (exit 1 when any hour needs attention)')
    .option('--from <time>', `start, ISO-8601 (default: ${DEFAULT_STATUS_HOURS} hours before the current hour)`, instant)
    .option('--to <time>', 'end (exclusive), ISO-8601 (default: the start of the current hour)', instant)
    .option('--domain <domain...>', 'only these domains (default: ARCHIVER_DOMAINS)')
    .option('--no-source', 'do not compare with the Live API listing (manifests only: one GET per hour, no API calls)')
    .option('--json', 'print the grid model as JSON')
    .action(async (opts: StatusOptions) => setExitCode(await statusCommand(opts, colorWanted(), io)));

  program
    .command('verify')
    .description('HEAD every archived object of a range and compare size and CRC-64 with its manifest (exit 1 on any problem)')
    .option('--from <time>', `start, ISO-8601 (default: ${DEFAULT_STATUS_HOURS} hours before the current hour)`, instant)
    .option('--to <time>', 'end (exclusive), ISO-8601 (default: the start of the current hour)', instant)
    .option('--domain <domain...>', 'only these domains (default: ARCHIVER_DOMAINS)')
    .option('--concurrency <n>', `requests in flight at once, 1..${MAX_VERIFY_CONCURRENCY}`, wholeNumberIn(1, MAX_VERIFY_CONCURRENCY), DEFAULT_VERIFY_CONCURRENCY)
    .option('--json', 'print the result as JSON (no progress)')
    .action(async (opts: VerifyOptions) => setExitCode(await verifyCommand(opts, io)));

  program
    .command('sandbox')
    .description('the `npm start` run: embedded emulators, seeded logs, two archive runs, the archive listed')
    .option('--keep-data', "keep the OSS emulator's data directory (it is printed)")
    .action(async (opts: { keepData?: boolean }) => setExitCode(await sandboxCommand(opts, io)));

  return program;
}

// ---------------------------------------------------------------------------------------------------------------
// Commands

interface RunOptions {
  domain?: string[];
  lookbackHours?: number;
  timeoutSec: number;
  json?: boolean;
  verbose?: boolean;
}

async function runCommand(opts: RunOptions, io: CliIo): Promise<number> {
  const { config } = setup(io);
  const event: Record<string, unknown> = {};
  if (opts.domain) event.domains = splitList(opts.domain);
  if (opts.lookbackHours !== undefined) event.lookbackHours = opts.lookbackHours;
  checkEvent(event, config, Date.now());
  const archive = localArchiver(opts.verbose, io);
  const report = await archive(event, localContext(`cli-run-${randomUUID()}`, opts.timeoutSec));
  io.stdout.write(opts.json ? toJson(report) : renderRunReport(report));
  return report.ok ? ExitCode.Ok : ExitCode.FailuresFound;
}

interface BackfillOptions {
  from: number;
  to: number;
  domain?: string[];
  remote?: boolean;
  fcRegion?: string;
  accountId?: string;
  timeoutSec: number;
  json?: boolean;
  verbose?: boolean;
}

async function backfillCommand(opts: BackfillOptions, io: CliIo): Promise<number> {
  const { config, credentials } = setup(io);
  const startedMs = Date.now();
  const event: Record<string, unknown> = { action: 'backfill', start: apiTime(opts.from), end: apiTime(opts.to) };
  if (opts.domain) event.domains = splitList(opts.domain);
  const backfill = checkEvent(event, config, startedMs);
  if (backfill.kind !== 'backfill') throw new Error(`internal: a backfill event parsed as ${backfill.kind}`);
  const units = backfillUnits(backfill, config.maxHoursPerInvocation);
  if (opts.remote) return remoteBackfill(units, backfill.warnings, config, credentials, opts, io);

  const runId = `cli-backfill-${randomUUID()}`;
  const archive = localArchiver(opts.verbose, io);
  const progress = progressFor(io, opts.json);
  const reports: RunReport[] = [];
  progress.start('backfill units (domain x day)', units.length);
  try {
    for (const [i, unit] of units.entries()) {
      reports.push(await archive(unitBackfillEvent(unit), localContext(`${runId}-${i + 1}`, opts.timeoutSec)));
      progress.update(i + 1);
    }
  } finally {
    progress.stop();
  }
  const report = combineReports(reports, { runId, action: 'backfill', startedAtMs: startedMs, finishedAtMs: Date.now(), warnings: backfill.warnings });
  io.stdout.write(opts.json ? toJson(report) : renderRunReport(report));
  return report.ok ? ExitCode.Ok : ExitCode.FailuresFound;
}

/** `backfill --remote`: one asynchronous invocation of the deployed function per unit; progress via `status`. */
async function remoteBackfill(
  units: WorkUnit[],
  warnings: readonly string[],
  config: Config,
  credentials: Credentials,
  opts: BackfillOptions,
  io: CliIo,
): Promise<number> {
  // A local process has no FC context: the region and account come from flags or from FANOUT_ENDPOINT's host.
  const context: FcContext = {};
  if (opts.fcRegion) context.region = opts.fcRegion;
  if (opts.accountId) context.accountId = opts.accountId;
  let invoker: Invoker;
  let target: InvokerTarget;
  try {
    target = invokerTargetFrom(config, context, credentials);
    invoker = await createInvoker(target);
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new UsageError(`${err.message}\n  (with --remote, --fc-region and --account-id give what FANOUT_ENDPOINT's host does not)`);
    }
    throw err;
  }
  const runId = `cli-backfill-${randomUUID()}`;
  const progress = progressFor(io, opts.json);
  progress.start('units sent', units.length);
  const result = await dispatchUnits(units, invoker, { runId, onSent: (done) => progress.update(done) }).finally(() => progress.stop());
  const output = { ...result, functionName: target.functionName, api: target.api, warnings: [...warnings] };
  io.stdout.write(opts.json ? toJson(output) : renderDispatch(output));
  return result.ok ? ExitCode.Ok : ExitCode.FailuresFound;
}

interface StatusOptions {
  from?: number;
  to?: number;
  domain?: string[];
  source: boolean;
  json?: boolean;
}

async function statusCommand(opts: StatusOptions, colorWanted: boolean, io: CliIo): Promise<number> {
  const { config, credentials } = setup(io);
  const nowMs = Date.now();
  const { startMs, endMs, hoursMs } = inspectRange(opts, nowMs);
  const domains = domainsFor(opts.domain, config);
  const clients = buildClients(config, credentials);
  const progress = progressFor(io, opts.json);
  let done = 0;
  progress.start('manifests', domains.length * hoursMs.length);
  const [reads, listing] = await Promise.all([
    readManifests(clients.store, {
      statePrefix: config.statePrefix,
      domains,
      hoursMs,
      concurrency: STATUS_READ_CONCURRENCY,
      onRead: () => progress.update(++done),
    }).finally(() => progress.stop()),
    opts.source ? readListedNames(clients.lister, { domains, startMs, endMs, nowMs }) : Promise.resolve(null),
  ]);
  const grid = buildStatusGrid({
    domains,
    hoursMs,
    manifestOf: (domain, hourMs) => reads.get(cellId(domain, hourMs)) ?? { kind: 'missing' },
    listedNamesOf: listing ? (domain, hourMs) => listing.names.get(cellId(domain, hourMs)) ?? null : undefined,
    warnings: listing?.warnings,
  });
  const color = colorWanted && io.isTTY && !io.env.NO_COLOR;
  io.stdout.write(opts.json ? toJson(grid) : renderStatus(grid, { color, widthCols: io.columns || DEFAULT_WIDTH_COLS }));
  return grid.attention ? ExitCode.FailuresFound : ExitCode.Ok;
}

interface VerifyOptions {
  from?: number;
  to?: number;
  domain?: string[];
  concurrency: number;
  json?: boolean;
}

async function verifyCommand(opts: VerifyOptions, io: CliIo): Promise<number> {
  const { config, credentials } = setup(io);
  const { hoursMs } = inspectRange(opts, Date.now());
  const domains = domainsFor(opts.domain, config);
  const { store } = buildClients(config, credentials);
  const progress = progressFor(io, opts.json);
  let phase: string | null = null;
  try {
    const result = await verifyArchive(store, {
      statePrefix: config.statePrefix,
      domains,
      hoursMs,
      concurrency: opts.concurrency,
      onProgress: (event) => {
        if (event.phase !== phase) {
          progress.stop();
          phase = event.phase;
          progress.start(event.phase === 'manifests' ? 'manifests read' : 'objects checked', event.total);
        }
        progress.update(event.done);
      },
    });
    progress.stop();
    io.stdout.write(opts.json ? toJson(result) : renderVerify(result));
    return result.ok ? ExitCode.Ok : ExitCode.FailuresFound;
  } finally {
    progress.stop();
  }
}

async function sandboxCommand(opts: { keepData?: boolean }, io: CliIo): Promise<number> {
  // Loaded on demand: it starts emulators, which no other command needs.
  const { runSandbox } = await import('./sandbox');
  const reports = await runSandbox({ keepData: opts.keepData === true, out: (line) => io.stdout.write(`${line}\n`) });
  return reports.every((r) => r.ok) ? ExitCode.Ok : ExitCode.FailuresFound;
}

// ---------------------------------------------------------------------------------------------------------------
// Shared steps

function setup(io: CliIo): { config: Config; credentials: Credentials } {
  const config = loadConfig(io.env);
  const credentials = credentialsFromEnv(io.env);
  if (!credentials) {
    throw new ConfigError([
      {
        variable: 'ALIBABA_CLOUD_ACCESS_KEY_ID',
        problem: 'is not set, and the CLI has no other source of credentials',
        fix: 'set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for STS keys)',
      },
    ]);
  }
  return { config, credentials };
}

/** The event the archiver will parse, parsed here first, so a bad flag is a usage error (exit 2), not a failed run. */
function checkEvent(event: Record<string, unknown>, config: Config, nowMs: number) {
  try {
    return parseEvent(event, { nowMs, configuredDomains: config.domains });
  } catch (err) {
    if (err instanceof EventError) throw new UsageError(`${flagOf(err.field)}: ${err.problem}; ${err.fix}`);
    throw err;
  }
}

/** Event fields as the flags that set them. */
function flagOf(field: string): string {
  if (field === 'start') return '--from';
  if (field === 'end') return '--to';
  if (field.startsWith('domains')) return '--domain';
  if (field === 'lookbackHours') return '--lookback-hours';
  return field;
}

/**
 * A local run is one FC-style invocation without platform credentials (the archiver reads them from the env) and
 * without a function name, which would otherwise become the fan-out target.
 */
function localContext(requestId: string, timeoutSec: number): FcContext {
  return { requestId, function: { timeout: timeoutSec } };
}

/** An archiver for runs in this process. It never fans out: hours a run leaves are reported as remaining. */
function localArchiver(verbose: boolean | undefined, io: CliIo) {
  return createArchiver({
    env: io.env,
    logSink: logSinkFor(verbose, io),
    invokerFactory: () =>
      Promise.reject(new UsageError('a run from the CLI does not fan out; run the same command again for the hours it left')),
  });
}

function inspectRange(opts: { from?: number; to?: number }, nowMs: number): { startMs: number; endMs: number; hoursMs: number[] } {
  const currentHourMs = hourStart(nowMs);
  const toMs = opts.to ?? currentHourMs;
  const fromMs = opts.from ?? (opts.to === undefined ? currentHourMs : hourStart(toMs)) - DEFAULT_STATUS_HOURS * HOUR_MS;
  const startMs = hourStart(fromMs);
  const endMs = hourStart(toMs) === toMs ? toMs : hourStart(toMs) + HOUR_MS;
  if (startMs >= endMs) throw new UsageError(`--to ${apiTime(toMs)} is not after --from ${apiTime(fromMs)}; give an end later than the start (the end is exclusive)`);
  const hoursMs = hoursBetween(startMs, endMs);
  if (hoursMs.length > MAX_INSPECT_HOURS) {
    throw new UsageError(`--from .. --to covers ${hoursMs.length} hours, more than ${MAX_INSPECT_HOURS} (a year); give a shorter range`);
  }
  return { startMs, endMs, hoursMs };
}

/** --domain values (repeated or comma-separated) as valid hostnames, or the configured domains. */
function domainsFor(given: readonly string[] | undefined, config: Config): string[] {
  if (!given) return config.domains;
  const domains: string[] = [];
  for (const item of splitList(given)) {
    const host = normalizeHostname(item);
    if (host === null) throw new UsageError(`--domain '${item}' is not a valid hostname; give an ingest domain such as live.example.com`);
    if (!domains.includes(host)) domains.push(host);
  }
  return domains;
}

function splitList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

function progressFor(io: CliIo, json: boolean | undefined): Progress {
  return createProgress(progressMode({ json: json === true, stdoutIsTTY: io.isTTY, stream: io.stderr }), io.stderr);
}

function logSinkFor(verbose: boolean | undefined, io: CliIo): (line: string) => void {
  return verbose ? (line) => io.stderr.write(`${line}\n`) : () => undefined;
}

function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// Argument parsers (commander reports their errors with the flag's name and exits 2)

function instant(value: string): number {
  const parsed = DateTime.fromISO(value.trim(), { zone: 'utc', setZone: true, locale: LUXON_LOCALE });
  if (!parsed.isValid) {
    throw new InvalidArgumentError('not an ISO-8601 time; give e.g. 2026-11-27T09:00:00Z (UTC when no zone is given)');
  }
  return parsed.toMillis();
}

function wholeNumberIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!(n >= min && n <= max)) throw new InvalidArgumentError(`give a whole number from ${min} to ${max}`);
    return n;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Printing

/** The human summary of a RunReport: totals, then only the hours, files and messages that need a look. */
export function renderRunReport(report: RunReport): string {
  const t = report.totals;
  const lines = [
    `${report.action} run ${report.runId}: ${report.ok ? 'ok' : 'NOT OK'} in ${formatDuration(report.durationMs)}`,
    `Files: ${t.listed} listed, ${t.archivedNow} archived now (${formatBytes(t.bytesArchived)}), ${t.alreadyArchived} already archived, ` +
      `${t.failed} failed, ${t.conflicts} conflicts, ${t.remaining} left for a later run`,
    `Hours: ${report.hours.length} (domain x hour) with logs`,
  ];
  const troubled = report.hours.filter((h) => h.failed > 0 || h.conflicts > 0 || h.remaining > 0);
  for (const h of troubled) {
    lines.push(`  ${h.domain} ${h.hour}: ${h.failed} failed, ${h.conflicts} conflicts, ${h.remaining} remaining of ${h.listed}`);
  }
  if (report.failures.length > 0) {
    lines.push('Failures:');
    for (const f of report.failures) lines.push(`  ${f.domain} ${f.hour || '(listing)'} ${f.name}: ${f.reason}`);
    if (report.failuresOmitted > 0) lines.push(`  ... and ${report.failuresOmitted} more (--json)`);
  }
  for (const e of report.errors) lines.push(`error: ${e}`);
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

export function renderDispatch(result: DispatchResult & { functionName: string; api: string; warnings: string[] }): string {
  const hours = result.units.reduce((n, u) => n + u.hours, 0);
  const lines = [
    `backfill ${result.runId}: ${result.sent} of ${result.units.length} units (${hours} domain-hours) queued as asynchronous ` +
      `invocations of ${result.functionName} (${result.api})${result.ok ? '' : `; ${result.failed} NOT sent`}`,
  ];
  for (const u of result.units.filter((x) => x.error !== undefined)) lines.push(`  not sent: ${u.domain} ${u.from} .. ${u.to}: ${u.error}`);
  for (const w of result.warnings) lines.push(`warning: ${w}`);
  lines.push('The function archives them in the background; follow with `status` over the same range (sending again is safe).');
  return `${lines.join('\n')}\n`;
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function reportError(err: unknown, io: CliIo): number {
  if (err instanceof CommanderError) {
    // Commander has printed its message already; --help and friends end with exit code 0.
    return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  }
  if (err instanceof UsageError || err instanceof ConfigError) {
    io.stderr.write(`error: ${err.message}\n`);
    return ExitCode.Usage;
  }
  io.stderr.write(`error: ${err instanceof ArchiverError ? err.message : redactError(err)}\n`);
  return ExitCode.FailuresFound;
}

if (require.main === module) {
  main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    isTTY: process.stdout.isTTY === true,
    columns: process.stdout.columns,
  }).then((code) => {
    process.exitCode = code;
  });
}
