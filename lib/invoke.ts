/**
 * The invoker port: hands one fan-out unit to Function Compute as an ASYNCHRONOUS invocation of this same function.
 *
 * Two adapters, one per FC API generation (lib/invoke-fc3.ts over @alicloud/fc20230330, lib/invoke-fc2.ts over
 * @alicloud/fc2). Each adapter only sends bytes and describes the SDK's failures; the policy lives here, once:
 * the payload limit, which answers are worth another try, backoff, redaction.
 *
 * The FC SDKs (~1.4 MB) must stay off the hourly path (see scripts/bundle.mjs): the adapters load them from inside
 * their factory, and `createInvoker` loads only the adapter asked for. A timer run that does not fan out never
 * evaluates either SDK.
 *
 * Retrying an asynchronous invocation after an unclear failure (a timeout, a 5xx) may enqueue the unit twice; that
 * is safe because every unit is idempotent (manifests and write-once archive keys), exactly as FC's own retries are.
 */
import type { FcContext } from './archiver';
import type { Config, FcApi } from './config';
import { ArchiverError, ConfigError, RETRYABLE_SYSTEM_CODES, type ConfigIssue, type ErrorOptions } from './errors';
import { redact, registerSecret } from './redact';
import { retry, type RetryInfo } from './retry';
import type { Credentials } from './types';

/** One fan-out unit: archive these hours of one domain. Read back by lib/events.ts (`action: 'archive'`). */
export interface UnitEvent {
  action: 'archive';
  domain: string;
  /** ISO hour starts, 'YYYY-MM-DDTHH:00:00Z'. */
  hours: string[];
  parentRunId?: string;
  /** Which fan-out round produced the unit (lib/events.ts accepts it; informational). */
  attempt?: number;
}

export interface Invoker {
  invokeAsync(event: UnitEvent, opts?: InvokeCallOptions): Promise<{ requestId?: string }>;
}

export interface InvokeCallOptions {
  /** Absolute time (epoch ms) after which no retry starts: the invocation's own deadline. */
  deadlineMs?: number;
  signal?: AbortSignal;
}

export interface InvokerTarget {
  api: FcApi;
  /** Origin URL, e.g. https://1234567890123456.cn-shanghai.fc.aliyuncs.com (http allowed, for the sandbox). */
  endpoint: string;
  functionName: string;
  /** FC 2.0 only: the service that holds the function. */
  serviceName?: string;
  region: string;
  /** FC 2.0 sends it in `x-fc-account-id` (and its client refuses to start without it). */
  accountId?: string;
  credentials: Credentials;
}

/** Function Compute refuses asynchronous payloads larger than this (PLATFORM-NOTES: "async payload 128 KB"). */
export const MAX_ASYNC_PAYLOAD_BYTES = 128 * 1024;

export interface InvokerOptions {
  /** Total attempts per invocation, including the first. Default 5. */
  attempts?: number;
  /** Backoff (full jitter) cap of the first retry. Default 200. */
  baseDelayMs?: number;
  /** Upper bound of any single wait. Default 5000. */
  maxDelayMs?: number;
  /** Per-request timeout of the SDK call. Default 10000: an async invoke is answered as soon as it is queued. */
  requestTimeoutMs?: number;
  onRetry?: (info: RetryInfo) => void;
}

/**
 * What an adapter reports about a failed send, in SDK-neutral terms. `status` is the HTTP status when the service
 * answered; `code` is FC's error code, or the transport's (ECONNRESET, RequestTimeout) when it did not.
 */
export interface InvokeFailure {
  status?: number;
  code: string;
  requestId?: string;
  message: string;
}

/** The adapter contract: lib/invoke-fc3.ts and lib/invoke-fc2.ts each implement it over their SDK. */
export interface AsyncInvokeTransport {
  /** Sends `payload` (JSON text) as one asynchronous invocation; resolves once FC has accepted it (202). */
  send(payload: string): Promise<{ requestId?: string }>;
  /** Describes an error thrown by `send`. Must not copy secrets: only status, code, request id and a message. */
  describe(err: unknown): InvokeFailure;
}

