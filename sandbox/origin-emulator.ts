/**
 * The log origin: where DescribeLivePushProxyLog's LogPath points. A real HTTP server on 127.0.0.1 that serves
 * seeded files behind OSS-style V1 signed, expiring URLs, streams large generated files with backpressure, counts
 * what it served, and misbehaves on demand (short bodies, resets, stalls, 404s, expired links).
 * Sandbox-only: never imported by the function bundle.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { Socket } from 'node:net';
import { crc64 } from '../lib/crc64';
import { sourceSize, type FileSource, type LogOriginLike } from './contracts';
import { generatedBytes, sourceStream } from './logdata';
import { listenOnLoopback } from './listen';

export interface OriginStats {
  /** Every request received, whatever its answer. */
  requests: number;
  /** GETs answered 200 or 206 (headers sent). */
  downloadsStarted: number;
  /** GETs whose whole body was handed to the socket. */
  downloadsCompleted: number;
  /** Body bytes handed to sockets, including those of downloads cut short. */
  bytesServed: number;
  /** GETs answered 200 or 206 per file path (unencoded, as given to addFile). */
  byPath: Record<string, number>;
}

/** Which requests a fault applies to: the next `times` (default 1) matching requests, on one path or on any. */
export interface FaultScope {
  times?: number;
  /** Unencoded path as given to addFile. */
  path?: string;
}

export interface OriginFaults {
  /** Send headers with the full Content-Length, then close the connection cleanly (FIN) after `bytes` body bytes. */
  cutAfter(bytes: number, opts?: FaultScope): void;
  /** Destroy the connection abruptly (TCP RST) after `bytes` body bytes. */
  resetAfter(bytes: number, opts?: FaultScope): void;
  /** Send headers and `afterBytes` (default 0) body bytes, pause for `ms`, then send the rest. */
  stall(ms: number, opts?: FaultScope & { afterBytes?: number }): void;
  /** Answer 404 NoSuchKey to a correctly signed GET or HEAD, even when the file exists. */
  notFound(opts?: FaultScope): void;
  /** Answer a correctly signed GET or HEAD with 302 Found to `location` (a hijacked or misconfigured origin). */
  redirect(location: string, opts?: FaultScope): void;
  /** Every URL signed so far answers 403 "Request has expired." until it is signed again or faults are reset. */
  expireAll(): void;
  /** Disarm every fault, including expireAll. */
  reset(): void;
}

export interface OriginEmulator extends LogOriginLike {
  /** 'http://127.0.0.1:PORT' */
  endpoint: string;
  /** '127.0.0.1:PORT' */
  host: string;
  stats: OriginStats;
  faults: OriginFaults;
  /** The full URL (with scheme) of `signedLogPath`. */
  signedUrl(path: string, expiresAtSec: number): string;
  /** Zero every counter (the same `stats` object is kept). */
  resetStats(): void;
  close(): Promise<void>;
}

export interface OriginEmulatorOptions {
  /** Clock in epoch milliseconds that decides whether a URL has expired. Default: Date.now. */
  now?: () => number;
  signingKeyId?: string;
  signingSecret?: string;
}

// Not the SANDBOX credentials: the origin's links are signed by the service's own key, never the caller's.
const DEFAULT_SIGNING_KEY_ID = 'LTAIsandboxOriginSigner';
/** Exported for tests that prove the origin's own secret never reaches a log line or a report. */
export const DEFAULT_SIGNING_SECRET = 'sandbox-origin-signing-secret-DO-NOT-LEAK-5e0c';

/** Largest generated file whose CRC-64 addFile works out (and GETs send): hashing 1 GiB up front would stall it. */
export const ANNOUNCED_CRC64_MAX_BYTES = 16 * 1024 * 1024;

interface StoredFile {
  source: FileSource;
  size: number;
  etag: string;
  /** Files given as content, and generated ones up to ANNOUNCED_CRC64_MAX_BYTES: sent as x-oss-hash-crc64ecma. */
  crc64?: string;
  lastModified: string;
}

type BodyFault =
  | { kind: 'cut'; afterBytes: number }
  | { kind: 'reset'; afterBytes: number }
  | { kind: 'stall'; afterBytes: number; ms: number };

type AnswerFault = { kind: 'notFound' } | { kind: 'redirect'; location: string };

