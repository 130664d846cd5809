import { createHash } from 'node:crypto';
import http from 'node:http';
import { crc64, Crc64 } from '../../lib/crc64';
import { expectedDigest, generatedBytes, gzipLogFile, logName, logOriginPath } from '../../sandbox/logdata';
import { ANNOUNCED_CRC64_MAX_BYTES, startOriginEmulator, type OriginEmulator } from '../../sandbox/origin-emulator';

interface Fetched {
  status?: number;
  headers: http.IncomingHttpHeaders;
  /** Collected body, unless a chunk handler was given. */
  body: Buffer;
  receivedBytes: number;
  /** The response ended with every byte its Content-Length announced. */
  complete: boolean;
  error?: NodeJS.ErrnoException;
  timedOut: boolean;
}

/** One GET (or HEAD) over a fresh connection with Node's own client, recording how it ended. */
function fetch(
  url: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; timeoutMs?: number; onChunk?: (chunk: Buffer) => void } = {},
): Promise<Fetched> {
  return new Promise((resolve) => {
    const result: Fetched = { headers: {}, body: Buffer.alloc(0), receivedBytes: 0, complete: false, timedOut: false };
    const chunks: Buffer[] = [];
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false, timeout: opts.timeoutMs });
    req.on('timeout', () => {
      result.timedOut = true;
      req.destroy();
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      result.error ??= err;
    });
    req.on('response', (res) => {
      result.status = res.statusCode;
      result.headers = res.headers;
      res.on('data', (chunk: Buffer) => {
        result.receivedBytes += chunk.length;
        if (opts.onChunk) opts.onChunk(chunk);
        else chunks.push(chunk);
      });
      res.on('error', (err: NodeJS.ErrnoException) => {
        result.error ??= err;
      });
      res.on('end', () => {
        result.complete = res.complete;
      });
    });
    req.on('close', () => {
      result.body = Buffer.concat(chunks);
      // 'close' on the request can precede the response's last events by a tick.
      setImmediate(() => resolve(result));
    });
    req.end();
  });
}

const NOW_MS = Date.UTC(2026, 10, 27, 10, 5);
const HOUR_MS = Date.UTC(2026, 10, 27, 9);
const inOneHourSec = (): number => Math.floor(clockMs / 1000) + 3600;
let clockMs = NOW_MS;
let origin: OriginEmulator;

const gzipPath = logOriginPath('example.com', HOUR_MS, logName('example.com', HOUR_MS, 1));
const gzipContent = gzipLogFile({ domain: 'example.com', hourStartMs: HOUR_MS, lines: 2000, seed: 'it' });
const smallPath = '/push_proxy/o/example.com/2026_11_27/0900/small.bin';
const smallSource = { seed: 'small', size: 300_000 };
const bigPath = '/push_proxy/o/example.com/2026_11_27/0900/big.bin';
const bigSource = { seed: 'big', size: 50 * 1024 * 1024 };

beforeAll(async () => {
  origin = await startOriginEmulator({ now: () => clockMs });
  origin.addFile(gzipPath, { content: gzipContent });
  origin.addFile(smallPath, smallSource);
  origin.addFile(bigPath, bigSource);
});

afterAll(async () => {
  await origin.close();
});

afterEach(() => {
  origin.faults.reset();
  origin.resetStats();
  clockMs = NOW_MS;
});

