/**
 * Bytes changed on the way, for integrity tests: the first byte of a stream flipped, everything else passed
 * through, and the source's failure carried to the result (so a broken download still reads as broken).
 */
import { Transform, type Readable } from 'node:stream';

export function withFirstByteChanged(source: Readable): Readable {
  let flipped = false;
  const changed = source.pipe(
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        if (flipped) return done(null, chunk);
        flipped = true;
        const copy = Buffer.from(chunk);
        copy[0] ^= 0xff;
        done(null, copy);
      },
    }),
  );
  source.on('error', (err) => changed.destroy(err));
  return changed;
}
