import { gunzipSync } from 'node:zlib';
import type { SeedFile } from '../../sandbox/contracts';
import { expectedDigest, gzipLogFile, logName, logOriginPath } from '../../sandbox/logdata';
import { archiveKey } from '../../lib/keys';
import { isoHour } from '../../lib/time';
import { startHarness, previousHourMs, type Harness } from '../support/harness';

const DOMAINS = ['a.example.com', 'b.example.com', 'c.example.com'];
const BUCKET = 'live-log-archive';

function keyFor(domain: string, hourStartMs: number, name: string): string {
  const iso = isoHour(hourStartMs); // 2026-11-27T09:00:00Z
  const [date, time] = iso.split('T');
  const [yyyy, MM, dd] = date.split('-');
  return `live-logs/${domain}/${yyyy}/${MM}/${dd}/${time.slice(0, 2)}/${name}`;
}

function manifestKeyFor(domain: string, hourStartMs: number): string {
  const iso = isoHour(hourStartMs);
  const [date, time] = iso.split('T');
  const [yyyy, MM, dd] = date.split('-');
  return `live-logs-state/manifests/${domain}/${yyyy}/${MM}/${dd}/${time.slice(0, 2)}.json`;
}

function seedMixed(h: Harness, domain: string, hourStartMs: number): SeedFile[] {
  const files: SeedFile[] = [
    { name: logName(domain, hourStartMs, 0), source: { content: gzipLogFile({ domain, hourStartMs, lines: 50 }) } },
    { name: logName(domain, hourStartMs, 1), source: { content: gzipLogFile({ domain, hourStartMs, lines: 2000, seed: 'x' }) } },
    { name: logName(domain, hourStartMs, 2), source: { size: 3 * 1024 * 1024 + 17, seed: `${domain}-big` } },
  ];
  h.cloud.live.seedLogs(domain, hourStartMs, files);
  return files;
}