export interface TransportSettings {
  requestTimeoutMs: number;
}

/**
 * An asynchronous invocation was refused or could not be delivered. `retryable` tells whether sending the same
 * event again may succeed (throttling, 5xx, transport failures); the invoker has already retried those.
 */
export class InvokeError extends ArchiverError {
  override name = 'InvokeError';
  override readonly retryable: boolean;
  readonly api: FcApi;
  /** FC's ErrorCode (ResourceThrottled, SignatureNotMatch, ...), a transport code, or EntityTooLarge / InvalidEvent. */
  readonly code: string;
  readonly status?: number;
  readonly requestId?: string;
  readonly functionName: string;

  constructor(
    message: string,
    details: ErrorOptions & { api: FcApi; code: string; functionName: string; status?: number; requestId?: string; retryable: boolean },
  ) {
    super(message, details);
    this.api = details.api;
    this.code = details.code;
    this.functionName = details.functionName;
    this.status = details.status;
    this.requestId = details.requestId;
    this.retryable = details.retryable;
  }
}

const DEFAULTS = { attempts: 5, baseDelayMs: 200, maxDelayMs: 5000, requestTimeoutMs: 10_000 } as const;

/** FC answers that mean "not now" rather than "never" (FC 2.0 and 3.0 error code tables). */
const RETRYABLE_FC_CODES = new Set(['ResourceThrottled', 'ResourceExhausted', 'ConcurrencyLimitExceeded', 'InternalServerError', 'ServiceUnavailable', 'InternalError']);
/** Failures before any answer: the request may or may not have been queued; a unit is idempotent, so try again. */
const RETRYABLE_TRANSPORT_CODES = new Set([...RETRYABLE_SYSTEM_CODES, 'RequestTimeout', 'UnparseableAnswer']);

export function isRetryableInvokeFailure(failure: Pick<InvokeFailure, 'status' | 'code'>): boolean {
  if (RETRYABLE_FC_CODES.has(failure.code) || RETRYABLE_TRANSPORT_CODES.has(failure.code)) return true;
  if (failure.code.startsWith('Throttling')) return true;
  return failure.status !== undefined && (failure.status === 429 || failure.status >= 500);
}

/**
 * The invoker for `target`. Loads only the chosen adapter's SDK, once, here; the returned invoker reuses the client
 * (warm starts). Throws ConfigError when the target cannot work (no function name, fc2 without service or account).
 */
export async function createInvoker(target: InvokerTarget, options: InvokerOptions = {}): Promise<Invoker> {
  const problems = targetProblems(target);
  if (problems.length > 0) throw new ConfigError(problems);
  registerSecret(target.credentials.accessKeySecret);
  registerSecret(target.credentials.securityToken);

  const settings: TransportSettings = { requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs };
  const transport = await loadTransport(target, settings);
  const attempts = options.attempts ?? DEFAULTS.attempts;
  const baseMs = options.baseDelayMs ?? DEFAULTS.baseDelayMs;
  const maxMs = options.maxDelayMs ?? DEFAULTS.maxDelayMs;

  const failure = (message: string, code: string, extra: { status?: number; requestId?: string; retryable: boolean; cause?: unknown }) =>
    new InvokeError(message, { api: target.api, code, functionName: target.functionName, ...extra });

  return {
    async invokeAsync(event, opts = {}) {
      const problem = unitEventProblem(event);
      if (problem) throw failure(`Refusing to invoke ${target.functionName}: the unit event ${problem}`, 'InvalidEvent', { retryable: false });
      const payload = JSON.stringify(event);
      const payloadBytes = Buffer.byteLength(payload, 'utf8');
      if (payloadBytes > MAX_ASYNC_PAYLOAD_BYTES) {
        throw failure(
          `Refusing to invoke ${target.functionName}: the event is ${payloadBytes} bytes of JSON, over Function Compute's asynchronous limit of ${MAX_ASYNC_PAYLOAD_BYTES} bytes; split the unit into fewer hours`,
          'EntityTooLarge',
          { retryable: false },
        );
      }
      return retry(
        async () => {
          try {
            return await transport.send(payload);
          } catch (err) {
            const described = transport.describe(err);
            const status = described.status === undefined ? '' : ` (HTTP ${described.status})`;
            throw failure(`Async invocation of ${target.functionName} via ${target.api} failed${status}: ${described.code}: ${described.message}`, described.code, {
              status: described.status,
              requestId: described.requestId,
              retryable: isRetryableInvokeFailure(described),
              cause: err,
            });
          }
        },
        { attempts, baseMs, maxMs, deadlineMs: opts.deadlineMs, signal: opts.signal, onRetry: options.onRetry },
      );
    },
  };
}

