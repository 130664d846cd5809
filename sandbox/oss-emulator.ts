/**
 * A loopback emulator of Alibaba Cloud OSS for the real `ali-oss` 6.x client: V1 signatures (and STS tokens)
 * verified, virtual-host and path-style addressing, simple and chunked PUT, GET with Range, HEAD, DELETE, listing
 * v1/v2, multipart uploads, create-only writes (x-oss-forbid-overwrite), ETag and CRC-64 as OSS computes them,
 * XML errors, bodies on disk, and faults on demand. Sandbox and tests only: never imported by the function bundle.
 *
 * Pieces live in sandbox/oss/: addressing, operations (classification), signature, storage, body, multipart,
 * listing, key-order, range, object-headers, *-handlers, context, faults, xml, errors, server.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { Crc64 } from '../lib/crc64';
import type { Credentials } from '../lib/types';
import { SANDBOX_AK, SANDBOX_STS } from './contracts';
import { FaultInjector, type RequestMatcher } from './oss/faults';
import { partEtag } from './oss/multipart';
import { objectHeadersFromRequest, objectResponseHeaders } from './oss/object-headers';
import { emptyStats, handleOssRequest, type OssStats } from './oss/server';
import type { OssAccount } from './oss/signature';
import { OssStorage } from './oss/storage';
import { listenOnLoopback } from './listen';

export type { OssAccount } from './oss/signature';
export type { RequestInfo, RequestMatcher } from './oss/faults';
export type { OssStats } from './oss/server';
export { OssOperation } from './oss/operations';

export interface OssEmulatorOptions {
  /** Keys accepted. Default: SANDBOX_STS (with its token) and SANDBOX_AK from sandbox/contracts.ts. */
  accounts?: OssAccount[];
  /** Buckets that exist; any other bucket is NoSuchBucket. */
  buckets: string[];
  /**
   * Where bodies (and their metadata sidecars) are stored. Default: a fresh temp dir, removed on close. A given
   * dir is kept on close, and an emulator started on it again serves the objects found there.
   */
  dataDir?: string;
  /** Region name clients are given; ali-oss derives the Host header from it for an IP endpoint. */
  region?: string;
  /** Requests dated further than this from the emulator's clock are RequestTimeTooSkewed. Default 15 min. */
  maxClockSkewMs?: number;
}

export interface OssObjectInfo {
  size: number;
  /** Quoted, as the ETag header. */
  etag: string;
  crc64: string;
  objectType: 'Normal' | 'Multipart';
  lastModifiedMs: number;
  /** Exactly the headers a HeadObject answers with (lower-case), x-oss-meta-* included. */
  headers: Record<string, string>;
}

export interface PendingUpload {
  bucket: string;
  key: string;
  uploadId: string;
  partNumbers: number[];
}

export interface OssFaults {
  /** The next `count` matching requests get 500 InternalError or 503 ServiceUnavailable (the body is read and discarded). */
  failNext(count: number, status: 500 | 503, match?: RequestMatcher): void;
  /**
   * The next `count` matching requests lose their connection after `afterBytes` of request body (default 64 KiB;
   * at the end of a shorter body; at once without a body). Nothing is stored; ali-oss sees status -1.
   */
  resetNext(count: number, match?: RequestMatcher, afterBytes?: number): void;
  /** Every answer is delayed by this much (0 to stop). */
  setDelayMs(delayMs: number): void;
  /** Clears pending faults and the delay. */
  reset(): void;
}

export interface OssClientOptionsRequest {
  bucket: string;
  /** Default SANDBOX_STS. */
  credentials?: Credentials;
  /**
   * virtual-host (default): IP endpoint, ali-oss sends `Host: <bucket>.<region>.aliyuncs.com` and `/<key>`.
   * path: `localhost` endpoint with `sldEnable`, ali-oss sends `/<bucket>/<key>`.
   */
  style?: 'virtual-host' | 'path';
}

/** Options for `new OSS(...)` (ali-oss), plain data so this module does not import the SDK. */
export interface OssClientOptions {
  accessKeyId: string;
  accessKeySecret: string;
  stsToken?: string;
  bucket: string;
  endpoint: string;
  region: string;
  secure: false;
  /** Not in @types/ali-oss, but read by ali-oss: path-style addressing. */
  sldEnable?: boolean;
}

export interface OssEmulator {
  /** `http://127.0.0.1:PORT` (virtual-host style through ali-oss). */
  endpoint: string;
  /** `http://localhost:PORT`, for path-style clients (`sldEnable: true`). */
  pathStyleEndpoint: string;
  region: string;
  dataDir: string;
  clientOptions(request: OssClientOptionsRequest): OssClientOptions;
  // Direct access, signature-free, for tests and the sandbox.
  head(bucket: string, key: string): OssObjectInfo | null;
  readObject(bucket: string, key: string): Promise<Buffer>;
  /** The object's bytes as a stream, for comparisons of large objects without buffering them; null when absent. */
  objectStream(bucket: string, key: string): Readable | null;
  /**
   * The files holding the object's bytes, in order: one for a PutObject, one per part for a completed multipart
   * upload (kept as uploaded, not concatenated). New files on every overwrite; null when absent.
   */
  objectFiles(bucket: string, key: string): string[] | null;
  /**
   * The object's single file on disk; null when absent. A Multipart object has one file per part: asking for its
   * single file throws (use objectStream or objectFiles).
   */
  objectFilePath(bucket: string, key: string): string | null;
  listKeys(bucket: string, prefix?: string): string[];
  /** Stores an object directly (pre-existing or deliberately wrong content), with optional upload headers. */
  plantObject(bucket: string, key: string, body: Buffer, headers?: Record<string, string>): Promise<void>;
  deleteObject(bucket: string, key: string): Promise<void>;
  /** Multipart uploads initiated and neither completed nor aborted. */
  pendingUploads(bucket?: string): PendingUpload[];
  faults: OssFaults;
  /** Live counters; `resetStats` zeroes them. */
  stats: OssStats;
  resetStats(): void;
  close(): Promise<void>;
}

