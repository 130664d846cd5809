/**
 * CompleteMultipartUpload rules, without I/O: which uploaded parts make the object, its ETag and its CRC-64.
 */
import { createHash } from 'node:crypto';
import { crc64Combine } from '../../lib/crc64';
import { ossErrors } from './errors';
import type { CompletePartRef } from './xml';

/** OSS: every part except the last must be at least 100 KB. */
export const MIN_PART_SIZE_BYTES = 100 * 1024;
export const MAX_PART_NUMBER = 10_000;

export interface UploadedPart {
  partNumber: number;
  filePath: string;
  size: number;
  md5: Buffer;
  crc64: bigint;
}

function normalizeEtag(etag: string): string {
  return etag.trim().replace(/^"|"$/g, '').toUpperCase();
}

export function partEtag(md5: Buffer): string {
  return `"${md5.toString('hex').toUpperCase()}"`;
}

/** The uploaded parts named by the request, in order; refuses what OSS refuses. */
export function selectParts(requested: readonly CompletePartRef[], uploaded: ReadonlyMap<number, UploadedPart>): UploadedPart[] {
  if (requested.length === 0) throw ossErrors.malformedXml();
  const selected: UploadedPart[] = [];
  let previous = 0;
  for (const ref of requested) {
    if (ref.partNumber <= previous) throw ossErrors.invalidPartOrder();
    previous = ref.partNumber;
    const part = uploaded.get(ref.partNumber);
    if (!part || normalizeEtag(ref.etag) !== part.md5.toString('hex').toUpperCase()) {
      throw ossErrors.invalidPart(
        `One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag (part ${ref.partNumber}).`,
      );
    }
    selected.push(part);
  }
  selected.slice(0, -1).forEach((part) => {
    if (part.size < MIN_PART_SIZE_BYTES) throw ossErrors.entityTooSmall();
  });
  return selected;
}

/** `"<MD5 of the concatenated binary part MD5s>-<part count>"`, upper-case hex, as OSS computes it. */
export function multipartEtag(parts: readonly UploadedPart[]): string {
  const hash = createHash('md5');
  parts.forEach((part) => hash.update(part.md5));
  return `"${hash.digest('hex').toUpperCase()}-${parts.length}"`;
}

/** CRC-64 of the whole object from the parts' CRCs: combining avoids re-reading a multi-GiB object. */
export function combinedCrc64(parts: readonly UploadedPart[]): bigint {
  if (parts.length === 0) return 0n;
  return parts.slice(1).reduce((crc, part) => crc64Combine(crc, part.crc64, part.size), parts[0].crc64);
}
