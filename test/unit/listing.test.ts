import { ApiShapeError } from '../../lib/errors';
import { MAX_LOG_SIZE_BYTES, type NormalizeContext, dedupe, hostAllowlist, normalizeEntry, parseListingPage } from '../../lib/listing';
import type { LogFile } from '../../lib/types';

// The success example of the API reference, verbatim apart from the masked parts.
const DOCUMENTED_ANSWER = {
  DomainLogDetails: {
    DomainLogDetail: [
      {
        LogCount: 10,
        LogInfos: {
          LogInfoDetail: [
            {
              EndTime: '1695189600',
              LogName: 'example.com\n_2023_09_20_160000_170000.abcd.gz',
              LogPath:
                'bucket.oss-cn-shanghai.aliyuncs.com/push_proxy/x/example.com/2023_09_20/1600/example.com\n_2023_09_20_160000_170000.abcd.gz?OSSAccessKeyId=LTAIexample&Expires=1695200000&Signature=c2VjcmV0c2ln%3D',
              LogSize: 512,
              StartTime: '1695193200',
            },
          ],
        },
        PageInfos: { PageIndex: 1, PageSize: 20, Total: 20 },
      },
    ],
  },
  DomainName: 'example.com',
  RequestId: 'CF60DB6A-7FD6-426E-9288-122CC1A52FA7',
};

// 2023-09-20T06:00:00Z and 07:00:00Z in ms, computed outside the code under test.
const T_06 = 1_695_189_600_000;
const T_07 = 1_695_193_200_000;

const ctx = { domain: 'example.com', pageNumber: 1 };

function shapeErrorOf(body: unknown): ApiShapeError {
  try {
    parseListingPage(body, ctx);
  } catch (err) {
    if (err instanceof ApiShapeError) return err;
    throw err;
  }
  throw new Error('expected an ApiShapeError');
}

describe('parseListingPage', () => {
  it('extracts the entries and paging of the documented answer', () => {
    const page = parseListingPage(DOCUMENTED_ANSWER, ctx);
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toBe(DOCUMENTED_ANSWER.DomainLogDetails.DomainLogDetail[0].LogInfos.LogInfoDetail[0]);
    expect({ pageIndex: page.pageIndex, pageSize: page.pageSize, total: page.total }).toEqual({ pageIndex: 1, pageSize: 20, total: 20 });
  });

  it('accepts paging numbers sent as digit strings', () => {
    const body = structuredClone(DOCUMENTED_ANSWER) as unknown as { DomainLogDetails: { DomainLogDetail: Array<{ PageInfos: unknown }> } };
    body.DomainLogDetails.DomainLogDetail[0].PageInfos = { PageIndex: '2', PageSize: '20', Total: '21' };
    const page = parseListingPage(body, { domain: 'example.com', pageNumber: 2 });
    expect([page.pageIndex, page.pageSize, page.total]).toEqual([2, 20, 21]);
  });

  it.each([
    ['an empty DomainLogDetail array', { DomainLogDetails: { DomainLogDetail: [] } }],
    ['no DomainLogDetail at all', { DomainLogDetails: {} }],
    ['a detail without LogInfos', { DomainLogDetails: { DomainLogDetail: [{ LogCount: 0, PageInfos: { PageIndex: 1, PageSize: 300, Total: 0 } }] } }],
    ['an empty LogInfoDetail', { DomainLogDetails: { DomainLogDetail: [{ LogInfos: { LogInfoDetail: [] } }] } }],
  ])('reads %s as a page with no entries', (_label, body) => {
    const page = parseListingPage(body, ctx);
    expect(page.items).toEqual([]);
    expect(page.total).toBe(0);
  });

  it('names the missing Total with its full path', () => {
    const body = structuredClone(DOCUMENTED_ANSWER) as unknown as { DomainLogDetails: { DomainLogDetail: Array<{ PageInfos: Record<string, unknown> }> } };
    delete body.DomainLogDetails.DomainLogDetail[0].PageInfos.Total;
    const err = shapeErrorOf(body);
    expect(err.field).toBe('DomainLogDetails.DomainLogDetail[0].PageInfos.Total');
    expect(err.message).toContain('DomainLogDetails.DomainLogDetail[0].PageInfos.Total is missing');
    expect(err.requestId).toBe('CF60DB6A-7FD6-426E-9288-122CC1A52FA7');
  });

  it.each([
    ['a non-object body', 'oops', '(body)'],
    ['a body without DomainLogDetails (an error answer)', { Code: 'Throttling', Message: 'x' }, 'DomainLogDetails'],
    ['DomainLogDetail as an object', { DomainLogDetails: { DomainLogDetail: {} } }, 'DomainLogDetails.DomainLogDetail'],
    ['LogInfoDetail as a string', { DomainLogDetails: { DomainLogDetail: [{ LogInfos: { LogInfoDetail: 'x' } }] } }, 'DomainLogDetails.DomainLogDetail[0].LogInfos.LogInfoDetail'],
    ['entries without PageInfos', { DomainLogDetails: { DomainLogDetail: [{ LogInfos: { LogInfoDetail: [{}] } }] } }, 'DomainLogDetails.DomainLogDetail[0].PageInfos'],
    ['a negative PageSize', { DomainLogDetails: { DomainLogDetail: [{ PageInfos: { PageIndex: 1, PageSize: -1, Total: 0 } }] } }, 'DomainLogDetails.DomainLogDetail[0].PageInfos.PageSize'],
    ['a fractional PageIndex', { DomainLogDetails: { DomainLogDetail: [{ PageInfos: { PageIndex: 1.5, PageSize: 1, Total: 0 } }] } }, 'DomainLogDetails.DomainLogDetail[0].PageInfos.PageIndex'],
    ['an answer for another domain', { DomainName: 'other.com', DomainLogDetails: { DomainLogDetail: [] } }, 'DomainName'],
  ])('rejects %s, naming the field', (_label, body, field) => {
    expect(shapeErrorOf(body).field).toBe(field);
  });
});

