/**
 * lib/transfer.ts through Node's HTTP client (log origin emulator) and the real ali-oss client (OSS emulator):
 * what counts as "archived" when the archive key already holds an object.
 */
import { Readable } from 'node:stream';
import { openDownload } from '../../lib/download';
import { createOssStore, type OssStore } from '../../lib/oss-store';
import { MemoryStore } from '../../lib/memory-store';
import { transferFile, type TransferOptions } from '../../lib/transfer';
import type { LogFile, ObjectStore } from '../../lib/types';
import { SANDBOX_STS } from '../../sandbox/contracts';
import { expectedDigest } from '../../sandbox/logdata';
import { startOriginEmulator, type OriginEmulator } from '../../sandbox/origin-emulator';
import { startOssEmulator, type OssEmulator } from '../../sandbox/oss-emulator';
import { withFirstByteChanged } from '../support/change-first-byte';
import { silenceUrllibWarnings } from '../support/urllib-warnings';

const BUCKET = 'transfer-bucket';
const KiB = 1024;
const HOUR_MS = 3_600_000;

let origin: OriginEmulator;
let oss: OssEmulator;
let restoreWarnings: () => void;

beforeAll(async () => {
  origin = await startOriginEmulator();
  oss = await startOssEmulator({ buckets: [BUCKET] });
  restoreWarnings = silenceUrllibWarnings();
});

afterAll(async () => {
  restoreWarnings();
  await Promise.all([origin.close(), oss.close()]);
});

/** Objects past 200 KiB go multipart (100 KiB parts), so both upload paths are reachable with small files. */
function store(): OssStore {
  return createOssStore({
    bucket: BUCKET,
    region: oss.region,
    endpoint: oss.endpoint,
    pathStyle: false,
    credentials: SANDBOX_STS,
    multipartThresholdBytes: 200 * KiB,
    partSizeBytes: 100 * KiB,
    timeoutMs: 10_000,
  });
}

/** A store whose uploads lose one byte on the way (flipped in the first chunk): OSS stores other bytes than were read. */
function corruptingInTransit(inner: ObjectStore): ObjectStore {
  return {
    ...inner,
    putStream(key, body: Readable, opts) {
      return inner.putStream(key, withFirstByteChanged(body), opts);
    },
  };
}

let fileCounter = 0;
function seedFile(size: number): { file: LogFile; key: string; seed: string } {
  fileCounter++;
  const name = `t.example.com_2026_11_27_090000_100000.${fileCounter}.gz`;
  const seed = `transfer-${fileCounter}`;
  const path = `/push_proxy/owner/t.example.com/${name}`;
  origin.addFile(path, { size, seed });
  const hourStartMs = Date.UTC(2026, 10, 27, 9);
  const file: LogFile = {
    domain: 't.example.com',
    hourStartMs,
    name,
    url: origin.signedUrl(path, Math.floor(Date.now() / 1000) + 3600),
    size,
    startMs: hourStartMs,
    endMs: hourStartMs + HOUR_MS,
  };
  return { file, key: `archive/${name}`, seed };
}

function options(key: string): TransferOptions {
  return { key, headers: {}, maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, deadlineMs: Date.now() + 60_000 };
}

const download = (url: string, signal?: AbortSignal) => openDownload(url, { allowHost: () => true, idleTimeoutMs: 5_000, signal });

describe('transferFile when the stored bytes are not the downloaded ones', () => {
  it.each([
    ['a simple PUT', 150 * KiB],
    ['a multipart upload', 400 * KiB],
  ])('never reports archived after OSS stored other bytes through %s; the retry ends as a conflict', async (_path, size) => {
    const { file, key, seed } = seedFile(size);

    const outcome = await transferFile(file, { store: corruptingInTransit(store()), openDownload: download }, options(key));

    expect(outcome.status).toBe('conflict');
    const stored = oss.head(BUCKET, key);
    expect(stored).not.toBeNull();
    expect(stored!.crc64).not.toBe((await expectedDigest({ size, seed })).crc64);
  });
});

