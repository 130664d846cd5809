/**
 * The OSS emulator driven by the real ali-oss 6.x client over loopback HTTP: what the archiver's OSS adapter will
 * see from it. Expected ETags and CRCs are computed here independently (node:crypto MD5, lib/crc64 over the bytes
 * the test generated), never read back from the emulator's own bookkeeping.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import OSS from 'ali-oss';
import { Crc64, crc64 } from '../../lib/crc64';
import type { Credentials } from '../../lib/types';
import { SANDBOX_AK, SANDBOX_STS } from '../../sandbox/contracts';
import { startOssEmulator, type OssEmulator, type RequestInfo } from '../../sandbox/oss-emulator';
import { OssStorage } from '../../sandbox/oss/storage';

const BUCKET = 'archive';
const MiB = 1024 * 1024;
const EXPIRED_STS: Required<Credentials> = {
  accessKeyId: 'STS.expiredKey0003',
  accessKeySecret: 'expired-sts-secret-DO-NOT-LEAK-5e1f',
  securityToken: 'expired-token-DO-NOT-LEAK-9a0c',
};

interface OssFailure {
  status?: number;
  code?: string;
  name?: string;
  requestId?: string;
  message: string;
}

/** The rejection of `promise`, asserting that there is one. */
async function failureOf(promise: Promise<unknown>): Promise<OssFailure> {
  try {
    await promise;
  } catch (error) {
    return error as OssFailure;
  }
  throw new Error('expected the call to fail, it succeeded');
}

function md5Hex(body: Buffer): string {
  return createHash('md5').update(body).digest('hex').toUpperCase();
}

function md5OfFile(filePath: string): Promise<string> {
  return md5OfStream(createReadStream(filePath));
}

function md5OfStream(stream: Readable | null): Promise<string> {
  if (!stream) throw new Error('no such object');
  const hash = createHash('md5');
  return new Promise((resolve, reject) => {
    stream
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex').toUpperCase()))
      .on('error', reject);
  });
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A body delivered in chunks (Transfer-Encoding: chunked when no contentLength is given). */
function chunkedBody(totalBytes: number, fill: number, chunkBytes = 64 * 1024): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < totalBytes; offset += chunkBytes) {
    chunks.push(Buffer.alloc(Math.min(chunkBytes, totalBytes - offset), fill));
  }
  return Readable.from(chunks);
}

interface GeneratedFile {
  filePath: string;
  size: number;
  md5Hex: string;
  crc64: string;
  /** MD5 (binary) of each `partBytes` slice, for the expected multipart ETag. */
  partMd5s: Buffer[];
}

/** Deterministic pseudo-random content (xorshift32 block, each MiB stamped with its index), hashed as written. */
async function generateFile(filePath: string, sizeMiB: number, partBytes: number): Promise<GeneratedFile> {
  const block = Buffer.alloc(MiB);
  let state = 0x9e3779b9;
  for (let i = 0; i < block.length; i += 4) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    block.writeUInt32LE(state >>> 0, i);
  }
  const whole = createHash('md5');
  const crc = new Crc64();
  const partMd5s: Buffer[] = [];
  let part = createHash('md5');
  let inPart = 0;
  const out = createWriteStream(filePath);
  for (let index = 0; index < sizeMiB; index++) {
    const chunk = Buffer.from(block);
    chunk.writeUInt32LE(index, 0);
    whole.update(chunk);
    crc.update(chunk);
    // partBytes is a whole number of MiB, so a chunk never straddles two parts.
    part.update(chunk);
    inPart += chunk.length;
    if (inPart === partBytes) {
      partMd5s.push(part.digest());
      part = createHash('md5');
      inPart = 0;
    }
    if (!out.write(chunk)) await once(out, 'drain');
  }
  if (inPart > 0) partMd5s.push(part.digest());
  out.end();
  await once(out, 'finish');
  return { filePath, size: sizeMiB * MiB, md5Hex: whole.digest('hex').toUpperCase(), crc64: crc.digest(), partMd5s };
}

