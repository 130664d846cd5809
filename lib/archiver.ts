/**
 * The application service behind the FC handler and the CLI: event + context in, RunReport out.
 * Configuration and clients live for the instance; everything else for one invocation.
 */
import { randomUUID } from 'node:crypto';
import { ClientCache, type Clients } from './clients';
import { credentialsFromEnv, loadConfig, type Config } from './config';
import { ArchiverError, ConfigError, formatConfigIssue } from './errors';
import { parseEvent, type ArchiverEvent } from './events';
import { createLogger, type Logger } from './log';
import { redactError, registerSecret } from './redact';
import { ReportBuilder } from './report';
import { runArchive } from './run';
import { isoHour } from './time';
import { MAX_UNIT_ROUNDS, planInvocation, remainderUnits } from './fanout';
import { createInvoker, invokerTargetFrom, type Invoker, type InvokerTarget, type UnitEvent } from './invoke';
import { mapPool } from './pool';
import type { Credentials, RunReport } from './types';

/** The parts of Function Compute's context this function reads. Never log it whole: it holds STS keys. */
export interface FcContext {
  requestId?: string;
  region?: string;
  accountId?: string;
  credentials?: { accessKeyId?: string; accessKeySecret?: string; securityToken?: string };
  function?: { name?: string; timeout?: number };
  service?: { name?: string };
}

export interface ArchiverOptions {
  env?: Record<string, string | undefined>;
  now?: () => number;
  logSink?: (line: string) => void;
  clientCache?: ClientCache;
  /** Builds the fan-out invoker; default lib/invoke.ts createInvoker. */
  invokerFactory?: (target: InvokerTarget) => Promise<Invoker>;
}

/** FC's default function timeout, used when the context does not say. */
const DEFAULT_TIMEOUT_SEC = 60;
/** Time kept at the very end for the final manifest writes and lease releases. */
const FINAL_WRITES_MS = 5_000;
/** Asynchronous invocations sent at once: each is a small request answered as soon as FC queues it. */
const FANOUT_CONCURRENCY = 8;

export function createArchiver(options: ArchiverOptions = {}) {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const clientCache = options.clientCache ?? new ClientCache();
  let config: Config | null = null;
  let configError: ConfigError | null = null;

  function getConfig(): Config {
    if (config) return config;
    if (configError) throw configError;
    try {
      config = loadConfig(env);
      return config;
    } catch (err) {
      if (err instanceof ConfigError) configError = err;
      throw err;
    }
  }

  return async function archive(event: unknown, context: FcContext = {}): Promise<RunReport> {
    const startedMs = now();
    const runId = context.requestId ?? randomUUID();
    const timeoutSec = context.function?.timeout ?? DEFAULT_TIMEOUT_SEC;
    const deadlineMs = startedMs + timeoutSec * 1000;
    let logger: Logger = createLogger({ level: 'info', sink: options.logSink, base: { runId } });
    try {
      const cfg = getConfig();
      logger = createLogger({ level: cfg.logLevel, sink: options.logSink, base: { runId } });
      const credentials = credentialsFrom(context, env);
      const parsed = parseEvent(event, { nowMs: startedMs, configuredDomains: cfg.domains });
      const clients = clientCache.get(cfg, credentials);
      let invoker: Promise<Invoker> | null = null;
      const getInvoker = () => (invoker ??= (options.invokerFactory ?? createInvoker)(invokerTargetFrom(cfg, context, credentials)));
      const report = await runEvent(parsed, cfg, clients, logger, {
        runId,
        now,
        deadlineMs,
        stopStartingAtMs: deadlineMs - cfg.deadlineMarginMs,
        // Transfers still running this close to the end are cut off so manifests and leases get written.
        abortInFlightAtMs: deadlineMs - Math.max(cfg.deadlineMarginMs / 3, Math.min(FINAL_WRITES_MS, cfg.deadlineMarginMs)),
        invoker: getInvoker,
      });
      // One structured line per run; not-ok runs at warn level so an alert on warnings catches them.
      if (report.ok) logger.info('run report', { report });
      else logger.warn('run report', { report });
      return report;
    } catch (err) {
      // Bad configuration or a bad event (refused before any network call), or an unexpected error: the handler
      // never throws, so a retry of the same event by the platform is not triggered by input that cannot change.
      const report = new ReportBuilder({ runId, action: actionOf(event), startedAtMs: startedMs });
      if (err instanceof ConfigError) {
        // One line per variable: the report clips each line, and a long list in one line would lose the last ones.
        for (const issue of err.issues) report.error(`Invalid configuration: ${formatConfigIssue(issue)}`);
      } else {
        report.error(err instanceof ArchiverError ? err.message : redactError(err));
      }
      const built = report.build(now());
      logger.error('run refused', { error: err instanceof Error ? err : String(err), report: built });
      return built;
    }
  };
}

function credentialsFrom(context: FcContext, env: Record<string, string | undefined>): Credentials {
  const c = context.credentials;
  let credentials: Credentials | null = null;
  if (c?.accessKeyId && c.accessKeySecret) {
    credentials = { accessKeyId: c.accessKeyId, accessKeySecret: c.accessKeySecret, securityToken: c.securityToken };
  } else {
    credentials = credentialsFromEnv(env);
  }
  if (!credentials) {
    throw new ConfigError([
      {
        variable: 'ALIBABA_CLOUD_ACCESS_KEY_ID',
        problem: 'no credentials: the invocation context has none and the environment does not set them',
        fix: 'in Function Compute give the function a role (s.yaml `role`); elsewhere set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET',
      },
    ]);
  }
  registerSecret(credentials.accessKeySecret);
  registerSecret(credentials.securityToken);
  return credentials;
}

