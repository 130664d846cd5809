/**
 * Micro-benchmarks of the per-byte work, in this process with nothing else running: the CRC-64 the archiver
 * computes over every byte, its Transform (MeterStream) against a bare PassThrough, and the emulators' own
 * per-byte work (AES-CTR generation at the origin, MD5 + CRC-64 + disk at OSS), which caps what any client can
 * reach through them.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { PassThrough, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Crc64 } from '../lib/crc64';
import { MeterStream } from '../lib/meter';
import { generatedStream } from '../sandbox/logdata';
import { figure, MB, median, MICRO_SECTION_TITLE, MiB, type Section } from './figures';
import { benchUploadPath, replay, type UploadPathDetails } from './upload-path';

/** The size of the chunks Node's HTTP client hands over on loopback, and the origin emulator's chunk size. */
const CHUNK_BYTES = 64 * 1024;
const SAMPLE_BYTES = 64 * MiB;
const REPEATS = 3;

export interface MicroDetails {
  crc64MBps: number[];
  md5MBps: number[];
  meterStreamMBps: number[];
  passThroughMBps: number[];
  aesGenerationMBps: number[];
  uploadPath?: UploadPathDetails;
}

function timeMs(work: () => void): number {
  const started = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

async function timeMsAsync(work: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const mbPerSec = (bytes: number, ms: number) => bytes / MB / (ms / 1000);

function chunksOf(sample: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < sample.length; at += CHUNK_BYTES) chunks.push(sample.subarray(at, at + CHUNK_BYTES));
  return chunks;
}


const discard = () =>
  new Writable({
    highWaterMark: CHUNK_BYTES,
    write(_chunk, _encoding, done) {
      done();
    },
  });

async function streamMBps(chunks: Buffer[], totalBytes: number, through: () => Transform): Promise<number> {
  const ms = await timeMsAsync(() => pipeline(replay(chunks, totalBytes), through(), discard()));
  return mbPerSec(totalBytes, ms);
}

async function aesGenerationMBps(totalBytes: number): Promise<number> {
  const ms = await timeMsAsync(() => pipeline(generatedStream('micro', totalBytes), discard()));
  return mbPerSec(totalBytes, ms);
}

export async function benchMicro(
  totalBytes: number,
  smallPuts: { count: number; concurrency: number },
): Promise<{ section: Section; details: MicroDetails }> {
  const sample = randomFillSync(Buffer.allocUnsafe(Math.min(SAMPLE_BYTES, totalBytes)));
  const chunks = chunksOf(sample);
  const passes = Math.max(1, Math.round(totalBytes / sample.length));
  const details: MicroDetails = { crc64MBps: [], md5MBps: [], meterStreamMBps: [], passThroughMBps: [], aesGenerationMBps: [] };
  for (let r = 0; r < REPEATS; r++) {
    details.crc64MBps.push(
      mbPerSec(sample.length * passes, timeMs(() => {
        const crc = new Crc64();
        for (let p = 0; p < passes; p++) for (const chunk of chunks) crc.update(chunk);
        crc.digest();
      })),
    );
    details.md5MBps.push(
      mbPerSec(sample.length * passes, timeMs(() => {
        const md5 = createHash('md5');
        for (let p = 0; p < passes; p++) for (const chunk of chunks) md5.update(chunk);
        md5.digest();
      })),
    );
    details.passThroughMBps.push(await streamMBps(chunks, totalBytes, () => new PassThrough({ highWaterMark: CHUNK_BYTES })));
    details.meterStreamMBps.push(await streamMBps(chunks, totalBytes, () => new MeterStream(totalBytes)));
    details.aesGenerationMBps.push(await aesGenerationMBps(totalBytes));
  }
  const crc = median(details.crc64MBps);
  const md5 = median(details.md5MBps);
  const aes = median(details.aesGenerationMBps);
  // Every archived byte costs the emulators one AES-CTR block (origin), an MD5 and a CRC-64 (OSS), in one thread.
  const emulatorCeiling = 1 / (1 / aes + 1 / md5 + 1 / crc);
  const section: Section = {
    title: MICRO_SECTION_TITLE,
    figures: [
      figure({
        id: 'micro.crc64',
        label: 'CRC-64 (lib/crc64.ts), 64 KiB chunks',
        unit: 'MB/s',
        value: crc,
        baseline: { label: "node's MD5 (OpenSSL)", value: md5 },
      }),
      figure({
        id: 'micro.crc64PerGiB',
        label: '  CRC-64 CPU per GiB',
        unit: 'ms',
        value: (1024 * MiB) / MB / crc * 1000,
      }),
      figure({
        id: 'micro.meterStream',
        label: 'MeterStream (count + CRC-64) in a stream pipeline',
        unit: 'MB/s',
        value: median(details.meterStreamMBps),
        baseline: { label: 'PassThrough', value: median(details.passThroughMBps) },
      }),
      figure({
        id: 'micro.aesGeneration',
        label: "origin emulator's AES-CTR generation",
        unit: 'MB/s',
        value: aes,
      }),
      figure({
        id: 'micro.emulatorCeiling',
        label: "emulators' per-byte CPU ceiling (AES + MD5 + CRC-64, no I/O)",
        unit: 'MB/s',
        value: emulatorCeiling,
      }),
    ],
    notes: [],
  };
  const upload = await benchUploadPath(sample, totalBytes, REPEATS, smallPuts);
  section.figures.push(...upload.section.figures);
  details.uploadPath = upload.details;
  return { section, details };
}
