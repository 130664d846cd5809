/**
 * lib/oss-store.ts through the real ali-oss client against the OSS emulator (sandbox/oss-emulator.ts).
 */
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { Readable } from 'node:stream';
import { createOssStore, type OssStore, type OssStoreOptions } from '../../lib/oss-store';
import { AlreadyExistsError, StoreError } from '../../lib/errors';
import { Crc64, crc64 } from '../../lib/crc64';
import { SANDBOX_STS } from '../../sandbox/contracts';
import { generatedBytes, generatedStream } from '../../sandbox/logdata';
import { startOssEmulator, type OssEmulator } from '../../sandbox/oss-emulator';
import { silenceUrllibWarnings } from '../support/urllib-warnings';

const BUCKET = 'archive-bucket';
const KiB = 1024;
const MiB = 1024 * KiB;

let emulator: OssEmulator;
let restoreWarnings: () => void;

beforeAll(async () => {
  emulator = await startOssEmulator({ buckets: [BUCKET] });
  restoreWarnings = silenceUrllibWarnings();
});

afterAll(async () => {
  restoreWarnings();
  await emulator.close();
});

afterEach(() => {
  emulator.faults.reset();
  emulator.resetStats();
});

function storeFor(overrides: Partial<OssStoreOptions> = {}): OssStore {
  return createOssStore({
    bucket: BUCKET,
    region: emulator.region,
    endpoint: emulator.endpoint,
    pathStyle: false,
    credentials: SANDBOX_STS,
    multipartThresholdBytes: 4 * MiB,
    partSizeBytes: 1 * MiB,
    partRetryBaseDelayMs: 10,
    timeoutMs: 10_000,
    ...overrides,
  });
}

/** A small-part store: objects past 256 KiB go multipart in 100 KiB parts (the OSS minimum). */
function multipartStoreFor(overrides: Partial<OssStoreOptions> = {}): OssStore {
  return storeFor({ multipartThresholdBytes: 256 * KiB, partSizeBytes: 100 * KiB, ...overrides });
}

/** Emits `bytes` in `chunkBytes` pieces, then optionally fails instead of ending. */
function streamOf(bytes: Buffer, chunkBytes = 64 * KiB): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) chunks.push(bytes.subarray(offset, offset + chunkBytes));
  return Readable.from(chunks, { objectMode: false });
}

/** A stream that never ends on its own: bytes trickle out until it is destroyed. */
function endlessStream(chunkBytes = 64 * KiB, everyMs = 5): Readable {
  const chunk = generatedBytes('endless', chunkBytes);
  let timer: NodeJS.Timeout | undefined;
  return new Readable({
    read() {
      timer = setTimeout(() => this.push(chunk), everyMs);
    },
    destroy(err, done) {
      clearTimeout(timer);
      done(err);
    },
  });
}

function md5Hex(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex').toUpperCase();
}

describe.each([
  ['virtual-host (IP endpoint)', () => storeFor()],
  ['path style (host name endpoint)', () => storeFor({ endpoint: emulator.pathStyleEndpoint, pathStyle: true })],
])('simple put and head, %s', (_style, makeStore) => {
  it('stores exactly the streamed bytes and returns the server CRC-64 and MD5 ETag', async () => {
    const store = makeStore();
    const bytes = generatedBytes(`simple-${_style}`, 300 * KiB + 7);
    const key = `simple/${_style.split(' ')[0]}/file.gz`;

    const put = await store.putStream(key, streamOf(bytes), { size: bytes.length, forbidOverwrite: true });

    expect(put.crc64).toBe(crc64(bytes));
    expect(put.etag).toBe(md5Hex(bytes));
    expect((await emulator.readObject(BUCKET, key)).equals(bytes)).toBe(true);
    expect(emulator.stats.byOp.PutObject).toBe(1);
    expect(emulator.stats.byOp.InitiateMultipartUpload).toBeUndefined();
    const head = await store.head(key);
    expect(head).toEqual({ size: bytes.length, etag: md5Hex(bytes), crc64: crc64(bytes), meta: {} });
  });
});

