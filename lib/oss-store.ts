/**
 * ObjectStore over the official ali-oss client: the only module that talks to OSS.
 *
 * Archived logs are written create-only (`x-oss-forbid-overwrite`). Bodies up to `multipartThresholdBytes` go out
 * as one PutObject with an exact Content-Length; larger bodies as a multipart upload whose parts are cut from the
 * stream as it arrives, so memory stays at `maxPartsInMemory` parts whatever the object size.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isIP } from 'node:net';
import OSS from 'ali-oss';
import type { Credentials, HeadResult, ObjectStore, PutResult, PutStreamOptions } from './types';
import { onAbort } from './abort-watch';
import { AlreadyExistsError, StoreError } from './errors';
import { redact, registerSecret } from './redact';

export interface OssStoreOptions {
  bucket: string;
  /** OSS region id such as `oss-cn-hangzhou`; with an IP endpoint ali-oss also builds the Host header from it. */
  region?: string;
  /** `https://oss-cn-hangzhou-internal.aliyuncs.com`, or `http://127.0.0.1:PORT` for the emulator. */
  endpoint: string;
  /** Address the bucket as `/bucket/key` instead of `bucket.host`. Needs a host name endpoint, not an IP. */
  pathStyle: boolean;
  credentials: Credentials;
  /** Bodies larger than this go out as multipart uploads. At most 5 GiB (the PutObject limit). */
  multipartThresholdBytes: number;
  /** Preferred part size; raised when the object would otherwise need more than 10,000 parts. */
  partSizeBytes: number;
  /** Per HTTP request, including the time to send its body. ali-oss's default is 60 s. */
  timeoutMs?: number;
  /** Part buffers held at once (one filling while the others upload). Default 2. */
  maxPartsInMemory?: number;
  /** Attempts per UploadPart before the whole upload fails. Default 3. */
  partAttempts?: number;
  /** First delay between part attempts, doubled each time. Default 200 ms. */
  partRetryBaseDelayMs?: number;
  /** `max-keys` of each ListObjectsV2 page, 1..1000. Default 1000. */
  listPageSize?: number;
}

export interface OssStore extends ObjectStore {
  readonly bucket: string;
}

const KiB = 1024;
const GiB = 1024 * 1024 * 1024;
const MIN_PART_BYTES = 100 * KiB;
const MAX_PART_BYTES = 5 * GiB;
const MAX_PARTS = 10_000;
const MAX_SIMPLE_PUT_BYTES = 5 * GiB;

const HEADER_CRC64 = 'x-oss-hash-crc64ecma';
const FORBID_OVERWRITE = { 'x-oss-forbid-overwrite': 'true' } as const;

/**
 * Headers a caller may set on archived objects. Anything else is a programmer error: Content-Length and the
 * forbid-overwrite flag are this module's to set, and an unknown header is more likely a typo than a wish.
 */
const ALLOWED_HEADER = new RegExp(
  '^(x-oss-meta-[a-z0-9-]+|x-oss-storage-class|x-oss-server-side-encryption|x-oss-server-side-encryption-key-id|' +
    'x-oss-server-side-data-encryption|x-oss-tagging|x-oss-object-acl|content-type|content-encoding|' +
    'content-disposition|cache-control|expires)$',
);

const SMALL_REQUEST_TIMEOUT_MS = 30_000;

/** The part of the ali-oss client this module uses, typed as the SDK source (lib/object.js, multipart.js) behaves. */
interface OssResponse {
  status: number;
  headers: Record<string, string | undefined>;
}
interface OssClient {
  putStream(name: string, stream: Readable, options: { contentLength: number; headers: Record<string, string> }): Promise<{ res: OssResponse }>;
  put(name: string, content: Buffer, options: { mime?: string; headers: Record<string, string>; timeout?: number }): Promise<{ res: OssResponse }>;
  head(name: string, options?: { timeout?: number }): Promise<{ status: number; meta: Record<string, string> | null; res: OssResponse }>;
  get(name: string, file?: undefined, options?: { timeout?: number }): Promise<{ content: Buffer; res: OssResponse }>;
  delete(name: string, options?: { timeout?: number }): Promise<{ res: OssResponse }>;
  listV2(
    query: { prefix: string; 'max-keys': number; 'continuation-token'?: string },
    options: { timeout?: number },
  ): Promise<{ objects: { name: string; size: number }[]; isTruncated: boolean; nextContinuationToken: string | null }>;
  initMultipartUpload(name: string, options: { headers: Record<string, string> }): Promise<{ uploadId: string }>;
  /** `file` may be a Readable: ali-oss's _createStream passes it through untouched. */
  uploadPart(name: string, uploadId: string, partNo: number, file: Readable, start: number, end: number): Promise<{ etag: string; res: OssResponse }>;
  completeMultipartUpload(
    name: string,
    uploadId: string,
    parts: { number: number; etag: string }[],
    options: { headers: Record<string, string> },
  ): Promise<{ etag?: string; res: OssResponse }>;
  abortMultipartUpload(name: string, uploadId: string): Promise<unknown>;
}

