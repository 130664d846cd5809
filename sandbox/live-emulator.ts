/**
 * Loopback emulator of Alibaba Cloud Live's RPC API (version 2016-11-01), as the real @alicloud/pop-core RPCClient
 * talks to it: the POP gateway's checks (signature, AccessKeyId, STS token, Timestamp skew, nonce replay, per-key
 * flow control) and the DescribeLivePushProxyLog action (validation, time window, paging, response shape).
 * Listed files are registered with a log origin (LogOriginLike), which serves their bytes at signed URLs.
 * Sandbox-only: never imported by the function bundle.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

import type { Credentials } from '../lib/types';
import { SANDBOX_AK, SANDBOX_STS, sourceSize, type LogOriginLike, type SeedFile } from './contracts';
import { SIGNATURE_PARAM, rpcSignatureMatches } from './rpc-signature';
import { listenOnLoopback } from './listen';

export const LIVE_API_VERSION = '2016-11-01';
export const DESCRIBE_PUSH_PROXY_LOG = 'DescribeLivePushProxyLog';

const HOST_ID = 'live.aliyuncs.com';
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The service keeps relay logs for 31 days; both the oldest StartTime and the longest range are bound by it. */
const RETENTION_MS = 31 * DAY_MS;
const TIMESTAMP_SKEW_MS = 15 * 60_000;
/** The gateway only has to remember a nonce as long as a Timestamp carrying it would still be accepted. */
const NONCE_MEMORY_MS = 2 * TIMESTAMP_SKEW_MS;
const RATE_WINDOW_MS = 1000;
const PAGE_SIZE_DEFAULT = 300;
const PAGE_SIZE_MAX = 1000;
const MAX_BODY_BYTES = 1 << 20;
/** Never echoed back in stats: they are (or are derived from) secrets. */
const SECRET_PARAMS = new Set([SIGNATURE_PARAM, 'SecurityToken']);

export type InjectedFailure = 'internal-500' | 'unavailable-503-html';

/** One validated DescribeLivePushProxyLog call, as handed to the before-list hook. */
export interface ListCall {
  domain: string;
  pageNumber: number;
  pageSize: number;
  startMs: number;
  endMs: number;
}

/** Runs after a listing request passed validation and before its page is computed (to change data mid-paging). */
export type BeforeListHook = (call: ListCall) => void | Promise<void>;

/**
 * Rewrites a successful DescribeLivePushProxyLog answer (the parsed JSON body, URLs already signed) before it is
 * sent; whatever it returns is serialized as the body. For answers the real service may give and the catalogue
 * cannot produce: missing or mistyped fields, absurd sizes, LogPaths to other hosts, names that climb out of a key.
 */
export type AnswerTransform = (answer: Record<string, unknown>, call: ListCall) => unknown;

export interface LiveEmulatorOptions {
  origin: LogOriginLike;
  /** Known identities; default [SANDBOX_STS, SANDBOX_AK]. An account with a securityToken requires it on every call. */
  accounts?: Credentials[];
  /** Logical clock (epoch ms) for the 31-day window, the default 24 h window, late listings and URL expiry. */
  now?: () => number;
  /** Real clock (epoch ms) for Timestamp skew, nonce memory and the per-second limit; default Date.now. */
  wallNow?: () => number;
  /** Requests per AccessKeyId within any one second; default 100, as the service's per-user QPS limit. */
  qpsLimitPerKey?: number;
  /** Lifetime of the signed LogPath URLs; default 1800. */
  urlTtlSec?: number;
}

export interface LiveFaults {
  /** The next `n` requests are answered 400 Throttling.User. */
  throttleNext(n: number): void;
  /** The next `n` requests are answered 500 InternalError (JSON) or 503 with an HTML body (a gateway page). */
  failNext(n: number, kind: InjectedFailure): void;
  /** Every answer is held back this long (after the request was processed, as a slow network would). */
  setDelayMs(delayMs: number): void;
  setBeforeList(hook: BeforeListHook | undefined): void;
  /** Every request arriving in the next `ms` (wall clock) is answered 400 Throttling.User: a storm, not a count. */
  throttleForMs(ms: number): void;
  /**
   * Serve at most `entries` per page whatever PageSize asks (PageInfos.PageSize says what was served), so that a
   * listing of a few files spans several pages; undefined lifts the cap.
   */
  setPageSizeCap(entries: number | undefined): void;
  setAnswerTransform(transform: AnswerTransform | undefined): void;
  /** Injected answers queued and not yet served. */
  readonly pendingInjected: number;
  /** Clears queued injections, the storm, the delay, the page cap, the hook and the transform. */
  reset(): void;
}

