/**
 * The HTTP side: one request's life (address, classify, delay, authenticate, inject faults, dispatch, answer) and
 * how answers and errors are written. Every error answer waits until the request body has been read and
 * discarded, so a client still sending gets the XML error rather than a broken pipe.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveTarget } from './addressing';
import { ConnectionLostError, type BodyTaps } from './body';
import type { OssAnswer, OssRequestContext } from './context';
import { OssError, ossErrors } from './errors';
import type { FaultInjector, InjectedFault } from './faults';
import { listObjects, listObjectsV2 } from './list-handlers';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  initiateMultipartUpload,
  listMultipartUploads,
  listParts,
  uploadPart,
} from './multipart-handlers';
import {
  deleteMultipleObjects,
  deleteObject,
  getObject,
  getObjectMeta,
  getObjectTagging,
  headObject,
  putObject,
} from './object-handlers';
import { classifyOperation, OssOperation } from './operations';
import { verifyRequestSignature, type OssAccount } from './signature';
import type { OssStorage } from './storage';
import { errorXml } from './xml';

export interface OssStats {
  requests: number;
  /** Requests per operation name (PutObject, UploadPart, ...), counted whatever their outcome. */
  byOp: Record<string, number>;
  /** Request body bytes received, whether stored or discarded (bodies of refused requests included). */
  bytesIn: number;
  /** Response body bytes sent (object data and XML). */
  bytesOut: number;
  /** Error answers per OSS error code, injected faults included. */
  errors: Record<string, number>;
}

export function emptyStats(): OssStats {
  return { requests: 0, byOp: {}, bytesIn: 0, bytesOut: 0, errors: {} };
}

export interface ServerDeps {
  storage: OssStorage;
  faults: FaultInjector;
  stats: OssStats;
  accounts: readonly OssAccount[];
  region: string;
  maxClockSkewMs: number;
}

type Handler = (ctx: OssRequestContext) => Promise<OssAnswer>;

const HANDLERS: Record<Exclude<OssOperation, 'Unsupported'>, Handler> = {
  PutObject: putObject,
  GetObject: getObject,
  HeadObject: headObject,
  GetObjectMeta: getObjectMeta,
  DeleteObject: deleteObject,
  DeleteMultipleObjects: deleteMultipleObjects,
  GetObjectTagging: getObjectTagging,
  ListObjects: listObjects,
  ListObjectsV2: listObjectsV2,
  InitiateMultipartUpload: initiateMultipartUpload,
  UploadPart: uploadPart,
  CompleteMultipartUpload: completeMultipartUpload,
  AbortMultipartUpload: abortMultipartUpload,
  ListParts: listParts,
  ListMultipartUploads: listMultipartUploads,
};

function newRequestId(): string {
  return randomBytes(12).toString('hex').toUpperCase();
}

function hasBody(req: IncomingMessage): boolean {
  const length = Number(req.headers['content-length'] ?? 0);
  return length > 0 || (req.headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked');
}

/** Resolves once the rest of the request body has been read and thrown away (or the connection closed). */
function discardBody(req: IncomingMessage, stats: OssStats): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    req.on('data', (chunk: Buffer) => {
      stats.bytesIn += chunk.length;
    });
    req.once('end', resolve);
    req.once('close', resolve);
    req.once('error', () => resolve());
    req.resume();
  });
}

function baseHeaders(requestId: string): Record<string, string> {
  return { 'x-oss-request-id': requestId, server: 'AliyunOSS' };
}

async function writeAnswer(req: IncomingMessage, res: ServerResponse, requestId: string, answer: OssAnswer, stats: OssStats): Promise<void> {
  const headers = { ...baseHeaders(requestId), ...(answer.headers ?? {}) };
  const { body } = answer;
  if (body === undefined || req.method === 'HEAD') {
    if (body instanceof Readable) body.destroy();
    headers['content-length'] ??= '0';
    res.writeHead(answer.status, headers);
    res.end();
    return;
  }
  if (body instanceof Readable) {
    res.writeHead(answer.status, headers);
    body.on('data', (chunk: Buffer) => {
      stats.bytesOut += chunk.length;
    });
    try {
      await pipeline(body, res);
    } catch {
      // The client went away mid-download; nothing left to answer.
    }
    return;
  }
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  headers['content-length'] = String(bytes.length);
  stats.bytesOut += bytes.length;
  res.writeHead(answer.status, headers);
  res.end(bytes);
}

