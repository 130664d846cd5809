/**
 * The application service behind the FC handler and the CLI: event + context in, RunReport out.
 * Configuration and clients live for the instance; everything else for one invocation.
 */
import { randomUUID } from 'node:crypto';
import { ClientCache, type Clients } from './clients';
import { credentialsFromEnv, loadConfig, type Config } from './config';
import { ArchiverError, ConfigError } from './errors';
import { parseEvent, type ArchiverEvent } from './events';
import { createLogger, type Logger } from './log';
import { planTimer } from './plan';
import { redactError, registerSecret } from './redact';
import { ReportBuilder } from './report';
import { runArchive, type ArchiveWork } from './run';
import { HOUR_MS, parseIsoHour } from './time';
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
}

/** FC's default function timeout, used when the context does not say. */
const DEFAULT_TIMEOUT_SEC = 60;
/** Time kept at the very end for the final manifest writes and lease releases. */
const FINAL_WRITES_MS = 5_000;

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
      const report = await runEvent(parsed, cfg, clients, logger, {
        runId,
        now,
        deadlineMs,
        stopStartingAtMs: deadlineMs - cfg.deadlineMarginMs,
        // Transfers still running this close to the end are cut off so manifests and leases get written.
        abortInFlightAtMs: deadlineMs - Math.max(cfg.deadlineMarginMs / 3, Math.min(FINAL_WRITES_MS, cfg.deadlineMarginMs)),
      });
      logger.info('run report', { report });
      return report;
    } catch (err) {
      // Bad configuration or a bad event: nothing was fetched; the report says what to fix.
      const report = new ReportBuilder({ runId, action: actionOf(event), startedAtMs: startedMs });
      report.error(err instanceof ArchiverError ? err.message : redactError(err));
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
}

async function runEvent(
  event: ArchiverEvent,
  config: Config,
  clients: Clients,
  logger: Logger,
  invocation: InvocationSettings,
): Promise<RunReport> {
  const work = workFor(event, config);
  const report = await runArchive(
    work,
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
  );
  if (event.kind === 'backfill') report.warnings.unshift(...event.warnings);
  return report;
}

export function workFor(event: ArchiverEvent, config: Config): ArchiveWork {
  switch (event.kind) {
    case 'timer': {
      const plan = planTimer({
        triggerTimeMs: event.triggerTimeMs,
        lagHours: event.overrides.lagHours ?? config.lagHours,
        lookbackHours: event.overrides.lookbackHours ?? config.lookbackHours,
        domains: event.overrides.domains ?? config.domains,
      });
      return { action: 'timer', domains: plan.domains, startMs: plan.window.startMs, endMs: plan.window.endMs };
    }
    case 'backfill':
      return { action: 'backfill', domains: event.domains, startMs: event.startMs, endMs: event.endMs };
    case 'archive': {
      const hours = event.hours.map(parseIsoHour).sort((a, b) => a - b);
      return { action: 'archive', domains: [event.domain], startMs: hours[0], endMs: hours[hours.length - 1] + HOUR_MS };
    }
  }
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
