import { Transform, type TransformCallback } from 'node:stream';
import { Crc64 } from './crc64';
import { DownloadError } from './errors';

/**
 * Passes bytes through while counting them and computing their CRC-64 (OSS's checksum), and refuses to end
 * cleanly unless exactly `expectedBytes` went through. Failing the stream before its end is what stops a short
 * or long body from ever being committed in OSS: the upload is aborted instead.
 */
export class MeterStream extends Transform {
  bytes = 0;
  private readonly crc = new Crc64();

  constructor(private readonly expectedBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.expectedBytes) {
      done(
        new DownloadError(`download is longer than LogSize: ${this.bytes} > ${this.expectedBytes} bytes`, {
          kind: 'size-mismatch',
          retryable: false,
        }),
      );
      return;
    }
    this.crc.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.bytes !== this.expectedBytes) {
      done(
        new DownloadError(`download ended early: ${this.bytes} of ${this.expectedBytes} bytes`, {
          kind: 'short-body',
          retryable: true,
        }),
      );
      return;
    }
    done();
  }

  /** Decimal CRC-64 of everything that passed, comparable with x-oss-hash-crc64ecma. */
  get crc64(): string {
    return this.crc.digest();
  }

  get complete(): boolean {
    return this.bytes === this.expectedBytes && this.writableFinished;
  }
}
