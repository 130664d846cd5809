/**
 * The Live API emulator driven by the real @alicloud/pop-core RPCClient (and, where pop-core cannot produce a bad
 * request, by hand-signed raw HTTP requests built with the same algorithm).
 */
import { randomUUID } from 'node:crypto';

import RPCClient = require('@alicloud/pop-core');

import type { Credentials } from '../../lib/types';
import { SANDBOX_AK, SANDBOX_STS, type FileSource, type LogOriginLike } from '../../sandbox/contracts';
import { startLiveEmulator, type LiveEmulator } from '../../sandbox/live-emulator';
import { canonicalizeRpcParams, signRpcParams, signedRpcQuery } from '../../sandbox/rpc-signature';

const API_VERSION = '2016-11-01';
const ACTION = 'DescribeLivePushProxyLog';
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The emulator's logical "now": 2026-11-27T10:30:00Z. Independent of the wall clock that signs requests. */
const NOW_MS = Date.UTC(2026, 10, 27, 10, 30, 0);
const hourOf = (utcHour: number, dayOfMonth = 27): number => Date.UTC(2026, 10, dayOfMonth, utcHour);
const iso = (epochMs: number): string => new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
const UUID_PATTERN = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;

interface LogInfoDetail {
  EndTime: string;
  LogName: string;
  LogPath: string;
  LogSize: number;
  StartTime: string;
}
interface ListResponse {
  DomainLogDetails: {
    DomainLogDetail: Array<{
      LogCount: number;
      LogInfos: { LogInfoDetail: LogInfoDetail[] };
      PageInfos: { PageIndex: number; PageSize: number; Total: number };
    }>;
  };
  DomainName: string;
  RequestId: string;
}
/** What pop-core throws: an Error with the service's body in `data`, or json-bigint's plain SyntaxError object. */
interface ClientFailure {
  name: string;
  message: string;
  code?: string;
  data?: Record<string, unknown>;
  entry?: { response?: { statusCode?: number } };
}

class RecordingOrigin implements LogOriginLike {
  readonly added: Array<{ path: string; source: FileSource }> = [];
  addFile(path: string, source: FileSource): void {
    this.added.push({ path, source });
  }
  signedLogPath(path: string, expiresAtSec: number): string {
    return `127.0.0.1:1${path}?OSSAccessKeyId=x&Expires=${expiresAtSec}&Signature=sig`;
  }
}

function clientFor(emulator: LiveEmulator, credentials: Credentials, apiVersion = API_VERSION): RPCClient {
  return new RPCClient({ ...credentials, endpoint: emulator.endpoint, apiVersion });
}

function list(
  client: RPCClient,
  params: Record<string, string | number>,
  options: { method?: 'GET' | 'POST'; timeout?: number } = {},
): Promise<ListResponse> {
  return client.request<ListResponse>(ACTION, params, { method: 'POST', ...options });
}

async function failureOf(call: Promise<unknown>): Promise<ClientFailure> {
  try {
    await call;
  } catch (error) {
    return error as ClientFailure;
  }
  throw new Error('expected the call to fail');
}

function detailOf(response: ListResponse) {
  const [detail] = response.DomainLogDetails.DomainLogDetail;
  if (!detail) throw new Error('no DomainLogDetail in the response');
  return detail;
}

const namesOf = (response: ListResponse): string[] => detailOf(response).LogInfos.LogInfoDetail.map((l) => l.LogName);