const DEFAULT_REGION = 'oss-cn-hangzhou';
const DEFAULT_MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** Longer than the client agent's idle-socket timeout, so the client always closes first (no reuse-after-close resets). */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

export async function startOssEmulator(options: OssEmulatorOptions): Promise<OssEmulator> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'oss-emulator-')));
  const region = options.region ?? DEFAULT_REGION;
  const storage = await OssStorage.open(dataDir, options.buckets);
  const faults = new FaultInjector();
  const stats = emptyStats();
  const inFlight = new Set<Promise<void>>();
  const deps = {
    storage,
    faults,
    stats,
    accounts: options.accounts ?? [SANDBOX_STS, SANDBOX_AK],
    region,
    maxClockSkewMs: options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS,
  };

  const server: Server = createServer((req, res) => {
    const handling = handleOssRequest(req, res, deps).catch(() => {
      res.destroy();
    });
    inFlight.add(handling);
    void handling.finally(() => inFlight.delete(handling));
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000;
  const port = await listenOnLoopback(server);

  const emulator: OssEmulator = {
    endpoint: `http://127.0.0.1:${port}`,
    pathStyleEndpoint: `http://localhost:${port}`,
    region,
    dataDir,

    clientOptions({ bucket, credentials = SANDBOX_STS, style = 'virtual-host' }) {
      const common = {
        accessKeyId: credentials.accessKeyId,
        accessKeySecret: credentials.accessKeySecret,
        ...(credentials.securityToken ? { stsToken: credentials.securityToken } : {}),
        bucket,
        region,
        secure: false as const,
      };
      return style === 'path'
        ? { ...common, endpoint: emulator.pathStyleEndpoint, sldEnable: true }
        : { ...common, endpoint: emulator.endpoint };
    },

    head(bucket, key) {
      const object = storage.getObject(bucket, key);
      if (!object) return null;
      return {
        size: object.size,
        etag: object.etag,
        crc64: object.crc64,
        objectType: object.objectType,
        lastModifiedMs: object.lastModifiedMs,
        headers: { ...objectResponseHeaders(object), 'content-length': String(object.size) },
      };
    },

    async readObject(bucket, key) {
      const object = storage.getObject(bucket, key);
      if (!object) throw new Error(`oss-emulator: no object ${bucket}/${key}`);
      return buffer(storage.openObject(object));
    },

    objectStream(bucket, key) {
      const object = storage.getObject(bucket, key);
      return object ? storage.openObject(object) : null;
    },

    objectFiles(bucket, key) {
      return storage.getObject(bucket, key)?.segments.map((segment) => segment.filePath) ?? null;
    },

    objectFilePath(bucket, key) {
      const object = storage.getObject(bucket, key);
      if (!object) return null;
      if (object.segments.length !== 1 || object.objectType !== 'Normal') {
        throw new Error(`oss-emulator: ${bucket}/${key} is stored as ${object.segments.length} part files; use objectStream or objectFiles`);
      }
      return object.segments[0].filePath;
    },

    listKeys(bucket, prefix = '') {
      return storage.sortedKeys(bucket).filter((key) => key.startsWith(prefix));
    },

    async plantObject(bucket, key, body, headers = {}) {
      const tempPath = storage.newTempPath();
      await writeFile(tempPath, body);
      const md5 = createHash('md5').update(body).digest();
      await storage.commitObject(
        {
          bucket,
          key,
          size: body.length,
          etag: partEtag(md5),
          crc64: new Crc64().update(body).digest(),
          contentMd5: md5.toString('base64'),
          objectType: 'Normal',
          headers: objectHeadersFromRequest(lowerCaseKeys(headers)),
        },
        tempPath,
        false,
      );
    },

    async deleteObject(bucket, key) {
      await storage.deleteObject(bucket, key);
    },

    pendingUploads(bucket) {
      return storage.listUploads(bucket).map((upload) => ({
        bucket: upload.bucket,
        key: upload.key,
        uploadId: upload.uploadId,
        partNumbers: [...upload.parts.keys()].sort((a, b) => a - b),
      }));
    },

    faults: {
      failNext: (count, status, match) => faults.failNext(count, status, match),
      resetNext: (count, match, afterBytes) => faults.resetNext(count, match, afterBytes),
      setDelayMs: (delayMs) => faults.setDelayMs(delayMs),
      reset: () => faults.reset(),
    },

    stats,

    resetStats() {
      Object.assign(stats, emptyStats());
    },

    async close() {
      faults.reset();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await Promise.allSettled([...inFlight]);
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return emulator;
}
