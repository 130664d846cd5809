/**
 * Request bodies: streamed through a meter (size, MD5, CRC-64) into a file or a small buffer, never held whole in
 * memory. The meter is also where an injected connection reset cuts an upload short.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Crc64 } from '../../lib/crc64';
import { ossErrors } from './errors';

export interface BodyDigest {
  size: number;
  md5: Buffer;
  crc64: bigint;
}

export interface BodyTaps {
  /** Called for every chunk received (stats). */
  onBytes?: (byteCount: number) => void;
  /** Cut the connection once this many bytes have arrived (or at the end of a shorter body). */
  resetAfterBytes?: number;
  /** Destroys the connection; called once when the reset point is reached. */
  onReset?: () => void;
}

/** Raised when the body stopped early: the client went away or a reset was injected. No answer can be sent. */
export class ConnectionLostError extends Error {
  override readonly name = 'ConnectionLostError';
}

class BodyMeter extends Transform {
  private readonly md5: Hash = createHash('md5');
  private readonly crc = new Crc64();
  private size = 0;

  constructor(private readonly taps: BodyTaps) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.taps.onBytes?.(chunk.length);
    const limit = this.taps.resetAfterBytes;
    if (limit !== undefined && this.size + chunk.length >= limit) {
      this.taps.onReset?.();
      callback(new ConnectionLostError('connection reset (injected fault)'));
      return;
    }
    this.size += chunk.length;
    this.md5.update(chunk);
    this.crc.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.taps.resetAfterBytes !== undefined) {
      this.taps.onReset?.();
      callback(new ConnectionLostError('connection reset (injected fault)'));
      return;
    }
    callback();
  }

  digest(): BodyDigest {
    return { size: this.size, md5: this.md5.digest(), crc64: this.crc.value() };
  }
}

function asConnectionLost(error: unknown): Error {
  if (error instanceof ConnectionLostError) return error;
  const code = (error as { code?: string } | null)?.code;
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'ECONNABORTED') {
    return new ConnectionLostError('client connection closed before the body was complete');
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** Streams the body into `filePath`. On any failure the file is removed before the error propagates. */
export async function receiveBodyToFile(source: Readable, filePath: string, taps: BodyTaps): Promise<BodyDigest> {
  const meter = new BodyMeter(taps);
  try {
    await pipeline(source, meter, createWriteStream(filePath, { flags: 'wx' }));
    return meter.digest();
  } catch (error) {
    await rm(filePath, { force: true });
    throw asConnectionLost(error);
  }
}

/** Reads a small body (an XML request document). Larger than `maxBytes` is refused without buffering it. */
export async function receiveSmallBody(
  source: Readable,
  maxBytes: number,
  taps: BodyTaps,
): Promise<{ body: Buffer; digest: BodyDigest }> {
  const meter = new BodyMeter(taps);
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  const collector = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      if (size > maxBytes) tooLarge = true;
      else chunks.push(chunk);
      callback();
    },
  });
  try {
    await pipeline(source, meter, collector);
  } catch (error) {
    throw asConnectionLost(error);
  }
  if (tooLarge) throw ossErrors.invalidArgument(`The request body exceeds ${maxBytes} bytes.`);
  return { body: Buffer.concat(chunks), digest: meter.digest() };
}

/** Content-MD5 check: malformed or different from what arrived is InvalidDigest, as OSS answers. */
export function checkContentMd5(header: string | string[] | undefined, received: BodyDigest): void {
  if (header === undefined) return;
  const contentMd5 = (Array.isArray(header) ? header.join(',') : header).trim();
  const claimed = Buffer.from(contentMd5, 'base64');
  if (claimed.length !== 16 || claimed.toString('base64') !== contentMd5) {
    throw ossErrors.invalidDigest('The Content-MD5 you specified is not valid.');
  }
  if (!claimed.equals(received.md5)) {
    throw ossErrors.invalidDigest('The Content-MD5 you specified did not match what we received.');
  }
}
