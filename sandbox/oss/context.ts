/** What an operation handler receives and returns; the server turns the answer into an HTTP response. */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { rm } from 'node:fs/promises';
import { checkContentMd5, receiveBodyToFile, type BodyDigest, type BodyTaps } from './body';
import { ossErrors } from './errors';
import type { OssStorage } from './storage';

export interface OssRequestContext {
  req: IncomingMessage;
  headers: IncomingHttpHeaders;
  bucket: string;
  /** Decoded key; '' for bucket-level operations. */
  key: string;
  query: URLSearchParams;
  storage: OssStorage;
  bodyTaps: BodyTaps;
  region: string;
}

export interface OssAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer | Readable;
}

/** OSS: a simple PUT or one part at most 5 GB. */
export const MAX_SINGLE_UPLOAD_BYTES = 5 * 1024 ** 3;
const MAX_KEY_BYTES = 1023;

export function requireValidKey(key: string): void {
  const bytes = Buffer.byteLength(key);
  if (bytes < 1 || bytes > MAX_KEY_BYTES) throw ossErrors.invalidObjectName();
}

/** The request body in a temp file, its length announced or chunked, and Content-MD5 checked when sent. */
export async function receiveUpload(ctx: OssRequestContext): Promise<{ tempPath: string; digest: BodyDigest }> {
  const declared = ctx.headers['content-length'];
  const chunked = (ctx.headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked');
  if (declared === undefined && !chunked) throw ossErrors.missingContentLength();
  if (declared !== undefined && Number(declared) > MAX_SINGLE_UPLOAD_BYTES) throw ossErrors.entityTooLarge();
  const tempPath = ctx.storage.newTempPath();
  const digest = await receiveBodyToFile(ctx.req, tempPath, ctx.bodyTaps);
  try {
    if (digest.size > MAX_SINGLE_UPLOAD_BYTES) throw ossErrors.entityTooLarge();
    checkContentMd5(ctx.headers['content-md5'], digest);
  } catch (error) {
    await rm(tempPath, { force: true });
    throw error;
  }
  return { tempPath, digest };
}