describe('signed URLs', () => {
  it('hands out LogPath-style links without a scheme, on its own host', () => {
    const logPath = origin.signedLogPath(gzipPath, inOneHourSec());
    expect(logPath.startsWith(`${origin.host}/push_proxy/`)).toBe(true);
    expect(logPath).toMatch(/\?OSSAccessKeyId=[^&]+&Expires=\d+&Signature=[^&]+$/);
    expect(origin.endpoint).toBe(`http://${origin.host}`);
  });

  it('serves a seeded gzip log byte-identical, with OSS headers', async () => {
    const res = await fetch(origin.signedUrl(gzipPath, inOneHourSec()));
    expect(res.status).toBe(200);
    expect(res.body.equals(gzipContent)).toBe(true);
    expect(res.headers['content-length']).toBe(String(gzipContent.length));
    expect(res.headers['content-type']).toBe('application/gzip');
    expect(res.headers.etag).toBe(`"${createHash('md5').update(gzipContent).digest('hex').toUpperCase()}"`);
    expect(res.headers['x-oss-hash-crc64ecma']).toBe(crc64(gzipContent));
  });

  it('percent-encodes a name with a space and a newline, and serves it under the decoded path', async () => {
    const oddPath = '/push_proxy/o/example.com/2026_11_27/0900/example.com\n_2026 odd.1.gz';
    origin.addFile(oddPath, { content: Buffer.from('odd name') });
    const url = origin.signedUrl(oddPath, inOneHourSec());
    expect(url).toContain('example.com%0A_2026%20odd.1.gz');
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('odd name');
    expect(origin.stats.byPath[oddPath]).toBe(1);
  });

  it('answers a wrong signature with 403 SignatureDoesNotMatch in OSS XML, without echoing the signature', async () => {
    const url = origin.signedUrl(gzipPath, inOneHourSec());
    const signature = new URL(url).searchParams.get('Signature')!;
    const forged = url.replace(/Signature=[^&]+/, `Signature=${encodeURIComponent('AAAA' + signature.slice(4))}`);
    const res = await fetch(forged);
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('application/xml');
    const xml = res.body.toString();
    expect(xml).toContain('<Code>SignatureDoesNotMatch</Code>');
    expect(xml).toMatch(/<RequestId>[0-9A-F]+<\/RequestId>/);
    expect(xml).not.toContain(signature.slice(4));
  });

  it('treats a later Expires than the one signed as a bad signature', async () => {
    const url = origin.signedUrl(gzipPath, inOneHourSec());
    const res = await fetch(url.replace(/Expires=\d+/, `Expires=${inOneHourSec() + 86400}`));
    expect(res.status).toBe(403);
    expect(res.body.toString()).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  it('refuses an unsigned request', async () => {
    const res = await fetch(`${origin.endpoint}${encodeURI(gzipPath)}`);
    expect(res.status).toBe(403);
    expect(res.body.toString()).toContain('<Code>AccessDenied</Code>');
  });

  it('answers 403 "Request has expired." once the clock passes Expires', async () => {
    const url = origin.signedUrl(gzipPath, Math.floor(clockMs / 1000) + 60);
    expect((await fetch(url)).status).toBe(200);
    clockMs += 61_000;
    const res = await fetch(url);
    expect(res.status).toBe(403);
    expect(res.body.toString()).toContain('<Code>AccessDenied</Code>');
    expect(res.body.toString()).toContain('<Message>Request has expired.</Message>');
  });

  it('answers an unknown path with 404 NoSuchKey', async () => {
    const res = await fetch(origin.signedUrl('/push_proxy/o/nothing-here.gz', inOneHourSec()));
    expect(res.status).toBe(404);
    expect(res.body.toString()).toContain('<Code>NoSuchKey</Code>');
    expect(origin.stats.byPath['/push_proxy/o/nothing-here.gz']).toBeUndefined();
  });

  it('answers HEAD with the headers only, and does not count it as a download', async () => {
    const res = await fetch(origin.signedUrl(smallPath, inOneHourSec()), { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(smallSource.size));
    expect(res.receivedBytes).toBe(0);
    expect(origin.stats.downloadsStarted).toBe(0);
    expect(origin.stats.byPath[smallPath]).toBeUndefined();
  });

  it('replaces a file when its path is added again', async () => {
    const path = '/push_proxy/o/replaced.gz';
    origin.addFile(path, { content: Buffer.from('first') });
    origin.addFile(path, { content: Buffer.from('second') });
    expect((await fetch(origin.signedUrl(path, inOneHourSec()))).body.toString()).toBe('second');
  });
});

describe('ranges', () => {
  it('serves a byte range with 206 and Content-Range', async () => {
    const res = await fetch(origin.signedUrl(smallPath, inOneHourSec()), { headers: { Range: 'bytes=1000-70999' } });
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 1000-70999/${smallSource.size}`);
    expect(res.body.equals(generatedBytes(smallSource.seed, 70_000, 1000))).toBe(true);
  });

  it('serves open-ended and suffix ranges', async () => {
    const url = origin.signedUrl(smallPath, inOneHourSec());
    const tail = await fetch(url, { headers: { Range: 'bytes=299990-' } });
    expect(tail.body.equals(generatedBytes(smallSource.seed, 10, 299_990))).toBe(true);
    const suffix = await fetch(url, { headers: { Range: 'bytes=-7' } });
    expect(suffix.status).toBe(206);
    expect(suffix.body.equals(generatedBytes(smallSource.seed, 7, 299_993))).toBe(true);
  });

  it('answers 416 to a range past the end', async () => {
    const res = await fetch(origin.signedUrl(smallPath, inOneHourSec()), { headers: { Range: 'bytes=300000-' } });
    expect(res.status).toBe(416);
    expect(res.headers['content-range']).toBe(`bytes */${smallSource.size}`);
  });
});

describe('large generated files', () => {
  it('streams 50 MB with the expected MD5 and CRC-64 without buffering the file in memory', async () => {
    const expected = await expectedDigest(bigSource);
    const md5 = createHash('md5');
    const crc = new Crc64();
    const baselineRss = process.memoryUsage.rss();
    let peakRss = baselineRss;
    let chunkCount = 0;
    const res = await fetch(origin.signedUrl(bigPath, inOneHourSec()), {
      onChunk: (chunk) => {
        md5.update(chunk);
        crc.update(chunk);
        if (++chunkCount % 32 === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
      },
    });
    expect(res.status).toBe(200);
    expect(res.complete).toBe(true);
    expect({ size: res.receivedBytes, md5: md5.digest('hex'), crc64: crc.digest() }).toEqual(expected);
    // Rough: garbage chunks may inflate RSS before a GC, but never by the whole file on top of both copies.
    expect(peakRss - baselineRss).toBeLessThan(bigSource.size);
    expect(origin.stats.downloadsCompleted).toBe(1);
    expect(origin.stats.bytesServed).toBe(bigSource.size);
  });

  it(`sends the CRC-64 OSS keeps for a generated file up to ${ANNOUNCED_CRC64_MAX_BYTES} bytes, and none above`, async () => {
    const smallPath = '/push_proxy/o/example.com/2026_11_27/0900/generated-small.gz';
    const small = { size: 100_000, seed: 'announced' };
    origin.addFile(smallPath, small);

    const [smallHead, bigHead] = await Promise.all([
      fetch(origin.signedUrl(smallPath, inOneHourSec()), { method: 'HEAD' }),
      fetch(origin.signedUrl(bigPath, inOneHourSec()), { method: 'HEAD' }),
    ]);

    expect(smallHead.headers['x-oss-hash-crc64ecma']).toBe((await expectedDigest(small)).crc64);
    expect(bigSource.size).toBeGreaterThan(ANNOUNCED_CRC64_MAX_BYTES);
    expect(bigHead.headers['x-oss-hash-crc64ecma']).toBeUndefined();
  });

  it('stops reading the file while the client does not read: backpressure reaches the source', async () => {
    let pausedResponse: http.IncomingMessage | undefined;
    const req = http.get(origin.signedUrl(bigPath, inOneHourSec()), { agent: false }, (res) => {
      pausedResponse = res;
      res.pause();
    });
    req.on('error', () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pausedResponse?.statusCode).toBe(200);
    // Loopback socket buffers hold a few MB at most; everything beyond that must wait for the reader.
    expect(origin.stats.bytesServed).toBeGreaterThan(0);
    expect(origin.stats.bytesServed).toBeLessThan(16 * 1024 * 1024);
    req.destroy();
  });
});

describe('faults', () => {
  it('cutAfter ends the body early on a clean close: fewer bytes than Content-Length, then an error', async () => {
    origin.faults.cutAfter(100_000);
    const res = await fetch(origin.signedUrl(smallPath, inOneHourSec()));
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(smallSource.size));
    expect(res.receivedBytes).toBe(100_000);
    expect(res.body.equals(generatedBytes(smallSource.seed, 100_000))).toBe(true);
    expect(res.complete).toBe(false);
    expect(res.error?.code).toBe('ECONNRESET');
    expect(res.error?.message).toBe('aborted');
  });

  it('cutAfter(0) sends the headers and no body', async () => {
    origin.faults.cutAfter(0);
    const res = await fetch(origin.signedUrl(smallPath, inOneHourSec()));
    expect(res.status).toBe(200);
    expect(res.receivedBytes).toBe(0);
    expect(res.complete).toBe(false);
  });

  it('applies a fault only `times` times, and then serves normally', async () => {
    origin.faults.cutAfter(10, { times: 2 });
    const url = origin.signedUrl(smallPath, inOneHourSec());
    expect((await fetch(url)).receivedBytes).toBe(10);
    expect((await fetch(url)).receivedBytes).toBe(10);
    const third = await fetch(url);
    expect(third.complete).toBe(true);
    expect(third.receivedBytes).toBe(smallSource.size);
  });

  it('applies a fault scoped to a path only to that path', async () => {
    origin.faults.cutAfter(10, { path: smallPath });
    const other = await fetch(origin.signedUrl(gzipPath, inOneHourSec()));
    expect(other.complete).toBe(true);
    const target = await fetch(origin.signedUrl(smallPath, inOneHourSec()));
    expect(target.receivedBytes).toBe(10);
  });

  it('resetAfter destroys the connection abruptly: the client sees ECONNRESET', async () => {
    origin.faults.resetAfter(50_000);
    const res = await fetch(origin.signedUrl(smallPath, inOneHourSec()));
    expect(res.status).toBe(200);
    expect(res.complete).toBe(false);
    expect(res.receivedBytes).toBeLessThanOrEqual(50_000);
    expect(res.error?.code).toBe('ECONNRESET');
  });

  it('stall outlasts a client read timeout', async () => {
    origin.faults.stall(5_000, { afterBytes: 20_000 });
    const startedMs = Date.now();
    const res = await fetch(origin.signedUrl(smallPath, inOneHourSec()), { timeoutMs: 200 });
    expect(res.timedOut).toBe(true);
    expect(res.receivedBytes).toBe(20_000);
    expect(Date.now() - startedMs).toBeLessThan(3_000);
  });

  it('stall pauses and then finishes the body for a patient client', async () => {
    origin.faults.stall(300);
    const startedMs = Date.now();
    const res = await fetch(origin.signedUrl(smallPath, inOneHourSec()));
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(290);
    expect(res.complete).toBe(true);
    expect(res.body.equals(generatedBytes(smallSource.seed, smallSource.size))).toBe(true);
  });

  it('notFound answers 404 to a correctly signed request for an existing file, once', async () => {
    origin.faults.notFound({ path: gzipPath });
    const url = origin.signedUrl(gzipPath, inOneHourSec());
    const first = await fetch(url);
    expect(first.status).toBe(404);
    expect(first.body.toString()).toContain('<Code>NoSuchKey</Code>');
    expect((await fetch(url)).status).toBe(200);
  });

  it('expireAll expires every link signed so far, and a freshly signed one works', async () => {
    const old = origin.signedUrl(gzipPath, inOneHourSec());
    origin.faults.expireAll();
    const res = await fetch(old);
    expect(res.status).toBe(403);
    expect(res.body.toString()).toContain('Request has expired.');
    const fresh = origin.signedUrl(gzipPath, inOneHourSec() + 1);
    expect((await fetch(fresh)).status).toBe(200);
  });

  it('reset disarms every fault', async () => {
    const url = origin.signedUrl(smallPath, inOneHourSec());
    origin.faults.cutAfter(1);
    origin.faults.notFound();
    origin.faults.expireAll();
    origin.faults.reset();
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.complete).toBe(true);
  });
});

describe('stats', () => {
  it('counts requests, downloads, bytes and GETs per path', async () => {
    const gzipUrl = origin.signedUrl(gzipPath, inOneHourSec());
    await fetch(gzipUrl);
    await fetch(gzipUrl);
    await fetch(origin.signedUrl(smallPath, inOneHourSec()), { headers: { Range: 'bytes=0-99' } });
    await fetch(gzipUrl.replace(/Signature=[^&]+/, 'Signature=bad'));
    origin.faults.cutAfter(10, { path: gzipPath });
    await fetch(gzipUrl);
    expect(origin.stats).toEqual({
      requests: 5,
      downloadsStarted: 4,
      downloadsCompleted: 3,
      bytesServed: 2 * gzipContent.length + 100 + 10,
      byPath: { [gzipPath]: 3, [smallPath]: 1 },
    });
  });

  it('resetStats zeroes the counters in place', async () => {
    const byPath = origin.stats.byPath;
    await fetch(origin.signedUrl(gzipPath, inOneHourSec()));
    origin.resetStats();
    expect(origin.stats).toEqual({ requests: 0, downloadsStarted: 0, downloadsCompleted: 0, bytesServed: 0, byPath: {} });
    expect(origin.stats.byPath).toBe(byPath);
  });
});

describe('lifecycle', () => {
  it('close() ends promptly even with a stalled download in flight', async () => {
    const own = await startOriginEmulator();
    own.addFile('/f', { seed: 'f', size: 1000 });
    own.faults.stall(60_000);
    const pending = fetch(own.signedUrl('/f', Math.floor(Date.now() / 1000) + 60));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const startedMs = Date.now();
    await own.close();
    const res = await pending;
    expect(Date.now() - startedMs).toBeLessThan(1000);
    expect(res.complete).toBe(false);
  });
});