export interface RecordedRequest {
  method: string;
  action: string;
  /** Every parameter the client sent except Signature and SecurityToken. */
  params: Record<string, string>;
  status: number;
  /** The error Code answered, or 'OK'. */
  code: string;
}

export interface LiveEmulatorStats {
  /** Every HTTP request received. */
  calls: number;
  /** Answers with Throttling.User, injected or from the per-key limit. */
  throttled: number;
  /** DescribeLivePushProxyLog requests per DomainName, whatever their outcome. */
  byDomain: Record<string, number>;
  /** Answers per Code ('OK' for success). */
  byCode: Record<string, number>;
  requests: RecordedRequest[];
}

export interface LiveEmulator {
  /** 'http://127.0.0.1:PORT', to pass as pop-core's `endpoint`. */
  readonly endpoint: string;
  /**
   * Lists `files` under (domain, hour) and registers each with the origin at
   * /push_proxy/<domain hash>/<domain>/<yyyy_MM_dd>/<HH>00/<encoded name>. Re-seeding a name replaces it.
   */
  seedLogs(domain: string, hourStartMs: number, files: SeedFile[]): void;
  /** Stops listing a seeded file (the origin keeps serving it: LogOriginLike has no removal). */
  removeLog(domain: string, hourStartMs: number, name: string): boolean;
  readonly faults: LiveFaults;
  /** Live counters; resetStats() clears them in place. */
  readonly stats: LiveEmulatorStats;
  resetStats(): void;
  close(): Promise<void>;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Errors, in the service's JSON shape                                                                            */
/* ------------------------------------------------------------------------------------------------------------ */

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const missingParameter = (name: string): ApiError =>
  new ApiError(400, `Missing${name}`, `${name} is mandatory for this action.`);

const invalidParameter = (name: string, why: string): ApiError =>
  new ApiError(400, 'InvalidParameter', `Specified parameter ${name} is not valid: ${why}.`);

const actionNotFound = (): ApiError =>
  new ApiError(404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.');

const throttlingUser = (): ApiError =>
  new ApiError(400, 'Throttling.User', 'Request was denied due to user flow control.');

const internalError = (): ApiError =>
  new ApiError(
    500,
    'InternalError',
    'The request processing has failed due to some unknown error, exception or failure.',
  );

interface Answer {
  status: number;
  code: string;
  contentType: string;
  body: string;
}

function jsonAnswer(status: number, code: string, body: unknown): Answer {
  return { status, code, contentType: 'application/json;charset=utf-8', body: JSON.stringify(body) };
}

function errorAnswer(error: ApiError, requestId: string): Answer {
  return jsonAnswer(error.status, error.code, {
    RequestId: requestId,
    HostId: HOST_ID,
    Code: error.code,
    Message: error.message,
    Recommend:
      `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(error.code)}` +
      `&product=live&requestId=${requestId}`,
  });
}

/** What a load balancer in front of the API serves when the backend is down: not JSON, so clients must cope. */
function gatewayUnavailableAnswer(): Answer {
  return {
    status: 503,
    code: 'ServiceUnavailable',
    contentType: 'text/html',
    body:
      '<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n' +
      '<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>Tengine</center>\r\n' +
      '</body>\r\n</html>\r\n',
  };
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Time                                                                                                           */
/* ------------------------------------------------------------------------------------------------------------ */

const UTC_SECOND_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

/** `yyyy-MM-ddTHH:mm:ssZ` exactly, and a real calendar time (no 2023-02-30, no 24:00:00); else undefined. */
function parseUtcSecond(text: string): number | undefined {
  const match = UTC_SECOND_PATTERN.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number, number, number, number, number, number,
  ];
  const epochMs = Date.UTC(year, month - 1, day, hour, minute, second);
  const roundTrip = new Date(epochMs);
  const isCalendarTime =
    roundTrip.getUTCFullYear() === year &&
    roundTrip.getUTCMonth() === month - 1 &&
    roundTrip.getUTCDate() === day &&
    roundTrip.getUTCHours() === hour &&
    roundTrip.getUTCMinutes() === minute &&
    roundTrip.getUTCSeconds() === second;
  return isCalendarTime ? epochMs : undefined;
}

const floorToHour = (epochMs: number): number => Math.floor(epochMs / HOUR_MS) * HOUR_MS;

/* ------------------------------------------------------------------------------------------------------------ */
/* Seeded logs                                                                                                    */
/* ------------------------------------------------------------------------------------------------------------ */

interface SeededLog {
  name: string;
  path: string;
  reportedSize: number;
  startMs: number;
  endMs: number;
  /** The hour the service files it under: floor of the earlier of the two times. */
  listedHourMs: number;
  swapTimes: boolean;
  listedFromMs: number;
}

/** The service's masked path segment is per account; a stable per-domain hash stands in for it. */
function domainPathHash(domain: string): string {
  return createHash('sha256').update(domain).digest('hex').slice(0, 16);
}

/** Where the origin serves a seeded file (the key of the origin's per-path stats). */
export function logPath(domain: string, hourStartMs: number, name: string): string {
  const iso = new Date(hourStartMs).toISOString(); // yyyy-MM-ddTHH:...
  const day = iso.slice(0, 10).replace(/-/g, '_');
  const hourDir = `${iso.slice(11, 13)}00`;
  const encodedName = encodeURIComponent(name);
  return `/push_proxy/${domainPathHash(domain)}/${encodeURIComponent(domain)}/${day}/${hourDir}/${encodedName}`;
}

class LogCatalogue {
  private readonly logsByDomain = new Map<string, Map<string, SeededLog>>();

  put(domain: string, hourStartMs: number, log: SeededLog): void {
    let logs = this.logsByDomain.get(domain);
    if (!logs) {
      logs = new Map();
      this.logsByDomain.set(domain, logs);
    }
    logs.set(LogCatalogue.key(hourStartMs, log.name), log);
  }

  remove(domain: string, hourStartMs: number, name: string): boolean {
    return this.logsByDomain.get(domain)?.delete(LogCatalogue.key(hourStartMs, name)) ?? false;
  }

  /** Files whose hour is in [fromMs, toMs) and that the service already shows at `nowMs`, in a stable order. */
  list(domain: string, fromMs: number, toMs: number, nowMs: number): SeededLog[] {
    const logs = [...(this.logsByDomain.get(domain)?.values() ?? [])].filter(
      (log) => log.listedHourMs >= fromMs && log.listedHourMs < toMs && log.listedFromMs <= nowMs,
    );
    return logs.sort(
      (a, b) =>
        Math.min(a.startMs, a.endMs) - Math.min(b.startMs, b.endMs) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
  }

  private static key(hourStartMs: number, name: string): string {
    return `${hourStartMs}\n${name}`;
  }
}

function assertSeedable(domain: string, hourStartMs: number, files: SeedFile[]): void {
  if (domain === '' || domain.includes(',')) throw new Error(`seedLogs: invalid domain ${JSON.stringify(domain)}`);
  if (!Number.isSafeInteger(hourStartMs) || hourStartMs % HOUR_MS !== 0) {
    throw new Error(`seedLogs: hourStartMs ${hourStartMs} is not the start of a UTC hour`);
  }
  for (const file of files) {
    if (file.name === '') throw new Error('seedLogs: a file needs a name');
    if (file.reportedSize !== undefined && !(Number.isSafeInteger(file.reportedSize) && file.reportedSize >= 0)) {
      throw new Error(`seedLogs: reportedSize of ${JSON.stringify(file.name)} must be a non-negative integer`);
    }
  }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Gateway state: nonce replay and flow control                                                                   */
/* ------------------------------------------------------------------------------------------------------------ */

class NonceMemory {
  private readonly forgetAtMsByKey = new Map<string, Map<string, number>>();

  /** False when this AccessKeyId already used `nonce` recently. */
  remember(accessKeyId: string, nonce: string, nowMs: number): boolean {
    let seen = this.forgetAtMsByKey.get(accessKeyId);
    if (!seen) {
      seen = new Map();
      this.forgetAtMsByKey.set(accessKeyId, seen);
    }
    // Insertion order is time order, so expired nonces sit at the front.
    for (const [oldNonce, forgetAtMs] of seen) {
      if (forgetAtMs > nowMs) break;
      seen.delete(oldNonce);
    }
    const forgetAtMs = seen.get(nonce);
    if (forgetAtMs !== undefined && forgetAtMs > nowMs) return false;
    seen.delete(nonce);
    seen.set(nonce, nowMs + NONCE_MEMORY_MS);
    return true;
  }
}

/** Sliding one-second window of accepted requests per AccessKeyId. */
class PerKeyRateLimiter {
  private readonly acceptedAtMsByKey = new Map<string, number[]>();

  constructor(private readonly limitPerWindow: number) {}

  tryAcquire(accessKeyId: string, nowMs: number): boolean {
    let acceptedAtMs = this.acceptedAtMsByKey.get(accessKeyId);
    if (!acceptedAtMs) {
      acceptedAtMs = [];
      this.acceptedAtMsByKey.set(accessKeyId, acceptedAtMs);
    }
    while (acceptedAtMs.length > 0 && (acceptedAtMs[0] as number) <= nowMs - RATE_WINDOW_MS) acceptedAtMs.shift();
    if (acceptedAtMs.length >= this.limitPerWindow) return false;
    acceptedAtMs.push(nowMs);
    return true;
  }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Request parsing                                                                                                */
/* ------------------------------------------------------------------------------------------------------------ */

type Params = Record<string, string>;

interface ParsedRequest {
  method: string;
  params: Params;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let totalBytes = 0;
  // Drain everything even past the limit, so the keep-alive connection stays usable for the next request.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    totalBytes += chunk.length;
    if (totalBytes <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (totalBytes > MAX_BODY_BYTES) {
    throw new ApiError(413, 'RequestEntityTooLarge', `The request body exceeds ${MAX_BODY_BYTES} bytes.`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** GET carries everything in the query; pop-core's POST sends a form body. Body values win over query values. */
async function parseRequest(req: IncomingMessage): Promise<ParsedRequest> {
  const method = (req.method ?? '').toUpperCase();
  const body = await readBody(req);
  if (method !== 'GET' && method !== 'POST') {
    throw new ApiError(400, 'UnsupportedHTTPMethod', `The HTTP method ${method} is not supported.`);
  }
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (url.pathname !== '/') {
    throw actionNotFound();
  }
  const params: Params = Object.create(null) as Params;
  const addFirst = (source: URLSearchParams, target: Params): void => {
    for (const [key, value] of source) if (!(key in target)) target[key] = value;
  };
  addFirst(url.searchParams, params);
  const isForm = (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');
  if (method === 'POST' && isForm) {
    const bodyParams: Params = Object.create(null) as Params;
    addFirst(new URLSearchParams(body), bodyParams);
    Object.assign(params, bodyParams);
  }
  return { method, params };
}

function redactParams(params: Params): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) if (!SECRET_PARAMS.has(key)) kept[key] = value;
  return kept;
}

function requireParam(params: Params, name: string): string {
  const value = params[name];
  if (value === undefined || value === '') throw missingParameter(name);
  return value;
}

/** Optional parameters sent empty count as absent, as the gateway treats them. */
function optionalParam(params: Params, name: string): string | undefined {
  const value = params[name];
  return value === undefined || value === '' ? undefined : value;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* DescribeLivePushProxyLog                                                                                       */
/* ------------------------------------------------------------------------------------------------------------ */

function parseBoundedInteger(params: Params, name: string, defaultValue: number, min: number, max: number): number {
  const text = optionalParam(params, name);
  if (text === undefined) return defaultValue;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw invalidParameter(name, `must be an integer ${range}`);
  }
  return value;
}

/**
 * Neither time given: the last 24 hours (documented). Only StartTime: up to now. Only EndTime: the 24 hours before
 * it (undocumented; mirrors the default window). The resolved window must start within the last 31 days, end after
 * it starts and span at most 31 days, else InvalidStartTime.ValueNotSupported, whichever parameter was sent.
 */
function resolveWindow(params: Params, nowMs: number): { startMs: number; endMs: number } {
  const startText = optionalParam(params, 'StartTime');
  const endText = optionalParam(params, 'EndTime');
  const sentStartMs = startText === undefined ? undefined : parseUtcSecond(startText);
  if (startText !== undefined && sentStartMs === undefined) {
    throw new ApiError(400, 'InvalidStartTime.Malformed', 'Specified StartTime is malformed.');
  }
  const sentEndMs = endText === undefined ? undefined : parseUtcSecond(endText);
  if (endText !== undefined && sentEndMs === undefined) {
    throw new ApiError(400, 'InvalidEndTime.Malformed', 'Specified EndTime is malformed.');
  }
  const endMs = sentEndMs ?? nowMs;
  const startMs = sentStartMs ?? endMs - DAY_MS;
  if (startMs < nowMs - RETENTION_MS || endMs <= startMs || endMs - startMs > RETENTION_MS) {
    throw new ApiError(
      400,
      'InvalidStartTime.ValueNotSupported',
      'The specified value of parameter StartTime is not supported.',
    );
  }
  return { startMs, endMs };
}

function parseListCall(params: Params, nowMs: number): ListCall {
  const domain = requireParam(params, 'DomainName');
  if (domain.includes(',')) throw invalidParameter('DomainName', 'only one domain can be queried per request');
  const pageSize = parseBoundedInteger(params, 'PageSize', PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX);
  const pageNumber = parseBoundedInteger(params, 'PageNumber', 1, 1, Number.MAX_SAFE_INTEGER);
  return { domain, pageNumber, pageSize, ...resolveWindow(params, nowMs) };
}

/* ------------------------------------------------------------------------------------------------------------ */
/* The server                                                                                                     */
/* ------------------------------------------------------------------------------------------------------------ */

type Injection = 'throttle' | InjectedFailure;

function assertCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${what}: expected a non-negative integer, got ${n}`);
}

function accountsById(accounts: Credentials[]): Map<string, Credentials> {
  const byId = new Map<string, Credentials>();
  for (const account of accounts) {
    if (byId.has(account.accessKeyId)) throw new Error(`accounts: duplicate AccessKeyId ${account.accessKeyId}`);
    if (account.accessKeyId.startsWith('STS.') && !account.securityToken) {
      throw new Error(`accounts: STS AccessKeyId ${account.accessKeyId} needs its securityToken`);
    }
    byId.set(account.accessKeyId, account);
  }
  return byId;
}

export async function startLiveEmulator(options: LiveEmulatorOptions): Promise<LiveEmulator> {
  const { origin } = options;
  const now = options.now ?? Date.now;
  const wallNow = options.wallNow ?? Date.now;
  const qpsLimitPerKey = options.qpsLimitPerKey ?? 100;
  const urlTtlSec = options.urlTtlSec ?? 1800;
  if (!Number.isSafeInteger(qpsLimitPerKey) || qpsLimitPerKey < 1) throw new Error('qpsLimitPerKey must be >= 1');
  if (!Number.isSafeInteger(urlTtlSec) || urlTtlSec < 1) throw new Error('urlTtlSec must be a positive integer');
  const accounts = accountsById(options.accounts ?? [SANDBOX_STS, SANDBOX_AK]);

  const catalogue = new LogCatalogue();
  const nonces = new NonceMemory();
  const limiter = new PerKeyRateLimiter(qpsLimitPerKey);

  let injections: Injection[] = [];
  let delayMs = 0;
  let beforeList: BeforeListHook | undefined;
  let answerTransform: AnswerTransform | undefined;
  let throttleUntilWallMs = 0;
  let pageSizeCap: number | undefined;
  const stats: LiveEmulatorStats = { calls: 0, throttled: 0, byDomain: {}, byCode: {}, requests: [] };

  /** The POP gateway's checks, in its order; throws the first failure as the service reports it. */
  function authenticate(method: string, params: Params): void {
    const format = optionalParam(params, 'Format');
    if (format !== undefined && format.toUpperCase() !== 'JSON') {
      // The service would answer XML; the emulator speaks JSON only, and says so rather than guess.
      throw invalidParameter('Format', 'the emulator answers JSON only');
    }
    const accessKeyId = requireParam(params, 'AccessKeyId');
    const account = accounts.get(accessKeyId);
    if (!account) throw new ApiError(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
    if (account.securityToken !== undefined) {
      const token = optionalParam(params, 'SecurityToken');
      if (token === undefined) {
        throw new ApiError(400, 'InvalidSecurityToken.Malformed', 'The Security Token is malformed or missing.');
      }
      if (token !== account.securityToken) {
        const message = 'The Security Token is mismatched with the Access Key.';
        throw new ApiError(400, 'InvalidSecurityToken.Mismatch', message);
      }
    }
    if (requireParam(params, 'SignatureMethod') !== 'HMAC-SHA1' || requireParam(params, 'SignatureVersion') !== '1.0') {
      throw new ApiError(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.');
    }
    const timestampMs = parseUtcSecond(requireParam(params, 'Timestamp'));
    if (timestampMs === undefined) {
      throw new ApiError(400, 'InvalidTimeStamp.Format', 'Specified time stamp or date value is not well formatted.');
    }
    const wallMs = wallNow();
    if (Math.abs(wallMs - timestampMs) > TIMESTAMP_SKEW_MS) {
      throw new ApiError(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
    }
    const nonce = requireParam(params, 'SignatureNonce');
    const signature = requireParam(params, SIGNATURE_PARAM);
    if (!rpcSignatureMatches(method, params, account.accessKeySecret, signature)) {
      throw new ApiError(400, 'SignatureDoesNotMatch', 'Specified signature is not matched with our calculation.');
    }
    // Only an authenticated request may consume a nonce, or anyone could burn a client's nonces.
    if (!nonces.remember(accessKeyId, nonce, wallMs)) {
      throw new ApiError(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    }
    if (!limiter.tryAcquire(accessKeyId, wallMs)) throw throttlingUser();
  }

  async function describePushProxyLog(params: Params, requestId: string): Promise<Answer> {
    const call = parseListCall(params, now());
    if (beforeList) await beforeList({ ...call });
    const nowMs = now();
    const matching = catalogue.list(call.domain, call.startMs, call.endMs, nowMs);
    const servedPageSize = pageSizeCap === undefined ? call.pageSize : Math.min(call.pageSize, pageSizeCap);
    const firstIndex = (call.pageNumber - 1) * servedPageSize;
    const page = firstIndex < matching.length ? matching.slice(firstIndex, firstIndex + servedPageSize) : [];
    const expiresAtSec = Math.floor(nowMs / 1000) + urlTtlSec;
    const answer: Record<string, unknown> = {
      DomainLogDetails: {
        DomainLogDetail: [
          {
            LogCount: page.length,
            LogInfos: {
              LogInfoDetail: page.map((log) => {
                const startSec = Math.floor(log.startMs / 1000);
                const endSec = Math.floor(log.endMs / 1000);
                return {
                  EndTime: String(log.swapTimes ? startSec : endSec),
                  LogName: log.name,
                  LogPath: origin.signedLogPath(log.path, expiresAtSec),
                  LogSize: log.reportedSize,
                  StartTime: String(log.swapTimes ? endSec : startSec),
                };
              }),
            },
            PageInfos: { PageIndex: call.pageNumber, PageSize: servedPageSize, Total: matching.length },
          },
        ],
      },
      DomainName: call.domain,
      RequestId: requestId,
    };
    return jsonAnswer(200, 'OK', answerTransform ? answerTransform(answer, { ...call }) : answer);
  }

  const actions: Record<string, (params: Params, requestId: string) => Promise<Answer>> = {
    [DESCRIBE_PUSH_PROXY_LOG]: describePushProxyLog,
  };

  function injectedAnswer(requestId: string): Answer | undefined {
    if (wallNow() < throttleUntilWallMs) return errorAnswer(throttlingUser(), requestId);
    const injection = injections.shift();
    switch (injection) {
      case undefined:
        return undefined;
      case 'throttle':
        return errorAnswer(throttlingUser(), requestId);
      case 'internal-500':
        return errorAnswer(internalError(), requestId);
      case 'unavailable-503-html':
        return gatewayUnavailableAnswer();
    }
  }

  async function answer(req: IncomingMessage, record: RecordedRequest, requestId: string): Promise<Answer> {
    const { method, params } = await parseRequest(req);
    const action = params.Action ?? '';
    record.action = action;
    record.params = redactParams(params);
    if (action === DESCRIBE_PUSH_PROXY_LOG && params.DomainName !== undefined) {
      stats.byDomain[params.DomainName] = (stats.byDomain[params.DomainName] ?? 0) + 1;
    }
    const injected = injectedAnswer(requestId);
    if (injected) return injected;

    requireParam(params, 'Action');
    if (requireParam(params, 'Version') !== LIVE_API_VERSION) {
      throw new ApiError(400, 'InvalidVersion', 'Specified parameter Version is not valid.');
    }
    const handler = Object.hasOwn(actions, action) ? actions[action] : undefined;
    if (!handler) {
      throw actionNotFound();
    }
    authenticate(method, params);
    return handler(params, requestId);
  }

  const pendingDelays = new Set<() => void>();
  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        pendingDelays.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      pendingDelays.add(wake);
    });
  }

  async function respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A client that gave up (timeout) must not crash the emulator when the late answer is written.
    res.on('error', () => undefined);
    const requestId = randomUUID().toUpperCase();
    const record: RecordedRequest = { method: req.method ?? '', action: '', params: {}, status: 0, code: '' };
    stats.calls += 1;
    stats.requests.push(record);
    let result: Answer;
    try {
      result = await answer(req, record, requestId);
    } catch (error) {
      result = errorAnswer(error instanceof ApiError ? error : internalError(), requestId);
    }
    record.status = result.status;
    record.code = result.code;
    stats.byCode[result.code] = (stats.byCode[result.code] ?? 0) + 1;
    if (result.code === 'Throttling.User') stats.throttled += 1;
    if (delayMs > 0) await sleep(delayMs);
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(result.status, {
      'content-type': result.contentType,
      'content-length': Buffer.byteLength(result.body),
      'x-acs-request-id': requestId,
    });
    res.end(result.body);
  }

  const server = createServer((req, res) => void respond(req, res));
  const port = await listenOnLoopback(server);

  const faults: LiveFaults = {
    throttleNext(n) {
      assertCount('throttleNext', n);
      for (let i = 0; i < n; i += 1) injections.push('throttle');
    },
    failNext(n, kind) {
      assertCount('failNext', n);
      for (let i = 0; i < n; i += 1) injections.push(kind);
    },
    setDelayMs(ms) {
      assertCount('setDelayMs', ms);
      delayMs = ms;
    },
    setBeforeList(hook) {
      beforeList = hook;
    },
    throttleForMs(ms) {
      assertCount('throttleForMs', ms);
      throttleUntilWallMs = wallNow() + ms;
    },
    setPageSizeCap(entries) {
      if (entries !== undefined && (!Number.isSafeInteger(entries) || entries < 1)) {
        throw new Error(`setPageSizeCap: expected a positive integer or undefined, got ${entries}`);
      }
      pageSizeCap = entries;
    },
    setAnswerTransform(transform) {
      answerTransform = transform;
    },
    get pendingInjected() {
      return injections.length;
    },
    reset() {
      injections = [];
      delayMs = 0;
      beforeList = undefined;
      answerTransform = undefined;
      throttleUntilWallMs = 0;
      pageSizeCap = undefined;
    },
  };

  let closing: Promise<void> | undefined;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    seedLogs(domain, hourStartMs, files) {
      assertSeedable(domain, hourStartMs, files);
      for (const file of files) {
        const path = logPath(domain, hourStartMs, file.name);
        const startMs = file.startMs ?? hourStartMs;
        const endMs = file.endMs ?? hourStartMs + HOUR_MS;
        origin.addFile(path, file.source);
        catalogue.put(domain, hourStartMs, {
          name: file.name,
          path,
          reportedSize: file.reportedSize ?? sourceSize(file.source),
          startMs,
          endMs,
          listedHourMs: floorToHour(Math.min(startMs, endMs)),
          swapTimes: file.swapTimes ?? false,
          listedFromMs: file.listedFromMs ?? Number.NEGATIVE_INFINITY,
        });
      }
    },
    removeLog(domain, hourStartMs, name) {
      return catalogue.remove(domain, hourStartMs, name);
    },
    faults,
    stats,
    resetStats() {
      stats.calls = 0;
      stats.throttled = 0;
      stats.byDomain = {};
      stats.byCode = {};
      stats.requests = [];
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const wake of [...pendingDelays]) wake();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
