import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { crc64 } from '../../lib/crc64';
import {
  STREAM_CHUNK_BYTES,
  expectedDigest,
  generatedBytes,
  generatedStream,
  gzipLogFile,
  logName,
  logOriginPath,
  sourceStream,
} from '../../sandbox/logdata';

async function collect(stream: Readable): Promise<{ bytes: Buffer; largestChunk: number }> {
  const chunks: Buffer[] = [];
  let largestChunk = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    largestChunk = Math.max(largestChunk, chunk.length);
  }
  return { bytes: Buffer.concat(chunks), largestChunk };
}

// Fixture built independently of the code under test: 2023-09-20T16:00:00Z.
const HOUR_16_MS = Date.UTC(2023, 8, 20, 16);

describe('generatedStream', () => {
  it('emits exactly the requested number of bytes', async () => {
    for (const size of [0, 1, 15, 16, 17, STREAM_CHUNK_BYTES, 3 * STREAM_CHUNK_BYTES + 7]) {
      const { bytes } = await collect(generatedStream('sizes', size));
      expect(bytes.length).toBe(size);
    }
  });

  it('gives the same bytes for the same seed and different bytes for another seed', async () => {
    const first = (await collect(generatedStream('seed-a', 100_000))).bytes;
    const again = (await collect(generatedStream('seed-a', 100_000))).bytes;
    const other = (await collect(generatedStream('seed-b', 100_000))).bytes;
    expect(again.equals(first)).toBe(true);
    expect(other.equals(first)).toBe(false);
  });

  it('looks random: every byte value appears and none dominates', async () => {
    const { bytes } = await collect(generatedStream('entropy', 256 * 1024));
    const counts = new Array<number>(256).fill(0);
    for (const b of bytes) counts[b] += 1;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1250);
  });

  it('produces at an offset exactly the slice of the full stream, aligned or not', async () => {
    const full = (await collect(generatedStream('ranges', 300_000))).bytes;
    const cases: Array<[number, number]> = [
      [0, 10],
      [1, 31],
      [15, 2],
      [16, 16],
      [17, 100_000],
      [STREAM_CHUNK_BYTES - 1, STREAM_CHUNK_BYTES + 3],
      [123_457, 176_543],
    ];
    for (const [offset, size] of cases) {
      const { bytes } = await collect(generatedStream('ranges', size, offset));
      expect(bytes.equals(full.subarray(offset, offset + size))).toBe(true);
    }
  });

  it('emits chunks of at most 64 KiB', async () => {
    const { largestChunk } = await collect(generatedStream('chunks', 1_000_000, 3));
    expect(largestChunk).toBeLessThanOrEqual(STREAM_CHUNK_BYTES);
  });

  it('respects backpressure: an unread 1 GiB stream buffers no more than its high-water mark', async () => {
    const stream = generatedStream('lazy', 1024 * 1024 * 1024);
    stream.on('readable', () => undefined); // start it flowing into its buffer, never read
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stream.readableLength).toBeGreaterThan(0);
    expect(stream.readableLength).toBeLessThanOrEqual(2 * STREAM_CHUNK_BYTES);
    stream.destroy();
  });

  it('is fast enough to serve large files (64 MiB well under 2 s even on a busy machine)', async () => {
    const startedMs = Date.now();
    let total = 0;
    for await (const chunk of generatedStream('speed', 64 * 1024 * 1024) as AsyncIterable<Buffer>) total += chunk.length;
    expect(total).toBe(64 * 1024 * 1024);
    expect(Date.now() - startedMs).toBeLessThan(2000);
  });

  it('rejects negative or fractional sizes and offsets', () => {
    expect(() => generatedStream('bad', -1)).toThrow(RangeError);
    expect(() => generatedStream('bad', 1.5)).toThrow(RangeError);
    expect(() => generatedStream('bad', 10, -3)).toThrow(RangeError);
  });
});

