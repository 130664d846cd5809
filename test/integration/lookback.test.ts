import { HOUR_MS, isoHour } from '../../lib/time';
import { logName } from '../../sandbox/logdata';
import { currentHourMs, startHarness, type Harness } from '../support/harness';

const DOMAINS = ['late-a.example.com', 'late-b.example.com'];

describe('late logs and the lookback window', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('picks up a file that appeared after its hour was archived, on a later timer run, with one listing per domain', async () => {
    h = await startHarness({ domains: DOMAINS, env: { LOOKBACK_HOURS: '24' } });
    const now = currentHourMs();
    // Files in 5 of the last 24 hours, for both domains.
    const hoursWithFiles = [1, 2, 5, 11, 20].map((n) => now - n * HOUR_MS);
    for (const domain of DOMAINS) {
      for (const hour of hoursWithFiles) {
        h.cloud.live.seedLogs(domain, hour, [{ name: logName(domain, hour, 0), source: { size: 2_000, seed: `${domain}${hour}` } }]);
      }
    }
    const first = await h.timer();
    expect(first.totals).toMatchObject({ archivedNow: 10, failed: 0 });

    // A log of five hours ago is published late, next to the one already archived.
    const lateHour = now - 5 * HOUR_MS;
    h.cloud.live.seedLogs(DOMAINS[0], lateHour, [
      { name: logName(DOMAINS[0], lateHour, 0), source: { size: 2_000, seed: `${DOMAINS[0]}${lateHour}` } },
      { name: logName(DOMAINS[0], lateHour, 1), source: { size: 3_000, seed: 'late' } },
    ]);
    h.cloud.live.resetStats();
    h.cloud.oss.resetStats();
    const downloadsBefore = h.cloud.origin.stats.downloadsStarted;

    const second = await h.timer();

    expect(second.totals).toMatchObject({ archivedNow: 1, alreadyArchived: 10, failed: 0 });
    expect(second.hours.find((x) => x.archivedNow === 1)).toMatchObject({ domain: DOMAINS[0], hour: isoHour(lateHour) });
    expect(h.cloud.origin.stats.downloadsStarted - downloadsBefore).toBe(1);
    // One listing per domain for the whole 25-hour window, not one per hour.
    expect(h.cloud.live.stats.byDomain).toEqual({ [DOMAINS[0]]: 1, [DOMAINS[1]]: 1 });
  });

  it('costs one small OSS read per (domain, hour) with files, and no download, over a fully archived window', async () => {
    h = await startHarness({ domains: DOMAINS, env: { LOOKBACK_HOURS: '24' } });
    const now = currentHourMs();
    for (const domain of DOMAINS) {
      for (const n of [1, 3, 7]) {
        const hour = now - n * HOUR_MS;
        h.cloud.live.seedLogs(domain, hour, [0, 1, 2].map((i) => ({ name: logName(domain, hour, i), source: { size: 1_000 + i, seed: `${domain}${hour}${i}` } })));
      }
    }
    await h.timer();
    h.cloud.oss.resetStats();
    const downloadsBefore = h.cloud.origin.stats.downloadsStarted;

    const repeat = await h.timer();

    expect(repeat.totals).toMatchObject({ archivedNow: 0, alreadyArchived: 18 });
    expect(h.cloud.origin.stats.downloadsStarted).toBe(downloadsBefore);
    expect(h.cloud.oss.stats.requests).toBe(DOMAINS.length * 3);
    expect(h.cloud.oss.stats.byOp).toEqual({ GetObject: DOMAINS.length * 3 });
  });
});
