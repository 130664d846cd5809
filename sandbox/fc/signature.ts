/**
 * The two request signatures Function Compute checks, as the SDKs compute them:
 *  - FC 2.0 (API 2016-08-15): `Authorization: FC <AccessKeyId>:<base64 HMAC-SHA256>` over method, Content-MD5,
 *    Content-Type, Date, the canonical `x-fc-*` headers and the path (node_modules/@alicloud/fc2/lib/helper.js).
 *  - FC 3.0 (API 2023-03-30): ACS3-HMAC-SHA256 (the V3 signature of node_modules/@alicloud/openapi-core/dist/utils.js
 *    `getAuthorization`): a canonical request of method, URI, sorted query, the signed headers and the body's SHA-256.
 * The FC emulator verifies with these; tests use them to hand-build requests the SDKs cannot produce.
 * Sandbox-only: never imported by the function bundle.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { percentEncode } from '../rpc-signature';

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* FC 2.0                                                                                                         */
/* ------------------------------------------------------------------------------------------------------------ */

/**
 * The string the fc2 client signs. `path` is the API path as the client built it (`/2016-08-15/services/...`,
 * not percent-decoded twice); `headers` lower-cased, as Node delivers them. Only `/proxy/` paths sign the query,
 * which invocations never use.
 */
export function fc2StringToSign(method: string, path: string, headers: IncomingHttpHeaders): string {
  const canonicalHeaders = Object.keys(headers)
    .map((name) => name.toLowerCase().trim())
    .filter((name) => name.startsWith('x-fc-'))
    .sort()
    .map((name) => `${name}:${headerText(headers[name]) ?? ''}\n`)
    .join('');
  const contentMd5 = headerText(headers['content-md5']) ?? '';
  const contentType = headerText(headers['content-type']) ?? '';
  const date = headerText(headers.date) ?? '';
  return `${method}\n${contentMd5}\n${contentType}\n${date}\n${canonicalHeaders}${path}`;
}

export function fc2Signature(stringToSign: string, accessKeySecret: string): string {
  return createHmac('sha256', accessKeySecret).update(stringToSign, 'utf8').digest('base64');
}

export function fc2Authorization(accessKeyId: string, accessKeySecret: string, stringToSign: string): string {
  return `FC ${accessKeyId}:${fc2Signature(stringToSign, accessKeySecret)}`;
}

/** `FC <id>:<signature>` → its parts; null when the header has another form. */
export function parseFc2Authorization(value: string | undefined): { accessKeyId: string; signature: string } | null {
  const match = value === undefined ? null : /^FC ([^:\s]+):(\S+)$/.exec(value);
  return match ? { accessKeyId: match[1], signature: match[2] } : null;
}

export function fc2SignatureMatches(stringToSign: string, accessKeySecret: string, presented: string): boolean {
  return constantTimeEqual(fc2Signature(stringToSign, accessKeySecret), presented);
}

/** Base64 of the hex MD5 digest: what the fc2 client sends as Content-MD5 (not the base64 of the raw digest). */
export function fc2ContentMd5(body: Buffer): string {
  return Buffer.from(createHash('md5').update(body).digest('hex'), 'utf8').toString('base64');
}

/* ------------------------------------------------------------------------------------------------------------ */
/* FC 3.0: ACS3-HMAC-SHA256                                                                                       */
/* ------------------------------------------------------------------------------------------------------------ */

export const ACS3_ALGORITHM = 'ACS3-HMAC-SHA256';

export interface Acs3Authorization {
  accessKeyId: string;
  signedHeaders: string[];
  signature: string;
}

/** `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=a;b,Signature=<hex>` → its parts; null for any other form. */
export function parseAcs3Authorization(value: string | undefined): Acs3Authorization | null {
  const match = value === undefined ? null : /^ACS3-HMAC-SHA256 Credential=([^,\s]+),SignedHeaders=([^,\s]+),Signature=([0-9a-f]{64})$/.exec(value);
  return match ? { accessKeyId: match[1], signedHeaders: match[2].split(';'), signature: match[3] } : null;
}

/** RFC 3986 encoding of a query value, as openapi-core's `encode`: the same as the RPC signature's. */
const acs3Encode = percentEncode;

export interface Acs3Request {
  method: string;
  /** The path exactly as sent (still percent-encoded). */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  signedHeaders: readonly string[];
  /** Hex SHA-256 of the body, as the client declared it in x-acs-content-sha256. */
  payloadSha256: string;
}

export function acs3CanonicalRequest(req: Acs3Request): string {
  const canonicalUri = req.path.replace(/\+/g, '%20').replace(/\*/g, '%2A').replace(/%7E/g, '~');
  const canonicalQuery = [...new Set(req.query.keys())]
    .sort()
    .map((key) => `${key}=${acs3Encode(req.query.get(key) ?? '')}`)
    .join('&');
  const canonicalHeaders = req.signedHeaders.map((name) => `${name}:${(headerText(req.headers[name]) ?? '').trim()}\n`).join('');
  return [req.method, canonicalUri, canonicalQuery, canonicalHeaders, req.signedHeaders.join(';'), req.payloadSha256].join('\n');
}

export function acs3Signature(req: Acs3Request, accessKeySecret: string): string {
  const hashedCanonicalRequest = createHash('sha256').update(acs3CanonicalRequest(req)).digest('hex');
  return createHmac('sha256', accessKeySecret).update(`${ACS3_ALGORITHM}\n${hashedCanonicalRequest}`).digest('hex');
}

export function acs3SignatureMatches(req: Acs3Request, accessKeySecret: string, presented: string): boolean {
  return constantTimeEqual(acs3Signature(req, accessKeySecret), presented);
}

export function sha256Hex(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}