const allowAliyun = hostAllowlist(['*.aliyuncs.com']);
const rawEntry = DOCUMENTED_ANSWER.DomainLogDetails.DomainLogDetail[0].LogInfos.LogInfoDetail[0];
const normCtx = { domain: 'example.com', scheme: 'https' as const, allowHost: allowAliyun };

function fileOf(raw: unknown, c: NormalizeContext = normCtx): LogFile {
  const result = normalizeEntry(raw, c);
  if (!('file' in result)) throw new Error(`rejected: ${result.rejected.reason}`);
  return result.file;
}

function reasonOf(raw: unknown, c: NormalizeContext = normCtx): string {
  const result = normalizeEntry(raw, c);
  if (!('rejected' in result)) throw new Error('expected a rejection');
  return result.rejected.reason;
}

describe('normalizeEntry', () => {
  it('normalizes the documented entry: swapped times ordered, name cleaned, scheme added, expiry read', () => {
    const file = fileOf(rawEntry);
    expect(file).toEqual({
      domain: 'example.com',
      hourStartMs: T_06,
      name: 'example.com_2023_09_20_160000_170000.abcd.gz',
      url: 'https://bucket.oss-cn-shanghai.aliyuncs.com/push_proxy/x/example.com/2023_09_20/1600/example.com_2023_09_20_160000_170000.abcd.gz?OSSAccessKeyId=LTAIexample&Expires=1695200000&Signature=c2VjcmV0c2ln%3D',
      size: 512,
      startMs: T_06,
      endMs: T_07,
      urlExpiresMs: 1_695_200_000_000,
    });
  });

  it('keeps the signed query byte for byte, since the signature covers it', () => {
    expect(fileOf(rawEntry).url.endsWith('&Signature=c2VjcmV0c2ln%3D')).toBe(true);
  });

  it('accepts numeric times and a path that already has a scheme, without an Expires', () => {
    const file = fileOf({ ...rawEntry, StartTime: 1695189600, EndTime: 1695193200, LogPath: 'http://h.aliyuncs.com/a.gz' });
    expect([file.startMs, file.endMs, file.url, file.urlExpiresMs]).toEqual([T_06, T_07, 'http://h.aliyuncs.com/a.gz', undefined]);
  });

  it.each([
    ['first in the query', 'h.aliyuncs.com/a.gz?Expires=1695200000&Signature=s', 1_695_200_000_000],
    ['the first of two', 'h.aliyuncs.com/a.gz?Expires=1695200000&x=1&Expires=1695300000', 1_695_200_000_000],
    ['not digits (the second is not looked at)', 'h.aliyuncs.com/a.gz?Expires=soon&Expires=1695300000', undefined],
    ['empty', 'h.aliyuncs.com/a.gz?Expires=&Signature=s', undefined],
    ['only part of a longer name', 'h.aliyuncs.com/a.gz?XExpires=1695200000&Signature=s', undefined],
    ['in the path, not the query', 'h.aliyuncs.com/Expires=1695200000/a.gz', undefined],
    ['a parameter, not text inside another value', 'h.aliyuncs.com/a.gz?x=a?Expires=1695300000&Expires=1695200000', 1_695_200_000_000],
    ['absent, with Expires= only inside a value', 'h.aliyuncs.com/a.gz?Signature=ab?Expires=1695300000', undefined],
    ['bare, without a value (the second is not looked at)', 'h.aliyuncs.com/a.gz?Expires&Expires=1695300000', undefined],
  ])('reads the link expiry from Expires %s', (_what, LogPath, expected) => {
    expect(fileOf({ ...rawEntry, LogPath }).urlExpiresMs).toBe(expected);
  });

  it('files an entry spanning two hours under the hour of its earlier time', () => {
    const file = fileOf({ ...rawEntry, StartTime: '1695191400', EndTime: '1695195000' }); // 06:30 .. 07:30
    expect(file.hourStartMs).toBe(T_06);
  });

  it('passes the host with its port to the allowlist', () => {
    const seen: string[] = [];
    fileOf({ ...rawEntry, LogPath: '127.0.0.1:40123/p/a.gz?Expires=1' }, {
      domain: 'example.com',
      scheme: 'http',
      allowHost: (h) => (seen.push(h), true),
    });
    expect(seen).toEqual(['127.0.0.1:40123']);
  });

  it.each([
    ['a negative LogSize', { LogSize: -1 }, 'LogSize -1'],
    ['a NaN LogSize', { LogSize: Number.NaN }, 'LogSize NaN'],
    ['a LogSize over 50 GiB', { LogSize: MAX_LOG_SIZE_BYTES + 1 }, 'LogSize'],
    ['a fractional LogSize', { LogSize: 1.5 }, 'LogSize'],
    ['a missing StartTime', { StartTime: undefined }, 'StartTime'],
    ['a StartTime in milliseconds', { StartTime: '1695193200000' }, 'StartTime "1695193200000"'],
    ['a non-numeric EndTime', { EndTime: 'yesterday' }, 'EndTime'],
    ['a name with a slash', { LogName: 'a/b.gz' }, 'path separator'],
    ['a missing LogPath', { LogPath: undefined }, 'LogPath is missing'],
    ['an ftp LogPath', { LogPath: 'ftp://h.aliyuncs.com/a.gz' }, 'unsupported scheme'],
    ['a LogPath with user info', { LogPath: 'u:p@h.aliyuncs.com/a.gz' }, 'user info'],
  ])('rejects %s', (_label, override, reasonPart) => {
    expect(reasonOf({ ...rawEntry, ...override })).toContain(reasonPart);
  });

  it('rejects a host off the allowlist, naming the host but never the signed query', () => {
    const reason = reasonOf({ ...rawEntry, LogPath: 'evil.example.net/a.gz?OSSAccessKeyId=LTAIx&Expires=1&Signature=SECRETSIG' });
    expect(reason).toContain('evil.example.net');
    expect(reason).not.toMatch(/SECRETSIG|OSSAccessKeyId|LTAIx|\?/);
  });

  it('rejects a non-object entry and escapes control characters in the rejected name', () => {
    expect(reasonOf(null)).toBe('entry is not an object');
    const result = normalizeEntry({ ...rawEntry, LogName: 'a\u0000b' }, normCtx);
    expect(result).toEqual({ rejected: { domain: 'example.com', name: 'a\\u0000b', reason: 'LogName contains a non-printable character' } });
  });
});

