/**
 * Loopback emulator of Function Compute's asynchronous invocation, for both API generations as the real SDKs speak
 * them:
 *  - FC 2.0: `POST /2016-08-15/services/{service}/functions/{function}/invocations` (@alicloud/fc2), its
 *    `Authorization: FC <ak>:<sig>` verified exactly as the service does, plus Content-MD5, Date skew, the STS token
 *    and the account ID header; errors as `{ErrorCode, ErrorMessage}`.
 *  - FC 3.0: `POST /2023-03-30/functions/{function}/invocations` (@alicloud/fc20230330), its ACS3-HMAC-SHA256
 *    signature verified in full, plus the body's SHA-256, x-acs-date skew, nonce replay and the STS token; errors as
 *    `{Code, Message, RequestId}`.
 * Both require `x-fc-invocation-type: Async` and answer 202 with `x-fc-request-id`, then run the invocation through
 * the given handler with FC's concurrency limit and async retries (sandbox/fc/async-runner.ts). A handler may invoke
 * the emulator again: `idle()` waits for the whole chain.
 *
 * Stricter than the service on one point: the body must be JSON (this function's events always are), so a client
 * bug that sends `[object Object]` fails loudly here.
 * Sandbox-only: never imported by the function bundle.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

import type { FcContext } from '../lib/archiver';
import type { Credentials } from '../lib/types';
import { SANDBOX_AK, SANDBOX_STS } from './contracts';
import { AsyncInvocationRunner, InvocationStatus, type FcApiName, type FcHandler, type FcInvocationRecord, type RunnerStats } from './fc/async-runner';
import {
  acs3SignatureMatches,
  fc2ContentMd5,
  fc2SignatureMatches,
  fc2StringToSign,
  parseAcs3Authorization,
  parseFc2Authorization,
  sha256Hex,
} from './fc/signature';
import { listenOnLoopback } from './listen';

export { InvocationStatus, type FcApiName, type FcHandler, type FcInvocationRecord } from './fc/async-runner';

export const FC2_API_VERSION = '2016-08-15';
export const FC3_API_VERSION = '2023-03-30';
/** The service's limit on an asynchronous invocation's payload. */
export const ASYNC_PAYLOAD_LIMIT_BYTES = 128 * 1024;
/** Requests are read up to this much (a synchronous invocation may carry 32 MB; this emulator runs async only). */
const MAX_BODY_BYTES = 1 << 20;
const CLOCK_SKEW_MS = 15 * 60_000;
const NONCE_MEMORY_MS = 2 * CLOCK_SKEW_MS;
const DEFAULT_ACCOUNT_ID = '1234567890123456';

export type InjectedFault = 'throttled' | 'internal' | 'unavailable';

export interface FcEmulatorOptions {
  handler: FcHandler;
  /** The context each run receives; default: a sandbox context with this function's names and no credentials. */
  context?: (requestId: string) => FcContext;
  functionName: string;
  /** FC 2.0 service that holds the function; without it every FC 2.0 request is answered 404 ServiceNotFound. */
  serviceName?: string;
  /** Sent by the fc2 client in x-fc-account-id; default 1234567890123456 (the sandbox context's). */
  accountId?: string;
  /** Identities the emulator accepts; default [SANDBOX_STS, SANDBOX_AK]. An account with a token requires it. */
  accounts?: Credentials[];
  /** Handler runs at once (the function's instance limit); default 4. */
  concurrency?: number;
  /** Retries of a run whose handler throws (FC's asyncInvokeConfig, 0..8); default 2. */
  maxAsyncRetryAttempts?: number;
  /** Wait before the first retry, doubled after each; default 10 ms (FC's are seconds). */
  retryDelayMs?: number;
  /** Clock for Date / x-acs-date skew and nonce memory; default Date.now. */
  wallNow?: () => number;
}

export interface FcEmulatorStats extends Readonly<RunnerStats> {
  /** HTTP requests received. */
  readonly requests: number;
  readonly accepted: Readonly<Record<FcApiName, number>>;
  /** Refused requests per ErrorCode, injected faults included. */
  readonly refused: Readonly<Record<string, number>>;
  readonly injected: number;
}

