/**
 * Client-side timing of every HTTP request the child makes, by service and operation: installed on Node's
 * `http.request` and `http.get` before any SDK is loaded (ali-oss's urllib, pop-core's httpx and lib/download.ts
 * all call them at request time). Each request is timed from its creation to the end of its response body, so a
 * streamed PUT includes sending its body, and CompleteMultipartUpload shows the server's own completion work.
 */
import http from 'node:http';

export interface RequestTiming {
  count: number;
  totalMs: number;
  maxMs: number;
}

export type RequestTimings = Record<string, RequestTiming>;

/** OSS operation from method and query, as sandbox/oss/operations.ts classifies them (the cases the archiver uses). */
function ossOperation(method: string, path: string): string {
  const query = new URLSearchParams(path.includes('?') ? path.slice(path.indexOf('?') + 1) : '');
  const key = path.split('?')[0].replace(/^\/+/, '');
  if (method === 'POST' && query.has('uploads')) return 'InitiateMultipartUpload';
  if (method === 'PUT' && query.has('uploadId')) return 'UploadPart';
  if (method === 'POST' && query.has('uploadId')) return 'CompleteMultipartUpload';
  if (method === 'DELETE' && query.has('uploadId')) return 'AbortMultipartUpload';
  if (method === 'GET' && query.get('list-type') === '2') return 'ListObjectsV2';
  if (method === 'GET' && key === '') return 'ListObjects';
  if (method === 'POST' && query.has('delete')) return 'DeleteMultipleObjects';
  const byMethod: Record<string, string> = { GET: 'GetObject', HEAD: 'HeadObject', PUT: 'PutObject', DELETE: 'DeleteObject' };
  return byMethod[method] ?? `${method} other`;
}

/** Which service a request went to: OSS by its virtual-host Host header, the origin by its signed query. */
export function classify(method: string, hostHeader: string, path: string): string {
  if (hostHeader.endsWith('.aliyuncs.com')) return `OSS ${ossOperation(method, path)}`;
  if (/[?&]Signature=/.test(path) && /[?&]Expires=/.test(path)) return `origin ${method}`;
  return `Live API ${method}`;
}

export function installRequestTiming(): RequestTimings {
  const timings: RequestTimings = {};
  const record = (name: string, startedNs: bigint) => {
    const ms = Number(process.hrtime.bigint() - startedNs) / 1e6;
    const t = (timings[name] ??= { count: 0, totalMs: 0, maxMs: 0 });
    t.count += 1;
    t.totalMs += ms;
    t.maxMs = Math.max(t.maxMs, ms);
  };
  const instrument = (req: http.ClientRequest): http.ClientRequest => {
    const startedNs = process.hrtime.bigint();
    const host = String(req.getHeader('host') ?? req.host ?? '');
    const name = classify(req.method, host, req.path);
    let done = false;
    const finish = (suffix = '') => {
      if (done) return;
      done = true;
      record(`${name}${suffix}`, startedNs);
    };
    // Listening for 'end' only: the response keeps whatever reading mode its owner gives it.
    req.on('response', (res: http.IncomingMessage) => {
      res.once('end', () => finish());
      res.once('close', () => finish(res.complete ? '' : ' (cut)'));
    });
    req.once('error', () => finish(' (error)'));
    return req;
  };
  const originalRequest = http.request;
  const originalGet = http.get;
  // http.get calls the module's own request(), not this property: both are wrapped, nothing is counted twice.
  http.request = function timedRequest(...args: unknown[]) {
    return instrument((originalRequest as (...a: unknown[]) => http.ClientRequest).apply(http, args));
  } as typeof http.request;
  http.get = function timedGet(...args: unknown[]) {
    return instrument((originalGet as (...a: unknown[]) => http.ClientRequest).apply(http, args));
  } as typeof http.get;
  return timings;
}