async function loadTransport(target: InvokerTarget, settings: TransportSettings): Promise<AsyncInvokeTransport> {
  switch (target.api) {
    case 'fc3': {
      const { createFc3Transport } = await import('./invoke-fc3');
      return createFc3Transport(target, settings);
    }
    case 'fc2': {
      const { createFc2Transport } = await import('./invoke-fc2');
      return createFc2Transport(target, settings);
    }
  }
}

/** Environment variables that steer the fan-out target (lib/config.ts CONFIG_REFERENCE). */
export const FANOUT_VARIABLES = {
  endpoint: 'FANOUT_ENDPOINT',
  functionName: 'FANOUT_FUNCTION_NAME',
  serviceName: 'FANOUT_SERVICE_NAME',
  api: 'FANOUT_API',
} as const;

/**
 * Where fan-out invocations go, from the configuration with the invocation context filling the gaps: the function
 * (and for FC 2.0 the service) invoking itself, in its own region and account. Every missing piece is reported at
 * once in one ConfigError naming the variable that supplies it.
 */
export function invokerTargetFrom(config: Config, context: FcContext, credentials: Credentials): InvokerTarget {
  const issues: ConfigIssue[] = [];
  const endpointHost = config.fcEndpoint === undefined ? undefined : new URL(config.fcEndpoint).hostname;
  const fromHost = endpointHost === undefined ? {} : partsOfFcHost(endpointHost);
  const region = nonEmpty(context.region) ?? fromHost.region;
  const accountId = nonEmpty(context.accountId) ?? fromHost.accountId;
  const functionName = config.fcFunctionName ?? nonEmpty(context.function?.name);
  const serviceName = config.fcApi === 'fc2' ? (config.fcServiceName ?? nonEmpty(context.service?.name)) : undefined;

  if (functionName === undefined) {
    issues.push({
      variable: FANOUT_VARIABLES.functionName,
      problem: 'is not set and the invocation context names no function',
      fix: 'set it to the name of this function (s.yaml functionName)',
    });
  }
  if (config.fcApi === 'fc2' && serviceName === undefined) {
    issues.push({
      variable: FANOUT_VARIABLES.serviceName,
      problem: 'is not set and the invocation context names no service, which FC 2.0 needs',
      fix: 'set it to the service that holds this function, or set FANOUT_API=fc3',
    });
  }
  let endpoint = config.fcEndpoint;
  if (endpoint === undefined) {
    if (region === undefined || accountId === undefined) {
      const missing = [accountId === undefined ? 'account ID' : '', region === undefined ? 'region' : ''].filter(Boolean).join(' and ');
      issues.push({
        variable: FANOUT_VARIABLES.endpoint,
        problem: `is not set and the invocation context has no ${missing} to derive it from`,
        fix: 'set it to https://{accountId}.{region}.fc.aliyuncs.com',
      });
    } else {
      endpoint = `https://${accountId}.${region}.fc.aliyuncs.com`;
    }
  } else if (region === undefined) {
    issues.push({
      variable: FANOUT_VARIABLES.endpoint,
      problem: `'${config.fcEndpoint}' does not name a region and the invocation context has none`,
      fix: 'use the form https://{accountId}.{region}.fc.aliyuncs.com, or run inside Function Compute',
    });
  }
  if (config.fcApi === 'fc2' && accountId === undefined && config.fcEndpoint !== undefined) {
    issues.push({
      variable: FANOUT_VARIABLES.endpoint,
      problem: `'${config.fcEndpoint}' does not start with an account ID and the invocation context has none, which FC 2.0 needs`,
      fix: 'use the form https://{accountId}.{region}.fc.aliyuncs.com, or run inside Function Compute',
    });
  }
  if (issues.length > 0) throw new ConfigError(issues);

  const target: InvokerTarget = {
    api: config.fcApi,
    endpoint: endpoint as string,
    functionName: functionName as string,
    region: region as string,
    credentials,
  };
  if (serviceName !== undefined) target.serviceName = serviceName;
  if (accountId !== undefined) target.accountId = accountId;
  return target;
}

