import { Crc64, crc64, crc64Combine } from '../../lib/crc64';
import { randomBytes } from 'node:crypto';

describe('crc64 (CRC-64/XZ, as OSS x-oss-hash-crc64ecma)', () => {
  it('matches the published check value of "123456789"', () => {
    expect(crc64(Buffer.from('123456789'))).toBe('11051210869376104954');
  });

  it('gives the same value however the input is split into updates', () => {
    const data = randomBytes(100_003);
    const whole = crc64(data);
    const c = new Crc64();
    let at = 0;
    for (const step of [1, 3, 8, 13, 4096, 65_536]) {
      c.update(data.subarray(at, Math.min(at + step, data.length)));
      at = Math.min(at + step, data.length);
    }
    c.update(data.subarray(at));
    expect(c.digest()).toBe(whole);
  });

  it('matches a bit-by-bit reference on slices at every alignment and of every length up to 40 bytes', () => {
    // Independent of the table code: the textbook reflected shift register, one bit at a time, in BigInt.
    const reference = (bytes: Uint8Array): string => {
      let crc = (1n << 64n) - 1n;
      for (const byte of bytes) {
        crc ^= BigInt(byte);
        for (let bit = 0; bit < 8; bit++) crc = crc & 1n ? (crc >> 1n) ^ 0xc96c5795d7870f42n : crc >> 1n;
      }
      return (crc ^ ((1n << 64n) - 1n)).toString();
    };
    const pool = randomBytes(256);
    const mismatches: string[] = [];
    for (let offset = 0; offset < 8; offset++) {
      for (let length = 0; length <= 40; length++) {
        const slice = pool.subarray(offset, offset + length);
        if (crc64(slice) !== reference(slice)) mismatches.push(`offset ${offset} length ${length}`);
      }
    }
    const long = pool.subarray(3, 203);
    expect(mismatches).toEqual([]);
    expect(new Crc64().update(long.subarray(0, 5)).update(long.subarray(5)).digest()).toBe(reference(long));
  });

  it('is the value of an empty input when nothing is fed', () => {
    expect(new Crc64().digest()).toBe('0');
  });

  it('combines part CRCs of many lengths, repeated lengths included, into the CRC of the whole', () => {
    const lengths = [1, 7, 8, 9, 255, 4096, 100_003, 8, 4096, 1, 65_536];
    const parts = lengths.map((length) => randomBytes(length));
    const head = randomBytes(33);
    let combined = BigInt(crc64(head));
    const folded: string[] = [];
    let whole = head;
    for (const part of parts) {
      combined = crc64Combine(combined, BigInt(crc64(part)), part.length);
      whole = Buffer.concat([whole, part]);
      folded.push(combined.toString() === crc64(whole) ? 'ok' : `wrong after ${part.length} bytes`);
    }
    expect(folded).toEqual(lengths.map(() => 'ok'));
    expect(crc64Combine(combined, 0n, 0)).toBe(combined);
  });

  it('combines the CRCs of two parts into the CRC of their concatenation', () => {
    const a = randomBytes(12_345);
    const b = randomBytes(777);
    const combined = crc64Combine(BigInt(crc64(a)), BigInt(crc64(b)), b.length);
    expect(combined.toString()).toBe(crc64(Buffer.concat([a, b])));
  });
});