type Fault = (BodyFault | AnswerFault) & { remaining: number; path?: string };

const isBodyFault = (f: Fault): boolean => f.kind === 'cut' || f.kind === 'reset' || f.kind === 'stall';

/** OSS V1 query-string signing: HMAC-SHA1 over "GET\n\n\n<Expires>\n<resource>", base64. */
function signV1(secret: string, expiresAtSec: number, resource: string): string {
  return createHmac('sha1', secret).update(`GET\n\n\n${expiresAtSec}\n${resource}`, 'utf8').digest('base64');
}

function sameSecretString(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** Percent-decoded path, or null when the encoding is malformed. */
function decodePath(rawPath: string): string | null {
  try {
    return rawPath.split('/').map(decodeURIComponent).join('/');
  } catch {
    return null;
  }
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function assertPath(path: string): void {
  if (!path.startsWith('/')) throw new Error(`origin paths start with '/', got ${JSON.stringify(path)}`);
}

function assertCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer`);
}

/**
 * A single `bytes=` range resolved against the size: [start, endExclusive), 'unsatisfiable' (416), or null when
 * the header is absent or not one well-formed range, in which case OSS ignores it and answers 200.
 */
function resolveRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? Infinity : Number(m[2]);
  if (last < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(last, size - 1) + 1 };
}

/** Resolves once `res` can take more data, or with false if the connection closed first. */
function drained(res: http.ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  // Plain listeners removed on settle: a 1 GiB body waits for 'drain' thousands of times on one response.
  return new Promise((resolve) => {
    const settle = (canWrite: boolean) => (): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(canWrite && !res.destroyed);
    };
    const onDrain = settle(true);
    const onClose = settle(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** Resolves when the headers and the bytes written so far have been handed to the kernel. */
function flushed(res: http.ServerResponse, lastChunk: Buffer): Promise<void> {
  if (lastChunk.length > 0) return new Promise((resolve) => res.write(lastChunk, () => resolve()));
  res.flushHeaders();
  const socket = res.socket;
  if (!socket || socket.destroyed) return Promise.resolve();
  // Socket writes complete in order, so an empty write's callback runs after the headers went out.
  return new Promise((resolve) => socket.write(Buffer.alloc(0), () => resolve()));
}

export async function startOriginEmulator(opts: OriginEmulatorOptions = {}): Promise<OriginEmulator> {
  const now = opts.now ?? Date.now;
  const signingKeyId = opts.signingKeyId ?? DEFAULT_SIGNING_KEY_ID;
  const signingSecret = opts.signingSecret ?? DEFAULT_SIGNING_SECRET;

  const files = new Map<string, StoredFile>();
  const faults: Fault[] = [];
  // expireAll works on signatures: a URL is a signature over (path, Expires), so "signed so far" is a set of them.
  const issuedSignatures = new Set<string>();
  const revokedSignatures = new Set<string>();
  const sockets = new Set<Socket>();
  const pendingStalls = new Set<() => void>();
  const stats: OriginStats = { requests: 0, downloadsStarted: 0, downloadsCompleted: 0, bytesServed: 0, byPath: {} };
  let host = '';

  function takeFault(path: string, want: (f: Fault) => boolean): Fault | undefined {
    const index = faults.findIndex((f) => want(f) && (f.path === undefined || f.path === path));
    if (index < 0) return undefined;
    const fault = faults[index];
    fault.remaining -= 1;
    if (fault.remaining <= 0) faults.splice(index, 1);
    return fault;
  }

  function arm(fault: BodyFault | AnswerFault, scope: FaultScope = {}): void {
    const times = scope.times ?? 1;
    assertCount('times', times);
    if (scope.path !== undefined) assertPath(scope.path);
    if (times > 0) faults.push({ ...fault, remaining: times, path: scope.path });
  }

  function sendError(req: http.IncomingMessage, res: http.ServerResponse, status: number, code: string, message: string): void {
    const requestId = res.getHeader('x-oss-request-id');
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n' +
      `  <Code>${code}</Code>\n  <Message>${xmlEscape(message)}</Message>\n` +
      `  <RequestId>${requestId}</RequestId>\n  <HostId>${xmlEscape(host)}</HostId>\n</Error>\n`;
    res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** Signature, then expiry, then existence: the order OSS answers in, so a forged Expires is a bad signature. */
  function authorize(req: http.IncomingMessage, res: http.ServerResponse, path: string, query: URLSearchParams): boolean {
    const keyId = query.get('OSSAccessKeyId');
    const expires = query.get('Expires');
    const signature = query.get('Signature');
    if (!keyId || !expires || !signature || !/^\d+$/.test(expires)) {
      sendError(req, res, 403, 'AccessDenied', 'Anonymous access is forbidden for this operation.');
      return false;
    }
    if (keyId !== signingKeyId) {
      sendError(req, res, 403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.');
      return false;
    }
    if (!sameSecretString(signature, signV1(signingSecret, Number(expires), path))) {
      sendError(req, res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
      return false;
    }
    if (Number(expires) * 1000 <= now() || revokedSignatures.has(signature)) {
      sendError(req, res, 403, 'AccessDenied', 'Request has expired.');
      return false;
    }
    return true;
  }

  /** Waits `ms`, cut short when the client goes away or the emulator closes, so nothing waits on a dead stall. */
  function pause(res: http.ServerResponse, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        pendingStalls.delete(finish);
        res.off('close', finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      pendingStalls.add(finish);
      res.on('close', finish);
    });
  }

  async function sendBody(res: http.ServerResponse, file: StoredFile, start: number, end: number, fault?: BodyFault): Promise<void> {
    const body = sourceStream(file.source, start, end);
    let sentBytes = 0;
    let strikeAtBytes = fault ? fault.afterBytes : Infinity;
    /** Misbehaves as the fault says, once; true when the body may go on (after a stall). */
    const strike = async (lastChunk: Buffer): Promise<boolean> => {
      strikeAtBytes = Infinity;
      // The bytes before the fault must have left, or a reset would swallow them and a cut would be ambiguous.
      await flushed(res, lastChunk);
      if (!fault) return true;
      switch (fault.kind) {
        case 'cut':
          res.socket?.end();
          return false;
        case 'reset':
          res.socket?.resetAndDestroy();
          return false;
        case 'stall':
          await pause(res, fault.ms);
          return !res.destroyed;
      }
    };
    try {
      if (strikeAtBytes === 0 && !(await strike(Buffer.alloc(0)))) return;
      for await (const piece of body as AsyncIterable<Buffer>) {
        let chunk = piece;
        while (chunk.length > 0) {
          if (res.destroyed) return;
          const head = chunk.subarray(0, strikeAtBytes - sentBytes);
          chunk = chunk.subarray(head.length);
          stats.bytesServed += head.length;
          sentBytes += head.length;
          if (sentBytes < strikeAtBytes) {
            if (!res.write(head) && !(await drained(res))) return;
          } else if (!(await strike(head))) {
            return;
          }
        }
      }
    } finally {
      body.destroy();
    }
    if (res.destroyed) return;
    res.once('finish', () => {
      stats.downloadsCompleted += 1;
    });
    res.end();
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    stats.requests += 1;
    res.setHeader('x-oss-request-id', randomBytes(12).toString('hex').toUpperCase());
    res.setHeader('Server', 'AliyunOSS');
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const rawPath = queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt);
    const query = new URLSearchParams(queryAt < 0 ? '' : rawUrl.slice(queryAt + 1));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendError(req, res, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
      return;
    }
    const path = decodePath(rawPath);
    if (path === null) {
      sendError(req, res, 400, 'InvalidURI', 'The request path is not correctly percent-encoded.');
      return;
    }
    if (!authorize(req, res, path, query)) return;
    const file = files.get(path);
    if (!file || takeFault(path, (f) => f.kind === 'notFound')) {
      sendError(req, res, 404, 'NoSuchKey', 'The specified key does not exist.');
      return;
    }
    const redirect = takeFault(path, (f) => f.kind === 'redirect') as { location: string } | undefined;
    if (redirect) {
      res.writeHead(302, { Location: redirect.location, 'Content-Length': 0 });
      res.end();
      return;
    }

    const range = resolveRange(req.headers.range, file.size);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${file.size}`);
      sendError(req, res, 416, 'InvalidRange', 'The requested range cannot be satisfied.');
      return;
    }
    const { start, end } = range ?? { start: 0, end: file.size };
    res.setHeader('Content-Type', path.endsWith('.gz') ? 'application/gzip' : 'application/octet-stream');
    res.setHeader('Content-Length', end - start);
    res.setHeader('ETag', file.etag);
    res.setHeader('Last-Modified', file.lastModified);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('x-oss-object-type', 'Normal');
    // Like OSS, the whole object's CRC even on a range answer.
    if (file.crc64) res.setHeader('x-oss-hash-crc64ecma', file.crc64);
    if (range) res.setHeader('Content-Range', `bytes ${start}-${end - 1}/${file.size}`);
    res.statusCode = range ? 206 : 200;
    if (req.method === 'HEAD') {
      res.end();
      return;
    }

    stats.downloadsStarted += 1;
    stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
    const fault = takeFault(path, isBodyFault) as (BodyFault & Fault) | undefined;
    await sendBody(res, file, start, end, fault);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      // A failure here is a broken connection or an emulator bug; either way the client must see it fail.
      res.destroy();
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const port = await listenOnLoopback(server);
  host = `127.0.0.1:${port}`;

  function signedLogPath(path: string, expiresAtSec: number): string {
    assertPath(path);
    assertCount('expiresAtSec', expiresAtSec);
    const signature = signV1(signingSecret, expiresAtSec, path);
    issuedSignatures.add(signature);
    revokedSignatures.delete(signature);
    const query = new URLSearchParams({ OSSAccessKeyId: signingKeyId, Expires: String(expiresAtSec), Signature: signature });
    return `${host}${encodePath(path)}?${query.toString()}`;
  }

  return {
    endpoint: `http://${host}`,
    host,
    stats,
    addFile(path: string, source: FileSource): void {
      assertPath(path);
      const size = sourceSize(source);
      assertCount('size', size);
      const stored: StoredFile =
        'content' in source
          ? {
              source,
              size,
              // A simple upload's ETag: the content MD5, upper-case hex, quoted.
              etag: `"${createHash('md5').update(source.content).digest('hex').toUpperCase()}"`,
              crc64: crc64(source.content),
              lastModified: new Date(now()).toUTCString(),
            }
          : {
              source,
              size,
              // A multipart-style ETag, so nobody mistakes it for the content MD5 (it is not one).
              etag: `"${createHash('md5').update(`${source.seed}\u0000${size}`).digest('hex').toUpperCase()}-1"`,
              // OSS keeps every object's CRC-64 from its upload. Generated files up to ANNOUNCED_CRC64_MAX_BYTES get
              // theirs here, outside any request; larger ones go without, so both download kinds stay covered.
              ...(size <= ANNOUNCED_CRC64_MAX_BYTES ? { crc64: crc64(generatedBytes(source.seed, size)) } : {}),
              lastModified: new Date(now()).toUTCString(),
            };
      files.set(path, stored);
    },
    signedLogPath,
    signedUrl: (path, expiresAtSec) => `http://${signedLogPath(path, expiresAtSec)}`,
    faults: {
      cutAfter: (bytes, scope) => {
        assertCount('bytes', bytes);
        arm({ kind: 'cut', afterBytes: bytes }, scope);
      },
      resetAfter: (bytes, scope) => {
        assertCount('bytes', bytes);
        arm({ kind: 'reset', afterBytes: bytes }, scope);
      },
      stall: (ms, scope = {}) => {
        assertCount('ms', ms);
        const afterBytes = scope.afterBytes ?? 0;
        assertCount('afterBytes', afterBytes);
        arm({ kind: 'stall', afterBytes, ms }, scope);
      },
      notFound: (scope) => arm({ kind: 'notFound' }, scope),
      redirect: (location, scope) => arm({ kind: 'redirect', location }, scope),
      expireAll: () => {
        for (const signature of issuedSignatures) revokedSignatures.add(signature);
        issuedSignatures.clear();
      },
      reset: () => {
        faults.length = 0;
        revokedSignatures.clear();
      },
    },
    resetStats(): void {
      stats.requests = 0;
      stats.downloadsStarted = 0;
      stats.downloadsCompleted = 0;
      stats.bytesServed = 0;
      for (const path of Object.keys(stats.byPath)) delete stats.byPath[path];
    },
    async close(): Promise<void> {
      for (const finishStall of [...pendingStalls]) finishStall();
      const closed = once(server, 'close');
      server.close();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
