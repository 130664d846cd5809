/** ListObjects (v1, marker) and ListObjectsV2 (list-type=2, continuation token). */
import type { OssAnswer, OssRequestContext } from './context';
import { ossErrors } from './errors';
import { listPage, type ListPage } from './listing';
import type { StoredObject } from './storage';
import { xmlDocument, type XmlNode } from './xml';

const DEFAULT_MAX_KEYS = 100;
const LIMIT_MAX_KEYS = 1000;
/** The emulator has one owner for everything. */
export const OWNER_ID = '1000000000000000';

function maxKeysOf(query: URLSearchParams): number {
  const raw = query.get('max-keys');
  if (raw === null || raw === '') return DEFAULT_MAX_KEYS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > LIMIT_MAX_KEYS) {
    throw ossErrors.invalidArgument(`max-keys must be an integer between 1 and ${LIMIT_MAX_KEYS}.`);
  }
  return value;
}

/** encoding-type=url: names are percent-encoded in the answer, so any byte survives the XML. */
function nameEncoder(query: URLSearchParams): (name: string) => string {
  const encoding = query.get('encoding-type');
  if (encoding === null || encoding === '') return (name) => name;
  if (encoding !== 'url') throw ossErrors.invalidArgument('encoding-type must be url.');
  return (name) => encodeURIComponent(name);
}

function contentsNode(object: StoredObject, encode: (name: string) => string, withOwner: boolean): XmlNode {
  const children: XmlNode[] = [
    ['Key', encode(object.key)],
    ['LastModified', new Date(object.lastModifiedMs).toISOString()],
    ['ETag', object.etag],
    ['Type', object.objectType],
    ['Size', object.size],
    ['StorageClass', object.headers['x-oss-storage-class'] ?? 'Standard'],
  ];
  if (withOwner) children.push(['Owner', [['ID', OWNER_ID], ['DisplayName', OWNER_ID]]]);
  return ['Contents', children];
}

function entryNodes(ctx: OssRequestContext, page: ListPage, encode: (name: string) => string, withOwner: boolean): XmlNode[] {
  const contents = page.keys.flatMap((key) => {
    const object = ctx.storage.getObject(ctx.bucket, key);
    return object ? [contentsNode(object, encode, withOwner)] : [];
  });
  const prefixes = page.commonPrefixes.map((prefix): XmlNode => ['CommonPrefixes', [['Prefix', encode(prefix)]]]);
  return [...contents, ...prefixes];
}

function xmlAnswer(root: XmlNode): OssAnswer {
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: xmlDocument(root) };
}

export async function listObjects(ctx: OssRequestContext): Promise<OssAnswer> {
  const { query } = ctx;
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const marker = query.get('marker') ?? '';
  const maxKeys = maxKeysOf(query);
  const encode = nameEncoder(query);
  const page = listPage({ sortedKeys: ctx.storage.sortedKeys(ctx.bucket), prefix, delimiter, after: marker, maxKeys });

  const children: XmlNode[] = [
    ['Name', ctx.bucket],
    ['Prefix', encode(prefix)],
    ['Marker', encode(marker)],
    ['MaxKeys', maxKeys],
    ['Delimiter', encode(delimiter)],
    ['IsTruncated', page.isTruncated],
  ];
  if (page.nextAfter !== null) children.push(['NextMarker', encode(page.nextAfter)]);
  if (query.get('encoding-type') === 'url') children.push(['EncodingType', 'url']);
  // ali-oss's list() reads Owner.ID of every entry unconditionally: v1 always carries the owner.
  children.push(...entryNodes(ctx, page, encode, true));
  return xmlAnswer(['ListBucketResult', children]);
}

function encodeToken(after: string): string {
  return Buffer.from(after, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  const after = Buffer.from(token, 'base64url').toString('utf8');
  if (token === '' || encodeToken(after) !== token) throw ossErrors.invalidArgument('The continuation token provided is incorrect.');
  return after;
}

export async function listObjectsV2(ctx: OssRequestContext): Promise<OssAnswer> {
  const { query } = ctx;
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const startAfter = query.get('start-after') ?? '';
  const continuationToken = query.get('continuation-token');
  const maxKeys = maxKeysOf(query);
  const encode = nameEncoder(query);
  const fetchOwner = query.get('fetch-owner') === 'true';
  // A continuation token, when given, supersedes start-after.
  const after = continuationToken !== null ? decodeToken(continuationToken) : startAfter;
  const page = listPage({ sortedKeys: ctx.storage.sortedKeys(ctx.bucket), prefix, delimiter, after, maxKeys });

  const children: XmlNode[] = [['Name', ctx.bucket], ['Prefix', encode(prefix)]];
  if (startAfter !== '') children.push(['StartAfter', encode(startAfter)]);
  if (continuationToken !== null) children.push(['ContinuationToken', continuationToken]);
  children.push(['MaxKeys', maxKeys], ['Delimiter', encode(delimiter)], ['IsTruncated', page.isTruncated]);
  if (page.nextAfter !== null) children.push(['NextContinuationToken', encodeToken(page.nextAfter)]);
  if (query.get('encoding-type') === 'url') children.push(['EncodingType', 'url']);
  children.push(['KeyCount', page.keys.length + page.commonPrefixes.length]);
  children.push(...entryNodes(ctx, page, encode, fetchOwner));
  return xmlAnswer(['ListBucketResult', children]);
}