/** What ali-oss puts on the errors it throws (client.js requestError); everything optional because urllib's own errors lack some. */
interface AliOssError {
  name?: string;
  message?: string;
  code?: string;
  status?: number;
  requestId?: string;
}

interface ResolvedOptions extends Required<Omit<OssStoreOptions, 'region' | 'timeoutMs'>> {
  region?: string;
  timeoutMs?: number;
}

export function createOssStore(options: OssStoreOptions): OssStore {
  const opts = resolveOptions(options);
  const client = createClient(opts);

  async function putStream(key: string, body: Readable, put: PutStreamOptions): Promise<PutResult> {
    assertSize(put.size);
    const headers = archiveHeaders(put.headers, put.forbidOverwrite);
    throwIfAborted(put.signal);
    const guarded = guardLength(body, put.size, put.signal);
    try {
      if (put.size <= opts.multipartThresholdBytes) return await putSimple(key, guarded, put.size, headers);
      return await putMultipart(key, guarded, put.size, headers, put.forbidOverwrite, put.signal);
    } catch (err) {
      throw guarded.failure() ?? err;
    } finally {
      guarded.dispose();
    }
  }

  async function putSimple(key: string, guarded: GuardedBody, size: number, headers: Record<string, string>): Promise<PutResult> {
    const res = await callOss('PutObject', key, async () => {
      if (size === 0) {
        // ali-oss treats contentLength 0 as "unknown" and switches to chunked: send an empty Buffer instead,
        // once the guard has confirmed the body really is empty.
        for await (const _chunk of guarded.stream) void _chunk;
        return (await client.put(key, Buffer.alloc(0), { headers })).res;
      }
      return (await client.putStream(key, guarded.stream, { contentLength: size, headers })).res;
    });
    return { etag: unquote(res.headers.etag), crc64: res.headers[HEADER_CRC64] };
  }

  async function putMultipart(
    key: string,
    guarded: GuardedBody,
    size: number,
    headers: Record<string, string>,
    forbidOverwrite: boolean,
    signal: AbortSignal | undefined,
  ): Promise<PutResult> {
    // forbid-overwrite on Initiate fails fast before any byte is sent; on Complete it closes the race.
    const { uploadId } = await callOss('InitiateMultipartUpload', key, () => client.initMultipartUpload(key, { headers }));
    let completed: { etag?: string; res: OssResponse };
    try {
      // A part buffer never larger than the object: a 150 KB object past a 100 KB threshold needs no 8 MB buffer.
      const partSize = Math.min(size, choosePartSize(size, opts.partSizeBytes));
      const parts = await uploadPartsFromStream(key, uploadId, guarded, size, partSize, signal);
      throwIfAborted(signal);
      const completeHeaders: Record<string, string> = forbidOverwrite ? { ...FORBID_OVERWRITE } : {};
      completed = await callOss('CompleteMultipartUpload', key, () =>
        client.completeMultipartUpload(key, uploadId, parts, { headers: completeHeaders }),
      );
    } catch (err) {
      await abortQuietly(key, uploadId);
      throw err;
    }
    const crc64 = completed.res.headers[HEADER_CRC64] ?? (await head(key))?.crc64;
    return { etag: unquote(completed.etag ?? completed.res.headers.etag), crc64 };
  }

  /**
   * Each part's first attempt streams the bytes to OSS as they arrive, while the same bytes are copied into the
   * part's buffer; only a failed part is sent again, from that buffer. Filling a whole part before sending it
   * would stop the download at every part boundary until the previous part's request had answered.
   */
  async function uploadPartsFromStream(
    key: string,
    uploadId: string,
    guarded: GuardedBody,
    size: number,
    partSize: number,
    signal: AbortSignal | undefined,
  ): Promise<{ number: number; etag: string }[]> {
    const pool = new PartBufferPool(partSize, opts.maxPartsInMemory);
    const uploaded: { number: number; etag: string }[] = [];
    const inFlight = new Set<Promise<void>>();
    const partStreams = new Set<Readable>();
    let failure: { error: unknown } | undefined;
    // In-flight part requests are cut short too, so an abort does not wait for a whole part to finish sending.
    const stopWatching = onAbort(signal, () => partStreams.forEach((s) => s.destroy(new Error('part request cut: the upload was aborted'))));

    let part: StreamingPart | undefined;
    let partNumber = 0;
    let consumed = 0;
    try {
      for await (const chunk of guarded.stream as AsyncIterable<Buffer>) {
        let offset = 0;
        while (offset < chunk.length) {
          if (!part) {
            // Backpressure: no new part (and no more reading) until a part buffer is free.
            while (!failure && pool.available() === 0) await Promise.race(inFlight);
            if (failure) break;
            partNumber += 1;
            part = new StreamingPart(pool, Math.min(partSize, size - consumed));
            const started = part;
            const number = partNumber;
            partStreams.add(started.live);
            const task: Promise<void> = uploadStreamingPart(key, uploadId, number, started, partStreams, signal)
              .then((etag) => void uploaded.push({ number, etag }), (error: unknown) => void (failure ??= { error }))
              .finally(() => {
                started.release();
                inFlight.delete(task);
              });
            inFlight.add(task);
          }
          const taken = part.write(chunk, offset);
          offset += taken;
          consumed += taken;
          if (part.full) part = undefined;
          else await part.demand();
          if (failure) break;
        }
        if (failure) break;
      }
    } finally {
      // A part cut short by a failing source must not leave its request waiting for bytes that never come.
      part?.abandon(guarded.failure() ?? failure?.error ?? new Error('The upload stopped before the part was complete'));
      // Never abort the upload while parts are still being sent: OSS may keep a part that lands after the abort.
      await Promise.allSettled(inFlight);
      stopWatching();
    }
    if (failure) throw failure.error;
    return uploaded.sort((a, b) => a.number - b.number);
  }

  /** The streamed first attempt, then (once the part is whole in its buffer) the retries. */
  async function uploadStreamingPart(
    key: string,
    uploadId: string,
    partNumber: number,
    part: StreamingPart,
    partStreams: Set<Readable>,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    try {
      const result = await callOss('UploadPart', key, () => client.uploadPart(key, uploadId, partNumber, part.live, 0, part.length));
      return result.etag;
    } catch (err) {
      throwIfAborted(signal);
      // A streamed attempt that timed out while the source had not yet supplied the whole part says nothing about OSS.
      const cutBeforeWhole = !part.full && err instanceof StoreError && (err.status === -2 || err.code === 'RequestTimeout');
      if (!(err instanceof StoreError) || !err.retryable || (opts.partAttempts <= 1 && !cutBeforeWhole)) throw err;
      // The source keeps filling the buffer whatever became of the streamed request.
      part.live.destroy();
      await part.whole;
      if (!cutBeforeWhole) await sleep(opts.partRetryBaseDelayMs, undefined, { signal });
      return uploadPartWithRetry(key, uploadId, partNumber, part.bytes(), partStreams, signal, cutBeforeWhole ? 1 : 2);
    } finally {
      partStreams.delete(part.live);
    }
  }

  async function uploadPartWithRetry(
    key: string,
    uploadId: string,
    partNumber: number,
    bytes: Buffer,
    partStreams: Set<Readable>,
    signal: AbortSignal | undefined,
    firstAttempt: number,
  ): Promise<string> {
    for (let attempt = firstAttempt; ; attempt++) {
      throwIfAborted(signal);
      // A part is a Buffer, so unlike the source stream it can be sent again.
      const partStream = bufferStream(bytes);
      partStreams.add(partStream);
      try {
        const result = await callOss('UploadPart', key, () => client.uploadPart(key, uploadId, partNumber, partStream, 0, bytes.length));
        return result.etag;
      } catch (err) {
        throwIfAborted(signal);
        if (!(err instanceof StoreError) || !err.retryable || attempt >= opts.partAttempts) throw err;
        await sleep(opts.partRetryBaseDelayMs * 2 ** (attempt - 1), undefined, { signal });
      } finally {
        partStreams.delete(partStream);
      }
    }
  }

  async function abortQuietly(key: string, uploadId: string): Promise<void> {
    try {
      await client.abortMultipartUpload(key, uploadId);
    } catch {
      // Best effort: the original failure matters more, and a bucket lifecycle rule sweeps leftover parts.
    }
  }

  // Small requests (state objects, HEAD, LIST) get a short timeout of their own: the client's is sized for
  // streaming a whole file through one PUT, and a manifest write must not land long after its lease check.
  // A fresh object per call: ali-oss writes into the options it is given (listV2 adds its continuation token).
  const smallTimeoutMs = Math.min(opts.timeoutMs ?? SMALL_REQUEST_TIMEOUT_MS, SMALL_REQUEST_TIMEOUT_MS);
  const small = () => ({ timeout: smallTimeoutMs });

  async function head(key: string): Promise<HeadResult | null> {
    const result = await nullIfNoSuchKey(callOss('HeadObject', key, () => client.head(key, small())));
    if (!result) return null;
    const headers = result.res.headers;
    return {
      size: Number(headers['content-length'] ?? 0),
      etag: unquote(headers.etag),
      crc64: headers[HEADER_CRC64],
      meta: { ...(result.meta ?? {}) },
    };
  }

  async function getText(key: string): Promise<string | null> {
    const result = await nullIfNoSuchKey(callOss('GetObject', key, () => client.get(key, undefined, small())));
    return result ? result.content.toString('utf8') : null;
  }

  async function putText(key: string, body: string, put?: { forbidOverwrite?: boolean }): Promise<void> {
    // Manifests and leases are rewritten and read every hour: Standard whatever the bucket's default class, since
    // an Archive-class manifest cannot be read back and IA/Archive bill a minimum duration on every rewrite.
    const headers: Record<string, string> = { 'x-oss-storage-class': 'Standard', ...(put?.forbidOverwrite ? FORBID_OVERWRITE : {}) };
    await callOss('PutObject', key, () => client.put(key, Buffer.from(body, 'utf8'), { mime: 'application/json', headers, ...small() }));
  }

  async function deleteObject(key: string): Promise<void> {
    await callOss('DeleteObject', key, () => client.delete(key, small()));
  }

  async function* list(prefix: string): AsyncGenerator<{ key: string; size: number }> {
    let continuationToken: string | undefined;
    do {
      const token = continuationToken;
      const page = await callOss('ListObjectsV2', prefix, () =>
        client.listV2({ prefix, 'max-keys': opts.listPageSize, ...(token ? { 'continuation-token': token } : {}) }, small()),
      );
      for (const object of page.objects) yield { key: object.name, size: object.size };
      continuationToken = page.isTruncated ? page.nextContinuationToken ?? undefined : undefined;
    } while (continuationToken);
  }

  return { bucket: opts.bucket, putStream, head, getText, putText, delete: deleteObject, list };
}