/** A complete, correctly signed parameter set for a hand-built request; `undefined` in overrides removes a key. */
function rawParams(account: Credentials, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const params: Record<string, string | undefined> = {
    Action: ACTION,
    Version: API_VERSION,
    Format: 'JSON',
    AccessKeyId: account.accessKeyId,
    SecurityToken: account.securityToken,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: randomUUID(),
    Timestamp: iso(Date.now()),
    DomainName: 'raw.example.com',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
}

async function rawCall(
  emulator: LiveEmulator,
  method: 'GET' | 'POST',
  query: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response =
    method === 'GET'
      ? await fetch(`${emulator.endpoint}/?${query}`)
      : await fetch(`${emulator.endpoint}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: query,
        });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A hand-built request from `account`, signed with its secret unless another one is given. */
function signedRawCall(
  emulator: LiveEmulator,
  account: Credentials,
  overrides: Record<string, string | undefined> = {},
  options: { method?: 'GET' | 'POST'; secret?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const method = options.method ?? 'POST';
  const query = signedRpcQuery(method, rawParams(account, overrides), options.secret ?? account.accessKeySecret);
  return rawCall(emulator, method, query);
}

const seedContent = (text: string): FileSource => ({ content: Buffer.from(text) });

describe('Live emulator through the real pop-core RPCClient', () => {
  const origin = new RecordingOrigin();
  let logicalNowMs = NOW_MS;
  let emulator: LiveEmulator;
  let sts: RPCClient;
  let ak: RPCClient;

  beforeAll(async () => {
    // A generous limit here keeps flow control out of the way; it has its own emulators below.
    emulator = await startLiveEmulator({ origin, now: () => logicalNowMs, qpsLimitPerKey: 100_000 });
    sts = clientFor(emulator, SANDBOX_STS);
    ak = clientFor(emulator, SANDBOX_AK);
  });
  afterAll(() => emulator.close());
  beforeEach(() => {
    logicalNowMs = NOW_MS;
    emulator.faults.reset();
  });

  describe('DescribeLivePushProxyLog answers', () => {
    test('have the documented shape, keep LogName quirks, swap times on request and sign LogPath', async () => {
      const domain = 'shape.example.com';
      const quirkyName = 'shape.example.com\n_2026_11_27_090000_100000.gz';
      const spacedName = ' shape.example.com_2026_11_27_090000_100000.1.gz ';
      emulator.seedLogs(domain, hourOf(9), [
        { name: quirkyName, source: seedContent('abc'), swapTimes: true },
        { name: spacedName, source: { size: 5000, seed: 's' }, reportedSize: 4096 },
      ]);

      const response = await list(sts, {
        DomainName: domain,
        StartTime: iso(hourOf(9)),
        EndTime: iso(hourOf(10)),
      });

      const seeded = origin.added.slice(-2);
      const hourDir = '/push_proxy/[0-9a-f]+/shape\\.example\\.com/2026_11_27/0900/';
      expect(seeded.map((s) => s.path)).toEqual([
        expect.stringMatching(new RegExp(`^${hourDir}shape\\.example\\.com%0A_2026_11_27_090000_100000\\.gz$`)),
        expect.stringMatching(new RegExp(`^${hourDir}%20shape\\.example\\.com_2026_11_27_090000_100000\\.1\\.gz%20$`)),
      ]);
      expect(seeded[1]?.source).toEqual({ size: 5000, seed: 's' });
      const expiresAtSec = NOW_MS / 1000 + 1800;
      const [quirkyPath, spacedPath] = seeded.map((s) => s.path);
      expect(response).toEqual({
        DomainLogDetails: {
          DomainLogDetail: [
            {
              LogCount: 2,
              LogInfos: {
                LogInfoDetail: [
                  {
                    EndTime: String(hourOf(10) / 1000),
                    LogName: spacedName,
                    LogPath: `127.0.0.1:1${spacedPath}?OSSAccessKeyId=x&Expires=${expiresAtSec}&Signature=sig`,
                    LogSize: 4096,
                    StartTime: String(hourOf(9) / 1000),
                  },
                  {
                    EndTime: String(hourOf(9) / 1000),
                    LogName: quirkyName,
                    LogPath: `127.0.0.1:1${quirkyPath}?OSSAccessKeyId=x&Expires=${expiresAtSec}&Signature=sig`,
                    LogSize: 3,
                    StartTime: String(hourOf(10) / 1000),
                  },
                ],
              },
              PageInfos: { PageIndex: 1, PageSize: 300, Total: 2 },
            },
          ],
        },
        DomainName: domain,
        RequestId: expect.stringMatching(UUID_PATTERN),
      });
    });

    test('GET gives the same answer as POST and is recorded without Signature or SecurityToken', async () => {
      const domain = 'get.example.com';
      emulator.seedLogs(domain, hourOf(8), [{ name: 'a.gz', source: seedContent('a') }]);
      const params = { DomainName: domain, StartTime: iso(hourOf(8)), EndTime: iso(hourOf(9)) };
      const callsBefore = emulator.stats.calls;

      const viaGet = await list(sts, params, { method: 'GET' });
      const viaPost = await list(sts, params, { method: 'POST' });

      expect({ ...viaGet, RequestId: '' }).toEqual({ ...viaPost, RequestId: '' });
      expect(emulator.stats.calls).toBe(callsBefore + 2);
      expect(emulator.stats.byDomain[domain]).toBe(2);
      const [getRecord, postRecord] = emulator.stats.requests.slice(-2);
      expect(getRecord).toMatchObject({ method: 'GET', action: ACTION, status: 200, code: 'OK' });
      expect(postRecord).toMatchObject({ method: 'POST', action: ACTION, status: 200, code: 'OK' });
      expect(getRecord?.params).toMatchObject({
        ...params,
        AccessKeyId: SANDBOX_STS.accessKeyId,
        Version: API_VERSION,
      });
      expect(getRecord?.params).not.toHaveProperty('Signature');
      expect(getRecord?.params).not.toHaveProperty('SecurityToken');
      expect(JSON.stringify(emulator.stats)).not.toContain(SANDBOX_STS.securityToken);
    });

    test('entries are ordered by start time, then by name', async () => {
      const domain = 'order.example.com';
      emulator.seedLogs(domain, hourOf(9), [
        { name: 'b.gz', source: seedContent('b') },
        { name: 'late-start.gz', source: seedContent('l'), startMs: hourOf(9) + 600_000 },
        { name: 'a.gz', source: seedContent('a') },
      ]);
      emulator.seedLogs(domain, hourOf(8), [{ name: 'z.gz', source: seedContent('z') }]);

      const response = await list(ak, { DomainName: domain, StartTime: iso(hourOf(8)), EndTime: iso(hourOf(10)) });

      expect(namesOf(response)).toEqual(['z.gz', 'a.gz', 'b.gz', 'late-start.gz']);
    });
  });

  describe('paging', () => {
    const domain = 'paging.example.com';
    const window = { DomainName: domain, StartTime: iso(hourOf(9)), EndTime: iso(hourOf(10)) };
    beforeAll(() => {
      emulator.seedLogs(
        domain,
        hourOf(9),
        Array.from({ length: 7 }, (_, i) => ({ name: `p${i}.gz`, source: seedContent(`p${i}`) })),
      );
    });

    test('a Total that is not a multiple of PageSize ends with a short page, covering every file once', async () => {
      const pages = await Promise.all([1, 2, 3].map((n) => list(sts, { ...window, PageSize: 3, PageNumber: n })));

      expect(pages.map((p) => detailOf(p).LogCount)).toEqual([3, 3, 1]);
      expect(pages.map((p) => detailOf(p).PageInfos)).toEqual([
        { PageIndex: 1, PageSize: 3, Total: 7 },
        { PageIndex: 2, PageSize: 3, Total: 7 },
        { PageIndex: 3, PageSize: 3, Total: 7 },
      ]);
      expect(pages.flatMap(namesOf)).toEqual(['p0.gz', 'p1.gz', 'p2.gz', 'p3.gz', 'p4.gz', 'p5.gz', 'p6.gz']);
    });

    test('a PageNumber past the end answers an empty page with the right Total', async () => {
      const response = await list(sts, { ...window, PageSize: 3, PageNumber: 4 });

      expect(detailOf(response)).toEqual({
        LogCount: 0,
        LogInfos: { LogInfoDetail: [] },
        PageInfos: { PageIndex: 4, PageSize: 3, Total: 7 },
      });
    });

    test('a window without files answers an empty first page', async () => {
      const response = await list(sts, { DomainName: 'never-seeded.example.com' });

      expect(detailOf(response)).toEqual({
        LogCount: 0,
        LogInfos: { LogInfoDetail: [] },
        PageInfos: { PageIndex: 1, PageSize: 300, Total: 0 },
      });
    });

    test('1000 per page with 1001 files needs a second page; the default page is 300', async () => {
      const bigDomain = 'big.example.com';
      const names = Array.from({ length: 1001 }, (_, i) => `f${String(i).padStart(4, '0')}.gz`);
      emulator.seedLogs(bigDomain, hourOf(7), names.map((name) => ({ name, source: { size: 10, seed: name } })));
      const bigWindow = { DomainName: bigDomain, StartTime: iso(hourOf(7)), EndTime: iso(hourOf(8)) };

      const [first, second, byDefault] = await Promise.all([
        list(sts, { ...bigWindow, PageSize: 1000, PageNumber: 1 }),
        list(sts, { ...bigWindow, PageSize: 1000, PageNumber: 2 }),
        list(sts, bigWindow),
      ]);

      expect(detailOf(first).LogCount).toBe(1000);
      expect(detailOf(second).LogInfos.LogInfoDetail.map((l) => l.LogName)).toEqual(['f1000.gz']);
      expect(detailOf(second).PageInfos).toEqual({ PageIndex: 2, PageSize: 1000, Total: 1001 });
      expect(detailOf(byDefault).LogCount).toBe(300);
      expect(detailOf(byDefault).PageInfos).toEqual({ PageIndex: 1, PageSize: 300, Total: 1001 });
    });

    test.each([['0'], ['1001'], ['abc'], ['-1'], ['1.5']])('PageSize %s is rejected naming PageSize', async (size) => {
      const failure = await failureOf(list(sts, { ...window, PageSize: size }));

      expect(failure.code).toBe('InvalidParameter');
      expect(failure.entry?.response?.statusCode).toBe(400);
      expect(failure.data?.Message).toContain('PageSize');
    });

    test('PageNumber 0 is rejected naming PageNumber', async () => {
      const failure = await failureOf(list(sts, { ...window, PageNumber: 0 }));

      expect(failure.code).toBe('InvalidParameter');
      expect(failure.data?.Message).toContain('PageNumber');
    });

    test('a file appearing between page calls shifts later pages (the hook runs before each page)', async () => {
      const shiftDomain = 'shift.example.com';
      const files = ['b.gz', 'c.gz', 'd.gz'].map((name) => ({ name, source: seedContent(name) }));
      emulator.seedLogs(shiftDomain, hourOf(9), files);
      const calls: number[] = [];
      emulator.faults.setBeforeList((call) => {
        calls.push(call.pageNumber);
        if (call.domain === shiftDomain && call.pageNumber === 2) {
          emulator.seedLogs(shiftDomain, hourOf(9), [{ name: 'a.gz', source: seedContent('a') }]);
        }
      });
      const shiftWindow = { DomainName: shiftDomain, StartTime: iso(hourOf(9)), EndTime: iso(hourOf(10)), PageSize: 2 };

      const first = await list(sts, { ...shiftWindow, PageNumber: 1 });
      const second = await list(sts, { ...shiftWindow, PageNumber: 2 });

      expect(calls).toEqual([1, 2]);
      expect(namesOf(first)).toEqual(['b.gz', 'c.gz']);
      expect(detailOf(first).PageInfos.Total).toBe(3);
      expect(namesOf(second)).toEqual(['c.gz', 'd.gz']);
      expect(detailOf(second).PageInfos.Total).toBe(4);
    });
  });

  describe('time window', () => {
    const domain = 'window.example.com';
    beforeAll(() => {
      emulator.seedLogs(domain, hourOf(9, 26), [{ name: 'yesterday-09.gz', source: seedContent('y9') }]);
      emulator.seedLogs(domain, hourOf(11, 26), [{ name: 'yesterday-11.gz', source: seedContent('y11') }]);
      emulator.seedLogs(domain, hourOf(8), [{ name: 'h08.gz', source: seedContent('8') }]);
      emulator.seedLogs(domain, hourOf(9), [
        { name: 'h09.gz', source: seedContent('9') },
        // Its hour is the earlier of its two times, so it belongs to 09:00 though it ends after 10:00.
        {
          name: 'h09-overrun.gz',
          source: seedContent('9o'),
          startMs: hourOf(10) - 30_000,
          endMs: hourOf(10) + 300_000,
        },
      ]);
      emulator.seedLogs(domain, hourOf(10), [
        { name: 'h10-late.gz', source: seedContent('10'), listedFromMs: NOW_MS + HOUR_MS },
      ]);
    });

    test('a file is listed when its hour is in [StartTime, EndTime)', async () => {
      const response = await list(sts, { DomainName: domain, StartTime: iso(hourOf(9)), EndTime: iso(hourOf(10)) });

      expect(namesOf(response)).toEqual(['h09.gz', 'h09-overrun.gz']);
    });

    test('without StartTime and EndTime the last 24 hours are listed', async () => {
      const response = await list(sts, { DomainName: domain });

      expect(namesOf(response)).toEqual(['yesterday-11.gz', 'h08.gz', 'h09.gz', 'h09-overrun.gz']);
    });

    test('only StartTime lists up to now; only EndTime lists the 24 hours before it', async () => {
      const fromStart = await list(sts, { DomainName: domain, StartTime: iso(hourOf(8)) });
      const untilEnd = await list(sts, { DomainName: domain, EndTime: iso(hourOf(9)) });

      expect(namesOf(fromStart)).toEqual(['h08.gz', 'h09.gz', 'h09-overrun.gz']);
      expect(namesOf(untilEnd)).toEqual(['yesterday-09.gz', 'yesterday-11.gz', 'h08.gz']);
    });

    test('a late file is listed only once the logical clock reaches its listedFromMs', async () => {
      const window = { DomainName: domain, StartTime: iso(hourOf(10)), EndTime: iso(hourOf(11)) };

      const before = await list(sts, window);
      logicalNowMs = NOW_MS + HOUR_MS;
      const after = await list(sts, window);

      expect(namesOf(before)).toEqual([]);
      expect(namesOf(after)).toEqual(['h10-late.gz']);
      const expiresAtSec = (NOW_MS + HOUR_MS) / 1000 + 1800;
      expect(detailOf(after).LogInfos.LogInfoDetail[0]?.LogPath).toContain(`Expires=${expiresAtSec}&`);
    });

    test.each([
      ['2026-11-27 09:00:00'],
      ['2026-11-27T09:00:00+08:00'],
      ['2026-11-27T09:00Z'],
      ['2026-02-30T00:00:00Z'],
      ['1732698000'],
    ])(
      'StartTime %s is InvalidStartTime.Malformed',
      async (startTime) => {
        const failure = await failureOf(list(sts, { DomainName: domain, StartTime: startTime }));

        expect(failure.code).toBe('InvalidStartTime.Malformed');
        expect(failure.entry?.response?.statusCode).toBe(400);
      },
    );

    test('a malformed EndTime is InvalidEndTime.Malformed', async () => {
      const params = { DomainName: domain, StartTime: iso(hourOf(8)), EndTime: '2026-11-27T25:00:00Z' };

      const failure = await failureOf(list(sts, params));

      expect(failure.code).toBe('InvalidEndTime.Malformed');
      expect(failure.entry?.response?.statusCode).toBe(400);
    });

    test.each([
      ['StartTime older than 31 days', NOW_MS - 31 * DAY_MS - HOUR_MS, NOW_MS - 30 * DAY_MS],
      ['EndTime equal to StartTime', hourOf(9), hourOf(9)],
      ['EndTime before StartTime', hourOf(9), hourOf(8)],
      ['a range longer than 31 days', NOW_MS - 30 * DAY_MS, NOW_MS + 2 * DAY_MS],
    ])('%s is InvalidStartTime.ValueNotSupported', async (_case, startMs, endMs) => {
      const failure = await failureOf(list(sts, { DomainName: domain, StartTime: iso(startMs), EndTime: iso(endMs) }));

      expect(failure.code).toBe('InvalidStartTime.ValueNotSupported');
      expect(failure.entry?.response?.statusCode).toBe(400);
    });

    test('the 31-day limit follows the logical clock', async () => {
      const startMs = NOW_MS - 31 * DAY_MS + HOUR_MS;
      const window = { DomainName: domain, StartTime: iso(startMs), EndTime: iso(startMs + HOUR_MS) };

      await expect(list(sts, window)).resolves.toBeDefined();
      logicalNowMs = NOW_MS + 2 * HOUR_MS;
      expect((await failureOf(list(sts, window))).code).toBe('InvalidStartTime.ValueNotSupported');
    });
  });

  describe('request validation', () => {
    test('a missing DomainName is MissingDomainName', async () => {
      const failure = await failureOf(list(sts, {}));

      expect(failure.code).toBe('MissingDomainName');
      expect(failure.entry?.response?.statusCode).toBe(400);
    });

    test('more than one domain per request is InvalidParameter naming DomainName', async () => {
      const failure = await failureOf(list(sts, { DomainName: 'a.example.com,b.example.com' }));

      expect(failure.code).toBe('InvalidParameter');
      expect(failure.data?.Message).toContain('DomainName');
    });

    test('an unknown action is 404 InvalidAction.NotFound', async () => {
      const params = { DomainName: 'x.example.com' };

      const failure = await failureOf(sts.request('DescribeLiveStreamsOnlineList', params, { method: 'POST' }));

      expect(failure.code).toBe('InvalidAction.NotFound');
      expect(failure.entry?.response?.statusCode).toBe(404);
    });

    test('another API version is InvalidVersion', async () => {
      const otherVersion = clientFor(emulator, SANDBOX_AK, '2014-05-26');

      const failure = await failureOf(list(otherVersion, { DomainName: 'x.example.com' }));

      expect(failure.code).toBe('InvalidVersion');
      expect(failure.entry?.response?.statusCode).toBe(400);
    });

    test('every error body is exactly {RequestId, HostId, Code, Message, Recommend}', async () => {
      const failure = await failureOf(list(sts, {}));

      expect(Object.keys(failure.data ?? {}).sort()).toEqual(['Code', 'HostId', 'Message', 'Recommend', 'RequestId']);
      expect(failure.data).toEqual({
        RequestId: expect.stringMatching(UUID_PATTERN),
        HostId: 'live.aliyuncs.com',
        Code: 'MissingDomainName',
        Message: 'DomainName is mandatory for this action.',
        Recommend: expect.stringContaining('MissingDomainName'),
      });
    });
  });

  describe('authentication', () => {
    const window = { DomainName: 'auth.example.com' };

    test('a wrong secret is SignatureDoesNotMatch, naming neither the right signature nor a secret', async () => {
      const wrong = clientFor(emulator, { accessKeyId: SANDBOX_AK.accessKeyId, accessKeySecret: 'not-the-secret' });

      const failure = await failureOf(list(wrong, window));

      expect(failure.code).toBe('SignatureDoesNotMatch');
      expect(failure.entry?.response?.statusCode).toBe(400);
      const sentParams = emulator.stats.requests.at(-1)?.params ?? {};
      const expectedSignature = signRpcParams('POST', sentParams, SANDBOX_AK.accessKeySecret);
      const answer = JSON.stringify(failure.data);
      expect(answer).not.toContain(expectedSignature);
      expect(answer).not.toContain(SANDBOX_AK.accessKeySecret);
    });

    test('an unknown AccessKeyId is 404 InvalidAccessKeyId.NotFound', async () => {
      const stranger = clientFor(emulator, { accessKeyId: 'LTAIunknown', accessKeySecret: 'whatever' });

      const failure = await failureOf(list(stranger, window));

      expect(failure.code).toBe('InvalidAccessKeyId.NotFound');
      expect(failure.entry?.response?.statusCode).toBe(404);
    });

    test('an STS key without its SecurityToken is InvalidSecurityToken.Malformed', async () => {
      const { securityToken: _omitted, ...withoutToken } = SANDBOX_STS;
      const tokenless = clientFor(emulator, withoutToken);

      const failure = await failureOf(list(tokenless, window));

      expect(failure.code).toBe('InvalidSecurityToken.Malformed');
      expect(failure.entry?.response?.statusCode).toBe(400);
    });

    test('an STS key with another SecurityToken is InvalidSecurityToken.Mismatch, not echoing the token', async () => {
      const mismatched = clientFor(emulator, { ...SANDBOX_STS, securityToken: 'stale-token' });

      const failure = await failureOf(list(mismatched, window));

      expect(failure.code).toBe('InvalidSecurityToken.Mismatch');
      expect(JSON.stringify(failure.data)).not.toContain(SANDBOX_STS.securityToken);
    });

    test('a hand-signed request is accepted by GET and POST alike', async () => {
      const viaGet = await signedRawCall(emulator, SANDBOX_STS, {}, { method: 'GET' });
      const viaPost = await signedRawCall(emulator, SANDBOX_AK, {}, { method: 'POST' });

      expect(viaGet).toMatchObject({ status: 200, body: { DomainName: 'raw.example.com' } });
      expect(viaPost).toMatchObject({ status: 200, body: { DomainName: 'raw.example.com' } });
    });

    test('the HTTP method is part of what is signed', async () => {
      const params = rawParams(SANDBOX_AK);

      const answer = await rawCall(emulator, 'POST', signedRpcQuery('GET', params, SANDBOX_AK.accessKeySecret));

      expect(answer).toMatchObject({ status: 400, body: { Code: 'SignatureDoesNotMatch' } });
    });

    test.each([
      ['16 minutes old', -16 * 60_000, 'InvalidTimeStamp.Expired'],
      ['16 minutes ahead', 16 * 60_000, 'InvalidTimeStamp.Expired'],
    ])('a Timestamp %s is rejected', async (_case, skewMs, code) => {
      const answer = await signedRawCall(emulator, SANDBOX_AK, { Timestamp: iso(Date.now() + skewMs) });

      expect(answer).toMatchObject({ status: 400, body: { Code: code } });
    });

    test('a Timestamp 14 minutes old is still accepted', async () => {
      const answer = await signedRawCall(emulator, SANDBOX_AK, { Timestamp: iso(Date.now() - 14 * 60_000) });

      expect(answer.status).toBe(200);
    });

    test('a Timestamp in another format is InvalidTimeStamp.Format', async () => {
      const answer = await signedRawCall(emulator, SANDBOX_AK, { Timestamp: new Date().toISOString() });

      expect(answer).toMatchObject({ status: 400, body: { Code: 'InvalidTimeStamp.Format' } });
    });

    test('a reused SignatureNonce is SignatureNonceUsed for the same key only', async () => {
      const nonce = randomUUID();

      const first = await signedRawCall(emulator, SANDBOX_AK, { SignatureNonce: nonce });
      const replay = await signedRawCall(emulator, SANDBOX_AK, { SignatureNonce: nonce });
      const otherKey = await signedRawCall(emulator, SANDBOX_STS, { SignatureNonce: nonce });

      expect(first.status).toBe(200);
      expect(replay).toMatchObject({ status: 400, body: { Code: 'SignatureNonceUsed' } });
      expect(otherKey.status).toBe(200);
    });

    test('a forged request does not burn the nonce of a later genuine one', async () => {
      const nonce = randomUUID();
      const forged = await signedRawCall(emulator, SANDBOX_AK, { SignatureNonce: nonce }, { secret: 'guess' });
      const genuine = await signedRawCall(emulator, SANDBOX_AK, { SignatureNonce: nonce });

      expect(forged.body.Code).toBe('SignatureDoesNotMatch');
      expect(genuine.status).toBe(200);
    });

    test.each([['Action'], ['Version'], ['AccessKeyId'], ['SignatureNonce'], ['Timestamp']])(
      'a request without %s answers its Missing<Name> code',
      async (name) => {
        const answer = await signedRawCall(emulator, SANDBOX_AK, { [name]: undefined });

        expect(answer).toMatchObject({ status: 400, body: { Code: `Missing${name}` } });
      },
    );

    test('an unsigned request is MissingSignature', async () => {
      const answer = await rawCall(emulator, 'POST', canonicalizeRpcParams(rawParams(SANDBOX_AK)));

      expect(answer).toMatchObject({ status: 400, body: { Code: 'MissingSignature' } });
    });
  });

  describe('fault switches', () => {
    const window = { DomainName: 'faults.example.com' };

    test('throttleNext answers the next N calls with Throttling.User, then recovers', async () => {
      const throttledBefore = emulator.stats.throttled;
      emulator.faults.throttleNext(2);

      const first = await failureOf(list(sts, window));
      const second = await failureOf(list(sts, window));
      const third = await list(sts, window);

      for (const failure of [first, second]) {
        expect(failure.code).toBe('Throttling.User');
        expect(failure.data?.Message).toBe('Request was denied due to user flow control.');
        expect(failure.entry?.response?.statusCode).toBe(400);
      }
      expect(third.DomainName).toBe('faults.example.com');
      expect(emulator.stats.throttled).toBe(throttledBefore + 2);
      expect(emulator.faults.pendingInjected).toBe(0);
    });

    test('failNext internal-500 answers a JSON InternalError with status 500', async () => {
      emulator.faults.failNext(1, 'internal-500');

      const failure = await failureOf(list(sts, window));

      expect(failure.code).toBe('InternalError');
      expect(failure.entry?.response?.statusCode).toBe(500);
      await expect(list(sts, window)).resolves.toMatchObject({ DomainName: 'faults.example.com' });
    });

    test('failNext unavailable-503-html makes pop-core throw json-bigint\'s plain SyntaxError object', async () => {
      emulator.faults.failNext(1, 'unavailable-503-html');

      const failure = await failureOf(list(sts, window));

      // pop-core never looks at the status: it only fails parsing the HTML, so no code, no data, no status.
      expect(failure).not.toBeInstanceOf(Error);
      expect(failure.name).toBe('SyntaxError');
      expect(failure.code).toBeUndefined();
      expect(emulator.stats.requests.at(-1)).toMatchObject({ status: 503, code: 'ServiceUnavailable' });
      await expect(list(sts, window)).resolves.toMatchObject({ DomainName: 'faults.example.com' });
    });

    test('setDelayMs holds every answer back, so a short client timeout fires', async () => {
      emulator.faults.setDelayMs(300);

      const startedAtMs = Date.now();
      const slow = await list(sts, window);
      const elapsedMs = Date.now() - startedAtMs;
      const timedOut = await failureOf(list(sts, window, { timeout: 100 }));

      expect(slow.DomainName).toBe('faults.example.com');
      expect(elapsedMs).toBeGreaterThanOrEqual(290);
      expect(timedOut.name).toBe('RequestTimeoutError');
    });

    test('reset clears queued injections, the delay and the hook', async () => {
      const hook = jest.fn();
      emulator.faults.throttleNext(3);
      emulator.faults.setDelayMs(2000);
      emulator.faults.setBeforeList(hook);

      emulator.faults.reset();
      const response = await list(sts, window, { timeout: 1000 });

      expect(response.DomainName).toBe('faults.example.com');
      expect(emulator.faults.pendingInjected).toBe(0);
      expect(hook).not.toHaveBeenCalled();
    });
  });

  test('seedLogs refuses an hour that does not start on the hour', () => {
    expect(() => emulator.seedLogs('x.example.com', hourOf(9) + 1, [{ name: 'a', source: seedContent('a') }])).toThrow(
      /start of a UTC hour/,
    );
  });
});

describe('Live emulator flow control (100 requests per second per AccessKeyId by default)', () => {
  const origin = new RecordingOrigin();

  test('the 101st request within one second is Throttling.User; other keys and the next second are not', async () => {
    let wallMs = Date.now();
    const emulator = await startLiveEmulator({ origin, wallNow: () => wallMs });
    try {
      const ak = clientFor(emulator, SANDBOX_AK);
      const sts = clientFor(emulator, SANDBOX_STS);

      const results = await Promise.allSettled(
        Array.from({ length: 101 }, () => list(ak, { DomainName: 'qps.example.com' })),
      );
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as ClientFailure] : []));
      const otherKey = await list(sts, { DomainName: 'qps.example.com' });
      wallMs += 1000;
      const nextSecond = await list(ak, { DomainName: 'qps.example.com' });

      expect(failures.map((f) => f.code)).toEqual(['Throttling.User']);
      expect(otherKey.DomainName).toBe('qps.example.com');
      expect(nextSecond.DomainName).toBe('qps.example.com');
      expect(emulator.stats.throttled).toBe(1);
    } finally {
      await emulator.close();
    }
  });

  test('on the real clock a burst is throttled and the key recovers a second later', async () => {
    const emulator = await startLiveEmulator({ origin });
    try {
      const ak = clientFor(emulator, SANDBOX_AK);
      await list(ak, { DomainName: 'burst.example.com' }); // warm up the connection and the code paths

      const results = await Promise.allSettled(
        Array.from({ length: 200 }, () => list(ak, { DomainName: 'burst.example.com' })),
      );
      const burstEndedAtMs = Date.now();
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as ClientFailure] : []));
      await new Promise((resolve) => setTimeout(resolve, burstEndedAtMs + 1100 - Date.now()));
      const recovered = await list(ak, { DomainName: 'burst.example.com' });

      expect(failures.length).toBeGreaterThan(0);
      expect(results.length - failures.length).toBeGreaterThanOrEqual(99);
      expect(new Set(failures.map((f) => f.code))).toEqual(new Set(['Throttling.User']));
      expect(emulator.stats.throttled).toBe(failures.length);
      expect(recovered.DomainName).toBe('burst.example.com');
    } finally {
      await emulator.close();
    }
  });
});

describe('Live emulator lifecycle', () => {
  test('close ends a delayed answer promptly and frees the port', async () => {
    const emulator = await startLiveEmulator({ origin: new RecordingOrigin() });
    emulator.faults.setDelayMs(10_000);
    const client = clientFor(emulator, SANDBOX_AK);
    const pending = failureOf(list(client, { DomainName: 'close.example.com' }, { timeout: 20_000 }));
    await new Promise((resolve) => setTimeout(resolve, 100));

    const startedAtMs = Date.now();
    await emulator.close();
    await emulator.close();
    const failure = await pending;

    expect(Date.now() - startedAtMs).toBeLessThan(1000);
    expect(failure.name).not.toBe('RequestTimeoutError');
    await expect(fetch(`${emulator.endpoint}/`)).rejects.toThrow();
  });
});
