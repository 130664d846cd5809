/**
 * Every error the archiver raises, in one place. Each class sets `name`, keeps `cause`, says whether trying again
 * can help (`retryable`) and carries what a caller needs to act without a second look-up.
 *
 * Messages are redacted at construction: an error may be printed by code we don't control (the FC runtime, jest),
 * so a secret must never get into one in the first place. `cause` keeps the original for programmatic inspection;
 * `toJSON()` and `util.inspect` give redacted forms of the whole chain.
 */
import { inspect } from 'node:util';
import { redact, redactError, serializeError, type SerializedError } from './redact';

export interface ErrorOptions {
  cause?: unknown;
}

export class ArchiverError extends Error {
  override name = 'ArchiverError';
  /** Whether repeating the same operation may succeed. Subclasses decide; the base default is no. */
  readonly retryable: boolean = false;
  /** Lets the serializer in lib/redact.ts (which must not import this file) recognize our own errors. */
  declare readonly isArchiverError: true;

  constructor(message: string, options: ErrorOptions = {}) {
    super(redact(message), options.cause === undefined ? undefined : { cause: options.cause });
  }

  /** Redacted, JSON-ready form with the cause chain; no stack (reports and manifests stay small). */
  toJSON(): SerializedError {
    return serializeError(this);
  }

  /** console.log / util.inspect would otherwise print the unredacted cause (pop-core's signed URL). */
  [inspect.custom](): string {
    const stack = this.stack ?? `${this.name}: ${this.message}`;
    const cause = (this as { cause?: unknown }).cause;
    return cause === undefined ? stack : `${stack}\n  [cause] ${redactError(cause, 2000)}`;
  }
}

// On the prototype, not the instance, so it never shows up in serialized output.
Object.defineProperty(ArchiverError.prototype, 'isArchiverError', { value: true, enumerable: false });

/** One problem in the environment configuration. */
export interface ConfigIssue {
  variable: string;
  problem: string;
  fix: string;
}

/** The configuration is unusable. Lists every problem at once, so one redeploy fixes them all. */
export class ConfigError extends ArchiverError {
  override name = 'ConfigError';
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[], options: ErrorOptions = {}) {
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    const lines = issues.map((issue) => `  - ${formatConfigIssue(issue)}`);
    super(`Invalid configuration (${count}):\n${lines.join('\n')}`, options);
    this.issues = issues.map((issue) => ({ variable: issue.variable, problem: redact(issue.problem), fix: redact(issue.fix) }));
  }
}

export function formatConfigIssue(issue: ConfigIssue): string {
  return `${issue.variable}: ${issue.problem}; ${issue.fix}`;
}

/** The invocation event cannot be used. `field` is a path into the event, e.g. `domains[1]` or `payload.lagHours`. */
export class EventError extends ArchiverError {
  override name = 'EventError';
  readonly field: string;
  readonly problem: string;
  readonly fix: string;

  constructor(details: { field: string; problem: string; fix: string }, options: ErrorOptions = {}) {
    super(`Invalid event: ${details.field}: ${details.problem}; ${details.fix}`, options);
    this.field = details.field;
    this.problem = redact(details.problem);
    this.fix = redact(details.fix);
  }
}

/** The Live API answered with an error code (or not at all). */
export class ApiError extends ArchiverError {
  override name = 'ApiError';
  override readonly retryable: boolean;
  /** The API's `Code`, e.g. `Throttling.User`, or a transport code such as `ECONNRESET`. */
  readonly code: string;
  readonly httpStatus?: number;
  readonly requestId?: string;

  constructor(message: string, details: ErrorOptions & { code: string; retryable: boolean; httpStatus?: number; requestId?: string }) {
    super(message, details);
    this.code = details.code;
    this.retryable = details.retryable;
    this.httpStatus = details.httpStatus;
    this.requestId = details.requestId;
  }
}

/** An API answer lacks a field or has it in the wrong type. Not retryable: the same question gets the same answer. */
export class ApiShapeError extends ArchiverError {
  override name = 'ApiShapeError';
  /** Path of the offending field, e.g. `DomainLogDetails.DomainLogDetail[0].PageInfos.Total`. */
  readonly field: string;
  readonly requestId?: string;

  constructor(message: string, details: ErrorOptions & { field: string; requestId?: string }) {
    super(message, details);
    this.field = details.field;
    this.requestId = details.requestId;
  }
}

export const DownloadErrorKind = {
  HttpStatus: 'http-status',
  ShortBody: 'short-body',
  Timeout: 'timeout',
  Reset: 'reset',
  HostNotAllowed: 'host-not-allowed',
  Redirect: 'redirect',
  SizeMismatch: 'size-mismatch',
  /** Our own AbortSignal fired (deadline, shutdown): not a fault of the origin. */
  Aborted: 'aborted',
} as const;
export type DownloadErrorKind = (typeof DownloadErrorKind)[keyof typeof DownloadErrorKind];

/**
 * Fetching a log file from its signed URL failed. `urlExpired` means the signed URL is past its `Expires` (or the
 * origin refused it): retrying needs a fresh URL from a new listing, not the same request again.
 * `retryable` defaults by kind when not given.
 */