// --- configuration ---

function resolveOptions(options: OssStoreOptions): ResolvedOptions {
  // Keys given as undefined (an unset config value passed along) take the default too.
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as OssStoreOptions;
  const resolved: ResolvedOptions = {
    maxPartsInMemory: 2,
    partAttempts: 3,
    partRetryBaseDelayMs: 200,
    listPageSize: 1000,
    ...given,
  };
  const problems: string[] = [];
  if (!resolved.bucket) problems.push('bucket is empty');
  if (!resolved.credentials?.accessKeyId || !resolved.credentials.accessKeySecret) problems.push('credentials need accessKeyId and accessKeySecret');
  let endpointHost = '';
  try {
    endpointHost = new URL(resolved.endpoint).hostname;
  } catch {
    problems.push(`endpoint must be an absolute http(s) URL`);
  }
  if (resolved.pathStyle && isIP(endpointHost.replace(/^\[|\]$/g, ''))) {
    // ali-oss sends an IP endpoint's requests with Host `<bucket>.<region host>` whatever sldEnable says.
    problems.push('pathStyle needs a host name endpoint (e.g. http://localhost:PORT): ali-oss addresses an IP endpoint virtual-host style');
  }
  if (!isIntIn(resolved.multipartThresholdBytes, 0, MAX_SIMPLE_PUT_BYTES)) problems.push(`multipartThresholdBytes must be an integer in 0..${MAX_SIMPLE_PUT_BYTES}`);
  if (!isIntIn(resolved.partSizeBytes, MIN_PART_BYTES, MAX_PART_BYTES)) problems.push(`partSizeBytes must be an integer in ${MIN_PART_BYTES}..${MAX_PART_BYTES}`);
  if (!isIntIn(resolved.maxPartsInMemory, 1, 16)) problems.push('maxPartsInMemory must be an integer in 1..16');
  if (!isIntIn(resolved.partAttempts, 1, 10)) problems.push('partAttempts must be an integer in 1..10');
  if (!isIntIn(resolved.partRetryBaseDelayMs, 0, 60_000)) problems.push('partRetryBaseDelayMs must be an integer in 0..60000');
  if (!isIntIn(resolved.listPageSize, 1, 1000)) problems.push('listPageSize must be an integer in 1..1000');
  if (resolved.timeoutMs !== undefined && !isIntIn(resolved.timeoutMs, 1, 24 * 3600 * 1000)) problems.push('timeoutMs must be a positive integer');
  if (problems.length) throw new TypeError(`Invalid OSS store options: ${problems.join('; ')}`);
  return resolved;
}