interface InvocationSettings {
  runId: string;
  now: () => number;
  deadlineMs: number;
  stopStartingAtMs: number;
  abortInFlightAtMs: number;
  /** The fan-out invoker, created on first use: the FC SDK is never loaded by a run that does not fan out. */
  invoker: () => Promise<Invoker>;
}

async function runEvent(
  event: ArchiverEvent,
  config: Config,
  clients: Clients,
  logger: Logger,
  invocation: InvocationSettings,
): Promise<RunReport> {
  const plan = planInvocation(event, config, invocation.runId);
  // Units go out first, so they run in parallel with the work done here.
  const sent = await sendUnits(plan.units, invocation);
  const { report, unfinished } = plan.inPlace
    ? await runArchive(
        plan.inPlace,
        { ...clients, logger, now: invocation.now },
        {
          runId: invocation.runId,
          archivePrefix: config.archivePrefix,
          statePrefix: config.statePrefix,
          keyTemplate: config.keyTemplate,
          objectHeaders: objectHeaders(config),
          concurrency: config.concurrency,
          maxAttempts: config.maxAttempts,
          stopStartingAtMs: invocation.stopStartingAtMs,
          abortInFlightAtMs: invocation.abortInFlightAtMs,
          leaseExpiresAtMs: invocation.deadlineMs,
        },
      )
    : { report: emptyReport(event, invocation), unfinished: [] };
  const remainder = remainderUnits(event, unfinished, invocation.runId);
  const resent = await sendUnits(remainder.units, invocation);
  if (remainder.abandoned.length > 0) {
    const hours = remainder.abandoned.map((h) => `${h.domain} ${isoHour(h.hourStartMs)}`);
    report.errors.push(
      `${hours.length} hours were re-sent ${MAX_UNIT_ROUNDS} times without finishing; run a backfill for them: ` +
        `${hours.slice(0, 5).join(', ')}${hours.length > 5 ? `, and ${hours.length - 5} more` : ''}`,
    );
  }
  if (event.kind !== 'timer') report.warnings.unshift(...event.warnings);
  const fanOut = mergeFanOut(sent, resent);
  if (fanOut.units > 0 || fanOut.errors.length > 0) {
    report.fanOut = { units: fanOut.units, hours: fanOut.hours, failedToSend: fanOut.failed };
    report.errors.push(...fanOut.errors);
  }
  report.ok = report.ok && report.errors.length === 0;
  return report;
}

interface SendResult {
  units: number;
  hours: number;
  failed: number;
  errors: string[];
}

async function sendUnits(units: UnitEvent[], invocation: InvocationSettings): Promise<SendResult> {
  const result: SendResult = { units: 0, hours: 0, failed: 0, errors: [] };
  if (units.length === 0) return result;
  let invoker: Invoker;
  try {
    invoker = await invocation.invoker();
  } catch (err) {
    result.failed = units.length;
    result.errors.push(`fan-out of ${units.length} units impossible: ${redactError(err)}`);
    return result;
  }
  const sent = await mapPool(units, FANOUT_CONCURRENCY, (unit) =>
    // Remainders are sent after the run stopped starting transfers: only the invocation's own end bounds them.
    invoker.invokeAsync(unit, { deadlineMs: invocation.deadlineMs }),
  );
  sent.forEach((r, i) => {
    if (r.status === 'fulfilled') {
      result.units++;
      result.hours += units[i].hours.length;
    } else {
      result.failed++;
      // Bounded: one line per failed unit would drown the report on a wide outage.
      if (result.errors.length < 10) {
        result.errors.push(`unit ${units[i].domain} ${units[i].hours[0]} (+${units[i].hours.length - 1} h) not sent: ${redactError(r.reason)}`);
      }
    }
  });
  return result;
}

function mergeFanOut(a: SendResult, b: SendResult): SendResult {
  return { units: a.units + b.units, hours: a.hours + b.hours, failed: a.failed + b.failed, errors: [...a.errors, ...b.errors] };
}

function emptyReport(event: ArchiverEvent, invocation: InvocationSettings): RunReport {
  const action = event.kind;
  return new ReportBuilder({ runId: invocation.runId, action, startedAtMs: invocation.now() }).build(invocation.now());
}

function objectHeaders(config: Config): Record<string, string> {
  const headers: Record<string, string> = { 'x-oss-storage-class': config.storageClass };
  if (config.serverSideEncryption) headers['x-oss-server-side-encryption'] = config.serverSideEncryption;
  if (config.sseKmsKeyId) headers['x-oss-server-side-encryption-key-id'] = config.sseKmsKeyId;
  return headers;
}

function actionOf(event: unknown): string {
  try {
    const text = Buffer.isBuffer(event) ? event.toString('utf8') : typeof event === 'string' ? event : null;
    const value = text === null ? event : JSON.parse(text);
    const action = (value as { action?: unknown } | null)?.action;
    return typeof action === 'string' && action.length <= 32 ? action : 'timer';
  } catch {
    return 'unknown';
  }
}
