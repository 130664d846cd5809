/**
 * Reads a byte range of an object kept as an ordered list of files ("segments"): one file for a PutObject, one per
 * part for a completed multipart upload, which the emulator keeps as they were uploaded, as OSS completes an upload
 * without copying its data.
 */
import { close, closeSync, openSync, read } from 'node:fs';
import { Readable } from 'node:stream';

export interface Segment {
  filePath: string;
  size: number;
}

/** What fs.ReadStream reads at a time. */
const READ_BYTES = 64 * 1024;

interface OpenPiece {
  fd: number;
  /** Next byte to read, in the file. */
  position: number;
  remaining: number;
}

/**
 * The bytes `start..endInclusive` of the concatenated segments. Every file the range touches is opened now, in the
 * caller's turn: an overwrite or delete that follows unlinks the files but cannot cut this read short.
 */
export function openSegmentRange(segments: readonly Segment[], start: number, endInclusive: number): Readable {
  const pieces: OpenPiece[] = [];
  try {
    let segmentStart = 0;
    for (const segment of segments) {
      const segmentEnd = segmentStart + segment.size; // exclusive
      const from = Math.max(start, segmentStart);
      const to = Math.min(endInclusive + 1, segmentEnd);
      if (from < to) {
        pieces.push({ fd: openSync(segment.filePath, 'r'), position: from - segmentStart, remaining: to - from });
      }
      segmentStart = segmentEnd;
      if (segmentStart > endInclusive) break;
    }
  } catch (error) {
    pieces.forEach((piece) => closeSync(piece.fd));
    throw error;
  }
  return new SegmentReader(pieces);
}

class SegmentReader extends Readable {
  private current = 0;
  /** Set while an fs.read is pending: its descriptor must not be closed (and its number reused) under it. */
  private reading = false;
  private finishDestroy: (() => void) | null = null;

  constructor(private readonly pieces: OpenPiece[]) {
    super({ highWaterMark: READ_BYTES });
  }

  override _read(): void {
    const piece = this.pieces[this.current];
    if (!piece) {
      this.push(null);
      return;
    }
    const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, piece.remaining));
    this.reading = true;
    read(piece.fd, buffer, 0, buffer.length, piece.position, (error, bytesRead) => {
      this.reading = false;
      if (this.finishDestroy) return this.finishDestroy();
      if (error) return void this.destroy(error);
      if (bytesRead === 0) return void this.destroy(new Error(`segment file ended ${piece.remaining} bytes early`));
      piece.position += bytesRead;
      piece.remaining -= bytesRead;
      if (piece.remaining === 0) this.closePiece(this.current++);
      this.push(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
    });
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    const closeAll = () => {
      for (let index = this.current; index < this.pieces.length; index++) this.closePiece(index);
      done(error);
    };
    if (this.reading) this.finishDestroy = closeAll;
    else closeAll();
  }

  private closePiece(index: number): void {
    const piece = this.pieces[index];
    if (piece.fd < 0) return;
    close(piece.fd, () => undefined);
    piece.fd = -1;
  }
}