describe('putStream, simple PUT', () => {
  it('carries archive headers: user metadata comes back from head', async () => {
    const store = storeFor();
    const bytes = generatedBytes('meta', 1000);

    await store.putStream('meta/file.gz', streamOf(bytes), {
      size: bytes.length,
      forbidOverwrite: true,
      headers: { 'x-oss-meta-source-size': '1000', 'x-oss-meta-source-crc64': crc64(bytes), 'x-oss-storage-class': 'IA' },
    });

    const head = await store.head('meta/file.gz');
    expect(head?.meta).toEqual({ 'source-size': '1000', 'source-crc64': crc64(bytes) });
    expect(emulator.head(BUCKET, 'meta/file.gz')?.headers['x-oss-storage-class']).toBe('IA');
  });

  it('stores an empty object for size 0', async () => {
    const store = storeFor();

    const put = await store.putStream('empty/file.gz', streamOf(Buffer.alloc(0)), { size: 0, forbidOverwrite: true });

    expect(put.crc64).toBe('0');
    expect(emulator.head(BUCKET, 'empty/file.gz')?.size).toBe(0);
  });

  it('rejects a body that ends short of size and leaves no object', async () => {
    const store = storeFor();
    const bytes = generatedBytes('short', 200 * KiB);

    const put = store.putStream('short/file.gz', streamOf(bytes), { size: bytes.length + 1, forbidOverwrite: true });

    await expect(put).rejects.toMatchObject({ name: 'StoreError', code: 'BodySizeMismatch' });
    expect(emulator.head(BUCKET, 'short/file.gz')).toBeNull();
  });

  it('rejects a body longer than size, even when the extra bytes come after exactly size bytes', async () => {
    const store = storeFor();
    const announced = generatedBytes('long', 128 * KiB);
    // The excess arrives well after `size` bytes: long enough for OSS to have answered 200 had they been sent.
    const body = Readable.from(
      (async function* () {
        yield announced;
        await new Promise((resolve) => setTimeout(resolve, 200));
        yield Buffer.from('trailing bytes');
      })(),
      { objectMode: false },
    );

    const put = store.putStream('long/file.gz', body, { size: announced.length, forbidOverwrite: true });

    await expect(put).rejects.toMatchObject({ code: 'BodySizeMismatch', retryable: false });
    expect(emulator.head(BUCKET, 'long/file.gz')).toBeNull();
  });

  it('rethrows the source stream error unchanged and stores nothing', async () => {
    const store = storeFor();
    const sourceError = new Error('origin connection reset');
    const body = new Readable({
      read() {
        this.push(generatedBytes('fail', 64 * KiB));
        this.destroy(sourceError);
      },
    });

    await expect(store.putStream('source-error/file.gz', body, { size: MiB, forbidOverwrite: true })).rejects.toBe(sourceError);
    expect(emulator.head(BUCKET, 'source-error/file.gz')).toBeNull();
  });

  it('answers AlreadyExistsError on an existing key and leaves the old bytes untouched', async () => {
    const store = storeFor();
    const original = Buffer.from('original archived bytes');
    await emulator.plantObject(BUCKET, 'exists/simple.gz', original);
    const replacement = generatedBytes('replacement', 64 * KiB);

    const put = store.putStream('exists/simple.gz', streamOf(replacement), { size: replacement.length, forbidOverwrite: true });

    await expect(put).rejects.toBeInstanceOf(AlreadyExistsError);
    expect((await emulator.readObject(BUCKET, 'exists/simple.gz')).equals(original)).toBe(true);
  });

  it('stops reading the body and rejects with the abort reason when the signal aborts', async () => {
    const store = storeFor({ multipartThresholdBytes: 1024 * MiB });
    const body = endlessStream();
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('deadline reached')), 100);

    const put = store.putStream('abort/simple.gz', body, { size: 512 * MiB, forbidOverwrite: true, signal: controller.signal });

    await expect(put).rejects.toThrow('deadline reached');
    expect(body.destroyed).toBe(true);
    expect(emulator.head(BUCKET, 'abort/simple.gz')).toBeNull();
  });

  it('refuses headers an archive object should not carry', async () => {
    const store = storeFor();

    const put = store.putStream('headers/file.gz', streamOf(Buffer.from('x')), {
      size: 1,
      forbidOverwrite: true,
      headers: { 'Content-Length': '5' },
    });

    await expect(put).rejects.toThrow(TypeError);
    expect(emulator.stats.requests).toBe(0);
  });
});