function createClient(opts: ResolvedOptions): OssClient {
  const { accessKeyId, accessKeySecret, securityToken } = opts.credentials;
  // Whatever path an error takes to a log line, these values are cut out of it.
  registerSecret(accessKeySecret);
  registerSecret(securityToken);
  const client = new OSS({
    bucket: opts.bucket,
    endpoint: opts.endpoint,
    ...(opts.region ? { region: opts.region } : {}),
    secure: opts.endpoint.startsWith('https:'),
    accessKeyId,
    accessKeySecret,
    ...(securityToken
      ? {
          stsToken: securityToken,
          // The store is built per invocation from that invocation's STS keys, so no refresh function; naming the
          // interval only silences ali-oss's console warning about its absence.
          refreshSTSTokenInterval: 5 * 60 * 1000,
        }
      : {}),
    ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
  });
  // Path-style addressing: ali-oss's "second level domain" mode.
  if (opts.pathStyle) (client as unknown as { setSLDEnabled(enable: boolean): void }).setSLDEnabled(true);
  return client as unknown as OssClient;
}

function isIntIn(value: number, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= min && value <= max;
}

function assertSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new TypeError(`putStream size must be a non-negative integer, got ${size}`);
}

/** Header names already checked against ALLOWED_HEADER: every file of a run carries the same few. */
const allowedHeaderNames = new Set<string>();

