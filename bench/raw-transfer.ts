/**
 * The raw baseline: the same bytes moved with the least possible work. An HTTP GET on the signed log URL piped
 * straight into an HTTP PUT on OSS, signed by hand (OSS V1, as ali-oss signs): no SDK, no hashing, no length
 * guard, no manifest, no listing. What the archiver does on top of this is its overhead.
 *
 * A second variant sends the same PUT through ali-oss's putStream (with contentLength), to measure what the SDK
 * itself costs apart from everything the archiver adds.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Credentials } from '../lib/types';

export type RawClient = 'http' | 'ali-oss';

export interface RawOssTarget {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  bucket: string;
  region: string;
  credentials: Credentials;
}

export interface RawJob {
  url: string;
  key: string;
  size: number;
}

const CONTENT_TYPE = 'application/octet-stream';

// The same pooling the archiver's download client uses, and keep-alive on the PUT side as ali-oss has.
const downloadAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const uploadAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** Headers of a V1-signed PutObject; the emulator verifies them exactly as OSS would. */
export function signedPutHeaders(target: RawOssTarget, key: string, size: number, date = new Date()): Record<string, string> {
  const { accessKeyId, accessKeySecret, securityToken } = target.credentials;
  const dateText = date.toUTCString();
  const ossHeaders: Record<string, string> = { 'x-oss-date': dateText };
  if (securityToken) ossHeaders['x-oss-security-token'] = securityToken;
  const canonicalHeaders = Object.keys(ossHeaders)
    .sort()
    .map((name) => `${name}:${ossHeaders[name]}\n`)
    .join('');
  const stringToSign = `PUT\n\n${CONTENT_TYPE}\n${dateText}\n${canonicalHeaders}/${target.bucket}/${key}`;
  const signature = createHmac('sha1', accessKeySecret).update(stringToSign, 'utf8').digest('base64');
  return {
    ...ossHeaders,
    'content-type': CONTENT_TYPE,
    'content-length': String(size),
    authorization: `OSS ${accessKeyId}:${signature}`,
    // ali-oss against an IP endpoint addresses the bucket through the Host header; so do we.
    host: `${target.bucket}.${target.region}.aliyuncs.com`,
  };
}

function get(url: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: downloadAgent }, resolve);
    req.on('error', reject);
  });
}

async function readAll(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function download(url: string): Promise<http.IncomingMessage> {
  const res = await get(url);
  if (res.statusCode !== 200) {
    res.resume();
    throw new Error(`origin answered HTTP ${res.statusCode}`);
  }
  return res;
}

/** One file: GET piped into a hand-signed PUT; resolves when OSS has answered 200. */
export async function rawTransfer(target: RawOssTarget, job: RawJob): Promise<void> {
  const body = await download(job.url);
  const endpoint = new URL(target.endpoint);
  const path = `/${job.key.split('/').map(encodeURIComponent).join('/')}`;
  const upload = http.request({
    agent: uploadAgent,
    host: endpoint.hostname,
    port: endpoint.port,
    method: 'PUT',
    path,
    headers: signedPutHeaders(target, job.key, job.size),
  });
  const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
    upload.on('response', resolve);
    upload.on('error', reject);
  });
  await pipeline(body, upload);
  const res = await answered;
  const answer = await readAll(res);
  if (res.statusCode !== 200) throw new Error(`OSS answered HTTP ${res.statusCode}: ${answer.slice(0, 200)}`);
}

interface AliOssClient {
  putStream(name: string, stream: Readable, options: { contentLength: number }): Promise<unknown>;
}

/**
 * ali-oss from the project's node_modules, loaded at run time: bundled into the child, it would sit (unused) in
 * the memory of every archiver run measured with the same child.
 */
function aliOssClient(target: RawOssTarget, projectRoot: string): AliOssClient {
  const OSS = createRequire(path.join(projectRoot, 'package.json'))('ali-oss') as new (options: object) => AliOssClient;
  const { accessKeyId, accessKeySecret, securityToken } = target.credentials;
  return new OSS({
    accessKeyId,
    accessKeySecret,
    ...(securityToken ? { stsToken: securityToken, refreshSTSTokenInterval: 5 * 60_000 } : {}),
    bucket: target.bucket,
    endpoint: target.endpoint,
    region: target.region,
    secure: false,
    // A 2 GiB body in one request takes longer than ali-oss's default minute on a busy machine.
    timeout: 10 * 60_000,
  });
}

/** All jobs, `concurrency` at a time, as the archiver's pool runs files. */
export async function rawTransferAll(
  target: RawOssTarget,
  jobs: RawJob[],
  concurrency: number,
  client: RawClient = 'http',
  projectRoot = process.cwd(),
): Promise<void> {
  const oss = client === 'ali-oss' ? aliOssClient(target, projectRoot) : null;
  const transfer = oss
    ? async (job: RawJob) => void (await oss.putStream(job.key, await download(job.url), { contentLength: job.size }))
    : (job: RawJob) => rawTransfer(target, job);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      await transfer(job);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
}

export function closeRawAgents(): void {
  downloadAgent.destroy();
  uploadAgent.destroy();
}
