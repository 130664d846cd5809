/**
 * Alibaba Cloud RPC signature, version 1.0 (HMAC-SHA1), exactly as @alicloud/pop-core computes it
 * (node_modules/@alicloud/pop-core/lib/rpc.js). The Live emulator verifies requests with it, and tests use it to
 * hand-craft requests pop-core cannot produce (a reused nonce, an old Timestamp).
 * Sandbox-only: never imported by the function bundle.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The parameter that carries the signature; it is the one parameter left out of the string to sign. */
export const SIGNATURE_PARAM = 'Signature';

/**
 * encodeURIComponent leaves `! ' ( ) *` alone, but the service's canonical form (RFC 3986) escapes them, so a value
 * containing one of them would otherwise sign differently on each side.
 */
export function percentEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/!/g, '%21')
    .replace(/'/g, '%27')
    .replace(/\(/g, '%28')
    .replace(/\)/g, '%29')
    .replace(/\*/g, '%2A');
}

/** `k1=v1&k2=v2` over every parameter except Signature, keys sorted by code unit (JS default sort, as pop-core). */
export function canonicalizeRpcParams(params: Readonly<Record<string, string>>): string {
  return Object.keys(params)
    .filter((key) => key !== SIGNATURE_PARAM)
    .sort()
    .map((key) => `${percentEncode(key)}=${percentEncode(params[key] ?? '')}`)
    .join('&');
}

/** `METHOD&%2F&` + the canonical query encoded once more. */
export function rpcStringToSign(method: string, params: Readonly<Record<string, string>>): string {
  return `${method.toUpperCase()}&${percentEncode('/')}&${percentEncode(canonicalizeRpcParams(params))}`;
}

/** Base64 HMAC-SHA1 of the string to sign, keyed with `secret + '&'` (the empty second half is the token secret). */
export function signRpcParams(
  method: string,
  params: Readonly<Record<string, string>>,
  accessKeySecret: string,
): string {
  return createHmac('sha1', `${accessKeySecret}&`).update(rpcStringToSign(method, params)).digest('base64');
}

/** Constant-time comparison, so response timing reveals nothing about how much of a forged signature was right. */
export function rpcSignatureMatches(
  method: string,
  params: Readonly<Record<string, string>>,
  accessKeySecret: string,
  presentedSignature: string,
): boolean {
  const expected = Buffer.from(signRpcParams(method, params, accessKeySecret));
  const presented = Buffer.from(presentedSignature);
  return expected.length === presented.length && timingSafeEqual(expected, presented);
}

/**
 * The full signed query string (or form body) for `params`, with Signature appended last, as pop-core sends it.
 * For hand-built requests in tests; the result carries a signature, so never log it.
 */
export function signedRpcQuery(
  method: string,
  params: Readonly<Record<string, string>>,
  accessKeySecret: string,
): string {
  const signature = signRpcParams(method, params, accessKeySecret);
  return `${canonicalizeRpcParams(params)}&${SIGNATURE_PARAM}=${percentEncode(signature)}`;
}