function archiveHeaders(headers: Record<string, string> | undefined, forbidOverwrite: boolean): Record<string, string> {
  const result: Record<string, string> = {};
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    if (!allowedHeaderNames.has(name)) {
      if (!ALLOWED_HEADER.test(name.toLowerCase())) throw new TypeError(`putStream header ${name} is not one an archive object may carry`);
      if (allowedHeaderNames.size < 256) allowedHeaderNames.add(name);
    }
    result[name] = headers[name];
  }
  if (forbidOverwrite) Object.assign(result, FORBID_OVERWRITE);
  return result;
}

/** At least the preferred size, and large enough that the object fits in 10,000 parts. */
function choosePartSize(objectBytes: number, preferredPartBytes: number): number {
  return Math.max(preferredPartBytes, Math.ceil(objectBytes / MAX_PARTS));
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '');
}

// --- errors ---

const NETWORK_STATUSES = new Set([-1, -2]);

async function callOss<T>(op: string, key: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw toStoreError(err, op, key);
  }
}

/**
 * Maps an ali-oss (or urllib) error to StoreError. The message keeps only ali-oss's own first clause, redacted; the
 * raw error stays as `cause`, which lib/errors.ts prints and serializes in redacted form only.
 */
function toStoreError(err: unknown, operation: string, key: string): StoreError {
  if (err instanceof StoreError) return err;
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as AliOssError;
  const code = e.code || e.name || 'UnknownError';
  const status = typeof e.status === 'number' ? e.status : transportStatus(code);
  const ids = [status === undefined ? '' : `HTTP ${status}`, e.requestId ? `RequestId ${e.requestId}` : ''].filter(Boolean).join(', ');
  const message = `OSS ${operation} ${key} failed: ${code}${ids ? ` (${ids})` : ''}: ${briefMessage(e.message)}`;
  const details = { key, requestId: e.requestId, cause: err };
  if (code === 'FileAlreadyExists') return new AlreadyExistsError(message, details);
  return new StoreError(message, { ...details, code, status, retryable: isRetryable(code, status) });
}