export interface FcEmulator {
  /** 'http://127.0.0.1:PORT': fc2's `endpoint`, or the origin whose host is fc3's `endpoint`. */
  readonly endpoint: string;
  readonly accountId: string;
  readonly functionName: string;
  readonly serviceName?: string;
  /** Every accepted invocation, in order of acceptance, updated live. */
  readonly invocations: readonly FcInvocationRecord[];
  readonly stats: FcEmulatorStats;
  /** The next `n` invocation requests that pass authentication are refused: 429 ResourceThrottled by default. */
  failNextInvocations(n: number, kind?: InjectedFault): void;
  /** Resolves when nothing is queued, running, waiting to retry or arriving, chained invocations included. */
  idle(): Promise<void>;
  /** Stops accepting, drops queued work and pending retries; handlers already running are not interrupted. */
  close(): Promise<void>;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Errors in each API's shape                                                                                     */
/* ------------------------------------------------------------------------------------------------------------ */

class FcRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'FcRefusal';
  }
}

const FAULTS: Record<InjectedFault, () => FcRefusal> = {
  throttled: () => new FcRefusal(429, 'ResourceThrottled', 'Reserve resource exceeded limit'),
  internal: () => new FcRefusal(500, 'InternalServerError', 'An internal error has occurred, please retry'),
  unavailable: () => new FcRefusal(503, 'ServiceUnavailable', 'Service is temporarily unavailable, please retry'),
};

