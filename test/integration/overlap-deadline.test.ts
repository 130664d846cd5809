import { createArchiver } from '../../lib/archiver';
import { leaseKey } from '../../lib/keys';
import { isoHour } from '../../lib/time';
import type { SeedFile } from '../../sandbox/contracts';
import { expectedDigest, logName } from '../../sandbox/logdata';
import { previousHourMs, startHarness, type Harness } from '../support/harness';

const DOMAIN = 'overlap.example.com';

function seed(h: Harness, hour: number, count: number, size = 150_000): SeedFile[] {
  const files = Array.from({ length: count }, (_, i) => ({
    name: logName(DOMAIN, hour, i),
    source: { size, seed: `overlap-${i}` },
  }));
  h.cloud.live.seedLogs(DOMAIN, hour, files);
  return files;
}

async function expectAllArchivedOnce(h: Harness, hour: number, files: SeedFile[]) {
  const [date, time] = isoHour(hour).split('T');
  const prefix = `live-logs/${DOMAIN}/${date.replace(/-/g, '/')}/${time.slice(0, 2)}/`;
  expect(h.cloud.oss.listKeys(h.cloud.bucket, prefix)).toHaveLength(files.length);
  for (const f of files) {
    const info = h.cloud.oss.head(h.cloud.bucket, prefix + f.name)!;
    expect(info.crc64).toBe((await expectedDigest(f.source)).crc64);
  }
  const manifestKey = `live-logs-state/manifests/${DOMAIN}/${date.replace(/-/g, '/')}/${time.slice(0, 2)}.json`;
  const manifest = JSON.parse((await h.cloud.oss.readObject(h.cloud.bucket, manifestKey)).toString());
  expect(Object.values(manifest.files).filter((e: any) => e.status === 'archived')).toHaveLength(files.length);
}

describe('overlapping runs and deadlines', () => {
  let h: Harness;
  const hour = previousHourMs();
  afterEach(async () => {
    await h.close();
  });

  it('lets only one of two simultaneous runs work an hour; the other leaves it, and nothing is stored twice', async () => {
    h = await startHarness({ domains: [DOMAIN] });
    const files = seed(h, hour, 30);
    h.cloud.origin.faults.stall(20, { times: 30 });

    const [a, b] = await Promise.all([h.timer(), h.timer()]);

    const worked = [a, b].filter((r) => r.totals.archivedNow > 0);
    const leftAlone = [a, b].filter((r) => r.totals.archivedNow === 0);
    expect(worked).toHaveLength(1);
    expect(worked[0].totals.archivedNow).toBe(30);
    // It may read the manifest after the worker recorded its first files: those count as already archived.
    expect(leftAlone[0].totals.remaining + leftAlone[0].totals.alreadyArchived).toBe(30);
    expect(leftAlone[0].totals.remaining).toBeGreaterThan(0);
    expect(leftAlone[0].warnings.join(' ')).toMatch(/being archived by/);
    expect(h.cloud.origin.stats.downloadsStarted).toBe(30);
    await expectAllArchivedOnce(h, hour, files);
  });

  it('takes over the lease a crashed run left behind once it has expired, and completes the hour', async () => {
    h = await startHarness({ domains: [DOMAIN] });
    const files = seed(h, hour, 5);
    // A run that died mid-hour: its lease (generation 1) expired a minute ago; no manifest was written.
    const expiredMs = Date.now() - 60_000;
    await h.cloud.oss.plantObject(
      h.cloud.bucket,
      leaseKey('live-logs-state/', DOMAIN, hour, 1),
      Buffer.from(JSON.stringify({ holder: 'crashed-run', acquiredAt: new Date(expiredMs - 900_000).toISOString(), expiresAt: new Date(expiredMs).toISOString(), expiresAtMs: expiredMs })),
    );

    const report = await h.timer();

    expect(report.totals).toMatchObject({ archivedNow: 5, remaining: 0, failed: 0 });
    await expectAllArchivedOnce(h, hour, files);
    expect(h.cloud.oss.listKeys(h.cloud.bucket, 'live-logs-state/leases/')).toEqual([leaseKey('live-logs-state/', DOMAIN, hour, 2)]);
  });

  it('leaves an hour whose lease is still held by a live run, with a warning', async () => {
    h = await startHarness({ domains: [DOMAIN] });
    seed(h, hour, 3);
    const liveUntil = Date.now() + 600_000;
    await h.cloud.oss.plantObject(
      h.cloud.bucket,
      leaseKey('live-logs-state/', DOMAIN, hour, 1),
      Buffer.from(JSON.stringify({ holder: 'other-run', acquiredAt: new Date().toISOString(), expiresAt: new Date(liveUntil).toISOString(), expiresAtMs: liveUntil })),
    );

    const report = await h.timer();

    expect(report.totals).toMatchObject({ archivedNow: 0, remaining: 3 });
    expect(h.cloud.origin.stats.downloadsStarted).toBe(0);
    expect(report.warnings.join(' ')).toMatch(/other-run/);
  });

  it('stops starting transfers before its deadline, reports what remains, and the next run completes the hour', async () => {
    h = await startHarness({ domains: [DOMAIN], env: { DEADLINE_MARGIN_SEC: '1', CONCURRENCY: '2' } });
    const files = seed(h, hour, 12);
    // Every download is slow: the first invocation (3 s, 1 s margin) cannot get through all 12.
    h.cloud.origin.faults.stall(700, { times: 12 });

    const first = await h.timer({ timeoutSec: 3 });

    expect(first.totals.archivedNow).toBeGreaterThan(0);
    expect(first.totals.remaining).toBeGreaterThan(0);
    expect(first.totals.archivedNow + first.totals.remaining).toBe(12);
    expect(first.totals.failed).toBe(0);
    expect(first.warnings.join(' ')).toMatch(/left for a later run/);

    h.cloud.origin.faults.reset();
    const second = await h.timer();
    expect(second.totals.archivedNow).toBe(first.totals.remaining);
    expect(second.totals.alreadyArchived).toBe(first.totals.archivedNow);
    await expectAllArchivedOnce(h, hour, files);
  });

  it('creates its clients once per instance and renews them when the STS keys rotate', async () => {
    h = await startHarness({ domains: [DOMAIN] });
    seed(h, hour, 1);
    const built: string[] = [];
    const { ClientCache, buildClients } = await import('../../lib/clients');
    const cache = new ClientCache((config, credentials) => {
      built.push(credentials.accessKeyId);
      return buildClients(config, credentials);
    });
    const archive = createArchiver({ env: { ...h.cloud.env, LOOKBACK_HOURS: '0' }, clientCache: cache, logSink: () => undefined });
    const event = Buffer.from(JSON.stringify({ triggerTime: new Date(hour + 3_900_000).toISOString(), triggerName: 'hourly', payload: '' }));

    await archive(event, h.cloud.context());
    await archive(event, h.cloud.context());
    const rotated = h.cloud.context();
    rotated.credentials = { ...rotated.credentials, securityToken: `${rotated.credentials.securityToken}-rotated` };
    await archive(event, rotated);

    expect(built).toHaveLength(2);
  });
});