/** ali-oss drops the status of urllib's timeout errors; restore the -2 (timeout) / -1 (network) convention. */
function transportStatus(code: string): number | undefined {
  if (/Timeout/.test(code)) return -2;
  if (/^(RequestError|ResponseError)$|^E[A-Z]+$/.test(code)) return -1;
  return undefined;
}

function isRetryable(code: string, status: number | undefined): boolean {
  if (status === undefined) return false;
  if (status >= 500 || status === 408 || status === 429 || NETWORK_STATUSES.has(status)) return true;
  // OSS answers 400 RequestTimeout when a request body arrives too slowly, and may ask to slow down.
  return code === 'RequestTimeout' || code === 'SlowDown';
}

/** urllib appends the URL, socket counters and response headers to its messages: keep the first clause only. */
function briefMessage(message: string | undefined): string {
  const firstLine = (message ?? '').split('\n')[0];
  const withoutRequestDump = firstLine.replace(/, (GET|PUT|POST|HEAD|DELETE) \S+ -?\d+ \(connected:.*$/, '');
  return redact(withoutRequestDump).slice(0, 300) || 'no message';
}

async function nullIfNoSuchKey<T>(pending: Promise<T>): Promise<T | null> {
  try {
    return await pending;
  } catch (err) {
    if (err instanceof StoreError && err.code === 'NoSuchKey') return null;
    throw err;
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const error = new Error(typeof reason === 'string' ? reason : 'The operation was aborted');
  error.name = 'AbortError';
  return error;
}

// --- body handling ---

interface GuardedBody {
  /** The caller's body, passed through unchanged, failing instead of ending when its length is not `size`. */
  stream: Transform;
  /** The reason the body did not arrive whole (abort, wrong length, or the source's own error), if so. */
  failure(): unknown;
  /** Stop reading the source (harmless once it has ended). */
  dispose(): void;
}

/**
 * Wraps the body so that OSS can never store a wrong-length object: a short body errors before the request ends,
 * a long one as soon as the excess shows, and the final chunk is held back until the source has really ended, so
 * the server cannot have answered 200 for `size` bytes while more were still coming.
 */
function guardLength(body: Readable, size: number, signal: AbortSignal | undefined): GuardedBody {
  let failure: unknown;
  let receivedBytes = 0;
  let heldBack: Buffer | undefined;
  // A short body may be a truncated source that a fresh stream fixes; a long one means `size` itself is wrong.
  const mismatch = (short: boolean) =>
    new StoreError(`Body is ${short ? 'shorter' : 'longer'} than the announced ${size} bytes (received ${receivedBytes}${short ? '' : '+'})`, {
      code: 'BodySizeMismatch',
      retryable: short,
    });
  const guard = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      receivedBytes += chunk.length;
      if (receivedBytes > size) return done((failure ??= mismatch(false)) as Error);
      if (receivedBytes === size) {
        heldBack = chunk;
        return done();
      }
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      if (receivedBytes < size) return done((failure ??= mismatch(true)) as Error);
      done(null, heldBack);
    },
  });
  // Not pipeline(): only the source's own errors count as body failures, not the premature close that ali-oss
  // causes on the guard when OSS answers with an error before the body is sent.
  body.on('error', (err) => {
    failure ??= err;
    guard.destroy(err);
  });
  body.pipe(guard);
  body.once('close', () => {
    if (body.readableEnded || guard.destroyed) return;
    failure ??= mismatch(true);
    guard.destroy(failure as Error);
  });
  // Until ali-oss or the part splitter reads the guard (a multipart upload first awaits Initiate), nothing else
  // listens for its errors, and an 'error' event without a listener is an uncaught exception that ends the
  // process. The failure is kept in `failure` and seen by whoever reads the destroyed guard later.
  guard.on('error', () => undefined);
  const stopWatching = onAbort(signal, () => {
    failure = abortReason(signal);
    guard.destroy(failure as Error);
  });
  return {
    stream: guard,
    failure: () => (signal?.aborted ? abortReason(signal) : failure),
    dispose: () => {
      stopWatching();
      if (!guard.readableEnded) guard.destroy();
      if (!body.readableEnded) body.destroy();
    },
  };
}