describe('generatedBytes and sourceStream', () => {
  it('generatedBytes equals the stream at any offset', async () => {
    const streamed = (await collect(generatedStream('same', 5000, 77))).bytes;
    expect(generatedBytes('same', 5000, 77).equals(streamed)).toBe(true);
  });

  it('streams a byte range of a generated source', async () => {
    const { bytes } = await collect(sourceStream({ seed: 'src', size: 10_000 }, 100, 2100));
    expect(bytes.equals(generatedBytes('src', 10_000).subarray(100, 2100))).toBe(true);
  });

  it('streams a byte range of a content source in chunks of at most 64 KiB', async () => {
    const content = generatedBytes('content', 200_000);
    const { bytes, largestChunk } = await collect(sourceStream({ content }, 5, 199_000));
    expect(bytes.equals(content.subarray(5, 199_000))).toBe(true);
    expect(largestChunk).toBeLessThanOrEqual(STREAM_CHUNK_BYTES);
  });

  it('refuses a range outside the file', () => {
    expect(() => sourceStream({ seed: 'src', size: 10 }, 0, 11)).toThrow(RangeError);
    expect(() => sourceStream({ content: Buffer.from('abc') }, 2, 1)).toThrow(RangeError);
  });
});

describe('expectedDigest', () => {
  it('matches the published check values for "123456789"', async () => {
    const digest = await expectedDigest({ content: Buffer.from('123456789') });
    expect(digest).toEqual({ size: 9, md5: '25f9e794323b453885f5181f1b624d0b', crc64: '11051210869376104954' });
  });

  it('hashes a generated file as the bytes it streams', async () => {
    const size = 3 * STREAM_CHUNK_BYTES + 11;
    const bytes = generatedBytes('digest', size);
    const digest = await expectedDigest({ seed: 'digest', size });
    expect(digest).toEqual({
      size,
      md5: createHash('md5').update(bytes).digest('hex'),
      crc64: crc64(bytes),
    });
  });

  it('gives an empty file the digests of nothing', async () => {
    const digest = await expectedDigest({ seed: 'empty', size: 0 });
    expect(digest).toEqual({ size: 0, md5: 'd41d8cd98f00b204e9800998ecf8427e', crc64: '0' });
  });
});

describe('gzipLogFile', () => {
  const opts = { domain: 'example.com', hourStartMs: HOUR_16_MS, lines: 500, seed: 's1' };

  it('is a real gzip file of the requested number of lines', () => {
    const gz = gzipLogFile(opts);
    expect(gz.subarray(0, 2).toString('hex')).toBe('1f8b');
    const lines = gunzipSync(gz).toString('utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(500);
  });

  it('writes ascending timestamps inside the hour and the domain on every line', () => {
    const lines = gunzipSync(gzipLogFile(opts)).toString('utf8').trimEnd().split('\n');
    const times = lines.map((line) => Date.parse(line.split(' ')[0]));
    for (const t of times) {
      expect(t).toBeGreaterThanOrEqual(HOUR_16_MS);
      expect(t).toBeLessThan(HOUR_16_MS + 3_600_000);
    }
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    for (const line of lines) {
      expect(line).toMatch(/^\S+Z example\.com \w+\/stream_\d\d \d+\.\d+\.\d+\.\d+ \w+ \d+ \d+ \d{3} \S+$/);
    }
  });

  it('is deterministic for a seed and differs for another seed', () => {
    expect(gzipLogFile(opts).equals(gzipLogFile(opts))).toBe(true);
    expect(gzipLogFile({ ...opts, seed: 's2' }).equals(gzipLogFile(opts))).toBe(false);
  });

  it('allows an empty log', () => {
    expect(gunzipSync(gzipLogFile({ ...opts, lines: 0 })).length).toBe(0);
  });
});

describe('logName and logOriginPath', () => {
  it('follows the documented form with the UTC hour', () => {
    expect(logName('example.com', HOUR_16_MS, 3)).toBe('example.com_2023_09_20_160000_170000.3.gz');
  });

  it('pads early hours and ends the last hour of a day at 240000', () => {
    expect(logName('a.example.com', Date.UTC(2024, 0, 2, 5), 0)).toBe('a.example.com_2024_01_02_050000_060000.0.gz');
    expect(logName('a.example.com', Date.UTC(2024, 1, 29, 23), 12)).toBe('a.example.com_2024_02_29_230000_240000.12.gz');
  });

  it('rejects a time that is not an hour start in milliseconds', () => {
    expect(() => logName('example.com', HOUR_16_MS + 1000, 0)).toThrow(RangeError);
    expect(() => logName('example.com', HOUR_16_MS / 1000, 0)).toThrow(RangeError);
  });

  it('builds the documented LogPath layout', () => {
    const name = logName('example.com', HOUR_16_MS, 1);
    expect(logOriginPath('example.com', HOUR_16_MS, name, 'owner1')).toBe(
      '/push_proxy/owner1/example.com/2023_09_20/1600/example.com_2023_09_20_160000_170000.1.gz',
    );
  });
});