describe('OSS emulator through the real ali-oss client', () => {
  let emulator: OssEmulator;
  let workDir: string;
  /** STS credentials, IP endpoint: ali-oss sends Host: archive.oss-cn-hangzhou.aliyuncs.com and /key. */
  let client: OSS;
  /** Plain AK, localhost endpoint with sldEnable: ali-oss sends /archive/key. */
  let pathClient: OSS;
  let warnSpy: jest.SpyInstance;

  function newClient(overrides: Partial<OSS.Options> & Record<string, unknown> = {}, credentials: Credentials = SANDBOX_STS): OSS {
    return new OSS({ ...emulator.clientOptions({ bucket: BUCKET, credentials }), ...overrides } as OSS.Options);
  }

  function ossMatch(op: string): (request: RequestInfo) => boolean {
    return (request) => request.op === op;
  }

  beforeAll(async () => {
    // ali-oss warns on every STS client without a refresh callback; the warning is noise here.
    warnSpy = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    workDir = await mkdtemp(path.join(tmpdir(), 'oss-emulator-test-'));
    emulator = await startOssEmulator({
      buckets: [BUCKET, 'other'],
      accounts: [SANDBOX_STS, SANDBOX_AK, { ...EXPIRED_STS, expiresAtMs: Date.now() - 1000 }],
    });
    client = newClient();
    pathClient = new OSS(emulator.clientOptions({ bucket: BUCKET, credentials: SANDBOX_AK, style: 'path' }) as OSS.Options);
  });

  afterEach(() => {
    emulator.faults.reset();
  });

  afterAll(async () => {
    await emulator.close();
    await rm(workDir, { recursive: true, force: true });
    warnSpy.mockRestore();
  });

  describe('addressing', () => {
    test('an object put through the IP endpoint (virtual-host Host header) reads back through a path-style client', async () => {
      const body = Buffer.from('virtual host in, path style out');
      await client.put('addressing/a b+c.txt', body);

      const read = await pathClient.get('addressing/a b+c.txt');

      expect(Buffer.from(read.content)).toEqual(body);
      expect(emulator.listKeys(BUCKET, 'addressing/')).toEqual(['addressing/a b+c.txt']);
    });

    test('an unknown bucket is 404 NoSuchBucket', async () => {
      const stranger = newClient({ bucket: 'no-such-bucket' });

      const failure = await failureOf(stranger.put('x.txt', Buffer.from('x')));

      expect(failure.status).toBe(404);
      expect(failure.code).toBe('NoSuchBucket');
    });
  });

  describe('put, get, head, delete', () => {
    test('a simple put answers the MD5 ETag and the CRC-64 of the content', async () => {
      const body = Buffer.from('{"hello":"oss"}\n');

      const result = await client.put('objects/simple.json', body);

      expect(result.res.status).toBe(200);
      expect((result.res.headers as Record<string, string>).etag).toBe(`"${md5Hex(body)}"`);
      expect((result.res.headers as Record<string, string>)['x-oss-hash-crc64ecma']).toBe(crc64(body));
      expect(await emulator.readObject(BUCKET, 'objects/simple.json')).toEqual(body);
    });

    test('head answers size, ETag, CRC-64, object type and content type', async () => {
      const body = Buffer.alloc(1000, 7);
      await client.put('objects/head.log', body, { mime: 'text/plain' });

      const head = await client.head('objects/head.log');
      const headers = head.res.headers as Record<string, string>;

      expect(head.status).toBe(200);
      expect(headers['content-length']).toBe('1000');
      expect(headers.etag).toBe(`"${md5Hex(body)}"`);
      expect(headers['x-oss-hash-crc64ecma']).toBe(crc64(body));
      expect(headers['x-oss-object-type']).toBe('Normal');
      expect(headers['content-type']).toBe('text/plain');
      expect(headers['last-modified']).toMatch(/GMT$/);
    });

    test('storage class, SSE, tagging and user metadata are kept and returned on head', async () => {
      await client.put('objects/dressed.gz', Buffer.from('gz'), {
        headers: {
          'x-oss-storage-class': 'IA',
          'x-oss-server-side-encryption': 'KMS',
          'x-oss-server-side-encryption-key-id': 'key-1234',
          'x-oss-tagging': 'source=live&domain=example.com',
        },
        meta: { 'source-size': '2', 'source-crc64': '42' },
      } as unknown as OSS.PutObjectOptions);

      const head = await client.head('objects/dressed.gz');
      const headers = head.res.headers as Record<string, string>;
      const tagging = await (client as unknown as { getObjectTagging(name: string): Promise<{ tag: Record<string, string> }> })
        .getObjectTagging('objects/dressed.gz');

      expect(head.meta).toEqual({ 'source-size': '2', 'source-crc64': '42' });
      expect(headers['x-oss-storage-class']).toBe('IA');
      expect(headers['x-oss-server-side-encryption']).toBe('KMS');
      expect(headers['x-oss-server-side-encryption-key-id']).toBe('key-1234');
      expect(headers['x-oss-tagging-count']).toBe('2');
      expect(tagging.tag).toEqual({ source: 'live', domain: 'example.com' });
    });

    test('an invalid storage class is refused and stores nothing', async () => {
      const failure = await failureOf(
        client.put('objects/bad-class.gz', Buffer.from('x'), { headers: { 'x-oss-storage-class': 'Glacier' } }),
      );

      expect(failure.status).toBe(400);
      expect(failure.code).toBe('InvalidArgument');
      expect(emulator.head(BUCKET, 'objects/bad-class.gz')).toBeNull();
    });

    test('a Range get answers 206 with Content-Range and the CRC-64 of the whole object', async () => {
      const body = Buffer.from('0123456789abcdef');
      await client.put('objects/range.bin', body);

      const result = await client.get('objects/range.bin', { headers: { Range: 'bytes=2-5' } });
      const headers = result.res.headers as Record<string, string>;

      expect(result.res.status).toBe(206);
      expect(Buffer.from(result.content).toString()).toBe('2345');
      expect(headers['content-range']).toBe('bytes 2-5/16');
      expect(headers['x-oss-hash-crc64ecma']).toBe(crc64(body));
    });

    test('a missing key is NoSuchKey on get and on head; delete succeeds whether or not the key exists', async () => {
      await client.put('objects/doomed.txt', Buffer.from('bye'));

      const deleted = await client.delete('objects/doomed.txt');
      const deletedAgain = await client.delete('objects/doomed.txt');
      const getFailure = await failureOf(client.get('objects/doomed.txt'));
      const headFailure = await failureOf(client.head('objects/doomed.txt'));

      expect(deleted.res.status).toBe(204);
      expect(deletedAgain.res.status).toBe(204);
      expect(getFailure).toMatchObject({ status: 404, code: 'NoSuchKey' });
      expect(getFailure.requestId).toMatch(/^[0-9A-F]{24}$/);
      expect(headFailure).toMatchObject({ status: 404, code: 'NoSuchKey' });
      expect(emulator.head(BUCKET, 'objects/doomed.txt')).toBeNull();
    });

    test('deleteMulti removes every named key and reports them', async () => {
      await client.put('objects/multi/one.txt', Buffer.from('1'));
      await client.put('objects/multi/two&three.txt', Buffer.from('2'));

      const result = await client.deleteMulti(['objects/multi/one.txt', 'objects/multi/two&three.txt']);

      expect((result.deleted ?? []).map((entry) => (entry as unknown as { Key: string }).Key).sort()).toEqual([
        'objects/multi/one.txt',
        'objects/multi/two&three.txt',
      ]);
      expect(emulator.listKeys(BUCKET, 'objects/multi/')).toEqual([]);
    });

    test('a wrong Content-MD5 is 400 InvalidDigest and stores nothing', async () => {
      const wrongMd5 = createHash('md5').update('something else').digest('base64');

      const failure = await failureOf(
        client.put('objects/digest.txt', Buffer.from('payload'), { headers: { 'Content-MD5': wrongMd5 } }),
      );

      expect(failure).toMatchObject({ status: 400, code: 'InvalidDigest' });
      expect(emulator.head(BUCKET, 'objects/digest.txt')).toBeNull();
    });

    test('If-Match on a put is 501 NotImplemented: OSS has no conditional write', async () => {
      await client.put('objects/conditional.txt', Buffer.from('v1'));
      const etag = emulator.head(BUCKET, 'objects/conditional.txt')?.etag ?? '';

      const failure = await failureOf(
        client.put('objects/conditional.txt', Buffer.from('v2'), { headers: { 'If-Match': etag } }),
      );

      expect(failure).toMatchObject({ status: 501, code: 'NotImplemented' });
      expect((await emulator.readObject(BUCKET, 'objects/conditional.txt')).toString()).toBe('v1');
    });

    test('a signed URL from the path-style client downloads the object without an Authorization header', async () => {
      await pathClient.put('objects/signed.txt', Buffer.from('signed url body'));

      const url = pathClient.signatureUrl('objects/signed.txt', { expires: 60 });
      const answer = await fetch(url);

      expect(answer.status).toBe(200);
      expect(await answer.text()).toBe('signed url body');
    });
  });

  describe('streams', () => {
    test('putStream without a length is sent chunked and stored whole', async () => {
      const expected = Buffer.alloc(300 * 1024, 3);

      const result = await client.putStream('streams/chunked.bin', chunkedBody(expected.length, 3));

      expect((result.res.headers as Record<string, string>).etag).toBe(`"${md5Hex(expected)}"`);
      expect((result.res.headers as Record<string, string>)['x-oss-hash-crc64ecma']).toBe(crc64(expected));
      expect(md5Hex(await emulator.readObject(BUCKET, 'streams/chunked.bin'))).toBe(md5Hex(expected));
    });

    test('putStream with a contentLength is stored whole', async () => {
      const expected = Buffer.alloc(200 * 1024, 4);

      await client.putStream('streams/sized.bin', chunkedBody(expected.length, 4), {
        contentLength: expected.length,
      } as OSS.PutStreamOptions);

      expect(emulator.head(BUCKET, 'streams/sized.bin')?.size).toBe(expected.length);
      expect(md5Hex(await emulator.readObject(BUCKET, 'streams/sized.bin'))).toBe(md5Hex(expected));
    });

    test('a source stream that fails mid-upload leaves no object and no temp file', async () => {
      const source = new PassThrough();
      const upload = client.putStream('streams/broken.bin', source);
      source.write(Buffer.alloc(128 * 1024, 1));
      await until(() => emulator.stats.bytesIn > 0);
      source.destroy(new Error('source died'));

      await failureOf(upload);

      await until(async () => (await readdir(path.join(emulator.dataDir, 'tmp'))).length === 0);
      expect(emulator.head(BUCKET, 'streams/broken.bin')).toBeNull();
    });

    describe('a file larger than 64 MiB', () => {
      const PART_BYTES = 16 * MiB;
      let big: GeneratedFile;

      beforeAll(async () => {
        big = await generateFile(path.join(workDir, 'big.bin'), 65, PART_BYTES);
      });

      test('putStream chunked: ETag is its MD5, CRC-64 matches lib/crc64, bytes identical', async () => {
        const result = await client.putStream('big/chunked.bin', createReadStream(big.filePath));
        const headers = result.res.headers as Record<string, string>;

        expect(headers.etag).toBe(`"${big.md5Hex}"`);
        expect(headers['x-oss-hash-crc64ecma']).toBe(big.crc64);
        expect(emulator.head(BUCKET, 'big/chunked.bin')?.size).toBe(big.size);
        expect(await md5OfFile(emulator.objectFilePath(BUCKET, 'big/chunked.bin') ?? '')).toBe(big.md5Hex);
      });

      test('manual multipart: ETag is MD5(part MD5s)-count, CRC-64 of the whole matches, bytes identical', async () => {
        const init = await client.initMultipartUpload('big/multipart.bin', {
          headers: { 'x-oss-forbid-overwrite': 'true', 'x-oss-storage-class': 'IA' },
          meta: { purpose: 'test' },
        } as unknown as OSS.InitMultipartUploadOptions);
        const parts: Array<{ number: number; etag: string }> = [];
        const partCrcs: string[] = [];
        for (let start = 0, number = 1; start < big.size; start += PART_BYTES, number++) {
          const end = Math.min(start + PART_BYTES, big.size);
          const uploaded = await client.uploadPart('big/multipart.bin', init.uploadId, number, big.filePath, start, end);
          parts.push({ number, etag: uploaded.etag });
          partCrcs.push((uploaded.res.headers as Record<string, string>)['x-oss-hash-crc64ecma']);
        }

        const done = await client.completeMultipartUpload('big/multipart.bin', init.uploadId, parts, {
          headers: { 'x-oss-forbid-overwrite': 'true' },
        });
        const head = await client.head('big/multipart.bin');
        const headHeaders = head.res.headers as Record<string, string>;
        const expectedEtag = `"${createHash('md5').update(Buffer.concat(big.partMd5s)).digest('hex').toUpperCase()}-5"`;

        expect(parts).toHaveLength(5);
        expect(parts[0].etag).toBe(`"${big.partMd5s[0].toString('hex').toUpperCase()}"`);
        expect(partCrcs.every((crc) => /^\d+$/.test(crc))).toBe(true);
        expect(done.etag).toBe(expectedEtag);
        expect((done.res.headers as Record<string, string>)['x-oss-hash-crc64ecma']).toBe(big.crc64);
        expect(headHeaders['x-oss-hash-crc64ecma']).toBe(big.crc64);
        expect(headHeaders['x-oss-object-type']).toBe('Multipart');
        expect(headHeaders['x-oss-storage-class']).toBe('IA');
        expect(head.meta).toEqual({ purpose: 'test' });
        expect(await md5OfStream(emulator.objectStream(BUCKET, 'big/multipart.bin'))).toBe(big.md5Hex);
        // Kept as its five part files, moved out of the upload at Complete rather than copied into one.
        expect(emulator.objectFiles(BUCKET, 'big/multipart.bin')).toHaveLength(5);
        expect(() => emulator.objectFilePath(BUCKET, 'big/multipart.bin')).toThrow(/part files/);
        expect(emulator.pendingUploads(BUCKET)).toEqual([]);
      });
    });
  });

  describe('multipart rules', () => {
    async function uploadTwoParts(key: string, firstPartBytes: number) {
      const init = await client.initMultipartUpload(key);
      const first = await client.uploadPart(key, init.uploadId, 1, Buffer.alloc(firstPartBytes, 1), 0, firstPartBytes);
      const second = await client.uploadPart(key, init.uploadId, 2, Buffer.from('tail'), 0, 4);
      return { uploadId: init.uploadId, parts: [{ number: 1, etag: first.etag }, { number: 2, etag: second.etag }] };
    }

    test('a part other than the last under 100 KB is EntityTooSmall; the upload stays open until aborted', async () => {
      const { uploadId, parts } = await uploadTwoParts('multipart/small.bin', 10);

      const failure = await failureOf(client.completeMultipartUpload('multipart/small.bin', uploadId, parts));
      const pendingAfterFailure = emulator.pendingUploads(BUCKET).map((upload) => upload.uploadId);
      const aborted = await client.abortMultipartUpload('multipart/small.bin', uploadId);
      const abortAgain = await failureOf(client.abortMultipartUpload('multipart/small.bin', uploadId));

      expect(failure).toMatchObject({ status: 400, code: 'EntityTooSmall' });
      expect(pendingAfterFailure).toContain(uploadId);
      expect((aborted as unknown as { res: { status: number } }).res.status).toBe(204);
      expect(abortAgain).toMatchObject({ status: 404, code: 'NoSuchUpload' });
      expect(emulator.pendingUploads(BUCKET)).toEqual([]);
      expect(emulator.head(BUCKET, 'multipart/small.bin')).toBeNull();
    });

    test('a part ETag that does not match what was uploaded is InvalidPart', async () => {
      const { uploadId, parts } = await uploadTwoParts('multipart/etag.bin', 100 * 1024);
      const tampered = [parts[0], { number: 2, etag: `"${'0'.repeat(32)}"` }];

      const failure = await failureOf(client.completeMultipartUpload('multipart/etag.bin', uploadId, tampered));
      await client.abortMultipartUpload('multipart/etag.bin', uploadId);

      expect(failure).toMatchObject({ status: 400, code: 'InvalidPart' });
    });

    test('uploading a part to an unknown upload id is NoSuchUpload', async () => {
      const failure = await failureOf(client.uploadPart('multipart/ghost.bin', 'F'.repeat(32), 1, Buffer.from('x'), 0, 1));

      expect(failure).toMatchObject({ status: 404, code: 'NoSuchUpload' });
    });

    test('forbid-overwrite on Initiate refuses an existing key', async () => {
      await client.put('multipart/exists.bin', Buffer.from('already here'));

      const failure = await failureOf(
        client.initMultipartUpload('multipart/exists.bin', { headers: { 'x-oss-forbid-overwrite': 'true' } }),
      );

      expect(failure).toMatchObject({ status: 409, code: 'FileAlreadyExists' });
    });

    test('forbid-overwrite on Complete refuses a key created after Initiate and keeps the existing object', async () => {
      const { uploadId, parts } = await uploadTwoParts('multipart/raced.bin', 100 * 1024);
      await client.put('multipart/raced.bin', Buffer.from('winner'));

      const failure = await failureOf(
        client.completeMultipartUpload('multipart/raced.bin', uploadId, parts, { headers: { 'x-oss-forbid-overwrite': 'true' } }),
      );
      await client.abortMultipartUpload('multipart/raced.bin', uploadId);

      expect(failure).toMatchObject({ status: 409, code: 'FileAlreadyExists' });
      expect((await emulator.readObject(BUCKET, 'multipart/raced.bin')).toString()).toBe('winner');
    });

    test('without forbid-overwrite on Complete, the completed upload replaces the object', async () => {
      const { uploadId, parts } = await uploadTwoParts('multipart/replaced.bin', 100 * 1024);
      await client.put('multipart/replaced.bin', Buffer.from('old'));

      await client.completeMultipartUpload('multipart/replaced.bin', uploadId, parts);

      expect(emulator.head(BUCKET, 'multipart/replaced.bin')?.size).toBe(100 * 1024 + 4);
    });
  });

  describe('a completed multipart object (kept as its part files)', () => {
    /** Three parts of distinct bytes: 100 KiB, 100 KiB, 10 bytes. */
    function partBodies(seed: number): Buffer[] {
      const sizes = [100 * 1024, 100 * 1024, 10];
      return sizes.map((size, part) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + part * 31 + seed) & 0xff)));
    }

    async function uploadParts(key: string, bodies: Buffer[]) {
      const init = await client.initMultipartUpload(key);
      const parts: Array<{ number: number; etag: string }> = [];
      for (const [index, body] of bodies.entries()) {
        const uploaded = await client.uploadPart(key, init.uploadId, index + 1, body, 0, body.length);
        parts.push({ number: index + 1, etag: uploaded.etag });
      }
      return { uploadId: init.uploadId, parts };
    }

    async function completeObject(key: string, seed: number): Promise<Buffer> {
      const bodies = partBodies(seed);
      const { uploadId, parts } = await uploadParts(key, bodies);
      await client.completeMultipartUpload(key, uploadId, parts);
      return Buffer.concat(bodies);
    }

    test('GET with ranges inside a part, across part boundaries, suffix and whole reads the right bytes', async () => {
      const whole = await completeObject('parts/ranged.bin', 1);
      const boundary = 100 * 1024;
      const ranges: Array<[string, Buffer]> = [
        ['bytes=0-9', whole.subarray(0, 10)],
        [`bytes=${boundary - 10}-${boundary + 9}`, whole.subarray(boundary - 10, boundary + 10)],
        [`bytes=${boundary - 1}-${2 * boundary + 5}`, whole.subarray(boundary - 1, 2 * boundary + 6)],
        ['bytes=-15', whole.subarray(whole.length - 15)],
        [`bytes=${2 * boundary}-`, whole.subarray(2 * boundary)],
      ];

      const answers = await Promise.all(ranges.map(([range]) => client.get('parts/ranged.bin', { headers: { Range: range } })));
      const full = await client.get('parts/ranged.bin');

      answers.forEach((answer, i) => {
        expect(answer.res.status).toBe(206);
        expect(Buffer.from(answer.content)).toEqual(ranges[i][1]);
      });
      expect(Buffer.from(full.content)).toEqual(whole);
      expect((full.res.headers as Record<string, string>)['x-oss-hash-crc64ecma']).toBe(crc64(whole));
      expect(emulator.objectFiles(BUCKET, 'parts/ranged.bin')).toHaveLength(3);
    });

    test('a read begun before an overwrite gets the old bytes whole; the old part files are then gone', async () => {
      const first = await completeObject('parts/overwritten.bin', 2);
      const oldFiles = emulator.objectFiles(BUCKET, 'parts/overwritten.bin') ?? [];
      const reading = emulator.objectStream(BUCKET, 'parts/overwritten.bin');

      await client.put('parts/overwritten.bin', Buffer.from('replacement'));
      const readBack = await md5OfStream(reading);

      expect(readBack).toBe(md5Hex(first));
      expect(oldFiles).toHaveLength(3);
      expect(oldFiles.filter((file) => existsSync(file))).toEqual([]);
      expect((await emulator.readObject(BUCKET, 'parts/overwritten.bin')).toString()).toBe('replacement');
    });

    test('delete removes the part files', async () => {
      await completeObject('parts/deleted.bin', 3);
      const files = emulator.objectFiles(BUCKET, 'parts/deleted.bin') ?? [];

      await client.delete('parts/deleted.bin');

      expect(files).toHaveLength(3);
      expect(files.filter((file) => existsSync(file))).toEqual([]);
      expect(emulator.objectStream(BUCKET, 'parts/deleted.bin')).toBeNull();
    });

    test('of concurrent create-only completions of one key one wins; the loser keeps its parts and completes later', async () => {
      const bodies = [partBodies(4), partBodies(5)];
      const uploads = await Promise.all(bodies.map((parts) => uploadParts('parts/raced.bin', parts)));
      const forbid = { headers: { 'x-oss-forbid-overwrite': 'true' } };

      const outcomes = await Promise.allSettled(
        uploads.map(({ uploadId, parts }) => client.completeMultipartUpload('parts/raced.bin', uploadId, parts, forbid)),
      );
      const winner = outcomes.findIndex((outcome) => outcome.status === 'fulfilled');
      const loser = 1 - winner;
      const wonBytes = await emulator.readObject(BUCKET, 'parts/raced.bin');
      await client.delete('parts/raced.bin');
      await client.completeMultipartUpload('parts/raced.bin', uploads[loser].uploadId, uploads[loser].parts, forbid);

      expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect((outcomes[loser] as PromiseRejectedResult).reason).toMatchObject({ status: 409, code: 'FileAlreadyExists' });
      expect(wonBytes).toEqual(Buffer.concat(bodies[winner]));
      expect(await emulator.readObject(BUCKET, 'parts/raced.bin')).toEqual(Buffer.concat(bodies[loser]));
      expect(emulator.pendingUploads(BUCKET).filter((upload) => upload.key === 'parts/raced.bin')).toEqual([]);
    });
  });

  describe('create-only writes (x-oss-forbid-overwrite)', () => {
    test('a create-only put of an existing key is 409 FileAlreadyExists and leaves the object untouched', async () => {
      await client.put('create-only/lease-1', Buffer.from('first holder'), { headers: { 'x-oss-forbid-overwrite': 'true' } });

      const failure = await failureOf(
        client.put('create-only/lease-1', Buffer.from('second holder'), { headers: { 'x-oss-forbid-overwrite': 'true' } }),
      );

      expect(failure).toMatchObject({ status: 409, code: 'FileAlreadyExists' });
      expect((await emulator.readObject(BUCKET, 'create-only/lease-1')).toString()).toBe('first holder');
    });

    test('of concurrent create-only puts of one key, all admitted before any commits, exactly one wins', async () => {
      const contenders = 6;
      const before = emulator.stats.byOp.PutObject ?? 0;
      const sources = Array.from({ length: contenders }, () => new PassThrough());
      const attempts = sources.map((source, index) => {
        source.write(Buffer.from(`contender ${index} `));
        return client
          .putStream('create-only/lease-2', source, { headers: { 'x-oss-forbid-overwrite': 'true' } } as OSS.PutStreamOptions)
          .then(() => index);
      });
      // Every request has passed the early existence check before any body ends: only the commit can decide.
      await until(() => (emulator.stats.byOp.PutObject ?? 0) - before === contenders);
      sources.forEach((source, index) => source.end(Buffer.from(`body ${index}`)));

      const outcomes = await Promise.allSettled(attempts);
      const winners = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
      const losers = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as OssFailure] : []));

      expect(winners).toHaveLength(1);
      expect(losers.map((loser) => loser.code)).toEqual(Array(contenders - 1).fill('FileAlreadyExists'));
      expect((await emulator.readObject(BUCKET, 'create-only/lease-2')).toString()).toBe(
        `contender ${winners[0]} body ${winners[0]}`,
      );
    });
  });

  describe('listing', () => {
    const KEYS = [
      'logs/2026/11/27/09/a.gz',
      'logs/2026/11/27/09/b.gz',
      'logs/2026/11/27/10/c.gz',
      'logs/2026/11/28/00/d.gz',
      'logs/readme.txt',
      'logz/not-under-logs-slash.txt',
    ];

    beforeAll(async () => {
      for (const key of KEYS) await emulator.plantObject('other', key, Buffer.from(key));
    });

    function otherClient(): OSS {
      return newClient({ bucket: 'other' });
    }

    test('v1 with a delimiter answers common prefixes and the direct keys', async () => {
      const result = await otherClient().list({ prefix: 'logs/', delimiter: '/', 'max-keys': 100 }, {});

      expect(result.prefixes).toEqual(['logs/2026/']);
      expect(result.objects.map((object) => object.name)).toEqual(['logs/readme.txt']);
      expect(result.objects[0].size).toBe('logs/readme.txt'.length);
      expect(result.isTruncated).toBe(false);
    });

    test('v1 pages with marker and NextMarker through every key under a prefix, in order', async () => {
      const seen: string[] = [];
      const pageSizes: number[] = [];
      let marker: string | undefined;
      for (;;) {
        const page = await otherClient().list({ prefix: 'logs/', 'max-keys': 2, ...(marker ? { marker } : {}) }, {});
        seen.push(...page.objects.map((object) => object.name));
        pageSizes.push(page.objects.length);
        if (!page.isTruncated) break;
        marker = page.nextMarker ?? undefined;
      }

      expect(seen).toEqual(KEYS.slice(0, 5));
      expect(pageSizes).toEqual([2, 2, 1]);
    });

    test('v1 pages through common prefixes without repeating one', async () => {
      const prefixes: string[] = [];
      let marker: string | undefined;
      for (;;) {
        const page = await otherClient().list(
          { prefix: 'logs/2026/11/', delimiter: '/', 'max-keys': 1, ...(marker ? { marker } : {}) },
          {},
        );
        prefixes.push(...(page.prefixes ?? []));
        if (!page.isTruncated) break;
        marker = page.nextMarker ?? undefined;
      }

      expect(prefixes).toEqual(['logs/2026/11/27/', 'logs/2026/11/28/']);
    });

    test('v2 pages with continuation tokens (a signed sub-resource) and counts keys', async () => {
      const seen: string[] = [];
      const keyCounts: number[] = [];
      let token: string | undefined;
      for (;;) {
        const page = await otherClient().listV2({ prefix: 'logs/', 'max-keys': '2', ...(token ? { 'continuation-token': token } : {}) });
        seen.push(...page.objects.map((object) => object.name));
        keyCounts.push(page.keyCount);
        if (!page.isTruncated) break;
        token = page.nextContinuationToken ?? undefined;
      }

      expect(seen).toEqual(KEYS.slice(0, 5));
      expect(keyCounts).toEqual([2, 2, 1]);
    });

    test('a listing between puts and deletes in any order sees exactly the keys present, in order', async () => {
      const client = otherClient();
      const names = ['m/05', 'm/01', 'm/09', 'm/03', 'm/07', 'm/02', 'm/\u{1F600}', 'm/\uFFFD', 'm/08'];
      const present = new Set<string>();
      const listed = async () => (await client.listV2({ prefix: 'm/', 'max-keys': '100' })).objects.map((o) => o.name);
      const expected = () => [...present].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const [i, name] of names.entries()) {
        await client.put(name, Buffer.from(name));
        present.add(name);
        if (i % 3 === 2) {
          const gone = [...present][i % present.size];
          await client.delete(gone);
          present.delete(gone);
        }
        // A listing after every change: the emulator's sorted index must follow each write and delete.
        expect(await listed()).toEqual(expected());
      }
      await client.put('m/05', Buffer.from('overwritten'));
      present.add('m/05');
      expect(await listed()).toEqual(expected());
      // Put and deleted between two listings, and put twice between two listings.
      await client.put('m/10', Buffer.from('short-lived'));
      await client.delete('m/10');
      await client.put('m/11', Buffer.from('one'));
      await client.put('m/11', Buffer.from('two'));
      present.add('m/11');
      expect(await listed()).toEqual(expected());
    });

    test('v2 honours start-after and a delimiter', async () => {
      const page = await otherClient().listV2({ prefix: 'logs/2026/11/27/', delimiter: '/', 'start-after': 'logs/2026/11/27/09/b.gz' });

      expect(page.prefixes).toEqual(['logs/2026/11/27/10/']);
      expect(page.objects).toEqual([]);
      expect(page.keyCount).toBe(1);
    });
  });

  describe('data on disk', () => {
    test('create-only commits of two uploads racing past every early check: one wins, the loser gets its part files back', async () => {
      const storage = await OssStorage.open(path.join(workDir, 'race'), [BUCKET]);
      const uploads = await Promise.all(
        [1, 2].map(async (fill) => {
          const upload = await storage.createUpload(BUCKET, 'race.bin', {});
          const tempPath = storage.newTempPath();
          await writeFile(tempPath, Buffer.alloc(10, fill));
          const part = await storage.storePart(upload, { partNumber: 1, size: 10, md5: Buffer.alloc(16), crc64: 0n }, tempPath);
          return { upload, part };
        }),
      );
      const object = { bucket: BUCKET, key: 'race.bin', size: 10, etag: '"E-1"', crc64: '0', objectType: 'Multipart' as const, headers: {} };

      // Both start before either yields: only the synchronous check-and-swap can decide.
      const outcomes = await Promise.allSettled(uploads.map(({ part }) => storage.commitParts(object, [part], true)));
      const loser = outcomes.findIndex((outcome) => outcome.status === 'rejected');
      const stored = storage.getObject(BUCKET, 'race.bin');

      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
      expect((outcomes[loser] as PromiseRejectedResult).reason).toMatchObject({ code: 'FileAlreadyExists' });
      expect(await readFile(uploads[loser].part.filePath)).toEqual(Buffer.alloc(10, loser + 1));
      expect(stored && (await buffer(storage.openObject(stored)))).toEqual(Buffer.alloc(10, 2 - loser));
      // Only the winner's part file and metadata are in the bucket's directory.
      expect((await readdir(path.join(workDir, 'race', 'objects', BUCKET))).sort()).toEqual(
        [path.basename(stored?.segments[0].filePath ?? ''), path.basename(stored?.metaPath ?? '')].sort(),
      );
    });

    test('an emulator started again on the same dataDir serves the objects of the previous one', async () => {
      const dataDir = path.join(workDir, 'persistent');
      const first = await startOssEmulator({ buckets: [BUCKET], dataDir });
      const firstClient = new OSS(first.clientOptions({ bucket: BUCKET, credentials: SANDBOX_AK }) as OSS.Options);
      await firstClient.put('kept/one.gz', Buffer.from('survives a restart'), { meta: { origin: 'first' } } as unknown as OSS.PutObjectOptions);
      await firstClient.put('kept/one.gz', Buffer.from('survives a restart, v2'));
      await firstClient.initMultipartUpload('kept/unfinished.gz');
      const partBody = Buffer.alloc(100 * 1024, 9);
      const init = await firstClient.initMultipartUpload('kept/parts.gz');
      const partOne = await firstClient.uploadPart('kept/parts.gz', init.uploadId, 1, partBody, 0, partBody.length);
      const partTwo = await firstClient.uploadPart('kept/parts.gz', init.uploadId, 2, Buffer.from('tail'), 0, 4);
      await firstClient.completeMultipartUpload('kept/parts.gz', init.uploadId, [
        { number: 1, etag: partOne.etag },
        { number: 2, etag: partTwo.etag },
      ]);
      await first.close();

      const second = await startOssEmulator({ buckets: [BUCKET], dataDir });
      try {
        const secondClient = new OSS(second.clientOptions({ bucket: BUCKET, credentials: SANDBOX_AK }) as OSS.Options);
        const read = await secondClient.get('kept/one.gz');

        const parts = await secondClient.get('kept/parts.gz', { headers: { Range: `bytes=${100 * 1024 - 2}-` } });

        expect(Buffer.from(read.content).toString()).toBe('survives a restart, v2');
        expect(Buffer.from(parts.content)).toEqual(Buffer.from([9, 9, ...Buffer.from('tail')]));
        expect(second.head(BUCKET, 'kept/parts.gz')?.objectType).toBe('Multipart');
        expect(second.listKeys(BUCKET)).toEqual(['kept/one.gz', 'kept/parts.gz']);
        expect(second.pendingUploads()).toEqual([]);
        // kept/one.gz: one .data and one .json; kept/parts.gz: two part files and one .json.
        expect((await readdir(path.join(dataDir, 'objects', BUCKET))).sort()).toHaveLength(5);
      } finally {
        await second.close();
      }
    });
  });

  describe('authentication', () => {
    test('a wrong secret is 403 SignatureDoesNotMatch, on get and on head (error carried in x-oss-err)', async () => {
      const impostor = newClient({ accessKeySecret: 'not-the-secret' });

      const getFailure = await failureOf(impostor.get('objects/simple.json'));
      const headFailure = await failureOf(impostor.head('objects/simple.json'));

      expect(getFailure).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });
      expect(headFailure).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });
    });

    test('an unknown AccessKeyId is 403 InvalidAccessKeyId', async () => {
      const stranger = newClient({}, { accessKeyId: 'LTAIunknown', accessKeySecret: 'whatever' });

      const failure = await failureOf(stranger.put('auth/x.txt', Buffer.from('x')));

      expect(failure).toMatchObject({ status: 403, code: 'InvalidAccessKeyId' });
    });

    test('an STS key without its security token, or with another token, is 403 InvalidSecurityToken', async () => {
      const withoutToken = newClient({}, { accessKeyId: SANDBOX_STS.accessKeyId, accessKeySecret: SANDBOX_STS.accessKeySecret });
      const wrongToken = newClient({}, { ...SANDBOX_STS, securityToken: 'forged-token' });

      const missing = await failureOf(withoutToken.put('auth/sts.txt', Buffer.from('x')));
      const forged = await failureOf(wrongToken.put('auth/sts.txt', Buffer.from('x')));

      expect(missing).toMatchObject({ status: 403, code: 'InvalidSecurityToken' });
      expect(forged).toMatchObject({ status: 403, code: 'InvalidSecurityToken' });
      expect(emulator.head(BUCKET, 'auth/sts.txt')).toBeNull();
    });

    test('an expired STS token is 403 SecurityTokenExpired', async () => {
      const expired = newClient({}, EXPIRED_STS);

      const failure = await failureOf(expired.get('objects/simple.json'));

      expect(failure).toMatchObject({ status: 403, code: 'SecurityTokenExpired' });
    });

    test('a request dated 20 minutes off is 403 RequestTimeTooSkewed', async () => {
      const skewed = newClient({ amendTimeSkewed: -20 * 60 * 1000 });

      const failure = await failureOf(skewed.get('objects/simple.json'));

      expect(failure).toMatchObject({ status: 403, code: 'RequestTimeTooSkewed' });
    });

    test('an error answer is OSS XML with the request id of its header, and echoes no secret', async () => {
      const answer = await fetch(`${emulator.pathStyleEndpoint}/${BUCKET}/objects/simple.json`, {
        headers: {
          authorization: `OSS ${SANDBOX_STS.accessKeyId}:Zm9yZ2VkLXNpZ25hdHVyZQ==`,
          'x-oss-date': new Date().toUTCString(),
          'x-oss-security-token': SANDBOX_STS.securityToken,
        },
      });
      const xml = await answer.text();

      expect(answer.status).toBe(403);
      expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>SignatureDoesNotMatch<\/Code><Message>/);
      expect(xml).toContain(`<RequestId>${answer.headers.get('x-oss-request-id')}</RequestId>`);
      expect(xml).toContain('<HostId>');
      expect(xml).not.toContain(SANDBOX_STS.securityToken);
      expect(xml).not.toContain(SANDBOX_STS.accessKeySecret);
      expect(xml).not.toContain('Zm9yZ2VkLXNpZ25hdHVyZQ==');
    });
  });

  describe('faults', () => {
    test('failNext(2, 503) fails the next two matching puts with ServiceUnavailable, then puts succeed', async () => {
      emulator.faults.failNext(2, 503, ossMatch('PutObject'));

      const first = await failureOf(client.put('faults/503.txt', Buffer.from('x')));
      const second = await failureOf(client.put('faults/503.txt', Buffer.from('x')));
      const absentBetween = emulator.head(BUCKET, 'faults/503.txt');
      const third = await client.put('faults/503.txt', Buffer.from('x'));

      expect(first).toMatchObject({ status: 503, code: 'ServiceUnavailable' });
      expect(second).toMatchObject({ status: 503, code: 'ServiceUnavailable' });
      expect(absentBetween).toBeNull();
      expect(third.res.status).toBe(200);
    });

    test('failNext(1, 500) only hits requests its matcher selects', async () => {
      await client.put('faults/500.txt', Buffer.from('x'));
      emulator.faults.failNext(1, 500, (request) => request.op === 'GetObject' && request.key === 'faults/500.txt');

      const head = await client.head('faults/500.txt');
      const failure = await failureOf(client.get('faults/500.txt'));
      const retried = await client.get('faults/500.txt');

      expect(head.status).toBe(200);
      expect(failure).toMatchObject({ status: 500, code: 'InternalError' });
      expect(Buffer.from(retried.content).toString()).toBe('x');
    });

    test('resetNext cuts a chunked upload mid-body: network error (status -1), no object, no temp file', async () => {
      emulator.faults.resetNext(1, ossMatch('PutObject'), 100 * 1024);

      const failure = await failureOf(client.putStream('faults/reset.bin', chunkedBody(1 * MiB, 9)));

      expect(failure.status).toBe(-1);
      await until(async () => (await readdir(path.join(emulator.dataDir, 'tmp'))).length === 0);
      expect(emulator.head(BUCKET, 'faults/reset.bin')).toBeNull();
    });

    test('resetNext on UploadPart leaves the part out of the upload', async () => {
      const init = await client.initMultipartUpload('faults/reset-part.bin');
      emulator.faults.resetNext(1, ossMatch('UploadPart'), 1000);

      const failure = await failureOf(client.uploadPart('faults/reset-part.bin', init.uploadId, 1, Buffer.alloc(200 * 1024), 0, 200 * 1024));
      const pending = emulator.pendingUploads(BUCKET).find((upload) => upload.uploadId === init.uploadId);
      await client.abortMultipartUpload('faults/reset-part.bin', init.uploadId);

      expect(failure.status).toBe(-1);
      expect(pending?.partNumbers).toEqual([]);
    });

    test('resetNext on a request without a body drops the connection without an answer', async () => {
      emulator.faults.resetNext(1, ossMatch('HeadObject'));

      const failure = await failureOf(client.head('objects/simple.json'));

      expect(failure.status).toBe(-1);
    });

    test('setDelayMs delays every answer; a client timeout shorter than the delay fails as a timeout', async () => {
      emulator.faults.setDelayMs(300);
      const impatient = newClient({ timeout: 100 });

      const startedMs = Date.now();
      await client.head('objects/simple.json');
      const elapsedMs = Date.now() - startedMs;
      const failure = await failureOf(impatient.head('objects/simple.json'));

      expect(elapsedMs).toBeGreaterThanOrEqual(290);
      // ali-oss rebuilds timeout errors from the name alone: no status -2 survives, only the name tells.
      expect(failure.name).toBe('ResponseTimeoutError');
      expect(failure.status).toBeUndefined();
    });

    test('stats count requests per operation and request bytes', async () => {
      emulator.resetStats();

      await client.put('stats/one.txt', Buffer.alloc(1234));
      await client.head('stats/one.txt');
      await failureOf(client.get('stats/missing.txt'));

      expect(emulator.stats.requests).toBe(3);
      expect(emulator.stats.byOp).toEqual({ PutObject: 1, HeadObject: 1, GetObject: 1 });
      expect(emulator.stats.bytesIn).toBe(1234);
      expect(emulator.stats.errors).toEqual({ NoSuchKey: 1 });
    });
  });
});