function bufferStream(bytes: Buffer): Readable {
  return new Readable({
    read() {
      this.push(bytes);
      this.push(null);
    },
  });
}

/** Part buffers allocated once and reused, so memory does not depend on when the GC frees old parts. */
class PartBufferPool {
  private readonly free: Buffer[] = [];
  private allocated = 0;
  constructor(
    private readonly partBytes: number,
    private readonly capacity: number,
  ) {}

  available(): number {
    return this.free.length + (this.capacity - this.allocated);
  }

  acquire(): Buffer {
    const reused = this.free.pop();
    if (reused) return reused;
    if (this.allocated >= this.capacity) throw new Error('PartBufferPool exhausted: the reader ran ahead of the uploads');
    this.allocated += 1;
    return Buffer.allocUnsafeSlow(this.partBytes);
  }

  release(buffer: Buffer): void {
    this.free.push(buffer);
  }
}

/**
 * One part on its way: bytes are copied into a pooled buffer (for a retry) and the same bytes are pushed to
 * `live`, the body of the part's first request, as they arrive.
 */
const SEND_SLICE_BYTES = 1024 * 1024;

class StreamingPart {
  readonly live: Readable;
  readonly whole: Promise<void>;
  private readonly buffer: Buffer;
  private filled = 0;
  private sent = 0;
  private wanted: (() => void) | null = null;
  private markWhole!: () => void;
  private markAbandoned!: (reason: Error) => void;
  private released = false;

  constructor(
    private readonly pool: PartBufferPool,
    readonly length: number,
  ) {
    this.buffer = pool.acquire();
    this.whole = new Promise((resolve, reject) => {
      this.markWhole = resolve;
      this.markAbandoned = reject;
    });
    // Only a retry waits on `whole`; an abandoned part that nobody retries must not be an unhandled rejection.
    this.whole.catch(() => undefined);
    this.live = new Readable({ highWaterMark: 2 * SEND_SLICE_BYTES, read: () => this.wake() });
    this.live.once('close', () => this.wake());
  }

  get full(): boolean {
    return this.filled === this.length;
  }

  /** Copies what fits of `chunk` from `offset` and forwards it; the number of bytes taken. */
  write(chunk: Buffer, offset: number): number {
    const copied = chunk.copy(this.buffer, this.filled, offset, offset + Math.min(chunk.length - offset, this.length - this.filled));
    this.filled += copied;
    // Forwarded in slices of SEND_SLICE_BYTES, not socket chunk by socket chunk: each write into the request
    // costs a syscall and a round of stream callbacks, and the bytes are in the part buffer anyway.
    if (!this.live.destroyed && (this.full || this.filled - this.sent >= SEND_SLICE_BYTES)) {
      this.live.push(this.buffer.subarray(this.sent, this.filled));
      this.sent = this.filled;
      if (this.full) this.live.push(null);
    }
    if (this.full) this.markWhole();
    return copied;
  }

  /** Resolves when the first request wants more bytes, or no longer wants any. */
  demand(): Promise<void> {
    if (this.live.destroyed || this.live.readableLength < this.live.readableHighWaterMark) return Promise.resolve();
    return new Promise((resolve) => (this.wanted = resolve));
  }

  /** The part will not be completed: fail its first request (a retry would have nothing whole to send). */
  abandon(reason: unknown): void {
    if (this.full) return;
    const error = reason instanceof Error ? reason : new Error(String(reason));
    this.markAbandoned(error);
    // urllib rewrites the body error it is given (name, message, status): never hand it one the caller will see.
    this.live.destroy(new Error('part request cut: the part will not be completed', { cause: error }));
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.live.destroy();
    this.pool.release(this.buffer);
  }

  private wake(): void {
    const wanted = this.wanted;
    this.wanted = null;
    wanted?.();
  }
}