describe('putStream, multipart', () => {
  it('streams ~100 MiB in parts with bounded memory and stores it byte-identical', async () => {
    const store = storeFor({ multipartThresholdBytes: 8 * MiB, partSizeBytes: 5 * MiB });
    const size = 100 * MiB + 12_345;
    const ownCrc = new Crc64();
    const body = generatedStream('multipart-100', size);
    body.on('data', (chunk: Buffer) => ownCrc.update(chunk));
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);

    let put;
    try {
      put = await store.putStream('multipart/big.gz', body, { size, forbidOverwrite: true });
    } finally {
      clearInterval(sampler);
    }

    const stored = emulator.head(BUCKET, 'multipart/big.gz');
    expect(stored?.size).toBe(size);
    expect(stored?.crc64).toBe(ownCrc.digest());
    expect(put.crc64).toBe(ownCrc.digest());
    expect(stored?.objectType).toBe('Multipart');
    expect(put.etag).toMatch(/^[0-9A-F]{32}-21$/);
    expect(emulator.stats.byOp.UploadPart).toBe(21);
    expect(emulator.pendingUploads(BUCKET)).toEqual([]);
    // The adapter holds two 5 MiB parts; the emulator in this same process streams them to disk. Buffering the
    // object (or the GC lagging behind freshly allocated parts) would show as 100+ MiB.
    expect(rssPeak - rssBefore).toBeLessThan(60 * MiB);
  });

  it('retries a part that failed with 500 and completes the upload', async () => {
    const store = multipartStoreFor();
    const bytes = generatedBytes('part-retry', 550 * KiB);
    emulator.faults.failNext(1, 500, (request) => request.op === 'UploadPart' && request.query.get('partNumber') === '2');

    const put = await store.putStream('multipart/retried.gz', streamOf(bytes), { size: bytes.length, forbidOverwrite: true });

    expect(put.crc64).toBe(crc64(bytes));
    expect((await emulator.readObject(BUCKET, 'multipart/retried.gz')).equals(bytes)).toBe(true);
    expect(emulator.stats.byOp.UploadPart).toBe(7);
  });

  it('retries a part whose connection was reset mid-body', async () => {
    const store = multipartStoreFor();
    const bytes = generatedBytes('part-reset', 450 * KiB);
    emulator.faults.resetNext(1, (request) => request.op === 'UploadPart', 10 * KiB);

    const put = await store.putStream('multipart/reset.gz', streamOf(bytes), { size: bytes.length, forbidOverwrite: true });

    expect(put.crc64).toBe(crc64(bytes));
    expect((await emulator.readObject(BUCKET, 'multipart/reset.gz')).equals(bytes)).toBe(true);
  });

  it('gives up after persistent 5xx with a retryable StoreError and aborts the upload', async () => {
    const store = multipartStoreFor({ partAttempts: 3 });
    const bytes = generatedBytes('part-fail', 450 * KiB);
    emulator.faults.failNext(100, 503, (request) => request.op === 'UploadPart');

    const put = store.putStream('multipart/failed.gz', streamOf(bytes), { size: bytes.length, forbidOverwrite: true });

    await expect(put).rejects.toMatchObject({ name: 'StoreError', code: 'ServiceUnavailable', status: 503, retryable: true });
    expect(emulator.head(BUCKET, 'multipart/failed.gz')).toBeNull();
    expect(emulator.pendingUploads(BUCKET)).toEqual([]);
    expect(emulator.stats.byOp.AbortMultipartUpload).toBe(1);
  });

  it('answers AlreadyExistsError on an existing key before sending parts, and leaves the old bytes untouched', async () => {
    const store = multipartStoreFor();
    const original = Buffer.from('original multipart target');
    await emulator.plantObject(BUCKET, 'exists/multipart.gz', original);
    const bytes = generatedBytes('mp-exists', 450 * KiB);

    const put = store.putStream('exists/multipart.gz', streamOf(bytes), { size: bytes.length, forbidOverwrite: true });

    await expect(put).rejects.toBeInstanceOf(AlreadyExistsError);
    expect((await emulator.readObject(BUCKET, 'exists/multipart.gz')).equals(original)).toBe(true);
    expect(emulator.stats.byOp.UploadPart ?? 0).toBe(0);
    expect(emulator.pendingUploads(BUCKET)).toEqual([]);
  });

  it('answers AlreadyExistsError when the key appears while the parts upload, and aborts the upload', async () => {
    const store = multipartStoreFor();
    const original = Buffer.from('written by a racing run');
    const bytes = generatedBytes('mp-race', 450 * KiB);
    // The racing writer lands after every byte was read but before the stream ends, hence before Complete.
    const body = Readable.from(
      (async function* () {
        yield* [bytes.subarray(0, 300 * KiB), bytes.subarray(300 * KiB)];
        await emulator.plantObject(BUCKET, 'exists/raced.gz', original);
      })(),
      { objectMode: false },
    );

    const put = store.putStream('exists/raced.gz', body, { size: bytes.length, forbidOverwrite: true });

    await expect(put).rejects.toBeInstanceOf(AlreadyExistsError);
    expect(emulator.stats.byOp.CompleteMultipartUpload).toBe(1);
    expect((await emulator.readObject(BUCKET, 'exists/raced.gz')).equals(original)).toBe(true);
    expect(emulator.pendingUploads(BUCKET)).toEqual([]);
  });

  it('rejects a body that ends short without completing, and aborts the upload', async () => {
    const store = multipartStoreFor();
    const bytes = generatedBytes('mp-short', 450 * KiB);

    const put = store.putStream('multipart/short.gz', streamOf(bytes), { size: bytes.length + 100 * KiB, forbidOverwrite: true });

    await expect(put).rejects.toMatchObject({ code: 'BodySizeMismatch' });
    expect(emulator.stats.byOp.CompleteMultipartUpload ?? 0).toBe(0);
    expect(emulator.head(BUCKET, 'multipart/short.gz')).toBeNull();
    expect(emulator.pendingUploads(BUCKET)).toEqual([]);
  });

  /**
   * 5 MiB parts fed 64 KiB at a time: after `holdAfter` bytes the source waits until `release()` says so, or fails
   * with `failWith` instead of going on.
   */
  function gatedSource(bytes: Buffer, holdAfter: number, release: () => boolean, failWith?: Error): Readable {
    return Readable.from(
      (async function* () {
        for (let offset = 0; offset < bytes.length; offset += 64 * KiB) {
          if (offset === holdAfter) {
            if (failWith) throw failWith;
            const until = Date.now() + 5_000;
            while (!release()) {
              if (Date.now() > until) throw new Error('the part upload did not start before the part was read whole');
              await new Promise((resolve) => setTimeout(resolve, 5));
            }
          }
          yield bytes.subarray(offset, offset + 64 * KiB);
        }
      })(),
      { objectMode: false },
    );
  }
  const streamingStore = () => storeFor({ multipartThresholdBytes: 8 * MiB, partSizeBytes: 5 * MiB });

  it("starts sending each part while it is still being read, not once it is whole", async () => {
    const bytes = generatedBytes('mp-streaming', 12 * MiB);
    // The source stops 3 MiB into part 1 until OSS has seen part 1's request: a store that waited for the whole
    // part before sending it would never get there.
    const body = gatedSource(bytes, 3 * MiB, () => (emulator.stats.byOp.UploadPart ?? 0) >= 1);

    const put = await streamingStore().putStream('multipart/streaming.gz', body, { size: bytes.length, forbidOverwrite: true });

    expect(put.crc64).toBe(crc64(bytes));
    expect((await emulator.readObject(BUCKET, 'multipart/streaming.gz')).equals(bytes)).toBe(true);
    expect(emulator.stats.byOp.UploadPart).toBe(3);
  });

  it('resends a part whose streamed request was cut mid-body from its buffer, once the part is whole', async () => {
    const bytes = generatedBytes('mp-streamed-reset', 12 * MiB);
    emulator.faults.resetNext(1, (request) => request.op === 'UploadPart' && request.query.get('partNumber') === '2', 2 * MiB);

    const put = await streamingStore().putStream('multipart/streamed-reset.gz', streamOf(bytes), { size: bytes.length, forbidOverwrite: true });

    expect(put.crc64).toBe(crc64(bytes));
    expect((await emulator.readObject(BUCKET, 'multipart/streamed-reset.gz')).equals(bytes)).toBe(true);
    expect(emulator.stats.byOp.UploadPart).toBe(4);
    expect(emulator.pendingUploads(BUCKET)).toEqual([]);
  });

  it('resends a part whose streamed request was refused with 503 before its body was read', async () => {
    const bytes = generatedBytes('mp-streamed-503', 12 * MiB);
    emulator.faults.failNext(1, 503, (request) => request.op === 'UploadPart' && request.query.get('partNumber') === '1');

    const put = await streamingStore().putStream('multipart/streamed-503.gz', streamOf(bytes), { size: bytes.length, forbidOverwrite: true });

    expect(put.crc64).toBe(crc64(bytes));
    expect((await emulator.readObject(BUCKET, 'multipart/streamed-503.gz')).equals(bytes)).toBe(true);
    expect(emulator.stats.byOp.UploadPart).toBe(4);
  });

  it('fails a part mid-stream when its source fails, leaves no request waiting and aborts the upload', async () => {
    const bytes = generatedBytes('mp-streamed-source-error', 12 * MiB);
    const sourceError = new Error('origin connection reset');
    const body = gatedSource(bytes, 7 * MiB, () => true, sourceError);

    const started = Date.now();
    const put = streamingStore().putStream('multipart/streamed-source-error.gz', body, { size: bytes.length, forbidOverwrite: true });

    await expect(put).rejects.toBe(sourceError);
    // Part 2 was streaming when the source failed: its request is cut, not left to the 10 s request timeout.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(emulator.stats.byOp.CompleteMultipartUpload ?? 0).toBe(0);
    expect(emulator.head(BUCKET, 'multipart/streamed-source-error.gz')).toBeNull();
    expect(emulator.pendingUploads(BUCKET)).toEqual([]);
  });

  it('stops reading and aborts the upload when the signal aborts', async () => {
    const store = multipartStoreFor();
    const body = endlessStream();
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('deadline reached')), 150);

    const put = store.putStream('multipart/aborted.gz', body, { size: 512 * MiB, forbidOverwrite: true, signal: controller.signal });

    await expect(put).rejects.toThrow('deadline reached');
    expect(body.destroyed).toBe(true);
    expect(emulator.stats.byOp.UploadPart).toBeGreaterThan(0);
    expect(emulator.pendingUploads(BUCKET)).toEqual([]);
    expect(emulator.head(BUCKET, 'multipart/aborted.gz')).toBeNull();
  });

  describe('streamed first attempts under faults', () => {
    // An 'error' event without a listener or an unhandled rejection anywhere in an upload would end the process.
    const escaped: unknown[] = [];
    const onEscaped = (err: unknown) => escaped.push(err);
    beforeEach(() => {
      escaped.length = 0;
      process.on('uncaughtException', onEscaped);
      process.on('unhandledRejection', onEscaped);
    });
    afterEach(async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      process.off('uncaughtException', onEscaped);
      process.off('unhandledRejection', onEscaped);
      expect(escaped).toEqual([]);
    });
    const partNumber = (n: number) => (request: { op: string; query: URLSearchParams }) =>
      request.op === 'UploadPart' && request.query.get('partNumber') === String(n);

    it('fails at once and aborts the upload when a streamed part is cut and no retry is allowed', async () => {
      const bytes = generatedBytes('mp-streamed-no-retry', 12 * MiB);
      emulator.faults.resetNext(1, partNumber(2), 2 * MiB);
      const store = storeFor({ multipartThresholdBytes: 8 * MiB, partSizeBytes: 5 * MiB, partAttempts: 1 });

      const started = Date.now();
      const put = store.putStream('multipart/streamed-no-retry.gz', streamOf(bytes), { size: bytes.length, forbidOverwrite: true });

      await expect(put).rejects.toMatchObject({ name: 'StoreError', status: -1, retryable: true });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(emulator.stats.byOp.CompleteMultipartUpload ?? 0).toBe(0);
      expect(emulator.head(BUCKET, 'multipart/streamed-no-retry.gz')).toBeNull();
      expect(emulator.pendingUploads(BUCKET)).toEqual([]);
    });

    it('with a single part buffer, resends a part cut mid-body and a part refused with 503, byte-identical', async () => {
      const bytes = generatedBytes('mp-one-buffer', 12 * MiB + 100);
      emulator.faults.resetNext(1, partNumber(2), 2 * MiB);
      emulator.faults.failNext(1, 503, partNumber(3));
      const store = storeFor({ multipartThresholdBytes: 8 * MiB, partSizeBytes: 5 * MiB, maxPartsInMemory: 1 });

      const put = await store.putStream('multipart/one-buffer.gz', streamOf(bytes), { size: bytes.length, forbidOverwrite: true });

      expect(put.crc64).toBe(crc64(bytes));
      expect((await emulator.readObject(BUCKET, 'multipart/one-buffer.gz')).equals(bytes)).toBe(true);
      expect(emulator.stats.byOp.UploadPart).toBe(5);
      expect(emulator.pendingUploads(BUCKET)).toEqual([]);
    });

    it('sends a 1-byte last part, cut by a reset and resent, when one source chunk spans every part', async () => {
      const bytes = generatedBytes('mp-one-chunk', 10 * MiB + 1);
      emulator.faults.resetNext(1, partNumber(3));

      const put = await streamingStore().putStream('multipart/one-chunk.gz', Readable.from([bytes], { objectMode: false }), {
        size: bytes.length,
        forbidOverwrite: true,
      });

      expect(put.crc64).toBe(crc64(bytes));
      expect((await emulator.readObject(BUCKET, 'multipart/one-chunk.gz')).equals(bytes)).toBe(true);
      expect(emulator.stats.byOp.UploadPart).toBe(4);
    });

    it('aborts promptly while a cut part waits to be whole, and leaves nothing pending', async () => {
      const bytes = generatedBytes('mp-abort-waiting', 12 * MiB);
      emulator.faults.resetNext(1, partNumber(2), 1 * MiB);
      const controller = new AbortController();
      let aborted = false;
      // The source stops 3 MiB into part 2, whose streamed request was cut after 1 MiB: its retry waits for bytes.
      const body = gatedSource(bytes, 8 * MiB, () => aborted);
      setTimeout(() => controller.abort(new Error('deadline reached')), 400);

      const started = Date.now();
      const put = streamingStore().putStream('multipart/abort-waiting.gz', body, { size: bytes.length, forbidOverwrite: true, signal: controller.signal });

      await expect(put).rejects.toThrow('deadline reached');
      aborted = true;
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(emulator.head(BUCKET, 'multipart/abort-waiting.gz')).toBeNull();
      expect(emulator.pendingUploads(BUCKET)).toEqual([]);
    });

    it('fails with BodySizeMismatch when the source ends short while a cut part waits to be whole', async () => {
      const bytes = generatedBytes('mp-short-waiting', 8 * MiB);
      emulator.faults.resetNext(1, partNumber(2), 1 * MiB);

      const put = streamingStore().putStream('multipart/short-waiting.gz', streamOf(bytes), { size: 12 * MiB, forbidOverwrite: true });

      await expect(put).rejects.toMatchObject({ code: 'BodySizeMismatch' });
      expect(emulator.stats.byOp.CompleteMultipartUpload ?? 0).toBe(0);
      expect(emulator.head(BUCKET, 'multipart/short-waiting.gz')).toBeNull();
      expect(emulator.pendingUploads(BUCKET)).toEqual([]);
    });

    it('stores byte-identical objects under mixed mid-body resets and 5xx, any chunk size and buffer count', async () => {
      let state = 12345;
      const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
      for (let round = 0; round < 12; round++) {
        const partSize = Math.floor(1 * MiB + random() * 2 * MiB);
        const size = Math.floor(partSize * (2 + random() * 6));
        const bytes = generatedBytes(`mp-mixed-${round}`, size);
        const parts = Math.ceil(size / partSize);
        for (let fault = 0; fault < 4; fault++) {
          const number = 1 + Math.floor(random() * parts);
          if (random() < 0.5) emulator.faults.resetNext(1, partNumber(number), Math.floor(random() * partSize));
          else emulator.faults.failNext(1, random() < 0.5 ? 500 : 503, partNumber(number));
        }
        const chunkBytes = [1000, 64 * KiB, 3 * MiB][Math.floor(random() * 3)];
        const store = storeFor({
          multipartThresholdBytes: 1 * MiB,
          partSizeBytes: partSize,
          maxPartsInMemory: 1 + Math.floor(random() * 3),
          partAttempts: 5,
          partRetryBaseDelayMs: 1,
        });
        const key = `multipart/mixed-${round}.gz`;

        const put = await store.putStream(key, streamOf(bytes, chunkBytes), { size, forbidOverwrite: true });

        expect(put.crc64).toBe(crc64(bytes));
        expect((await emulator.readObject(BUCKET, key)).equals(bytes)).toBe(true);
        expect(emulator.pendingUploads(BUCKET)).toEqual([]);
        emulator.faults.reset();
      }
    });

    it('under aborts at any moment and unretried faults, either stores the whole object or nothing, and never waits', async () => {
      let state = 777;
      const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
      for (let round = 0; round < 16; round++) {
        const partSize = Math.floor(1 * MiB + random() * 2 * MiB);
        const size = Math.floor(partSize * (3 + random() * 6));
        const parts = Math.ceil(size / partSize);
        for (let fault = 0; fault < 3; fault++) {
          const number = 1 + Math.floor(random() * parts);
          if (random() < 0.5) emulator.faults.resetNext(1, partNumber(number), Math.floor(random() * partSize));
          else emulator.faults.failNext(1, 503, partNumber(number));
        }
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(new Error('deadline reached')), Math.floor(random() * 200));
        const store = storeFor({
          multipartThresholdBytes: 1 * MiB,
          partSizeBytes: partSize,
          maxPartsInMemory: 1 + Math.floor(random() * 3),
          partAttempts: 1 + Math.floor(random() * 2),
          partRetryBaseDelayMs: 1,
        });
        const key = `multipart/abort-any-${round}.gz`;

        const started = Date.now();
        const stored = await store
          .putStream(key, generatedStream(`mp-abort-any-${round}`, size), { size, forbidOverwrite: true, signal: controller.signal })
          .then(() => true, () => false);
        clearTimeout(timer);

        expect(Date.now() - started).toBeLessThan(5_000);
        expect(emulator.pendingUploads(BUCKET)).toEqual([]);
        if (stored) expect((await emulator.readObject(BUCKET, key)).equals(generatedBytes(`mp-abort-any-${round}`, size))).toBe(true);
        else expect(emulator.head(BUCKET, key)).toBeNull();
        emulator.faults.reset();
      }
    });

    // --- Defects: the errors below are handed to urllib as the body error of a streamed part, and urllib rewrites
    // whatever error object it is given (name, message, status, res, headers).

    it("rejects with the failed part's StoreError as OSS answered it, not rewritten by the part request it cut", async () => {
      const bytes = generatedBytes('mp-503-kept', 12 * MiB);
      emulator.faults.failNext(100, 503, partNumber(1));
      const store = storeFor({ multipartThresholdBytes: 8 * MiB, partSizeBytes: 5 * MiB, partAttempts: 1 });
      const started = Date.now();
      // Part 1 is refused while part 2 is streaming; the source then goes on 2 MiB into part 2.
      const body = gatedSource(bytes, 7 * MiB, () => Date.now() - started > 1_000);

      const err = await store.putStream('multipart/503-kept.gz', body, { size: bytes.length, forbidOverwrite: true }).catch((e: unknown) => e);

      expect(err).toMatchObject({ name: 'StoreError', code: 'ServiceUnavailable', status: 503, retryable: true });
      expect((err as Error).message).not.toContain('PUT http');
      expect(emulator.head(BUCKET, 'multipart/503-kept.gz')).toBeNull();
      expect(emulator.pendingUploads(BUCKET)).toEqual([]);
    });

    it('rethrows a source error that breaks a part mid-stream unchanged: same object, name, message, no status', async () => {
      const bytes = generatedBytes('mp-source-error-kept', 12 * MiB);
      const sourceError = new Error('origin connection reset');
      const body = gatedSource(bytes, 7 * MiB, () => true, sourceError);

      await expect(
        streamingStore().putStream('multipart/source-error-kept.gz', body, { size: bytes.length, forbidOverwrite: true }),
      ).rejects.toBe(sourceError);

      expect(sourceError.name).toBe('Error');
      expect(sourceError.message).toBe('origin connection reset');
      expect(Object.keys(sourceError)).toEqual([]);
    });

    it('rejects with the abort reason unchanged when the signal aborts while a part is streaming', async () => {
      const reason = new Error('deadline reached');
      const controller = new AbortController();
      setTimeout(() => controller.abort(reason), 300);

      const put = streamingStore().putStream('multipart/abort-reason-kept.gz', endlessStream(), {
        size: 512 * MiB,
        forbidOverwrite: true,
        signal: controller.signal,
      });

      await expect(put).rejects.toBe(reason);
      expect(reason.name).toBe('Error');
      expect(reason.message).toBe('deadline reached');
      expect(Object.keys(reason)).toEqual([]);
      expect(emulator.pendingUploads(BUCKET)).toEqual([]);
    });

    // Defect: a part's first request is now open while the part is read, so the per-request timeout covers the
    // source's speed too. A healthy OSS and a slow (not stalled) source use up part attempts.
    it('does not spend part attempts on a source slower than the request timeout', async () => {
      const bytes = generatedBytes('mp-slow-source', 400 * KiB);
      const body = Readable.from(
        (async function* () {
          for (let offset = 0; offset < bytes.length; offset += 64 * KiB) {
            await new Promise((resolve) => setTimeout(resolve, 400));
            yield bytes.subarray(offset, offset + 64 * KiB);
          }
        })(),
        { objectMode: false },
      );
      const store = storeFor({ multipartThresholdBytes: 256 * KiB, partSizeBytes: 100 * KiB, timeoutMs: 300, partAttempts: 1 });

      const put = await store.putStream('multipart/slow-source.gz', body, { size: bytes.length, forbidOverwrite: true });

      expect(put.crc64).toBe(crc64(bytes));
      expect(emulator.stats.byOp.UploadPart).toBe(4);
    });

    // Defect (older than this change, lib/oss-store.ts guardLength): a body destroyed without an error never ends
    // the guard, so the upload waits forever for bytes. The signal only cleans up after the check.
    it('rejects, rather than waiting forever, when the source is destroyed without an error', async () => {
      const body = endlessStream();
      const controller = new AbortController();
      setTimeout(() => body.destroy(), 300);

      const put = streamingStore().putStream('multipart/source-closed.gz', body, { size: 64 * MiB, forbidOverwrite: true, signal: controller.signal });
      const outcome = await Promise.race([
        put.then(() => 'stored', () => 'rejected'),
        new Promise((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3_000)),
      ]);
      controller.abort(new Error('test cleanup'));
      await put.catch(() => undefined);

      expect(outcome).toBe('rejected');
      expect(emulator.head(BUCKET, 'multipart/source-closed.gz')).toBeNull();
      expect(emulator.pendingUploads(BUCKET)).toEqual([]);
    });
  });
});

