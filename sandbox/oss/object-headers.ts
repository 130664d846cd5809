/**
 * Headers an object keeps from its upload (validated as OSS validates them) and the headers GET/HEAD answer with.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { OssError, ossErrors } from './errors';
import type { StoredObject } from './storage';

const STORAGE_CLASSES = new Set(['Standard', 'IA', 'Archive', 'ColdArchive', 'DeepColdArchive']);
const SSE_ALGORITHMS = new Set(['AES256', 'KMS', 'SM4']);
/** Standard headers OSS stores with the object and returns verbatim. */
const KEPT_STANDARD_HEADERS = ['content-type', 'cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'];
const KEPT_OSS_HEADERS = [
  'x-oss-storage-class',
  'x-oss-server-side-encryption',
  'x-oss-server-side-encryption-key-id',
  'x-oss-server-side-data-encryption',
  'x-oss-tagging',
];
const MAX_USER_META_BYTES = 8 * 1024;
const MAX_TAGS = 10;
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

export function parseTagging(tagging: string): Array<[string, string]> {
  const tags = [...new URLSearchParams(tagging).entries()];
  const valid =
    tags.length <= MAX_TAGS &&
    new Set(tags.map(([name]) => name)).size === tags.length &&
    tags.every(([name, value]) => name.length >= 1 && name.length <= 128 && value.length <= 256);
  if (!valid) throw new OssError(400, 'InvalidTag', 'The tag provided was not a valid tag.');
  return tags;
}

/** The headers to keep with a new object, lower-case; refuses values OSS refuses. */
export function objectHeadersFromRequest(headers: IncomingHttpHeaders): Record<string, string> {
  const kept: Record<string, string> = {};
  let userMetaBytes = 0;
  for (const [name, raw] of Object.entries(headers)) {
    const value = single(raw);
    if (value === undefined) continue;
    if (KEPT_STANDARD_HEADERS.includes(name) || KEPT_OSS_HEADERS.includes(name)) kept[name] = value;
    if (name.startsWith('x-oss-meta-')) {
      kept[name] = value;
      userMetaBytes += Buffer.byteLength(name.slice('x-oss-meta-'.length)) + Buffer.byteLength(value);
    }
  }
  if (userMetaBytes > MAX_USER_META_BYTES) {
    throw new OssError(400, 'MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.');
  }
  const storageClass = kept['x-oss-storage-class'];
  if (storageClass !== undefined && !STORAGE_CLASSES.has(storageClass)) {
    throw ossErrors.invalidArgument(`Invalid storage class: ${storageClass}.`);
  }
  const sse = kept['x-oss-server-side-encryption'];
  if (sse !== undefined && !SSE_ALGORITHMS.has(sse)) {
    throw new OssError(400, 'InvalidEncryptionAlgorithmError', 'The Encryption request you specified is not valid.');
  }
  if (kept['x-oss-server-side-encryption-key-id'] !== undefined && sse !== 'KMS') {
    throw ossErrors.invalidArgument('x-oss-server-side-encryption-key-id is only valid with KMS encryption.');
  }
  if (kept['x-oss-tagging'] !== undefined) parseTagging(kept['x-oss-tagging']);
  kept['content-type'] ??= DEFAULT_CONTENT_TYPE;
  return kept;
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** What HeadObject (and GetObject, apart from length and range) answers for an object. */
export function objectResponseHeaders(object: StoredObject): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(object.headers)) {
    if (name === 'x-oss-tagging') continue; // OSS answers with the count, not the tags
    headers[name] = value;
  }
  headers['x-oss-storage-class'] = object.headers['x-oss-storage-class'] ?? 'Standard';
  if (object.headers['x-oss-tagging'] !== undefined) {
    headers['x-oss-tagging-count'] = String(parseTagging(object.headers['x-oss-tagging']).length);
  }
  headers.etag = object.etag;
  headers['last-modified'] = httpDate(object.lastModifiedMs);
  headers['x-oss-object-type'] = object.objectType;
  headers['x-oss-hash-crc64ecma'] = object.crc64;
  if (object.contentMd5 !== undefined) headers['content-md5'] = object.contentMd5;
  headers['accept-ranges'] = 'bytes';
  return headers;
}

/** HEAD ?objectMeta answers with a reduced set. */
export function objectMetaResponseHeaders(object: StoredObject): Record<string, string> {
  return {
    etag: object.etag,
    'last-modified': httpDate(object.lastModifiedMs),
    'x-oss-hash-crc64ecma': object.crc64,
  };
}

/** Conditional headers are not supported on writes: OSS has no conditional PUT. */
const CONDITIONAL_HEADERS = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'];

export function refuseConditionalWrite(headers: IncomingHttpHeaders): void {
  const sent = CONDITIONAL_HEADERS.find((name) => headers[name] !== undefined);
  if (sent) throw ossErrors.notImplemented(`${sent} on a write`);
}

export function forbidsOverwrite(headers: IncomingHttpHeaders): boolean {
  return single(headers['x-oss-forbid-overwrite'])?.trim().toLowerCase() === 'true';
}

/** GET/HEAD conditions: 304 (not modified) or 412 (precondition failed) answers, or null to proceed. */
export function evaluateReadConditions(headers: IncomingHttpHeaders, object: StoredObject): 304 | 412 | null {
  const etagMatches = (list: string) =>
    list.split(',').map((tag) => tag.trim()).some((tag) => tag === '*' || tag === object.etag || `"${tag}"` === object.etag);
  const modifiedSecond = Math.floor(object.lastModifiedMs / 1000) * 1000;
  const ifMatch = single(headers['if-match']);
  if (ifMatch !== undefined && !etagMatches(ifMatch)) return 412;
  const ifUnmodifiedSince = single(headers['if-unmodified-since']);
  if (ifUnmodifiedSince !== undefined && modifiedSecond > Date.parse(ifUnmodifiedSince)) return 412;
  const ifNoneMatch = single(headers['if-none-match']);
  if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch)) return 304;
  const ifModifiedSince = single(headers['if-modified-since']);
  if (ifModifiedSince !== undefined && modifiedSecond <= Date.parse(ifModifiedSince)) return 304;
  return null;
}
