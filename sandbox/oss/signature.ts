/**
 * OSS signature V1 verification, as ali-oss 6.x signs (lib/common/signUtils.js buildCanonicalString):
 *
 *   StringToSign = VERB \n Content-MD5 \n Content-Type \n Date \n CanonicalizedOSSHeaders CanonicalizedResource
 *
 * ali-oss sends no Date header at all: it sets `x-oss-date` and puts that value on the Date line (and, being an
 * x-oss-* header, it is signed a second time among the canonical headers). Signed URLs put `Expires` there instead.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Credentials } from '../../lib/types';
import { ossErrors } from './errors';

/** A key pair the emulator accepts. STS keys (id starting `STS.`) must come with their security token. */
export interface OssAccount extends Credentials {
  /** After this instant the STS token is refused with SecurityTokenExpired. */
  expiresAtMs?: number;
}

/**
 * Query parameters that belong to the signed resource (oss2's `_subresource_key_set`, the reference list; the help
 * page's list is incomplete). Listing parameters such as prefix, marker or list-type are NOT signed, but
 * continuation-token is: forgetting it breaks only the second page of a ListObjectsV2.
 */
export const SIGNED_SUB_RESOURCES: ReadonlySet<string> = new Set([
  'acl', 'append', 'asyncFetch', 'bucketInfo', 'callback', 'callback-var', 'cloudboxes', 'comp', 'continuation-token',
  'cors', 'delete', 'encryption', 'endTime', 'group', 'inventory', 'inventoryId', 'lifecycle', 'link', 'live',
  'location', 'logging', 'objectInfo', 'objectMeta', 'partNumber', 'policy', 'position', 'qos', 'qosInfo', 'referer',
  'regionList', 'requestPayment', 'resourceGroup', 'response-cache-control', 'response-content-disposition',
  'response-content-encoding', 'response-content-language', 'response-content-type', 'response-expires', 'restore',
  'security-token', 'sequential', 'startTime', 'stat', 'status', 'symlink', 'tagging', 'uploadId', 'uploads',
  'versionId', 'versioning', 'versions', 'vod', 'website', 'worm', 'wormExtend', 'wormId', 'x-oss-process',
  'x-oss-request-payer', 'x-oss-traffic-limit',
]);

export interface SignableRequest {
  method: string;
  headers: IncomingHttpHeaders;
  bucket: string | null;
  /** Decoded object key; '' for bucket-level requests. */
  key: string;
  query: URLSearchParams;
}

export function canonicalizedResource(bucket: string | null, key: string, query: URLSearchParams): string {
  const path = bucket ? `/${bucket}/${key}` : '/';
  const names = [...new Set([...query.keys()].filter((name) => SIGNED_SUB_RESOURCES.has(name)))].sort();
  if (names.length === 0) return path;
  const parts = names.map((name) => {
    const value = query.get(name) ?? '';
    return value === '' ? name : `${name}=${value}`;
  });
  return `${path}?${parts.join('&')}`;
}

function headerText(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  if (value === undefined) return '';
  return (Array.isArray(value) ? value.join(',') : value).trim();
}

export function canonicalizedOssHeaders(headers: IncomingHttpHeaders): string {
  return Object.keys(headers)
    .map((name) => name.toLowerCase())
    .filter((name) => name.startsWith('x-oss-'))
    .sort()
    .map((name) => `${name}:${headerText(headers, name)}\n`)
    .join('');
}

export function stringToSign(request: SignableRequest, dateLine: string): string {
  return (
    `${request.method.toUpperCase()}\n` +
    `${headerText(request.headers, 'content-md5')}\n` +
    `${headerText(request.headers, 'content-type')}\n` +
    `${dateLine}\n` +
    canonicalizedOssHeaders(request.headers) +
    canonicalizedResource(request.bucket, request.key, request.query)
  );
}

export function computeSignature(accessKeySecret: string, canonical: string): string {
  return createHmac('sha1', accessKeySecret).update(Buffer.from(canonical, 'utf8')).digest('base64');
}

function sameSecret(expected: string, provided: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(provided);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface VerifyOptions {
  accounts: readonly OssAccount[];
  nowMs: number;
  /** OSS refuses requests whose date is further than 15 minutes from its clock. */
  maxClockSkewMs: number;
}

interface PresentedCredentials {
  accessKeyId: string;
  signature: string;
  securityToken: string;
  dateLine: string;
  /** Header auth carries a request date; a signed URL carries its expiry instead. */
  requestTimeMs?: number;
  expiresAtMs?: number;
}

function presentedCredentials(request: SignableRequest): PresentedCredentials {
  const authorization = headerText(request.headers, 'authorization');
  if (authorization) {
    if (authorization.startsWith('OSS4-HMAC-SHA256')) throw ossErrors.notImplemented('signature version 4');
    const match = /^OSS ([^:\s]+):(\S+)$/.exec(authorization);
    if (!match) throw ossErrors.invalidArgument('Authorization header is invalid.');
    const dateLine = headerText(request.headers, 'x-oss-date') || headerText(request.headers, 'date');
    if (!dateLine) throw ossErrors.accessDenied('The request must carry a Date or x-oss-date header.');
    const requestTimeMs = Date.parse(dateLine);
    if (Number.isNaN(requestTimeMs)) throw ossErrors.accessDenied('The request date is not a valid HTTP date.');
    return {
      accessKeyId: match[1],
      signature: match[2],
      securityToken: headerText(request.headers, 'x-oss-security-token'),
      dateLine,
      requestTimeMs,
    };
  }
  const accessKeyId = request.query.get('OSSAccessKeyId');
  const signature = request.query.get('Signature');
  const expires = request.query.get('Expires');
  if (accessKeyId && signature && expires) {
    const expiresAtSec = Number(expires);
    if (!Number.isSafeInteger(expiresAtSec)) throw ossErrors.accessDenied('Expires is not a valid UNIX time.');
    return {
      accessKeyId,
      signature,
      securityToken: request.query.get('security-token') ?? '',
      dateLine: expires,
      expiresAtMs: expiresAtSec * 1000,
    };
  }
  throw ossErrors.accessDenied('You have no right to access this object because of bucket acl.');
}

/** The account whose key signed the request, or an OssError (403) saying why not. */
export function verifyRequestSignature(request: SignableRequest, options: VerifyOptions): OssAccount {
  const presented = presentedCredentials(request);
  const account = options.accounts.find((candidate) => candidate.accessKeyId === presented.accessKeyId);
  if (!account) throw ossErrors.invalidAccessKeyId();

  if (account.accessKeyId.startsWith('STS.')) {
    if (!presented.securityToken || !sameSecret(account.securityToken ?? '', presented.securityToken)) {
      throw ossErrors.invalidSecurityToken();
    }
    if (account.expiresAtMs !== undefined && options.nowMs >= account.expiresAtMs) {
      throw ossErrors.securityTokenExpired();
    }
  }

  const expected = computeSignature(account.accessKeySecret, stringToSign(request, presented.dateLine));
  if (!sameSecret(expected, presented.signature)) throw ossErrors.signatureDoesNotMatch();

  if (presented.requestTimeMs !== undefined && Math.abs(options.nowMs - presented.requestTimeMs) > options.maxClockSkewMs) {
    throw ossErrors.requestTimeTooSkewed();
  }
  if (presented.expiresAtMs !== undefined && options.nowMs > presented.expiresAtMs) {
    throw ossErrors.accessDenied('Request has expired.');
  }
  return account;
}
