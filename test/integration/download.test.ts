/**
 * lib/download.ts over loopback HTTP: a run's abort signal stops downloads at once, whether they are still waiting
 * for headers or reading a body, and a signal shared by many downloads keeps one listener, not one per download.
 */
import { getEventListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { announcedCrc64, openDownload, type DownloadOptions } from '../../lib/download';
import { DownloadError } from '../../lib/errors';

const BODY_BYTES = 50_000;

describe('openDownload and the abort signal', () => {
  let server: http.Server;
  let base: string;
  let requests = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests++;
      if (req.url === '/no-headers') return; // never answers
      if (req.url === '/stalls') {
        res.writeHead(200, { 'content-length': String(BODY_BYTES) });
        res.write(Buffer.alloc(1000));
        return; // the rest never comes
      }
      res.writeHead(200, { 'content-length': String(BODY_BYTES) });
      res.end(Buffer.alloc(BODY_BYTES, 7));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function options(signal: AbortSignal): DownloadOptions {
    return { allowHost: () => true, idleTimeoutMs: 10_000, signal };
  }

  async function readAll(body: NodeJS.ReadableStream): Promise<number> {
    let bytes = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) bytes += chunk.length;
    return bytes;
  }

  test('fails a download waiting for headers and one mid-body as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const reading = await openDownload(`${base}/stalls`, options(controller.signal));
    const bodyFailure = readAll(reading.body).then(
      () => null,
      (err: unknown) => err,
    );
    const waiting = openDownload(`${base}/no-headers`, options(controller.signal)).then(
      () => null,
      (err: unknown) => err,
    );
    const startedMs = Date.now();
    setTimeout(() => controller.abort(new Error('invocation deadline')), 50);

    const [midBody, beforeHeaders] = await Promise.all([bodyFailure, waiting]);

    expect(Date.now() - startedMs).toBeLessThan(2_000);
    for (const err of [midBody, beforeHeaders]) {
      expect(err).toBeInstanceOf(DownloadError);
      expect(err).toMatchObject({ kind: 'aborted', retryable: false });
    }
  });

  test('with an already aborted signal, fails without sending the request', async () => {
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    const before = requests;

    await expect(openDownload(`${base}/ok`, options(controller.signal))).rejects.toMatchObject({ kind: 'aborted' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(requests).toBe(before);
  });

  test('many downloads on one signal leave at most one abort listener on it, and read whole bodies', async () => {
    const controller = new AbortController();
    const sizes: number[] = [];
    for (let i = 0; i < 40; i++) {
      const download = await openDownload(`${base}/ok-${i}`, options(controller.signal));
      sizes.push(await readAll(download.body));
    }
    const early = await openDownload(`${base}/ok-early`, options(controller.signal));
    early.body.destroy();
    await new Promise((resolve) => setTimeout(resolve, 20));

    expect(sizes).toEqual(Array(40).fill(BODY_BYTES));
    expect(getEventListeners(controller.signal, 'abort').length).toBeLessThanOrEqual(1);
  });
});

describe('announcedCrc64', () => {
  test.each([
    ['a CRC-64 in decimal', { 'x-oss-hash-crc64ecma': '11051210869376104954' }, '11051210869376104954'],
    ['the largest 64-bit value', { 'x-oss-hash-crc64ecma': '18446744073709551615' }, '18446744073709551615'],
    ['leading zeros, normalized', { 'x-oss-hash-crc64ecma': '007' }, '7'],
    ['identity encoding', { 'x-oss-hash-crc64ecma': '7', 'content-encoding': 'identity' }, '7'],
    ['no header', {}, undefined],
    ['a value over 64 bits', { 'x-oss-hash-crc64ecma': '18446744073709551616' }, undefined],
    ['not digits', { 'x-oss-hash-crc64ecma': '0x1f' }, undefined],
    ['empty', { 'x-oss-hash-crc64ecma': '' }, undefined],
    ['a re-encoded body', { 'x-oss-hash-crc64ecma': '7', 'content-encoding': 'gzip' }, undefined],
  ])('%s', (_what, headers, expected) => {
    expect(announcedCrc64(headers)).toBe(expected);
  });
});