describe('dedupe', () => {
  const base: LogFile = { domain: 'd', hourStartMs: T_06, name: 'a.gz', url: 'https://h/a.gz', size: 1, startMs: T_06, endMs: T_07 };

  it('keeps one entry per (domain, hour, name), preferring the later URL expiry, in first-seen order', () => {
    const older = { ...base, urlExpiresMs: 1000 };
    const other = { ...base, name: 'b.gz' };
    const newer = { ...base, url: 'https://h/a.gz?new', urlExpiresMs: 2000 };
    expect(dedupe([older, other, newer])).toEqual([newer, other]);
  });

  it('keeps the first of two entries with the same expiry', () => {
    const first = { ...base, url: 'https://h/1' };
    const second = { ...base, url: 'https://h/2' };
    expect(dedupe([first, second])).toEqual([first]);
  });

  it('keeps entries that share a name but not an hour or domain', () => {
    const files = [base, { ...base, hourStartMs: T_07 }, { ...base, domain: 'e' }];
    expect(dedupe(files)).toEqual(files);
  });
});

describe('hostAllowlist', () => {
  it('matches any subdomain of a wildcard, but not the apex or a look-alike', () => {
    expect(allowAliyun('bucket.oss-cn-shanghai.aliyuncs.com')).toBe(true);
    expect(allowAliyun('a.aliyuncs.com')).toBe(true);
    expect(allowAliyun('aliyuncs.com')).toBe(false);
    expect(allowAliyun('evilaliyuncs.com')).toBe(false);
    expect(allowAliyun('aliyuncs.com.evil.net')).toBe(false);
  });

  it('is case-insensitive and ignores a trailing dot', () => {
    expect(allowAliyun('A.ALIYUNCS.COM.')).toBe(true);
  });

  it('matches a plain host on the default port only, host:port exactly, host:* on any port', () => {
    const allow = hostAllowlist(['logs.example.com', '127.0.0.1:8080', 'localhost:*']);
    expect(allow('logs.example.com')).toBe(true);
    expect(allow('logs.example.com:8443')).toBe(false);
    expect(allow('127.0.0.1:8080')).toBe(true);
    expect(allow('127.0.0.1:8081')).toBe(false);
    expect(allow('127.0.0.1')).toBe(false);
    expect(allow('localhost:40999')).toBe(true);
  });

  it('handles bracketed IPv6 literals', () => {
    expect(hostAllowlist(['[::1]:*'])('[::1]:5000')).toBe(true);
  });

  it('allows nothing when empty', () => {
    expect(hostAllowlist([])('a.aliyuncs.com')).toBe(false);
  });

  it.each(['*', '*.', 'a.*.com', ''])('refuses the malformed pattern %j', (p) => {
    expect(() => hostAllowlist([p])).toThrow(TypeError);
  });
});