function writeError(req: IncomingMessage, res: ServerResponse, requestId: string, error: OssError, hostId: string, stats: OssStats): void {
  stats.errors[error.code] = (stats.errors[error.code] ?? 0) + 1;
  const xml = errorXml(error.code, error.message, requestId, hostId, { ...error.details });
  const headers = { ...baseHeaders(requestId), 'content-type': 'application/xml' };
  if (req.method === 'HEAD') {
    // A HEAD answer has no body: OSS puts the error document, base64, in x-oss-err, which ali-oss decodes.
    res.writeHead(error.status, { ...headers, 'x-oss-err': Buffer.from(xml).toString('base64'), 'content-length': '0' });
    res.end();
    return;
  }
  const bytes = Buffer.from(xml, 'utf8');
  stats.bytesOut += bytes.length;
  res.writeHead(error.status, { ...headers, 'content-length': String(bytes.length) });
  res.end(bytes);
}

function faultError(fault: InjectedFault): OssError | null {
  if (fault.kind !== 'fail') return null;
  return fault.status === 500 ? ossErrors.internalError() : ossErrors.serviceUnavailable();
}

export async function handleOssRequest(req: IncomingMessage, res: ServerResponse, deps: ServerDeps): Promise<void> {
  const { storage, faults, stats } = deps;
  const requestId = newRequestId();
  const method = (req.method ?? 'GET').toUpperCase();
  const target = resolveTarget(req.headers.host, req.url ?? '/');
  const classified = classifyOperation(method, target, req.headers);
  const hostId = target.bucket ? `${target.bucket}.${deps.region}.aliyuncs.com` : `${deps.region}.aliyuncs.com`;
  stats.requests += 1;
  stats.byOp[classified.op] = (stats.byOp[classified.op] ?? 0) + 1;

  let fault: InjectedFault | null = null;
  const cutConnection = () => req.socket.destroy();
  try {
    if (faults.delayMs > 0) await sleep(faults.delayMs);
    if (target.bucket !== null && !storage.hasBucket(target.bucket)) throw ossErrors.noSuchBucket(target.bucket);
    verifyRequestSignature(
      { method, headers: req.headers, bucket: target.bucket, key: target.key, query: target.query },
      { accounts: deps.accounts, nowMs: Date.now(), maxClockSkewMs: deps.maxClockSkewMs },
    );
    fault = faults.take({ op: classified.op, method, bucket: target.bucket, key: target.key, query: target.query });
    const injected = fault && faultError(fault);
    if (injected) throw injected;
    if (fault?.kind === 'reset' && !hasBody(req)) {
      cutConnection();
      return;
    }
    if (classified.op === OssOperation.Unsupported || target.bucket === null) {
      throw ossErrors.notImplemented(classified.unsupported ?? 'this operation');
    }

    const bodyTaps: BodyTaps = {
      onBytes: (byteCount) => {
        stats.bytesIn += byteCount;
      },
      ...(fault?.kind === 'reset' ? { resetAfterBytes: fault.afterBytes, onReset: cutConnection } : {}),
    };
    const ctx: OssRequestContext = {
      req,
      headers: req.headers,
      bucket: target.bucket,
      key: target.key,
      query: target.query,
      storage,
      bodyTaps,
      region: deps.region,
    };
    const answer = await HANDLERS[classified.op](ctx);
    if (fault?.kind === 'reset') {
      // The reset was due during a body this operation never read: the client still gets no answer.
      if (answer.body instanceof Readable) answer.body.destroy();
      cutConnection();
      return;
    }
    await discardBody(req, stats);
    await writeAnswer(req, res, requestId, answer, stats);
  } catch (error) {
    if (fault?.kind === 'reset' || error instanceof ConnectionLostError || req.socket.destroyed) {
      cutConnection();
      return;
    }
    const ossError = error instanceof OssError ? error : ossErrors.internalError();
    if (!(error instanceof OssError)) {
      // Emulator bug or disk trouble: say so on stderr (no request data, so nothing secret), answer like OSS.
      process.stderr.write(`oss-emulator: internal error in ${classified.op}: ${(error as Error)?.stack ?? String(error)}\n`);
    }
    await discardBody(req, stats);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    writeError(req, res, requestId, ossError, hostId, stats);
  }
}