describe('transferFile when the archive key already holds an object', () => {
  it.each([
    ['a simple PUT', 150 * KiB],
    ['a multipart upload', 400 * KiB],
  ])('records a conflict, not archived, when it has the right size but other bytes (%s)', async (_path, size) => {
    const { file, key } = seedFile(size);
    const otherBytes = Buffer.alloc(size, 0x61);
    await oss.plantObject(BUCKET, key, otherBytes);

    const outcome = await transferFile(file, { store: store(), openDownload: download }, options(key));

    expect(outcome).toMatchObject({ status: 'conflict', reason: expect.stringMatching(/other bytes/) });
    expect((await oss.readObject(BUCKET, key)).equals(otherBytes)).toBe(true);
  });

  it.each([
    ['a simple PUT', 150 * KiB],
    ['a multipart upload', 400 * KiB],
  ])('counts an object with the same bytes as already archived, with its CRC-64 (%s)', async (_path, size) => {
    const { file, key, seed } = seedFile(size);
    const want = await expectedDigest({ size, seed });
    const first = await transferFile(file, { store: store(), openDownload: download }, options(key));
    expect(first.status).toBe('archived');

    const again = await transferFile(file, { store: store(), openDownload: download }, options(key));

    expect(again).toMatchObject({ status: 'already-archived', crc64: want.crc64 });
  });
});

describe('transferFile when the download is not the listed file', () => {
  it.each([
    ['a simple PUT', 150 * KiB],
    ['a multipart upload', 400 * KiB],
  ])('retries a download the origin cuts mid-body (FIN, then RST) and stores the whole file once (%s)', async (_path, size) => {
    const { file, key, seed } = seedFile(size);
    const path = new URL(file.url).pathname;
    origin.faults.cutAfter(20 * KiB, { path });
    origin.faults.resetAfter(60 * KiB, { path });

    const outcome = await transferFile(file, { store: store(), openDownload: download }, options(key));

    expect(outcome).toMatchObject({ status: 'archived', attempts: 3, crc64: (await expectedDigest({ size, seed })).crc64 });
    expect(oss.head(BUCKET, key)?.size).toBe(size);
  });

  it('fails a download cut short when no attempt is left, as a download failure, with nothing stored', async () => {
    const { file, key } = seedFile(150 * KiB);
    origin.faults.cutAfter(20 * KiB, { path: new URL(file.url).pathname });

    const outcome = await transferFile(file, { store: store(), openDownload: download }, { ...options(key), maxAttempts: 1 });

    expect(outcome).toMatchObject({ status: 'failed', attempts: 1 });
    expect(outcome.status === 'failed' && outcome.reason).toMatch(/^DownloadError: download broke off|^DownloadError: download ended early/);
    expect(oss.head(BUCKET, key)).toBeNull();
  });

  /** A download without Content-Length whose body has `bytes` bytes: only the length guard can tell. */
  const bodyOf = (bytes: number) => async () => ({ body: Readable.from([Buffer.alloc(bytes, 0x62)]) });

  it.each([
    ['longer', 10, /^DownloadError: download is longer than LogSize: 153610 > 153600 bytes$/, 1],
    ['shorter', -10, /^DownloadError: download ended early: 153590 of 153600 bytes$/, 3],
  ])('tells a body %s than LogSize as the download\'s fault, retried only when short, and stores nothing', async (_what, delta, reason, attempts) => {
    const { file, key } = seedFile(150 * KiB);

    const outcome = await transferFile(file, { store: store(), openDownload: bodyOf(150 * KiB + delta) }, options(key));

    expect(outcome).toMatchObject({ status: 'failed', attempts, reason: expect.stringMatching(reason) });
    expect(oss.head(BUCKET, key)).toBeNull();
  });
});

describe('transferFile when the store starts reading late', () => {
  it('meters every byte, including those the download buffered before the store read them (MemoryStore, for-await)', async () => {
    const size = 150 * KiB;
    const { file, key, seed } = seedFile(size);
    // The store waits before reading: the response's first chunks sit in its buffer, read later through read().
    const memory = new MemoryStore({ beforeOperation: (op) => (op === 'putStream' ? new Promise((r) => setTimeout(r, 50)) : undefined) });

    const outcome = await transferFile(file, { store: memory, openDownload: download }, options(key));

    const want = await expectedDigest({ size, seed });
    expect(outcome).toMatchObject({ status: 'archived', bytes: size, crc64: want.crc64, attempts: 1 });
    expect((await memory.head(key))?.crc64).toBe(want.crc64);
  });

  it.each([
    ['a simple PUT', 150 * KiB],
    ['a multipart upload', 400 * KiB],
  ])('meters every byte when the download was buffered before the store read it (%s)', async (_path, size) => {
    const { file, key, seed } = seedFile(size);
    const late = async (url: string, signal?: AbortSignal) => {
      const opened = await download(url, signal);
      await new Promise((r) => setTimeout(r, 50));
      return opened;
    };

    const outcome = await transferFile(file, { store: store(), openDownload: late }, options(key));

    const want = await expectedDigest({ size, seed });
    expect(outcome).toMatchObject({ status: 'archived', bytes: size, crc64: want.crc64, attempts: 1 });
    expect(oss.head(BUCKET, key)?.crc64).toBe(want.crc64);
  });
});

