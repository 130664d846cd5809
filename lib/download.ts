/**
 * The log-origin port: GET a signed log URL as a stream. Node's own http/https, because the body must be
 * streamed straight into OSS and never buffered, and because we need to refuse redirects and hosts that are
 * not on the allowlist before a single byte is fetched.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { onAbort } from './abort-watch';
import { DownloadError } from './errors';

export interface DownloadOptions {
  /** Host check for the URL and every redirect hop: never fetch a URL the API hands us blindly. */
  allowHost: (host: string) => boolean;
  /** Abort when no byte arrives for this long (headers or body). */
  idleTimeoutMs: number;
  signal?: AbortSignal;
  maxRedirects?: number;
}

export interface DownloadResponse {
  body: Readable;
  /** Content-Length as the origin announced it, when it did. */
  contentLength?: number;
  /**
   * The origin's own CRC-64 of the whole file (`x-oss-hash-crc64ecma`: the log links point into OSS, which sends
   * it on every GetObject), when it sent one that reads as a CRC-64 and the body is not re-encoded.
   */
  crc64?: string;
}

const MAX_CRC64 = 2n ** 64n - 1n;

/** The announced CRC-64 in OSS's decimal form, or undefined when absent, malformed or not about these bytes. */
export function announcedCrc64(headers: http.IncomingHttpHeaders): string | undefined {
  const value = headers['x-oss-hash-crc64ecma'];
  if (typeof value !== 'string' || !/^\d{1,20}$/.test(value)) return undefined;
  // A transformed body (a proxy that compresses) is not the bytes OSS checksummed.
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return undefined;
  const crc = BigInt(value);
  return crc <= MAX_CRC64 ? crc.toString() : undefined;
}

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

/** Scheme, host and path only: the query of a log URL is a signature and never goes into a message. */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

export async function openDownload(rawUrl: string, opts: DownloadOptions): Promise<DownloadResponse> {
  let url = new URL(rawUrl);
  const maxRedirects = opts.maxRedirects ?? 3;
  for (let hop = 0; ; hop++) {
    if (!opts.allowHost(url.host)) {
      throw new DownloadError(`download host ${url.host} is not on the allowlist (LOG_HOST_ALLOWLIST)`, {
        kind: 'host-not-allowed',
        retryable: false,
      });
    }
    const res = await get(url, opts);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= maxRedirects) {
        throw new DownloadError(`too many redirects from ${describeUrl(url)}`, { kind: 'redirect', retryable: false });
      }
      url = new URL(res.headers.location, url);
      continue;
    }
    if (status !== 200) {
      res.resume();
      // OSS answers an expired or tampered signed URL with 403: a fresh listing gives a fresh URL.
      throw new DownloadError(`origin answered HTTP ${status} for ${describeUrl(url)}`, {
        kind: 'http-status',
        status,
        retryable: status === 403 || status === 429 || status >= 500,
        urlExpired: status === 403,
      });
    }
    const lengthHeader = res.headers['content-length'];
    const contentLength = lengthHeader === undefined ? undefined : Number(lengthHeader);
    return {
      body: res,
      contentLength: Number.isSafeInteger(contentLength) ? contentLength : undefined,
      crc64: announcedCrc64(res.headers),
    };
  }
}

function get(url: URL, opts: DownloadOptions): Promise<http.IncomingMessage> {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return Promise.reject(
      new DownloadError(`unsupported scheme ${url.protocol} in a log URL`, { kind: 'host-not-allowed', retryable: false }),
    );
  }
  const secure = url.protocol === 'https:';
  const client = secure ? https : http;
  return new Promise((resolve, reject) => {
    let response: http.IncomingMessage | null = null;
    const req = client.get(url, { agent: secure ? agents.https : agents.http }, (res) => {
      // The idle timer stays on the socket for the whole body: a stall mid-body fails the response stream.
      response = res;
      resolve(res);
    });
    // Mid-body, the response carries the error, so the reason recorded is the stall (or the abort), not a reset.
    const fail = (err: DownloadError) => (response ? response.destroy(err) : req.destroy(err));
    req.setTimeout(opts.idleTimeoutMs, () => {
      fail(new DownloadError(`no data from ${describeUrl(url)} for ${opts.idleTimeoutMs} ms`, { kind: 'timeout', retryable: true }));
    });
    if (opts.signal) failOnAbort(opts.signal, req, () => fail(new DownloadError(`download from ${describeUrl(url)} aborted`, {
      kind: 'aborted',
      retryable: false,
      cause: opts.signal?.reason,
    })));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof DownloadError) return reject(err);
      reject(
        new DownloadError(`download from ${describeUrl(url)} failed: ${err.code ?? err.name}`, {
          kind: err.name === 'AbortError' ? 'aborted' : 'reset',
          retryable: err.name !== 'AbortError',
          cause: err,
        }),
      );
    });
  });
}

/**
 * Calls `fail` if `signal` aborts before the request is closed (the response read to its end or destroyed). Not
 * http.get's own `signal` option, which hands every request to Node's end-of-stream helper (a dozen closures and
 * listeners per request, linked from the run-long signal until the request closes): see lib/abort-watch.ts.
 */
function failOnAbort(signal: AbortSignal, req: http.ClientRequest, fail: () => void): void {
  const stopWatching = onAbort(signal, fail);
  req.once('close', stopWatching);
}
