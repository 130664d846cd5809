/**
 * Every transfer on the run's signal gives its abort-watch slot back on every path (success, HTTP
 * error, redirect, early destroy, refused upload, short body, multipart with a failed part), so the slots held for a
 * run's signal stay bounded by the transfers in flight at once, not by the transfers made.
 * Real ali-oss against the OSS emulator; node http against a loopback origin.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { watcherCapacity } from '../../lib/abort-watch';
import { openDownload, type DownloadOptions } from '../../lib/download';
import { createOssStore } from '../../lib/oss-store';
import { SANDBOX_STS } from '../../sandbox/contracts';
import { generatedBytes } from '../../sandbox/logdata';
import { startOssEmulator, type OssEmulator } from '../../sandbox/oss-emulator';
import { silenceUrllibWarnings } from '../support/urllib-warnings';

const BUCKET = 'archive-bucket';
const KiB = 1024;

let server: http.Server;
let base: string;
let emulator: OssEmulator;
let restoreWarnings: () => void;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url?.startsWith('/redirect')) {
      res.writeHead(302, { location: '/ok' });
      return res.end();
    }
    if (req.url?.startsWith('/missing')) {
      res.writeHead(404);
      return res.end('no');
    }
    if (req.url?.startsWith('/reset')) return req.socket.destroy();
    res.writeHead(200, { 'content-length': String(20_000) });
    res.end(Buffer.alloc(20_000, 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  emulator = await startOssEmulator({ buckets: [BUCKET] });
  restoreWarnings = silenceUrllibWarnings();
});

afterAll(async () => {
  restoreWarnings();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await emulator.close();
});

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

test('downloads on one signal, on every path, hold no more slots than ran at once', async () => {
  const controller = new AbortController();
  const options: DownloadOptions = { allowHost: () => true, idleTimeoutMs: 5_000, signal: controller.signal };
  const readAll = async (body: NodeJS.ReadableStream) => {
    for await (const _chunk of body as AsyncIterable<Buffer>) void _chunk;
  };
  for (let round = 0; round < 10; round++) {
    await readAll((await openDownload(`${base}/ok`, options)).body);
    await readAll((await openDownload(`${base}/redirect`, options)).body);
    await expect(openDownload(`${base}/missing`, options)).rejects.toMatchObject({ kind: 'http-status' });
    await expect(openDownload(`${base}/reset`, options)).rejects.toMatchObject({ kind: 'reset' });
    (await openDownload(`${base}/ok`, options)).body.destroy();
    await tick();
  }
  // A redirect's first request closes a moment after the next hop has started, so two can overlap.
  expect(watcherCapacity(controller.signal)).toBeLessThanOrEqual(2);

  const together = await Promise.all(Array.from({ length: 4 }, () => openDownload(`${base}/ok`, options)));
  await Promise.all(together.map((d) => readAll(d.body)));
  await tick();
  await readAll((await openDownload(`${base}/ok`, options)).body);
  expect(watcherCapacity(controller.signal)).toBeLessThanOrEqual(4);
});

test('uploads on one signal, on every path, hold no more slots than ran at once', async () => {
  const controller = new AbortController();
  const store = createOssStore({
    bucket: BUCKET,
    region: emulator.region,
    endpoint: emulator.endpoint,
    pathStyle: false,
    credentials: SANDBOX_STS,
    multipartThresholdBytes: 256 * KiB,
    partSizeBytes: 100 * KiB,
    partRetryBaseDelayMs: 5,
    timeoutMs: 10_000,
  });
  const small = generatedBytes('slots-small', 10 * KiB);
  const large = generatedBytes('slots-large', 350 * KiB);
  const put = (key: string, bytes: Buffer, size = bytes.length) =>
    store.putStream(key, Readable.from([bytes]), { size, forbidOverwrite: true, signal: controller.signal });

  for (let round = 0; round < 4; round++) {
    await put(`slots/simple-${round}.gz`, small);
    await expect(put(`slots/simple-${round}.gz`, small)).rejects.toThrow(); // already exists
    await expect(put(`slots/short-${round}.gz`, small, small.length + 1)).rejects.toThrow();
    await put(`slots/multi-${round}.gz`, large);
    await expect(put(`slots/multi-short-${round}.gz`, large, large.length + 1)).rejects.toThrow();
    emulator.faults.failNext(100, 503, (request) => request.op === 'UploadPart');
    await expect(put(`slots/multi-failed-${round}.gz`, large)).rejects.toThrow();
    emulator.faults.reset();
  }
  await tick();

  // One guard per upload, plus one watcher for its multipart parts: at most two at once here.
  expect(watcherCapacity(controller.signal)).toBeLessThanOrEqual(2);
});
