/** PutObject, GetObject, HeadObject, GetObjectMeta, DeleteObject, DeleteMultipleObjects, GetObjectTagging. */
import { checkContentMd5, receiveSmallBody } from './body';
import { receiveUpload, requireValidKey, type OssAnswer, type OssRequestContext } from './context';
import { OssError, ossErrors } from './errors';
import {
  evaluateReadConditions,
  forbidsOverwrite,
  objectHeadersFromRequest,
  objectMetaResponseHeaders,
  objectResponseHeaders,
  parseTagging,
  refuseConditionalWrite,
} from './object-headers';
import { partEtag } from './multipart';
import { decideRange } from './range';
import type { StoredObject } from './storage';
import { parseDeleteMultipleObjects, xmlDocument, type XmlNode } from './xml';

const MAX_XML_BODY_BYTES = 2 * 1024 * 1024;

function existingObject(ctx: OssRequestContext): StoredObject {
  const object = ctx.storage.getObject(ctx.bucket, ctx.key);
  if (!object) throw ossErrors.noSuchKey(ctx.key);
  return object;
}

export async function putObject(ctx: OssRequestContext): Promise<OssAnswer> {
  requireValidKey(ctx.key);
  refuseConditionalWrite(ctx.headers);
  const headers = objectHeadersFromRequest(ctx.headers);
  const forbidOverwrite = forbidsOverwrite(ctx.headers);
  // Refuse before taking the body when we already know; the commit checks again, atomically.
  if (forbidOverwrite && ctx.storage.getObject(ctx.bucket, ctx.key)) throw ossErrors.fileAlreadyExists(ctx.key);

  const { tempPath, digest } = await receiveUpload(ctx);
  const contentMd5 = digest.md5.toString('base64');
  const stored = await ctx.storage.commitObject(
    {
      bucket: ctx.bucket,
      key: ctx.key,
      size: digest.size,
      etag: partEtag(digest.md5),
      crc64: digest.crc64.toString(),
      contentMd5,
      objectType: 'Normal',
      headers,
    },
    tempPath,
    forbidOverwrite,
  );
  return {
    status: 200,
    headers: { etag: stored.etag, 'x-oss-hash-crc64ecma': stored.crc64, 'content-md5': contentMd5 },
  };
}

const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};

function conditionalAnswer(ctx: OssRequestContext, object: StoredObject): OssAnswer | null {
  const outcome = evaluateReadConditions(ctx.headers, object);
  if (outcome === 412) throw ossErrors.preconditionFailed();
  if (outcome === 304) return { status: 304, headers: { etag: object.etag, 'last-modified': new Date(object.lastModifiedMs).toUTCString() } };
  return null;
}

export async function getObject(ctx: OssRequestContext): Promise<OssAnswer> {
  const object = existingObject(ctx);
  const notModified = conditionalAnswer(ctx, object);
  if (notModified) return notModified;

  const headers = objectResponseHeaders(object);
  for (const [param, header] of Object.entries(RESPONSE_OVERRIDES)) {
    const override = ctx.query.get(param);
    if (override !== null) headers[header] = override;
  }
  const standardRange = String(ctx.headers['x-oss-range-behavior'] ?? '').toLowerCase() === 'standard';
  const range = decideRange(ctx.headers.range, object.size, standardRange);
  if (range.kind === 'unsatisfiable') {
    throw new OssError(416, 'InvalidRange', 'The requested range cannot be satisfied.', { ActualObjectSize: String(object.size) });
  }
  // Opened now, in the same turn as the lookup: an overwrite that follows unlinks the files but cannot cut this read.
  if (range.kind === 'partial') {
    headers['content-range'] = `bytes ${range.start}-${range.end}/${object.size}`;
    headers['content-length'] = String(range.end - range.start + 1);
    return { status: 206, headers, body: ctx.storage.openObject(object, range.start, range.end) };
  }
  headers['content-length'] = String(object.size);
  return { status: 200, headers, body: ctx.storage.openObject(object) };
}

export async function headObject(ctx: OssRequestContext): Promise<OssAnswer> {
  const object = existingObject(ctx);
  const notModified = conditionalAnswer(ctx, object);
  if (notModified) return notModified;
  return { status: 200, headers: { ...objectResponseHeaders(object), 'content-length': String(object.size) } };
}

export async function getObjectMeta(ctx: OssRequestContext): Promise<OssAnswer> {
  const object = existingObject(ctx);
  return { status: 200, headers: { ...objectMetaResponseHeaders(object), 'content-length': String(object.size) } };
}

export async function deleteObject(ctx: OssRequestContext): Promise<OssAnswer> {
  requireValidKey(ctx.key);
  // Deleting a key that does not exist succeeds, as on OSS.
  await ctx.storage.deleteObject(ctx.bucket, ctx.key);
  return { status: 204 };
}

export async function deleteMultipleObjects(ctx: OssRequestContext): Promise<OssAnswer> {
  const { body, digest } = await receiveSmallBody(ctx.req, MAX_XML_BODY_BYTES, ctx.bodyTaps);
  checkContentMd5(ctx.headers['content-md5'], digest);
  const request = parseDeleteMultipleObjects(body.toString('utf8'));
  const deleted: XmlNode[] = [];
  for (const key of request.keys) {
    await ctx.storage.deleteObject(ctx.bucket, key);
    if (!request.quiet) deleted.push(['Deleted', [['Key', key]]]);
  }
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: xmlDocument(['DeleteResult', deleted]) };
}

export async function getObjectTagging(ctx: OssRequestContext): Promise<OssAnswer> {
  const object = existingObject(ctx);
  const tags = object.headers['x-oss-tagging'] === undefined ? [] : parseTagging(object.headers['x-oss-tagging']);
  const tagNodes = tags.map(([name, value]): XmlNode => ['Tag', [['Key', name], ['Value', value]]]);
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: xmlDocument(['Tagging', [['TagSet', tagNodes]]]),
  };
}
