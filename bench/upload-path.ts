/**
 * The upload path, layer by layer, with the network and the emulators taken out: the same bytes (64 KiB chunks
 * from memory) PUT into a local server that only reads and discards them, first by a bare `http.request`, then
 * through ali-oss's putStream, then through lib/oss-store.ts (its length guard on top of ali-oss), then with
 * lib/meter.ts (count + CRC-64) in front, which is the archiver's transfer minus the download. CPU time of this
 * process per GiB: each layer's own cost is its difference from the one before. The sink's cost is in every row.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import OSS from 'ali-oss';
import { ByteMeter } from '../lib/meter';
import { createOssStore } from '../lib/oss-store';
import { figure, median, MICRO_SECTION_TITLE, MiB, type Section } from './figures';

const CHUNK_BYTES = 64 * 1024;
const CREDENTIALS = { accessKeyId: 'bench-upload-path', accessKeySecret: 'bench-upload-path-secret' };
const BUCKET = 'bench';
const REGION = 'oss-cn-hangzhou';

export interface UploadPathDetails {
  totalBytes: number;
  cpuMsPerGiB: Record<string, number[]>;
  smallPuts: { count: number; sizeBytes: number; concurrency: number; cpuMsPerPut: Record<string, number[]> };
}

/** The per-request side: many small PUTs, as an hour of small logs makes, `concurrency` at a time. */
const SMALL_PUT_BYTES = 50_000;

/** `totalBytes` of the sample's chunks, over and over, as a byte stream. */
export function replay(chunks: Buffer[], totalBytes: number): Readable {
  let sent = 0;
  let i = 0;
  return new Readable({
    highWaterMark: CHUNK_BYTES,
    read() {
      while (sent < totalBytes) {
        const chunk = chunks[i++ % chunks.length];
        sent += chunk.length;
        if (!this.push(chunk)) return;
      }
      this.push(null);
    },
  });
}

async function startSink(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { etag: '"0"', 'x-oss-request-id': 'bench', 'content-length': '0' });
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

type Layer = (source: Readable, size: number) => Promise<void>;

function layers(endpoint: string): Record<string, Layer> {
  const agent = new http.Agent({ keepAlive: true });
  const { hostname, port } = new URL(endpoint);
  // @types/ali-oss marks every putStream option required; ali-oss itself reads only the ones given.
  const oss = new OSS({ ...CREDENTIALS, bucket: BUCKET, region: REGION, endpoint, secure: false, timeout: 600_000 }) as unknown as {
    putStream(name: string, stream: Readable, options: { contentLength: number }): Promise<unknown>;
  };
  const store = createOssStore({
    bucket: BUCKET,
    region: REGION,
    endpoint,
    pathStyle: false,
    credentials: CREDENTIALS,
    // One streamed PUT whatever the size: the multipart path buffers parts and is measured end to end instead.
    multipartThresholdBytes: 5 * 1024 * MiB,
    partSizeBytes: 16 * MiB,
    timeoutMs: 600_000,
  });
  return {
    'http.request PUT': async (source, size) => {
      const req = http.request({ agent, host: hostname, port, method: 'PUT', path: '/bench', headers: { 'content-length': String(size) } });
      const answered = once(req, 'response') as Promise<[http.IncomingMessage]>;
      await pipeline(source, req);
      const [res] = await answered;
      res.resume();
      await once(res, 'end');
    },
    'ali-oss putStream': async (source, size) => {
      await oss.putStream('bench', source, { contentLength: size });
    },
    'lib/oss-store putStream (length guard + ali-oss)': async (source, size) => {
      await store.putStream('bench', source, { size, forbidOverwrite: true });
    },
    // As lib/transfer.ts meters a download: from its 'data' events, the store's guard reading it directly.
    'ByteMeter + lib/oss-store (transfer minus download)': async (source, size) => {
      const meter = new ByteMeter();
      source.pause();
      source.on('data', (chunk: Buffer) => meter.update(chunk));
      await store.putStream('bench', source, { size, forbidOverwrite: true });
      if (meter.bytes !== size) throw new Error(`meter counted ${meter.bytes} of ${size} bytes`);
    },
  };
}

async function inPool(count: number, concurrency: number, work: () => Promise<void>): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      await work();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export async function benchUploadPath(
  sample: Buffer,
  totalBytes: number,
  repeats: number,
  smallPuts: { count: number; concurrency: number },
): Promise<{ section: Section; details: UploadPathDetails }> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < sample.length; at += CHUNK_BYTES) chunks.push(sample.subarray(at, at + CHUNK_BYTES));
  const smallChunks = [sample.subarray(0, SMALL_PUT_BYTES)];
  const sink = await startSink();
  const details: UploadPathDetails = {
    totalBytes,
    cpuMsPerGiB: {},
    smallPuts: { ...smallPuts, sizeBytes: SMALL_PUT_BYTES, cpuMsPerPut: {} },
  };
  try {
    const all = layers(sink.endpoint);
    for (let r = 0; r < repeats; r++) {
      for (const [name, layer] of Object.entries(all)) {
        let before = process.cpuUsage();
        await layer(replay(chunks, totalBytes), totalBytes);
        let cpu = process.cpuUsage(before);
        (details.cpuMsPerGiB[name] ??= []).push((cpu.user + cpu.system) / 1000 / (totalBytes / (1024 * MiB)));

        before = process.cpuUsage();
        await inPool(smallPuts.count, smallPuts.concurrency, () => layer(replay(smallChunks, SMALL_PUT_BYTES), SMALL_PUT_BYTES));
        cpu = process.cpuUsage(before);
        (details.smallPuts.cpuMsPerPut[name] ??= []).push((cpu.user + cpu.system) / 1000 / smallPuts.count);
      }
    }
  } finally {
    await sink.close();
  }
  const names = Object.keys(details.cpuMsPerGiB);
  const figures = names.map((name, i) =>
    figure({
      id: `uploadPath.${i}`,
      label: `upload into a discarding server, CPU per GiB: ${name}`,
      unit: 'ms',
      value: median(details.cpuMsPerGiB[name]),
      ...(i > 0 ? { baseline: { label: 'the layer above', value: median(details.cpuMsPerGiB[names[i - 1]]) } } : {}),
    }),
  );
  const perPut = details.smallPuts.cpuMsPerPut;
  figures.push(
    ...names.map((name, i) =>
      figure({
        id: `uploadPath.smallPut.${i}`,
        label: `${smallPuts.count} PUTs of 50 KB, ${smallPuts.concurrency} at once, CPU per PUT: ${name}`,
        unit: 'ms',
        value: median(perPut[name]),
        ...(i > 0 ? { baseline: { label: 'the layer above', value: median(perPut[names[i - 1]]) } } : {}),
      }),
    ),
  );
  return { section: { title: MICRO_SECTION_TITLE, figures, notes: [] }, details };
}