export class DownloadError extends ArchiverError {
  override name = 'DownloadError';
  override readonly retryable: boolean;
  readonly kind: DownloadErrorKind;
  readonly status?: number;
  readonly urlExpired?: boolean;

  constructor(
    message: string,
    details: ErrorOptions & { kind: DownloadErrorKind; status?: number; urlExpired?: boolean; retryable?: boolean },
  ) {
    super(message, details);
    this.kind = details.kind;
    this.status = details.status;
    this.urlExpired = details.urlExpired;
    this.retryable = details.retryable ?? defaultDownloadRetryable(details.kind, details.status, details.urlExpired);
  }
}

function defaultDownloadRetryable(kind: DownloadErrorKind, status: number | undefined, urlExpired: boolean | undefined): boolean {
  switch (kind) {
    case 'timeout':
    case 'reset':
    case 'short-body':
      return true;
    case 'http-status':
      return urlExpired === true || status === undefined || status === 408 || status === 429 || status >= 500;
    // Policy refusals, a source whose size disagrees with the listing, and our own abort won't change by asking again.
    case 'host-not-allowed':
    case 'redirect':
    case 'size-mismatch':
    case 'aborted':
      return false;
  }
}

/** The object store (OSS) refused or failed an operation. `retryable` defaults from status and code when not given. */
export class StoreError extends ArchiverError {
  override name = 'StoreError';
  override readonly retryable: boolean;
  /** OSS error code (`NoSuchBucket`, `FileAlreadyExists`, ...) or ali-oss's transport name for status -1/-2. */
  readonly code: string;
  /** HTTP status; ali-oss uses -1 for network errors and -2 for timeouts. Absent when no request was answered. */
  readonly status?: number;
  readonly requestId?: string;
  readonly key?: string;

  constructor(message: string, details: ErrorOptions & { code: string; status?: number; requestId?: string; key?: string; retryable?: boolean }) {
    super(message, details);
    this.code = details.code;
    this.status = details.status;
    this.requestId = details.requestId;
    this.key = details.key;
    this.retryable = details.retryable ?? defaultStoreRetryable(details.status, details.code);
  }
}

const RETRYABLE_STORE_CODES = new Set(['RequestTimeout', 'InternalError', 'ServiceUnavailable', 'SlowDown']);

function defaultStoreRetryable(status: number | undefined, code: string): boolean {
  if (RETRYABLE_STORE_CODES.has(code)) return true;
  return status !== undefined && (status === -1 || status === -2 || status === 408 || status === 429 || status >= 500);
}

/**
 * A create-only write (`x-oss-forbid-overwrite: true`) found the key already there: the one atomic answer OSS
 * gives. Never retryable; `code` is always `FileAlreadyExists` and `status` 409.
 */
export class AlreadyExistsError extends StoreError {
  override name = 'AlreadyExistsError';

  constructor(message: string, details: ErrorOptions & { requestId?: string; key?: string } = {}) {
    super(message, { ...details, code: 'FileAlreadyExists', status: 409, retryable: false });
  }
}

export interface VerifiedFacts {
  size: number;
  crc64?: string;
}

/**
 * What OSS stored differs from the source (size or CRC-64). `retryable` is the caller's call (default no): with a
 * write-once key, a retry only helps if it ends in the conflict check.
 */
export class VerifyError extends ArchiverError {
  override name = 'VerifyError';
  override readonly retryable: boolean;
  readonly key?: string;
  readonly expected?: VerifiedFacts;
  readonly actual?: VerifiedFacts;

  constructor(
    message: string,
    details: ErrorOptions & { key?: string; expected?: VerifiedFacts; actual?: VerifiedFacts; retryable?: boolean } = {},
  ) {
    super(message, details);
    this.key = details.key;
    this.expected = details.expected;
    this.actual = details.actual;
    this.retryable = details.retryable ?? false;
  }
}

/** The invocation is too close to its deadline to start (or finish) this work; the next run picks it up. */
export class DeadlineError extends ArchiverError {
  override name = 'DeadlineError';
  readonly deadlineMs: number;

  constructor(message: string, details: ErrorOptions & { deadlineMs: number }) {
    super(message, details);
    this.deadlineMs = details.deadlineMs;
  }
}

/** Wraps any failure that must not be retried (p-retry's AbortError): retry loops stop at once. */
export class NonRetryableError extends ArchiverError {
  override name = 'NonRetryableError';

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options);
  }
}

/** Node/undici transport failures that a second attempt may not meet. */
export const RETRYABLE_SYSTEM_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * Whether trying the same thing again may help. Our errors say so themselves (`NonRetryableError` never);
 * an aborted operation never is; a foreign error is retryable only when it is a known transport failure
 * (its own code, or the code of something in its cause chain). Programmer errors (TypeError, ...) never are.
 */
export function isRetryable(err: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    if (current instanceof ArchiverError) return current.retryable;
    if (current.name === 'AbortError') return false;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && RETRYABLE_SYSTEM_CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