describe('head, getText, putText, delete', () => {
  it('answers null for a missing key', async () => {
    const store = storeFor();

    expect(await store.head('missing/key.json')).toBeNull();
    expect(await store.getText('missing/key.json')).toBeNull();
  });

  it('round-trips JSON text with content type application/json', async () => {
    const store = storeFor();
    const text = JSON.stringify({ schemaVersion: 1, note: 'héllo' });

    await store.putText('state/manifest.json', text);

    expect(await store.getText('state/manifest.json')).toBe(text);
    expect(emulator.head(BUCKET, 'state/manifest.json')?.headers['content-type']).toBe('application/json');
  });

  it('lets exactly one of two concurrent create-only putText calls win', async () => {
    const store = storeFor();

    const results = await Promise.allSettled([
      store.putText('leases/hour/1', '{"owner":"a"}', { forbidOverwrite: true }),
      store.putText('leases/hour/1', '{"owner":"b"}', { forbidOverwrite: true }),
    ]);

    const winners = results.filter((r) => r.status === 'fulfilled');
    const losers = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    expect(losers[0].reason).toBeInstanceOf(AlreadyExistsError);
    const winner = results[0].status === 'fulfilled' ? 'a' : 'b';
    expect(await store.getText('leases/hour/1')).toBe(`{"owner":"${winner}"}`);
  });

  it('overwrites when forbidOverwrite is not set', async () => {
    const store = storeFor();
    await store.putText('state/rewritten.json', '{"v":1}');

    await store.putText('state/rewritten.json', '{"v":2}');

    expect(await store.getText('state/rewritten.json')).toBe('{"v":2}');
  });

  it('deletes an object', async () => {
    const store = storeFor();
    await store.putText('state/deleted.json', '{}');

    await store.delete('state/deleted.json');

    expect(emulator.head(BUCKET, 'state/deleted.json')).toBeNull();
  });
});