describe('archiving the previous hour through the real SDKs', () => {
  let h: Harness;
  const hour = previousHourMs();

  beforeEach(async () => {
    // A 1 MB multipart threshold puts the 3 MB file through the multipart path.
    h = await startHarness({ domains: DOMAINS, env: { MULTIPART_THRESHOLD_MB: '1', PART_SIZE_MB: '1' } });
  });
  afterEach(async () => {
    await h.close();
  });

  it('archives every seeded file of every domain byte-identical under its key, and reports what it did', async () => {
    const seeded = DOMAINS.map((d) => ({ domain: d, files: seedMixed(h, d, hour) }));

    const report = await h.timer();

    expect(report.ok).toBe(true);
    expect(report.totals.archivedNow).toBe(9);
    expect(report.totals.failed).toBe(0);
    for (const { domain, files } of seeded) {
      const hr = report.hours.find((x) => x.domain === domain)!;
      expect(hr).toMatchObject({ hour: isoHour(hour), listed: 3, archivedNow: 3, alreadyArchived: 0, failed: 0 });
      for (const f of files) {
        const info = h.cloud.oss.head(BUCKET, keyFor(domain, hour, f.name));
        const want = await expectedDigest(f.source);
        expect(info).not.toBeNull();
        expect(info!.size).toBe(want.size);
        expect(info!.crc64).toBe(want.crc64);
      }
      const manifest = JSON.parse((await h.cloud.oss.readObject(BUCKET, manifestKeyFor(domain, hour))).toString());
      expect(Object.keys(manifest.files).sort()).toEqual(files.map((f) => f.name).sort());
      expect(Object.values(manifest.files).every((e: any) => e.status === 'archived' && e.crc64)).toBe(true);
    }
    const bytes = (await Promise.all(seeded.flatMap((s) => s.files.map((f) => expectedDigest(f.source))))).reduce(
      (n, d) => n + d.size,
      0,
    );
    expect(report.totals.bytesArchived).toBe(bytes);
    // The small gzip logs are still real gzip after the trip.
    const small = await h.cloud.oss.readObject(BUCKET, keyFor('a.example.com', hour, logName('a.example.com', hour, 0)));
    expect(gunzipSync(small).toString()).toContain('a.example.com');
    // The big file went multipart.
    expect(h.cloud.oss.head(BUCKET, keyFor('a.example.com', hour, logName('a.example.com', hour, 2)))!.objectType).toBe(
      'Multipart',
    );
    expect(h.cloud.origin.stats.downloadsCompleted).toBe(9);
  });

  it('makes zero downloads and changes no object on a second run', async () => {
    DOMAINS.forEach((d) => seedMixed(h, d, hour));
    await h.timer();
    const before = h.cloud.oss.listKeys(BUCKET, 'live-logs/').map((k) => [k, h.cloud.oss.head(BUCKET, k)!.lastModifiedMs]);
    const downloads = h.cloud.origin.stats.downloadsStarted;
    h.cloud.oss.resetStats();

    const report = await h.timer();

    expect(h.cloud.origin.stats.downloadsStarted).toBe(downloads);
    expect(report.totals).toMatchObject({ archivedNow: 0, alreadyArchived: 9, failed: 0 });
    const after = h.cloud.oss.listKeys(BUCKET, 'live-logs/').map((k) => [k, h.cloud.oss.head(BUCKET, k)!.lastModifiedMs]);
    expect(after).toEqual(before);
    // One manifest read per (domain, hour) and nothing else.
    expect(h.cloud.oss.stats.requests).toBe(DOMAINS.length);
  });

  it('lists past 1000 files for one hour by paging, and archives every one', async () => {
    const domain = DOMAINS[0];
    const files: SeedFile[] = Array.from({ length: 1203 }, (_, i) => ({
      name: logName(domain, hour, i),
      source: { content: Buffer.from(`log ${i}\n`) },
    }));
    h.cloud.live.seedLogs(domain, hour, files);

    const report = await h.timer();

    expect(report.totals.archivedNow).toBe(1203);
    expect(h.cloud.oss.listKeys(BUCKET, `live-logs/${domain}/`)).toHaveLength(1203);
    expect(h.cloud.live.stats.byDomain[domain]).toBe(2);
    const pageSizes = h.cloud.live.stats.requests.filter((r) => r.params.DomainName === domain).map((r) => r.params.PageSize);
    expect(pageSizes).toEqual(['1000', '1000']);
    expect(h.cloud.live.stats.requests.every((r) => r.method === 'POST')).toBe(true);
  });

  it('handles the documented quirks: swapped times, whitespace and a newline inside LogName', async () => {
    const domain = DOMAINS[1];
    const clean = logName(domain, hour, 7);
    h.cloud.live.seedLogs(domain, hour, [
      { name: `${domain}\n${clean.slice(domain.length)}`, source: { content: Buffer.from('one') }, swapTimes: true },
      { name: `  ${logName(domain, hour, 8)}\n`, source: { content: Buffer.from('two') } },
    ]);

    const report = await h.timer();

    expect(report.totals).toMatchObject({ listed: 2, archivedNow: 2, failed: 0 });
    expect((await h.cloud.oss.readObject(BUCKET, keyFor(domain, hour, clean))).toString()).toBe('one');
    expect((await h.cloud.oss.readObject(BUCKET, keyFor(domain, hour, logName(domain, hour, 8)))).toString()).toBe('two');
  });

  it('retries a download cut short and ends with the file archived', async () => {
    const domain = DOMAINS[0];
    const name = logName(domain, hour, 0);
    const source = { size: 400_000, seed: 'cut' };
    h.cloud.live.seedLogs(domain, hour, [{ name, source }]);
    h.cloud.origin.faults.cutAfter(100_000, { times: 1 });

    const report = await h.timer();

    expect(report.totals).toMatchObject({ archivedNow: 1, failed: 0 });
    expect(h.cloud.oss.head(BUCKET, keyFor(domain, hour, name))!.crc64).toBe((await expectedDigest(source)).crc64);
    expect(h.cloud.origin.stats.downloadsStarted).toBe(2);
  });

  it('records a file that keeps failing as failed, keeps it out of the archive, and archives it on a later run', async () => {
    const domain = DOMAINS[0];
    const name = logName(domain, hour, 0);
    h.cloud.live.seedLogs(domain, hour, [{ name, source: { size: 200_000, seed: 'flaky' } }]);
    h.cloud.origin.faults.resetAfter(1000, { times: 10 });

    const first = await h.invoke({ action: 'archive', domain, hours: [isoHour(hour)] });

    expect(first.ok).toBe(false);
    expect(first.totals.failed).toBe(1);
    expect(first.failures[0]).toMatchObject({ domain, name });
    expect(h.cloud.oss.head(BUCKET, keyFor(domain, hour, name))).toBeNull();
    const manifest = JSON.parse((await h.cloud.oss.readObject(BUCKET, manifestKeyFor(domain, hour))).toString());
    expect(manifest.files[name]).toMatchObject({ status: 'failed', attempts: 3 });
    expect(manifest.files[name].lastError).toMatch(/download/i);

    h.cloud.origin.faults.reset();
    const second = await h.timer();
    expect(second.totals).toMatchObject({ archivedNow: 1, failed: 0 });
  });

  it('rebuilds a corrupt manifest from the archive without downloading again', async () => {
    const domain = DOMAINS[2];
    seedMixed(h, domain, hour);
    await h.timer();
    await h.cloud.oss.plantObject(BUCKET, manifestKeyFor(domain, hour), Buffer.from('{"schemaVersion":1,"dom'));
    const downloads = h.cloud.origin.stats.downloadsStarted;

    const report = await h.timer();

    expect(h.cloud.origin.stats.downloadsStarted).toBe(downloads);
    expect(report.totals).toMatchObject({ alreadyArchived: 3, archivedNow: 0, failed: 0 });
    expect(report.warnings.join(' ')).toMatch(/unreadable/);
    const manifest = JSON.parse((await h.cloud.oss.readObject(BUCKET, manifestKeyFor(domain, hour))).toString());
    expect(Object.values(manifest.files).every((e: any) => e.status === 'archived')).toBe(true);
  });

  it('records a conflict when the archive key already holds other bytes, and leaves them untouched', async () => {
    const domain = DOMAINS[0];
    const name = logName(domain, hour, 0);
    h.cloud.live.seedLogs(domain, hour, [{ name, source: { content: Buffer.from('the real log') } }]);
    await h.cloud.oss.plantObject(BUCKET, keyFor(domain, hour, name), Buffer.from('something else entirely'));
    // An existing manifest that does not know the file, so the run tries the create-only PUT.
    await h.cloud.oss.plantObject(
      BUCKET,
      manifestKeyFor(domain, hour),
      Buffer.from(JSON.stringify({ schemaVersion: 1, domain, hour: isoHour(hour), files: {}, runs: [] })),
    );

    const report = await h.timer();

    expect(report.totals.conflicts).toBe(1);
    expect(report.ok).toBe(false);
    expect((await h.cloud.oss.readObject(BUCKET, keyFor(domain, hour, name))).toString()).toBe('something else entirely');
  });

  it('stores archived logs in the configured storage class and encryption, and state objects in Standard', async () => {
    const cold = await startHarness({ domains: DOMAINS, env: { STORAGE_CLASS: 'IA', SERVER_SIDE_ENCRYPTION: 'AES256' } });
    try {
      const domain = DOMAINS[0];
      const name = logName(domain, hour, 0);
      cold.cloud.live.seedLogs(domain, hour, [{ name, source: { content: Buffer.from('cold log') } }]);

      await cold.timer();

      const archived = cold.cloud.oss.head(BUCKET, keyFor(domain, hour, name))!.headers;
      expect(archived['x-oss-storage-class']).toBe('IA');
      expect(archived['x-oss-server-side-encryption']).toBe('AES256');
      expect(archived['x-oss-meta-source-size']).toBe('8');
      const manifest = cold.cloud.oss.head(BUCKET, manifestKeyFor(domain, hour))!.headers;
      expect(manifest['x-oss-storage-class']).toBe('Standard');
    } finally {
      await cold.close();
    }
  });

  it('records a download that stalls mid-body as a stall past the idle timeout', async () => {
    const slow = await startHarness({ domains: DOMAINS, env: { DOWNLOAD_TIMEOUT_SEC: '1', MAX_ATTEMPTS: '2' } });
    try {
      const domain = DOMAINS[0];
      const name = logName(domain, hour, 0);
      slow.cloud.live.seedLogs(domain, hour, [{ name, source: { size: 50_000, seed: 'stall' } }]);
      slow.cloud.origin.faults.stall(5_000, { afterBytes: 500, times: 2 });

      const report = await slow.timer();

      expect(report.totals.failed).toBe(1);
      expect(report.failures[0].reason).toMatch(/no data from .* for 1000 ms/);
      expect(slow.cloud.oss.head(BUCKET, keyFor(domain, hour, name))).toBeNull();
    } finally {
      await slow.close();
    }
  });

  it('reports a file whose archive key would pass 1023 bytes as failed, every run, and archives the others', async () => {
    // 800 bytes of literal text in the template leave room for the short name, not for a 200-byte one.
    const template = `{domain}/${'t'.repeat(800)}/{yyyy}/{MM}/{dd}/{HH}/{name}`;
    const deep = await startHarness({ domains: DOMAINS, env: { KEY_TEMPLATE: template } });
    try {
      const domain = DOMAINS[0];
      const longName = `${'l'.repeat(193)}.log.gz`;
      const shortName = logName(domain, hour, 0);
      deep.cloud.live.seedLogs(domain, hour, [
        { name: longName, source: { content: Buffer.from('long') } },
        { name: shortName, source: { content: Buffer.from('short') } },
      ]);

      const first = await deep.timer();
      const again = await deep.timer();

      for (const report of [first, again]) {
        expect(report.ok).toBe(false);
        expect(report.failures).toEqual([
          expect.objectContaining({ name: longName, reason: expect.stringMatching(/^no archive key: .*over OSS's 1023/) }),
        ]);
      }
      expect(first.totals).toMatchObject({ listed: 2, archivedNow: 1, failed: 1, remaining: 0 });
      expect(again.totals).toMatchObject({ listed: 2, archivedNow: 0, alreadyArchived: 1, failed: 1, remaining: 0 });
      const shortKey = `live-logs/${archiveKey(template, '', { domain, hourStartMs: hour, name: shortName })}`;
      expect(deep.cloud.oss.head(BUCKET, shortKey)?.size).toBe(5);
    } finally {
      await deep.close();
    }
  });

  it.each([
    // Sorts before the short name ('0' < 'a'): it is the file the rebuild probes the hour's prefix with.
    ['sorts first, on the first run of the hour', `${'0'.repeat(193)}.log.gz`, false],
    // Sorts after it, but the manifest is gone: the rebuild builds every listed file's key.
    ['sorts last, when the manifest must be rebuilt', `${'l'.repeat(193)}.log.gz`, true],
  ])('a file whose archive key would pass 1023 bytes does not hold up its hour (%s)', async (_when, longName, loseManifest) => {
    const template = `{domain}/${'t'.repeat(800)}/{yyyy}/{MM}/{dd}/{HH}/{name}`;
    const deep = await startHarness({ domains: DOMAINS, env: { KEY_TEMPLATE: template } });
    try {
      const domain = DOMAINS[0];
      const shortName = logName(domain, hour, 0);
      deep.cloud.live.seedLogs(domain, hour, [
        { name: longName, source: { content: Buffer.from('long') } },
        { name: shortName, source: { content: Buffer.from('short') } },
      ]);
      const failedForItsKey = [expect.objectContaining({ name: longName, reason: expect.stringMatching(/^no archive key: /) })];

      const first = await deep.timer();
      expect(first.errors).toEqual([]);
      expect(first.failures).toEqual(failedForItsKey);
      expect(first.totals).toMatchObject({ listed: 2, archivedNow: 1, failed: 1, remaining: 0 });

      if (loseManifest) await deep.cloud.oss.deleteObject(BUCKET, manifestKeyFor(domain, hour));
      const again = await deep.timer();
      expect(again.errors).toEqual([]);
      expect(again.failures).toEqual(failedForItsKey);
      expect(again.totals).toMatchObject({ listed: 2, archivedNow: 0, alreadyArchived: 1, failed: 1, remaining: 0 });
    } finally {
      await deep.close();
    }
  });

  it('uses the origin path the Live emulator hands out', () => {
    expect(logOriginPath('a.example.com', hour, 'x.gz')).toMatch(/^\/push_proxy\//);
  });
});
