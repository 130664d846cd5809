/**
 * Bad input through the real handler, with the emulators running: events and configuration that are refused
 * before any network call (with an error naming the field and the fix, in the report and in the log line), and
 * API answers that are malformed, misleading or hostile (rejected or handled, never fetched blindly).
 */
import { createArchiver } from '../../lib/archiver';
import { oldestServableHourMs } from '../../lib/events';
import { DAY_MS, HOUR_MS, isoHour } from '../../lib/time';
import type { RunReport } from '../../lib/types';
import { startSandboxCloud, type SandboxCloud } from '../../sandbox/cloud';
import { logName } from '../../sandbox/logdata';
import { startOriginEmulator, type OriginEmulator } from '../../sandbox/origin-emulator';

const DOMAIN = 'bad-input.example.com';
const OTHER_DOMAIN = 'other.example.com';

interface LogLine {
  level: string;
  message: string;
  error?: { name: string; message: string; field?: string; fix?: string; issues?: Array<{ variable: string; problem: string; fix: string }> };
  [key: string]: unknown;
}

function toEpochSec(ms: number): string {
  return String(Math.floor(ms / 1000));
}

const currentHourMs = () => Math.floor(Date.now() / HOUR_MS) * HOUR_MS;

describe('bad input', () => {
  let cloud: SandboxCloud;
  let logs: string[];

  beforeAll(async () => {
    cloud = await startSandboxCloud({ domains: [DOMAIN, OTHER_DOMAIN] });
    // Something to archive, so that an event that got through would show up as requests.
    cloud.live.seedLogs(DOMAIN, currentHourMs() - HOUR_MS, [{ name: logName(DOMAIN, currentHourMs() - HOUR_MS, 0), source: { content: Buffer.from('log\n') } }]);
  });
  afterAll(async () => {
    await cloud.close();
  });

  function archiver(env: Record<string, string | undefined> = {}) {
    logs = [];
    cloud.live.resetStats();
    cloud.oss.resetStats();
    cloud.origin.resetStats();
    // A fan-out, should one happen, fails on loopback instead of reaching for a real Function Compute.
    const fanOut = { FANOUT_ENDPOINT: 'http://127.0.0.1:9' };
    return createArchiver({ env: { ...cloud.env, LOOKBACK_HOURS: '0', ...fanOut, ...env }, logSink: (line) => logs.push(line) });
  }

  function invoke(event: string | Buffer, env?: Record<string, string | undefined>): Promise<RunReport> {
    return archiver(env)(Buffer.isBuffer(event) ? event : Buffer.from(event), cloud.context());
  }

  function refusedLine(): LogLine {
    const lines = logs.map((l) => JSON.parse(l) as LogLine).filter((l) => l.message === 'run refused');
    expect(lines).toHaveLength(1);
    expect(lines[0].level).toBe('error');
    return lines[0];
  }

  function expectNoRequests(): void {
    expect({ live: cloud.live.stats.calls, oss: cloud.oss.stats.requests, origin: cloud.origin.stats.requests }).toEqual({
      live: 0,
      oss: 0,
      origin: 0,
    });
  }

  describe('events are refused before any network call, naming the field and the fix', () => {
    const hourAgoIso = isoHour(currentHourMs() - HOUR_MS);
    const cases: Array<[string, string, string, RegExp]> = [
      ['an event that is not JSON', '{"action":"backfill",', 'event', /send a JSON object/],
      ['a JSON array instead of an object', '[1,2,3]', 'event', /send a JSON object/],
      ['a number where a time belongs', '{"action":"backfill","start":1764000000,"end":"2026-01-01T00:00:00Z"}', 'start', /ISO-8601 UTC time/],
      ['a timer whose triggerTime is a number', '{"triggerTime":1764000000,"triggerName":"hourly","payload":""}', 'triggerTime', /ISO-8601 UTC time/],
      ['a timer payload of the wrong type', '{"triggerTime":"2026-01-01T00:05:00Z","payload":"[1]"}', 'payload', /JSON overrides/],
      ['hours given as a string', `{"action":"archive","domain":"${DOMAIN}","hours":"${hourAgoIso}"}`, 'hours', /list the UTC hour starts/],
      ['an unknown action', '{"action":"purge"}', 'action', /use one of backfill, archive/],
      ['an unknown key (a typo)', `{"action":"backfill","start":"${hourAgoIso}","end":"${isoHour(currentHourMs())}","domain":"${DOMAIN}"}`, 'domain', /use only action, domains, start, end/],
      ['a backfill whose range is reversed', `{"action":"backfill","start":"${isoHour(currentHourMs() - HOUR_MS)}","end":"${isoHour(currentHourMs() - 5 * HOUR_MS)}"}`, 'end', /end later than start/],
      ['a backfill entirely older than the 31 days the API keeps', `{"action":"backfill","start":"${isoHour(currentHourMs() - 60 * DAY_MS)}","end":"${isoHour(currentHourMs() - 40 * DAY_MS)}"}`, 'end', /give an end after/],
      ['a backfill starting in the current hour', `{"action":"backfill","start":"${isoHour(currentHourMs())}","end":"${isoHour(currentHourMs() + HOUR_MS)}"}`, 'start', /give a start before/],
      ['a unit of 5000 hours', JSON.stringify({ action: 'archive', domain: DOMAIN, hours: Array.from({ length: 5000 }, () => hourAgoIso) }), 'hours', /split the unit/],
      ['an absurd lookback override', '{"lookbackHours":1000000000}', 'lookbackHours', /whole number from 0 to 720/],
      ['a domain that climbs directories', `{"action":"backfill","domains":["../../etc"],"start":"${hourAgoIso}","end":"${isoHour(currentHourMs())}"}`, 'domains[0]', /ingest domain name such as live.example.com/],
      ['a domain with a scheme', `{"action":"backfill","domains":["https://${DOMAIN}/"],"start":"${hourAgoIso}","end":"${isoHour(currentHourMs())}"}`, 'domains[0]', /ingest domain name/],
      ['a domain with a port', `{"action":"archive","domain":"${DOMAIN}:443","hours":["${hourAgoIso}"]}`, 'domain', /ingest domain name/],
      ['a wildcard domain', `{"action":"backfill","domains":["*.example.com"],"start":"${hourAgoIso}","end":"${isoHour(currentHourMs())}"}`, 'domains[0]', /ingest domain name/],
      ['a domain that is not configured', `{"action":"backfill","domains":["unknown.example.com"],"start":"${hourAgoIso}","end":"${isoHour(currentHourMs())}"}`, 'domains[0]', /add it to ARCHIVER_DOMAINS/],
    ];

    it.each(cases)('%s', async (_case, event, field, fix) => {
      const report = await invoke(event);

      expect(report.ok).toBe(false);
      expect(report.totals.listed).toBe(0);
      expect(report.errors).toHaveLength(1);
      expect(report.errors[0]).toContain(`${field}:`);
      expect(report.errors[0]).toMatch(fix);
      const line = refusedLine();
      expect(line.error).toMatchObject({ name: 'EventError' });
      expect(line.error!.field).toContain(field);
      expect(line.error!.fix).toMatch(fix);
      expectNoRequests();
    });

    it('refuses an event of several megabytes without echoing it back', async () => {
      const junk = 'x'.repeat(4 * 1024 * 1024);
      const report = await invoke(JSON.stringify({ action: 'backfill', start: junk, end: junk }));

      expect(report.ok).toBe(false);
      expect(report.errors[0]).toContain('start:');
      // The value is shortened in the message: a report and a log line stay small.
      expect(JSON.stringify(report).length).toBeLessThan(4000);
      expect(logs.join('\n').length).toBeLessThan(10_000);
      expectNoRequests();
    });
  });

  describe('backfill ranges: what is clamped, what is refused', () => {
    it('clamps a start older than 31 days and an end in the future, says so, and asks the API only for servable hours', async () => {
      const nowMs = Date.now();
      const report = await invoke(
        JSON.stringify({
          action: 'backfill',
          domains: [OTHER_DOMAIN],
          start: isoHour(currentHourMs() - 31 * DAY_MS - 5 * HOUR_MS),
          end: isoHour(currentHourMs() + 2 * HOUR_MS),
        }),
        // The whole clamped month fits in this invocation: no fan-out to a Function Compute that is not there.
        { MAX_HOURS_PER_INVOCATION: '744' },
      );

      expect(report.errors).toEqual([]);
      expect(report.warnings.join(' ')).toMatch(/older than the 31 days .* clamped to/);
      expect(report.warnings.join(' ')).toMatch(/after the start of the current hour.* clamped to/);
      const asked = cloud.live.stats.requests.filter((r) => r.params.DomainName === OTHER_DOMAIN);
      expect(asked.length).toBeGreaterThan(0);
      for (const request of asked) {
        expect(request.code).toBe('OK');
        expect(Date.parse(request.params.StartTime)).toBeGreaterThanOrEqual(oldestServableHourMs(nowMs) - HOUR_MS);
        expect(Date.parse(request.params.EndTime)).toBeLessThanOrEqual(currentHourMs());
      }
    });
  });

  describe('configuration is checked at cold start, every problem at once', () => {
    it('names each bad variable with its fix, in the report and in the log line, and calls nothing', async () => {
      const archive = archiver({
        ARCHIVER_DOMAINS: undefined,
        OSS_BUCKET: 'Not_A_Bucket',
        CONCURRENCY: 'lots',
        DOWNLOAD_TIMEOUT_SEC: '0',
        LIVE_ENDPOINT: 'ftp://live.example.com',
        LOG_HOST_ALLOWLIST: 'https://*.aliyuncs.com/',
        STATE_PREFIX: 'live-logs/',
      });

      const report = await archive(Buffer.from(''), cloud.context());
      const again = await archive(Buffer.from(''), cloud.context());

      const expected: Array<[string, RegExp]> = [
        ['ARCHIVER_DOMAINS', /is not set; set it to the ingest domains/],
        ['OSS_BUCKET', /'Not_A_Bucket' is not a valid bucket name; set it to the archive bucket name/],
        ['CONCURRENCY', /'lots' is not an integer; set it to a whole number from 1 to 64/],
        ['DOWNLOAD_TIMEOUT_SEC', /'0' is below the minimum 1; set it to a whole number from 1 to 600/],
        ['LIVE_ENDPOINT', /does not start with https:\/\/ or http:\/\/; set it to an http\(s\) URL/],
        ['LOG_HOST_ALLOWLIST', /is not a host pattern; list host patterns/],
        ['STATE_PREFIX', /overlaps ARCHIVE_PREFIX 'live-logs\/'; choose prefixes/],
      ];
      expect(report.ok).toBe(false);
      // One line per variable, so that none is clipped away from the report.
      expect(report.errors).toHaveLength(expected.length);
      for (const [variable, problemAndFix] of expected) {
        expect(report.errors).toContainEqual(expect.stringMatching(new RegExp(`^Invalid configuration: ${variable}: .*${problemAndFix.source}`)));
      }
      // A warm invocation of the same instance gets the same answer, still without a call.
      expect(again.errors).toEqual(report.errors);
      const lines = logs.map((l) => JSON.parse(l) as LogLine).filter((l) => l.message === 'run refused');
      expect(lines).toHaveLength(2);
      expect(lines[0].error!.issues!.map((i) => i.variable).sort()).toEqual(expected.map(([v]) => v).sort());
      for (const issue of lines[0].error!.issues!) expect(issue.fix).toMatch(/^(set|list|choose) /);
      expectNoRequests();
    });
  });

  describe('API answers are checked, not trusted', () => {
    let evil: OriginEmulator;
    const hour = currentHourMs() - 2 * HOUR_MS;

    beforeAll(async () => {
      // Another host with valid signed URLs: everything it would serve is real, but it is not on the allowlist.
      evil = await startOriginEmulator();
      evil.addFile('/stolen.gz', { content: Buffer.from('served from a host off the list\n') });
    });
    afterAll(async () => {
      cloud.live.faults.reset();
      cloud.origin.faults.reset();
      await evil.close();
    });

    /** Adds raw LogInfoDetail entries to the first page of every answer, keeping the paging numbers consistent. */
    function injectEntries(entries: () => unknown[]): void {
      cloud.live.faults.setAnswerTransform((answer) => {
        const detail = (answer.DomainLogDetails as { DomainLogDetail: Array<Record<string, any>> }).DomainLogDetail[0];
        const extra = entries();
        detail.LogInfos.LogInfoDetail.push(...extra);
        detail.LogCount += extra.length;
        detail.PageInfos.Total += extra.length;
        return answer;
      });
    }

    /** The hourly timer's run of `hour` for one domain (a timer run never fans out, so no Function Compute is needed). */
    function timerFor(domain: string): string {
      return JSON.stringify({
        triggerTime: isoHour(hour + HOUR_MS).replace(':00:00Z', ':05:00Z'),
        triggerName: 'hourly',
        payload: JSON.stringify({ domains: [domain] }),
      });
    }

    function entry(name: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
      return {
        LogName: name,
        LogPath: cloud.origin.signedLogPath('/decoy.gz', Math.floor(Date.now() / 1000) + 600),
        LogSize: 10,
        StartTime: toEpochSec(hour),
        EndTime: toEpochSec(hour + HOUR_MS),
        ...overrides,
      };
    }

    it('rejects malformed, absurd and hostile entries with a reason, fetches none of them, and archives the rest', async () => {
      const good = logName(DOMAIN, hour, 1);
      const swapped = logName(DOMAIN, hour, 2);
      const lying = logName(DOMAIN, hour, 3);
      const redirected = logName(DOMAIN, hour, 4);
      cloud.live.seedLogs(DOMAIN, hour, [
        { name: good, source: { content: Buffer.from('good log\n') } },
        // StartTime after EndTime, as in the API reference: handled, not rejected.
        { name: swapped, source: { content: Buffer.from('swapped times\n') }, swapTimes: true },
        // The API says 5 bytes; the origin serves more: never stored as if it were the log.
        { name: lying, source: { content: Buffer.from('more than five bytes\n') }, reportedSize: 5 },
        { name: redirected, source: { content: Buffer.from('redirected\n') } },
      ]);
      cloud.origin.addFile('/decoy.gz', { content: Buffer.alloc(10, 0x61) });
      cloud.origin.faults.redirect(`${evil.signedUrl('/stolen.gz', Math.floor(Date.now() / 1000) + 600)}`, {
        path: (await import('../../sandbox/live-emulator')).logPath(DOMAIN, hour, redirected),
        times: 100,
      });
      const expiresSec = Math.floor(Date.now() / 1000) + 600;
      injectEntries(() => [
        entry('missing-size.gz', { LogSize: undefined }),
        entry('text-size.gz', { LogSize: 'big' }),
        entry('negative-size.gz', { LogSize: -5 }),
        entry('absurd-size.gz', { LogSize: 1e15 }),
        entry(42),
        entry('object-start.gz', { StartTime: { seconds: 1 } }),
        entry('millisecond-start.gz', { StartTime: String(hour) }),
        entry('no-path.gz', { LogPath: undefined }),
        entry('evil-host.gz', { LogPath: evil.signedLogPath('/stolen.gz', expiresSec) }),
        entry('ftp-scheme.gz', { LogPath: `ftp://${cloud.origin.host}/decoy.gz` }),
        entry('user-info.gz', { LogPath: `http://user:pass@${cloud.origin.host}/decoy.gz` }),
        entry('../x'),
        entry('a/b'),
        entry('..'),
        entry('a\\b'),
      ]);

      const report = await invoke(timerFor(DOMAIN));

      const reasons = new Map(report.failures.map((f) => [f.name, f.reason]));
      const expectations: Array<[string, RegExp]> = [
        ['missing-size.gz', /rejected from the listing: LogSize \(undefined\) is not an integer/],
        ['text-size.gz', /LogSize "big" is not an integer/],
        ['negative-size.gz', /LogSize -5 is not an integer/],
        // pop-core parses numbers of 16 digits and more as BigNumber objects (json-bigint).
        ['absurd-size.gz', /LogSize \(object\) is not an integer in 0\.\./],
        ['(number)', /LogName is missing or not a string/],
        ['object-start.gz', /StartTime \(object\) is not a plausible UNIX time in seconds/],
        ['millisecond-start.gz', /StartTime "\d{13}" is not a plausible UNIX time in seconds/],
        ['no-path.gz', /LogPath is missing/],
        ['evil-host.gz', new RegExp(`LogPath host ${evil.host} is not on the download host allowlist`)],
        ['ftp-scheme.gz', /unsupported scheme ftp:/],
        ['user-info.gz', /LogPath carries user info/],
        ['../x', /LogName contains a path separator|LogName contains '\.\.'/],
        ['a/b', /LogName contains a path separator/],
        ['..', /LogName contains '\.\.'/],
        ['a\\\\b', /LogName contains a path separator/],
        [lying, /origin announced \d+ bytes but the API listed LogSize 5/],
        [redirected, new RegExp(`download host ${evil.host} is not on the allowlist`)],
      ];
      for (const [name, reason] of expectations) expect([name, reasons.get(name)]).toEqual([name, expect.stringMatching(reason)]);
      expect(report.failures).toHaveLength(expectations.length);
      expect(report.totals).toMatchObject({ listed: 4, archivedNow: 2, failed: 2 });

      // Nothing fetched from the other host, not even through the redirect; the decoy behind rejected entries neither.
      expect(evil.stats.requests).toBe(0);
      expect(cloud.origin.stats.byPath['/decoy.gz']).toBeUndefined();
      // Nothing written outside the hour's keys: the two good files, the manifest and the lease.
      const [yyyy, MM, dd, HH] = [isoHour(hour).slice(0, 4), isoHour(hour).slice(5, 7), isoHour(hour).slice(8, 10), isoHour(hour).slice(11, 13)];
      const keys = cloud.oss.listKeys(cloud.bucket).filter((k) => !k.startsWith(`live-logs-state/leases/${DOMAIN}/`));
      expect(keys.sort()).toEqual(
        [
          `live-logs/${DOMAIN}/${yyyy}/${MM}/${dd}/${HH}/${good}`,
          `live-logs/${DOMAIN}/${yyyy}/${MM}/${dd}/${HH}/${swapped}`,
          `live-logs-state/manifests/${DOMAIN}/${yyyy}/${MM}/${dd}/${HH}.json`,
        ].sort(),
      );
      expect((await cloud.oss.readObject(cloud.bucket, `live-logs/${DOMAIN}/${yyyy}/${MM}/${dd}/${HH}/${swapped}`)).toString()).toBe('swapped times\n');
      // The run report in the log carries the same reasons.
      const reportLine = logs.map((l) => JSON.parse(l) as LogLine).find((l) => l.message === 'run report');
      expect(JSON.stringify(reportLine)).toContain('is not on the download host allowlist');
    });

    it.each([
      ['PageInfos missing while there are entries', (d: Record<string, any>) => delete d.PageInfos, /DomainLogDetails\.DomainLogDetail\[0\]\.PageInfos is missing/],
      ['Total of the wrong type', (d: Record<string, any>) => (d.PageInfos.Total = 'many'), /PageInfos\.Total is "many", expected a non-negative integer/],
      ['LogInfoDetail not an array', (d: Record<string, any>) => (d.LogInfos.LogInfoDetail = { LogName: 'x' }), /LogInfos\.LogInfoDetail is object, expected an array/],
    ])('reports an answer with %s as a listing error naming the field, and downloads nothing', async (_case, damage, message) => {
      cloud.live.seedLogs(OTHER_DOMAIN, hour, [{ name: logName(OTHER_DOMAIN, hour, 0), source: { content: Buffer.from('x\n') } }]);
      cloud.live.faults.setAnswerTransform((answer) => {
        damage((answer.DomainLogDetails as { DomainLogDetail: Array<Record<string, any>> }).DomainLogDetail[0]);
        return answer;
      });

      const report = await invoke(timerFor(OTHER_DOMAIN));

      expect(report.ok).toBe(false);
      expect(report.errors).toEqual([expect.stringMatching(message)]);
      expect(report.errors[0]).toContain(`listing ${OTHER_DOMAIN} failed`);
      // A shape error is not retried: the same question gets the same answer.
      expect(cloud.live.stats.calls).toBe(1);
      expect(cloud.origin.stats.requests).toBe(0);
    });
  });
});
