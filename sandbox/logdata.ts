/**
 * Deterministic log data for the sandbox and the tests: large pseudo-random files that are generated on demand
 * (never stored, any byte range reproducible), small real gzip relay logs, and log names and paths in the form
 * DescribeLivePushProxyLog documents. Sandbox-only: never imported by the function bundle.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Crc64 } from '../lib/crc64';
import type { FileSource } from './contracts';

/** Size of the chunks generated streams emit: large enough for speed, small enough to keep memory flat. */
export const STREAM_CHUNK_BYTES = 64 * 1024;

const AES_BLOCK_BYTES = 16;
const HOUR_MS = 3_600_000;

// The keystream is AES-128-CTR over zeros, so the bytes are the cipher's output itself; encrypting a shared
// read-only zero buffer costs nothing to allocate. The extra block absorbs a start that is not block aligned.
const ZEROS = Buffer.alloc(STREAM_CHUNK_BYTES + AES_BLOCK_BYTES);

function keyForSeed(seed: string): Buffer {
  return createHash('sha256').update(seed, 'utf8').digest().subarray(0, 16);
}

/** The CTR counter block for the block that holds `offset`: a 128-bit big-endian block index. */
function counterBlockAt(offset: number): Buffer {
  const iv = Buffer.alloc(AES_BLOCK_BYTES);
  iv.writeBigUInt64BE(BigInt(Math.floor(offset / AES_BLOCK_BYTES)), 8);
  return iv;
}

function assertByteCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`);
  }
}

/**
 * The `size` bytes that start at `offset` of the endless pseudo-random sequence named by `seed`.
 * A file of size S is `generatedStream(seed, S)`; its byte range [a, b] is `generatedStream(seed, b - a + 1, a)`.
 * Emitted in ~64 KiB chunks as the consumer reads (backpressure), so a 1 GiB file never sits in memory.
 */
export function generatedStream(seed: string, size: number, offset = 0): Readable {
  assertByteCount('size', size);
  assertByteCount('offset', offset);
  const cipher = createCipheriv('aes-128-ctr', keyForSeed(seed), counterBlockAt(offset));
  let skipBytes = offset % AES_BLOCK_BYTES;
  let remainingBytes = size;
  return new Readable({
    highWaterMark: STREAM_CHUNK_BYTES,
    read() {
      while (remainingBytes > 0) {
        const chunkBytes = Math.min(STREAM_CHUNK_BYTES, remainingBytes);
        let chunk = cipher.update(ZEROS.subarray(0, skipBytes + chunkBytes));
        if (skipBytes > 0) {
          chunk = chunk.subarray(skipBytes);
          skipBytes = 0;
        }
        remainingBytes -= chunkBytes;
        if (!this.push(chunk)) return;
      }
      this.push(null);
    },
  });
}

/** The same bytes as `generatedStream`, at once: for small files and for tests that need the expected bytes. */
export function generatedBytes(seed: string, size: number, offset = 0): Buffer {
  assertByteCount('size', size);
  assertByteCount('offset', offset);
  const skipBytes = offset % AES_BLOCK_BYTES;
  const cipher = createCipheriv('aes-128-ctr', keyForSeed(seed), counterBlockAt(offset));
  return cipher.update(Buffer.alloc(skipBytes + size)).subarray(skipBytes);
}

function* chunksOf(buf: Buffer): Generator<Buffer> {
  for (let at = 0; at < buf.length; at += STREAM_CHUNK_BYTES) {
    yield buf.subarray(at, Math.min(buf.length, at + STREAM_CHUNK_BYTES));
  }
}

/**
 * The bytes [start, endExclusive) of a seeded file as a stream; the whole file by default.
 * The caller keeps the range within the file (the origin emulator validates Range headers first).
 */
export function sourceStream(source: FileSource, start = 0, endExclusive?: number): Readable {
  const size = 'content' in source ? source.content.length : source.size;
  const end = endExclusive ?? size;
  if (start < 0 || end > size || start > end) {
    throw new RangeError(`range [${start}, ${end}) is outside a file of ${size} bytes`);
  }
  if ('content' in source) {
    return Readable.from(chunksOf(source.content.subarray(start, end)), { objectMode: false });
  }
  return generatedStream(source.seed, end - start, start);
}

export interface Digest {
  size: number;
  /** Lower-case hex. */
  md5: string;
  /** CRC-64/XZ in decimal, as OSS's x-oss-hash-crc64ecma. */
  crc64: string;
}

// Generated files are immutable functions of (seed, size), and hashing a 1 GiB one takes seconds: remember them.
const generatedDigests = new Map<string, Promise<Digest>>();

async function digestOfStream(stream: Readable): Promise<Digest> {
  const md5 = createHash('md5');
  const crc = new Crc64();
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    md5.update(chunk);
    crc.update(chunk);
    size += chunk.length;
  }
  return { size, md5: md5.digest('hex'), crc64: crc.digest() };
}

/** Size, MD5 and CRC-64 of a seeded file, computed by streaming it (what a correct archive must hold). */
export function expectedDigest(source: FileSource): Promise<Digest> {
  if ('content' in source) return digestOfStream(sourceStream(source));
  const cacheKey = `${source.size}\u0000${source.seed}`;
  let digest = generatedDigests.get(cacheKey);
  if (!digest) {
    digest = digestOfStream(sourceStream(source));
    generatedDigests.set(cacheKey, digest);
    digest.catch(() => generatedDigests.delete(cacheKey));
  }
  return digest;
}

// --- names and paths in the documented form ---

function assertHourStart(hourStartMs: number): void {
  if (!Number.isSafeInteger(hourStartMs) || hourStartMs % HOUR_MS !== 0) {
    // Catches seconds passed for milliseconds as well as a time inside the hour.
    throw new RangeError(`hourStartMs must be epoch milliseconds on a UTC hour boundary, got ${hourStartMs}`);
  }
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

function utcDateParts(hourStartMs: number): { yyyy: string; MM: string; dd: string; HH: number } {
  const d = new Date(hourStartMs);
  return {
    yyyy: String(d.getUTCFullYear()),
    MM: pad2(d.getUTCMonth() + 1),
    dd: pad2(d.getUTCDate()),
    HH: d.getUTCHours(),
  };
}

/**
 * The documented LogName form, `example.com_2023_09_20_160000_170000.<index>.gz`, for the UTC hour.
 * The last hour of a day ends in `240000` (the end is the start hour plus one, on the start's date); the
 * documentation shows no such name, so treat that detail as an assumption.
 */
export function logName(domain: string, hourStartMs: number, index: number): string {
  assertHourStart(hourStartMs);
  const { yyyy, MM, dd, HH } = utcDateParts(hourStartMs);
  return `${domain}_${yyyy}_${MM}_${dd}_${pad2(HH)}0000_${pad2(HH + 1)}0000.${index}.gz`;
}

/**
 * The path part of the documented LogPath, `/push_proxy/<owner>/example.com/2023_09_20/1600/<name>`, unencoded
 * (the origin emulator percent-encodes it when it signs a URL).
 */
export function logOriginPath(domain: string, hourStartMs: number, name: string, owner = 'sandbox-owner'): string {
  assertHourStart(hourStartMs);
  const { yyyy, MM, dd, HH } = utcDateParts(hourStartMs);
  return `/push_proxy/${owner}/${domain}/${yyyy}_${MM}_${dd}/${pad2(HH)}00/${name}`;
}

// --- gzip relay logs ---

const APPS = ['live', 'event', 'sports', 'edu'];
const PROTOCOLS = ['rtmp', 'rtmp', 'rtmp', 'srt', 'rtsp'];
const STATUSES = [200, 200, 200, 200, 200, 200, 200, 404, 403, 502];

/**
 * A real gzip file of `lines` relay-log lines for a domain and UTC hour, one space-separated record per line:
 * `<ISO time> <domain> <app>/<stream> <client ip> <protocol> <bytes> <duration ms> <status> <upstream>`.
 * Times are ascending within [hour, hour + 1h). The same options always give the same bytes.
 */
export function gzipLogFile(opts: { domain: string; hourStartMs: number; lines: number; seed?: string }): Buffer {
  const { domain, hourStartMs, lines } = opts;
  assertHourStart(hourStartMs);
  assertByteCount('lines', lines);
  const seed = opts.seed ?? `${domain}@${hourStartMs}`;
  // Entropy from the same keystream as the large files: 16 bytes per line, so lines never depend on each other.
  const entropy = generatedBytes(`gzip-log:${seed}`, lines * 16);
  const stepMs = lines > 0 ? Math.floor(HOUR_MS / lines) : HOUR_MS;
  const records: string[] = [];
  for (let i = 0; i < lines; i++) {
    const e = entropy.subarray(i * 16, i * 16 + 16);
    const atMs = hourStartMs + i * stepMs + (e.readUInt32BE(0) % stepMs);
    const stream = `${APPS[e[4] % APPS.length]}/stream_${pad2(e[5] % 40)}`;
    const clientIp = `${[198, 203, 100][e[6] % 3]}.${e[7]}.${e[8]}.${1 + (e[9] % 254)}`;
    const protocol = PROTOCOLS[e[10] % PROTOCOLS.length];
    const status = STATUSES[e[11] % STATUSES.length];
    const bytes = status === 200 ? e.readUInt32BE(12) % 50_000_000 : 0;
    const durationMs = status === 200 ? 1000 + (e.readUInt16BE(4) % 60_000) : e[12] % 200;
    const upstream = `relay-${e[13] % 8}.sandbox.internal`;
    records.push(
      `${new Date(atMs).toISOString()} ${domain} ${stream} ${clientIp} ${protocol} ${bytes} ${durationMs} ${status} ${upstream}`,
    );
  }
  return gzipSync(records.length > 0 ? records.join('\n') + '\n' : '', { level: 6 });
}
