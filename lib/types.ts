/**
 * The shapes that pass between modules. Pure data only: no I/O, no SDK types, so every module can import it.
 * Times inside the program are epoch milliseconds named `...Ms`; times written to OSS or reports are ISO-8601 UTC.
 */
import type { Readable } from 'node:stream';

export interface Credentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
}

/** One log file as listed by DescribeLivePushProxyLog, after normalization (see lib/listing.ts). */
export interface LogFile {
  domain: string;
  /** Start of the UTC hour the file belongs to: floor(min(start, end)) to the hour. */
  hourStartMs: number;
  /** LogName trimmed of whitespace/newlines; guaranteed safe as the last segment of an object key. */
  name: string;
  /** Absolute download URL with scheme; carries a signed query string: never log it unredacted. */
  url: string;
  /** LogSize in bytes, a non-negative safe integer. */
  size: number;
  startMs: number;
  endMs: number;
  /** When the signed URL stops working (its `Expires` query parameter), if present. */
  urlExpiresMs?: number;
}

/** An API entry that could not be used, with the reason (no secrets in it). */
export interface RejectedEntry {
  domain: string;
  name: string;
  reason: string;
}

export const FileStatus = {
  Archived: 'archived',
  Failed: 'failed',
  /** The archive key holds different bytes than the source: left untouched, needs an operator. */
  Conflict: 'conflict',
} as const;
export type FileStatus = (typeof FileStatus)[keyof typeof FileStatus];

export interface ManifestEntry {
  name: string;
  key: string;
  size: number;
  /** CRC-64/XZ in decimal, as OSS's x-oss-hash-crc64ecma. Present when archived. */
  crc64?: string;
  sourceStart: string;
  sourceEnd: string;
  status: FileStatus;
  attempts: number;
  /** Redacted. */
  lastError?: string;
  archivedAt?: string;
  updatedAt: string;
}

export interface ManifestRun {
  runId: string;
  at: string;
  archived: number;
  failed: number;
}

export interface Manifest {
  schemaVersion: 1;
  domain: string;
  /** ISO hour start, e.g. 2026-11-27T09:00:00Z */
  hour: string;
  files: Record<string, ManifestEntry>;
  /** Most recent runs first, bounded in length. */
  runs: ManifestRun[];
}

export interface HeadResult {
  size: number;
  etag: string;
  crc64?: string;
  meta: Record<string, string>;
}

export interface PutResult {
  etag: string;
  crc64?: string;
}

export interface PutStreamOptions {
  size: number;
  /** Extra headers: storage class, SSE, tagging, x-oss-meta-*. */
  headers?: Record<string, string>;
  forbidOverwrite: boolean;
  signal?: AbortSignal;
}

/**
 * The object-store port. The OSS adapter (lib/oss-store.ts) implements it over ali-oss; lib/memory-store.ts
 * implements it in memory for pure-logic tests of manifests and leases.
 * `AlreadyExistsError` (lib/errors.ts) is thrown by create-only writes when the key exists.
 */
export interface ObjectStore {
  putStream(key: string, body: Readable, opts: PutStreamOptions): Promise<PutResult>;
  head(key: string): Promise<HeadResult | null>;
  getText(key: string): Promise<string | null>;
  putText(key: string, body: string, opts?: { forbidOverwrite?: boolean }): Promise<void>;
  delete(key: string): Promise<void>;
  list(prefix: string): AsyncIterable<{ key: string; size: number }>;
}

/** Counts for one (domain, hour) in a run. */
export interface HourReport {
  domain: string;
  hour: string;
  listed: number;
  archivedNow: number;
  alreadyArchived: number;
  failed: number;
  conflicts: number;
  bytesArchived: number;
  durationMs: number;
  /** Files left because the deadline came first. */
  remaining: number;
}

export interface FailedFile {
  domain: string;
  hour: string;
  name: string;
  /** Redacted reason. */
  reason: string;
}

export interface RunReport {
  runId: string;
  action: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  ok: boolean;
  totals: {
    listed: number;
    archivedNow: number;
    alreadyArchived: number;
    failed: number;
    conflicts: number;
    bytesArchived: number;
    remaining: number;
  };
  hours: HourReport[];
  /** Bounded: at most a fixed number of entries, with `failuresOmitted` counting the rest. */
  failures: FailedFile[];
  failuresOmitted: number;
  /** Errors not tied to one file (listing failed for a domain, etc.), redacted. */
  errors: string[];
  warnings: string[];
  /** Work handed to other invocations of the function (asynchronous Function Compute invocations). */
  fanOut?: { units: number; hours: number; failedToSend: number };
}
