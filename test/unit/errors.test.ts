import { inspect } from 'node:util';
import {
  AlreadyExistsError,
  ApiError,
  ApiShapeError,
  ArchiverError,
  ConfigError,
  DeadlineError,
  DownloadError,
  EventError,
  NonRetryableError,
  StoreError,
  VerifyError,
  isRetryable,
} from '../../lib/errors';
import { clearRegisteredSecrets, registerSecret } from '../../lib/redact';

const SIGNED_URL = 'https://live.aliyuncs.com/?AccessKeyId=STS.a&SecurityToken=tok&Signature=sig%3D';

afterEach(() => clearRegisteredSecrets());

describe('ArchiverError', () => {
  it('redacts its message at construction, so even the stack is safe', () => {
    const err = new ArchiverError(`request to ${SIGNED_URL} failed`);

    expect(err.message).toBe('request to https://live.aliyuncs.com/?<redacted> failed');
    expect(err.stack).not.toContain('Signature');
  });

  it('keeps the original cause for callers and redacts it in toJSON', () => {
    const popCoreError = Object.assign(new Error(`Throttled, URL: ${SIGNED_URL}`), { code: 'Throttling.User', url: SIGNED_URL });
    const err = new ApiError('listing failed', { code: 'Throttling.User', retryable: true, cause: popCoreError });

    const json = JSON.parse(JSON.stringify(err)) as Record<string, unknown>;

    expect((err as { cause?: unknown }).cause).toBe(popCoreError);
    expect(json).toEqual({
      name: 'ApiError',
      message: 'listing failed',
      code: 'Throttling.User',
      retryable: true,
      cause: {
        name: 'Error',
        message: 'Throttled, URL: https://live.aliyuncs.com/?<redacted>',
        code: 'Throttling.User',
        url: 'https://live.aliyuncs.com/?<redacted>',
      },
    });
  });

  it('prints a redacted cause chain through util.inspect (console.log)', () => {
    registerSecret('the-access-key-secret');
    const cause = new Error(`bad secret the-access-key-secret at ${SIGNED_URL}`);
    const printed = inspect(new StoreError('put failed', { code: 'AccessDenied', status: 403, cause }));

    expect(printed).toContain('StoreError: put failed');
    expect(printed).toContain('[cause] Error: bad secret <redacted> at https://live.aliyuncs.com/?<redacted>');
    expect(printed).not.toContain('the-access-key-secret');
    expect(printed).not.toContain('sig%3D');
  });

  it('sets name per subclass and keeps the class hierarchy for instanceof', () => {
    const exists = new AlreadyExistsError('lease taken', { key: 'state/leases/x/0' });

    expect(exists.name).toBe('AlreadyExistsError');
    expect(exists).toBeInstanceOf(StoreError);
    expect(exists).toBeInstanceOf(ArchiverError);
    expect(exists).toBeInstanceOf(Error);
    expect(String(exists)).toBe('AlreadyExistsError: lease taken');
  });
});

describe('ConfigError', () => {
  it('lists every issue with variable, problem and fix in its message', () => {
    const err = new ConfigError([
      { variable: 'CONCURRENCY', problem: "'abc' is not an integer", fix: 'set it to a whole number from 1 to 64, e.g. 8' },
      { variable: 'OSS_BUCKET', problem: 'is not set', fix: 'set it to the archive bucket name' },
    ]);

    expect(err.message).toBe(
      'Invalid configuration (2 problems):\n' +
        "  - CONCURRENCY: 'abc' is not an integer; set it to a whole number from 1 to 64, e.g. 8\n" +
        '  - OSS_BUCKET: is not set; set it to the archive bucket name',
    );
    expect(err.issues.map((issue) => issue.variable)).toEqual(['CONCURRENCY', 'OSS_BUCKET']);
    expect(err.retryable).toBe(false);
  });

  it('keeps its issues in toJSON', () => {
    const issue = { variable: 'LOG_LEVEL', problem: "'loud' is not a level", fix: 'use debug, info, warn or error' };
    expect(new ConfigError([issue]).toJSON()).toMatchObject({ name: 'ConfigError', issues: [issue] });
  });
});