describe("transferFile with the origin's own CRC-64 (x-oss-hash-crc64ecma on the download)", () => {
  /** The real download, with one byte of its body changed on the way: the origin's header still names the file. */
  const changedOnTheWay = async (url: string, signal?: AbortSignal) => {
    const real = await download(url, signal);
    return { ...real, body: withFirstByteChanged(real.body) };
  };

  it.each([
    ['a simple PUT', 150 * KiB],
    ['a multipart upload', 400 * KiB],
  ])('never reports archived when the bytes changed between the origin and here (%s)', async (_path, size) => {
    const { file, key, seed } = seedFile(size);
    const want = await expectedDigest({ size, seed });

    const outcome = await transferFile(file, { store: store(), openDownload: changedOnTheWay }, options(key));

    // A CRC-64 computed here would have matched the changed bytes OSS stored; the origin's does not.
    expect(outcome).toMatchObject({ status: 'conflict', reason: expect.stringContaining(`vs ${want.crc64}`) });
    expect(oss.head(BUCKET, key)!.crc64).not.toBe(want.crc64);
  });

  it('archives with the CRC-64 the origin announced, which is the stored one', async () => {
    const { file, key, seed } = seedFile(150 * KiB);
    const want = await expectedDigest({ size: 150 * KiB, seed });
    const opened = await download(file.url);
    opened.body.destroy();
    expect(opened.crc64).toBe(want.crc64);

    const outcome = await transferFile(file, { store: store(), openDownload: download }, options(key));

    expect(outcome).toMatchObject({ status: 'archived', crc64: want.crc64 });
    expect(oss.head(BUCKET, key)!.crc64).toBe(want.crc64);
  });
});

describe("transferFile when one attempt's download carries the origin's CRC-64 and a later one does not", () => {
  /** The real download, one byte changed on the way, and no x-oss-hash-crc64ecma (a hop that drops it). */
  const changedWithoutHeader = async (url: string, signal?: AbortSignal) => {
    const real = await download(url, signal);
    return { body: withFirstByteChanged(real.body), contentLength: real.contentLength };
  };

  it("does not archive bytes whose CRC-64 differs from the one the origin announced on an earlier attempt", async () => {
    const size = 150 * KiB;
    const { file, key, seed } = seedFile(size);
    const want = await expectedDigest({ size, seed });
    // The first download (with the origin's CRC-64) is reset mid-body: nothing is committed.
    origin.faults.resetAfter(20 * KiB, { path: new URL(file.url).pathname });
    let calls = 0;
    const openDownload = (url: string, signal?: AbortSignal) => (++calls === 1 ? download(url, signal) : changedWithoutHeader(url, signal));

    const outcome = await transferFile(file, { store: store(), openDownload }, options(key));

    expect(oss.head(BUCKET, key)!.crc64).not.toBe(want.crc64);
    expect(outcome).toMatchObject({ status: 'conflict', reason: expect.stringContaining(want.crc64) });
  });

  it("does not count an existing object as archived by a CRC-64 computed here when the origin announced another", async () => {
    // Small enough that the second download has ended before OSS refuses the create-only PUT.
    const size = 2 * KiB;
    const { file, key, seed } = seedFile(size);
    const want = await expectedDigest({ size, seed });
    let calls = 0;
    // Both downloads change the same byte; only the first carries the origin's CRC-64.
    const openDownload = async (url: string, signal?: AbortSignal) => {
      if (++calls > 1) return changedWithoutHeader(url, signal);
      const changed = await changedWithoutHeader(url, signal);
      return { ...changed, crc64: want.crc64 };
    };

    const outcome = await transferFile(file, { store: store(), openDownload }, options(key));

    expect(oss.head(BUCKET, key)!.crc64).not.toBe(want.crc64);
    expect(outcome).toMatchObject({ status: 'conflict', reason: expect.stringContaining(want.crc64) });
  });
});