/** `{accountId}.{region}[-internal].fc.aliyuncs.com` → its parts; an IP or custom host yields nothing. */
function partsOfFcHost(host: string): { accountId?: string; region?: string } {
  const match = /^(\d+)\.([a-z]{2,}(?:-[a-z0-9]+)+?)(?:-internal)?\.fc\.aliyuncs\.com$/.exec(host.toLowerCase());
  return match ? { accountId: match[1], region: match[2] } : {};
}

function targetProblems(target: InvokerTarget): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!target.functionName) {
    issues.push({ variable: FANOUT_VARIABLES.functionName, problem: 'is empty', fix: 'set it to the name of this function' });
  }
  if (target.api === 'fc2' && !target.serviceName) {
    issues.push({ variable: FANOUT_VARIABLES.serviceName, problem: 'is empty, which FC 2.0 needs', fix: 'set it to the service that holds this function' });
  }
  if (target.api === 'fc2' && !target.accountId) {
    issues.push({ variable: FANOUT_VARIABLES.endpoint, problem: 'gives FC 2.0 no account ID', fix: 'use https://{accountId}.{region}.fc.aliyuncs.com' });
  }
  let url: URL | undefined;
  try {
    url = new URL(target.endpoint);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.pathname !== '/' || url.search !== '' || url.username || url.password) {
    issues.push({ variable: FANOUT_VARIABLES.endpoint, problem: `'${redact(target.endpoint)}' is not an http(s) origin`, fix: 'use https://{accountId}.{region}.fc.aliyuncs.com' });
  }
  if (!target.region) issues.push({ variable: FANOUT_VARIABLES.endpoint, problem: 'gives no region', fix: 'run inside Function Compute or name the region in the endpoint host' });
  if (!target.credentials.accessKeyId || !target.credentials.accessKeySecret) {
    issues.push({ variable: 'ALIBABA_CLOUD_ACCESS_KEY_ID', problem: 'the fan-out target has no credentials', fix: 'give the function a role, or set the access key pair' });
  }
  return issues;
}

const ISO_HOUR = /^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/;

/** A cheap check on the sending side: a malformed unit would be refused by the receiving invocation anyway, later. */
function unitEventProblem(event: UnitEvent): string | undefined {
  if (event === null || typeof event !== 'object') return 'is not an object';
  if (event.action !== 'archive') return `has action ${JSON.stringify(event.action)} instead of "archive"`;
  if (typeof event.domain !== 'string' || event.domain.length === 0) return 'has no domain';
  if (!Array.isArray(event.hours) || event.hours.length === 0) return 'lists no hours';
  const bad = event.hours.find((hour) => typeof hour !== 'string' || !ISO_HOUR.test(hour));
  if (bad !== undefined) return `has hour ${JSON.stringify(bad)}, not of the form YYYY-MM-DDTHH:00:00Z`;
  return undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}