function sendRefusal(res: ServerResponse, api: FcApiName, refusal: FcRefusal, requestId: string): void {
  const body =
    api === 'fc2'
      ? { ErrorCode: refusal.code, ErrorMessage: refusal.message }
      : { Code: refusal.code, Message: refusal.message, RequestId: requestId };
  res.writeHead(refusal.status, { 'content-type': 'application/json; charset=utf-8', 'x-fc-request-id': requestId });
  res.end(JSON.stringify(body));
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Server                                                                                                         */
/* ------------------------------------------------------------------------------------------------------------ */

interface Route {
  api: FcApiName;
  serviceName?: string;
  functionName: string;
}

const FC2_PATH = /^\/2016-08-15\/services\/([^/]+)\/functions\/([^/]+)\/invocations$/;
const FC3_PATH = /^\/2023-03-30\/functions\/([^/]+)\/invocations$/;

function routeOf(pathname: string): Route | null {
  const fc2 = FC2_PATH.exec(pathname);
  if (fc2) return { api: 'fc2', serviceName: decodeURIComponent(fc2[1]), functionName: decodeURIComponent(fc2[2]) };
  const fc3 = FC3_PATH.exec(pathname);
  if (fc3) return { api: 'fc3', functionName: decodeURIComponent(fc3[1]) };
  return null;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_BODY_BYTES) throw new FcRefusal(413, 'EntityTooLarge', `payload size exceeds maximum allowed size (${MAX_BODY_BYTES} bytes)`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function startFcEmulator(opts: FcEmulatorOptions): Promise<FcEmulator> {
  const accountId = opts.accountId ?? DEFAULT_ACCOUNT_ID;
  const accounts = new Map((opts.accounts ?? [SANDBOX_STS, SANDBOX_AK]).map((account) => [account.accessKeyId, account]));
  const wallNow = opts.wallNow ?? Date.now;
  const defaultContext = (requestId: string): FcContext => ({
    requestId,
    accountId,
    region: 'cn-shanghai',
    function: { name: opts.functionName, timeout: 900 },
    ...(opts.serviceName ? { service: { name: opts.serviceName } } : {}),
  });
  const runner = new AsyncInvocationRunner({
    handler: opts.handler,
    context: opts.context ?? defaultContext,
    concurrency: opts.concurrency ?? 4,
    maxAsyncRetryAttempts: opts.maxAsyncRetryAttempts ?? 2,
    retryDelayMs: opts.retryDelayMs ?? 10,
  });
  const counters = { requests: 0, injected: 0, accepted: { fc3: 0, fc2: 0 } as Record<FcApiName, number>, refused: {} as Record<string, number> };
  const pendingFaults: InjectedFault[] = [];
  /** FC 3.0 nonce → when it was first seen; a replayed signed request is refused. */
  const seenNonces = new Map<string, number>();
  let closed = false;

  function requireFreshClock(dateMs: number, what: string): void {
    if (Number.isNaN(dateMs)) throw new FcRefusal(400, 'InvalidArgument', `${what} is not a valid time`);
    if (Math.abs(wallNow() - dateMs) > CLOCK_SKEW_MS) {
      throw new FcRefusal(403, 'RequestTimeTooSkewed', `the difference between the request time (${what}) and the server time is more than 15 minutes`);
    }
  }

  function accountFor(accessKeyId: string): Credentials {
    const account = accounts.get(accessKeyId);
    if (!account) throw new FcRefusal(403, 'InvalidAccessKeyID', `invalid access key ID '${accessKeyId}'`);
    return account;
  }

  function authenticateFc2(req: IncomingMessage, pathname: string, body: Buffer): void {
    const auth = parseFc2Authorization(header(req, 'authorization'));
    if (!auth) throw new FcRefusal(403, 'SignatureNotMatch', 'the Authorization header is missing or is not of the form "FC <AccessKeyId>:<Signature>"');
    const date = header(req, 'date');
    if (date === undefined) throw new FcRefusal(400, 'MissingRequiredHeader', 'required HTTP header Date was not specified');
    requireFreshClock(Date.parse(date), 'Date');
    const account = accountFor(auth.accessKeyId);
    if (account.securityToken !== undefined && header(req, 'x-fc-security-token') !== account.securityToken) {
      throw new FcRefusal(403, 'InvalidSecurityToken', 'the security token is missing or does not belong to the access key');
    }
    if (!fc2SignatureMatches(fc2StringToSign(req.method ?? 'POST', pathname, req.headers), account.accessKeySecret, auth.signature)) {
      throw new FcRefusal(403, 'SignatureNotMatch', 'The request signature we calculated does not match the signature you provided. Check your access key and signing method');
    }
    const contentMd5 = header(req, 'content-md5');
    if (contentMd5 !== undefined && contentMd5 !== fc2ContentMd5(body)) throw new FcRefusal(400, 'InvalidArgument', 'Content-MD5 does not match the body');
    if (header(req, 'x-fc-account-id') !== accountId) throw new FcRefusal(403, 'AccessDenied', `the x-fc-account-id header does not name account ${accountId}`);
  }

  function authenticateFc3(req: IncomingMessage, rawPath: string, query: URLSearchParams, body: Buffer): void {
    const auth = parseAcs3Authorization(header(req, 'authorization'));
    if (!auth) throw new FcRefusal(403, 'SignatureNotMatch', 'the Authorization header is missing or is not an ACS3-HMAC-SHA256 signature');
    const acsDate = header(req, 'x-acs-date');
    if (acsDate === undefined) throw new FcRefusal(400, 'MissingRequiredHeader', 'required HTTP header x-acs-date was not specified');
    requireFreshClock(Date.parse(acsDate), 'x-acs-date');
    const nonce = header(req, 'x-acs-signature-nonce');
    if (!nonce) throw new FcRefusal(400, 'MissingRequiredHeader', 'required HTTP header x-acs-signature-nonce was not specified');
    // Every x-acs-* header and the host must be under the signature, or they could be swapped in transit.
    const unsigned = ['host', ...Object.keys(req.headers).filter((name) => name.startsWith('x-acs-'))].filter((name) => !auth.signedHeaders.includes(name));
    if (unsigned.length > 0) throw new FcRefusal(403, 'SignatureNotMatch', `headers not covered by SignedHeaders: ${unsigned.join(', ')}`);
    const account = accountFor(auth.accessKeyId);
    if (account.securityToken !== undefined) {
      if (header(req, 'x-acs-security-token') !== account.securityToken || header(req, 'x-acs-accesskey-id') !== account.accessKeyId) {
        throw new FcRefusal(403, 'InvalidSecurityToken', 'the security token is missing or does not belong to the access key');
      }
    }
    const declaredSha256 = header(req, 'x-acs-content-sha256');
    if (declaredSha256 !== sha256Hex(body)) throw new FcRefusal(400, 'InvalidArgument', 'x-acs-content-sha256 does not match the body');
    const signedRequest = { method: req.method ?? 'POST', path: rawPath, query, headers: req.headers, signedHeaders: auth.signedHeaders, payloadSha256: declaredSha256 };
    if (!acs3SignatureMatches(signedRequest, account.accessKeySecret, auth.signature)) {
      throw new FcRefusal(403, 'SignatureNotMatch', 'The request signature we calculated does not match the signature you provided. Check your access key and signing method');
    }
    // Only a verified request uses up its nonce: a forged one must not block the real sender.
    forgetOldNonces();
    if (seenNonces.has(nonce)) throw new FcRefusal(403, 'SignatureNonceUsed', 'the x-acs-signature-nonce has been used before');
    seenNonces.set(nonce, wallNow());
    if (header(req, 'x-acs-version') !== FC3_API_VERSION) throw new FcRefusal(400, 'InvalidArgument', `x-acs-version must be ${FC3_API_VERSION}`);
  }

  function forgetOldNonces(): void {
    const oldestKeptMs = wallNow() - NONCE_MEMORY_MS;
    for (const [nonce, seenMs] of seenNonces) {
      if (seenMs >= oldestKeptMs) break;
      seenNonces.delete(nonce);
    }
  }

  function checkTarget(route: Route): void {
    if (route.api === 'fc2' && (opts.serviceName === undefined || route.serviceName !== opts.serviceName)) {
      throw new FcRefusal(404, 'ServiceNotFound', `service '${route.serviceName}' does not exist`);
    }
    if (route.functionName !== opts.functionName) {
      throw new FcRefusal(404, 'FunctionNotFound', route.api === 'fc2' ? `function '${route.functionName}' does not exist in service '${route.serviceName}'` : `function '${route.functionName}' does not exist`);
    }
  }

  function parseAsyncEvent(req: IncomingMessage, body: Buffer): unknown {
    const invocationType = header(req, 'x-fc-invocation-type');
    if (invocationType !== 'Async') {
      throw new FcRefusal(400, 'InvalidArgument', `x-fc-invocation-type is ${invocationType === undefined ? 'missing' : `'${invocationType}'`}; this emulator runs asynchronous invocations only (Async)`);
    }
    if (body.length > ASYNC_PAYLOAD_LIMIT_BYTES) {
      throw new FcRefusal(400, 'EntityTooLarge', `payload size exceeds maximum allowed size (${ASYNC_PAYLOAD_LIMIT_BYTES} bytes)`);
    }
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      throw new FcRefusal(400, 'InvalidArgument', 'the event is not JSON (the emulator requires JSON events)');
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    counters.requests++;
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://fc.invalid');
    const rawPath = (req.url ?? '/').split('?')[0];
    const route = routeOf(url.pathname);
    const api: FcApiName = route?.api ?? (url.pathname.startsWith(`/${FC3_API_VERSION}/`) ? 'fc3' : 'fc2');
    try {
      if (!route || req.method !== 'POST') {
        throw new FcRefusal(404, 'PathNotSupported', `'${req.method} ${url.pathname}' is not supported`);
      }
      const body = await readBody(req);
      if (route.api === 'fc2') authenticateFc2(req, decodeURIComponent(url.pathname), body);
      else authenticateFc3(req, rawPath, url.searchParams, body);
      checkTarget(route);
      const event = parseAsyncEvent(req, body);
      const fault = pendingFaults.shift();
      if (fault !== undefined) {
        counters.injected++;
        throw FAULTS[fault]();
      }
      counters.accepted[route.api]++;
      runner.enqueue({ requestId, event, api: route.api, attempts: 0, status: InvocationStatus.Queued, acceptedAtMs: Date.now() }, body);
      res.writeHead(202, { 'x-fc-request-id': requestId, 'content-length': '0' });
      res.end();
    } catch (err) {
      const refusal = err instanceof FcRefusal ? err : new FcRefusal(500, 'InternalServerError', 'the emulator failed to handle the request');
      counters.refused[refusal.code] = (counters.refused[refusal.code] ?? 0) + 1;
      if (!res.headersSent) sendRefusal(res, api, refusal, requestId);
      else res.destroy();
    }
  }

  const server = createServer((req, res) => {
    if (closed) {
      res.destroy();
      return;
    }
    const done = runner.beginRequest();
    res.on('close', done);
    void handle(req, res);
  });
  const port = await listenOnLoopback(server);

  const stats = {} as FcEmulatorStats;
  for (const key of ['handlerRuns', 'retries', 'running', 'maxRunning', 'succeeded', 'failed'] as const) {
    Object.defineProperty(stats, key, { enumerable: true, get: () => runner.stats[key] });
  }
  for (const key of ['requests', 'injected', 'accepted', 'refused'] as const) {
    Object.defineProperty(stats, key, { enumerable: true, get: () => counters[key] });
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    accountId,
    functionName: opts.functionName,
    serviceName: opts.serviceName,
    invocations: runner.records,
    stats,
    failNextInvocations(n, kind = 'throttled') {
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
      for (let i = 0; i < n; i++) pendingFaults.push(kind);
    },
    idle: () => runner.idle(),
    close: async () => {
      if (closed) return;
      closed = true;
      runner.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