describe('list', () => {
  it('returns every key under the prefix exactly once across pages', async () => {
    const store = storeFor({ listPageSize: 250 });
    const keys = Array.from({ length: 1003 }, (_, i) => `listing/2026/11/27/${String(i).padStart(4, '0')}.gz`);
    for (const key of keys) await emulator.plantObject(BUCKET, key, Buffer.from(key));
    await emulator.plantObject(BUCKET, 'listing-other/not-mine.gz', Buffer.from('x'));

    const listed: { key: string; size: number }[] = [];
    for await (const item of store.list('listing/')) listed.push(item);

    expect(listed.map((item) => item.key)).toEqual(keys);
    expect(listed.every((item) => item.size === Buffer.byteLength(item.key))).toBe(true);
    expect(emulator.stats.byOp.ListObjectsV2).toBe(5);
  });

  it('yields nothing for an empty prefix range', async () => {
    const store = storeFor();
    const listed = [];
    for await (const item of store.list('nothing-here/')) listed.push(item);
    expect(listed).toEqual([]);
  });
});

describe('errors', () => {
  function everyRendering(err: unknown): string {
    return [String(err), (err as Error).stack ?? '', JSON.stringify(err), inspect(err, { depth: 10 })].join('\n');
  }

  it('maps a missing bucket to a non-retryable StoreError', async () => {
    const store = storeFor({ bucket: 'no-such-bucket' });

    const err = await store.getText('anything.json').catch((e: unknown) => e);

    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'NoSuchBucket', status: 404, retryable: false });
    expect((err as StoreError).requestId).toBeTruthy();
  });

  it('never shows the secret or the security token, whatever the failure', async () => {
    const wrongSecret = storeFor({ credentials: { ...SANDBOX_STS, accessKeySecret: 'wrong-secret-DO-NOT-LEAK-91ab' } });
    const closed = await startOssEmulator({ buckets: [BUCKET] });
    const unreachable = storeFor({ endpoint: closed.endpoint, timeoutMs: 2000 });
    await closed.close();
    emulator.faults.failNext(1, 500);

    const failures = await Promise.all([
      wrongSecret.putText('secret/sig.json', '{}').catch((e: unknown) => e),
      unreachable.head('secret/net.json').catch((e: unknown) => e),
      storeFor().getText('secret/500.json').catch((e: unknown) => e),
    ]);

    expect(failures.map((e) => (e as StoreError).code)).toEqual(['SignatureDoesNotMatch', expect.any(String), 'InternalError']);
    expect(failures[1]).toMatchObject({ status: -1, retryable: true });
    for (const failure of failures) {
      const text = everyRendering(failure);
      expect(text).not.toContain(SANDBOX_STS.accessKeySecret);
      expect(text).not.toContain(SANDBOX_STS.securityToken);
      expect(text).not.toContain('wrong-secret-DO-NOT-LEAK-91ab');
    }
  });

  it('maps a request timeout to a retryable StoreError with status -2', async () => {
    const store = storeFor({ timeoutMs: 100 });
    emulator.faults.setDelayMs(400);

    const err = await store.head('slow/key.gz').catch((e: unknown) => e);

    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ status: -2, retryable: true });
  });

  it('refuses path style with an IP endpoint, which ali-oss would address virtual-host style', () => {
    expect(() => storeFor({ pathStyle: true })).toThrow(/pathStyle needs a host name endpoint/);
  });
});