describe('EventError', () => {
  it('names the field, the problem and the fix', () => {
    const err = new EventError({ field: 'domains[1]', problem: "'bad host' is not a valid hostname", fix: 'give a hostname such as live.example.com' });

    expect(err.message).toBe("Invalid event: domains[1]: 'bad host' is not a valid hostname; give a hostname such as live.example.com");
    expect(err.field).toBe('domains[1]');
  });
});

describe('retryable defaults', () => {
  it.each([
    ['timeout', undefined, undefined, true],
    ['reset', undefined, undefined, true],
    ['short-body', undefined, undefined, true],
    ['http-status', 503, undefined, true],
    ['http-status', 429, undefined, true],
    ['http-status', 404, undefined, false],
    ['http-status', 403, true, true],
    ['host-not-allowed', undefined, undefined, false],
    ['redirect', undefined, undefined, false],
    ['size-mismatch', undefined, undefined, false],
    ['aborted', undefined, undefined, false],
  ] as const)('DownloadError %s (status %s, urlExpired %s) is retryable: %s', (kind, status, urlExpired, expected) => {
    expect(new DownloadError('x', { kind, status, urlExpired }).retryable).toBe(expected);
  });

  it('lets the caller override a DownloadError default', () => {
    expect(new DownloadError('x', { kind: 'size-mismatch', retryable: true }).retryable).toBe(true);
  });

  it.each([
    [-1, 'RequestError', true],
    [-2, 'ResponseTimeoutError', true],
    [503, 'ServiceUnavailable', true],
    [400, 'RequestTimeout', true],
    [403, 'AccessDenied', false],
    [404, 'NoSuchBucket', false],
  ])('StoreError status %s code %s is retryable: %s', (status, code, expected) => {
    expect(new StoreError('x', { code, status }).retryable).toBe(expected);
  });

  it('never retries a create-only conflict', () => {
    const err = new AlreadyExistsError('exists', { key: 'k', retryable: true } as never);
    expect(err.retryable).toBe(false);
    expect(err.code).toBe('FileAlreadyExists');
    expect(err.status).toBe(409);
  });

  it('does not retry VerifyError, ApiShapeError, ConfigError or DeadlineError by default', () => {
    expect(new VerifyError('crc differs', { key: 'k', expected: { size: 1, crc64: '1' }, actual: { size: 1, crc64: '2' } }).retryable).toBe(false);
    expect(new ApiShapeError('LogSize is a string', { field: 'LogInfoDetail[0].LogSize' }).retryable).toBe(false);
    expect(new DeadlineError('too late', { deadlineMs: 1 }).retryable).toBe(false);
  });
});

describe('isRetryable', () => {
  it('follows the retryable flag of our own errors', () => {
    expect(isRetryable(new ApiError('x', { code: 'Throttling.User', retryable: true }))).toBe(true);
    expect(isRetryable(new ApiError('x', { code: 'InvalidStartTime.Malformed', retryable: false }))).toBe(false);
  });

  it('never retries a NonRetryableError, even around a retryable cause', () => {
    const cause = new StoreError('x', { code: 'InternalError', status: 500 });
    expect(isRetryable(new NonRetryableError('give up', { cause }))).toBe(false);
  });

  it('retries known transport failures, also when wrapped in a foreign error', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(isRetryable(reset)).toBe(true);
    expect(isRetryable(new Error('wrapped', { cause: reset }))).toBe(true);
  });

  it('does not retry aborts, programmer errors or non-errors', () => {
    expect(isRetryable(Object.assign(new Error('aborted'), { name: 'AbortError', code: 'ECONNRESET' }))).toBe(false);
    expect(isRetryable(new TypeError('x is undefined'))).toBe(false);
    expect(isRetryable('ECONNRESET')).toBe(false);
    expect(isRetryable(undefined)).toBe(false);
  });
});
