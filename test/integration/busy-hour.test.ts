import { leaseKey, manifestKey } from '../../lib/keys';
import { emptyManifest, recordArchived, serializeManifest } from '../../lib/manifest';
import { logName } from '../../sandbox/logdata';
import { previousHourMs, startHarness, type Harness } from '../support/harness';

const DOMAIN = 'busy.example.com';
const STATE_PREFIX = 'live-logs-state/';

describe('an hour another run holds', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('counts the files its manifest proves archived as already archived, and only the rest as remaining', async () => {
    h = await startHarness({ domains: [DOMAIN] });
    const hour = previousHourMs();
    const names = [0, 1, 2].map((i) => logName(DOMAIN, hour, i));
    h.cloud.live.seedLogs(DOMAIN, hour, names.map((name, i) => ({ name, source: { size: 1000, seed: `busy-${i}` } })));
    const manifest = emptyManifest(DOMAIN, hour);
    for (const name of names.slice(0, 2)) {
      const at = new Date().toISOString();
      recordArchived(manifest, { name, key: `live-logs/x/${name}`, size: 1000, sourceStart: at, sourceEnd: at, attempts: 1, at });
    }
    await h.cloud.oss.plantObject(h.cloud.bucket, manifestKey(STATE_PREFIX, DOMAIN, hour), Buffer.from(serializeManifest(manifest)));
    const liveUntil = Date.now() + 600_000;
    await h.cloud.oss.plantObject(
      h.cloud.bucket,
      leaseKey(STATE_PREFIX, DOMAIN, hour, 1),
      Buffer.from(JSON.stringify({ holder: 'other-run', acquiredAt: new Date().toISOString(), expiresAt: new Date(liveUntil).toISOString(), expiresAtMs: liveUntil })),
    );

    const report = await h.timer();

    expect(report.totals).toMatchObject({ listed: 3, alreadyArchived: 2, remaining: 1, archivedNow: 0 });
    expect(h.cloud.origin.stats.downloadsStarted).toBe(0);
  });
});
