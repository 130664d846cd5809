import { Transform, type TransformCallback } from 'node:stream';
import { Crc64 } from './crc64';
import { DownloadError } from './errors';

/**
 * Counts bytes and, unless told not to, computes their CRC-64 (OSS's checksum) as they are shown to it: no stream
 * of its own.
 */
export class ByteMeter {
  bytes = 0;
  private readonly crc: Crc64 | null;

  constructor(options: { crc64: boolean } = { crc64: true }) {
    this.crc = options.crc64 ? new Crc64() : null;
  }

  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.crc?.update(chunk);
  }

  /** Decimal CRC-64 of everything seen, comparable with x-oss-hash-crc64ecma; undefined when counting only. */
  get crc64(): string | undefined {
    return this.crc?.digest();
  }
}

/** The error for a body of `received` bytes where `expected` were listed: longer is final, shorter is retried. */
export function lengthMismatch(received: number, expected: number): DownloadError {
  return received > expected
    ? new DownloadError(`download is longer than LogSize: ${received} > ${expected} bytes`, { kind: 'size-mismatch', retryable: false })
    : new DownloadError(`download ended early: ${received} of ${expected} bytes`, { kind: 'short-body', retryable: true });
}

/**
 * A ByteMeter as a stream: passes bytes through while metering them, and refuses to end cleanly unless exactly
 * `expectedBytes` went through, for pipelines that have no length guard of their own.
 */
export class MeterStream extends Transform {
  private readonly meter = new ByteMeter();

  constructor(private readonly expectedBytes: number) {
    super();
  }

  get bytes(): number {
    return this.meter.bytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.meter.bytes + chunk.length > this.expectedBytes) {
      done(lengthMismatch(this.meter.bytes + chunk.length, this.expectedBytes));
      return;
    }
    this.meter.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.meter.bytes !== this.expectedBytes) {
      done(lengthMismatch(this.meter.bytes, this.expectedBytes));
      return;
    }
    done();
  }

  /** Decimal CRC-64 of everything that passed, comparable with x-oss-hash-crc64ecma. */
  get crc64(): string {
    return this.meter.crc64 as string;
  }

  get complete(): boolean {
    return this.meter.bytes === this.expectedBytes && this.writableFinished;
  }
}
