import { createArchiver } from '../../lib/archiver';
import { HOUR_MS, isoHour } from '../../lib/time';
import type { RunReport } from '../../lib/types';
import { startSandboxCloud, type SandboxCloud } from '../../sandbox/cloud';
import { startFcEmulator, type FcEmulator } from '../../sandbox/fc-emulator';
import { expectedDigest, logName } from '../../sandbox/logdata';
import { logPath } from '../../sandbox/live-emulator';
import { currentHourMs } from '../support/harness';

const DOMAINS = ['fan-a.example.com', 'fan-b.example.com', 'fan-c.example.com'];

interface Seeded {
  domain: string;
  hourStartMs: number;
  name: string;
  source: { size: number; seed: string };
}

/** Two files in every sixth hour of the range, for every domain. */
function seedRange(cloud: SandboxCloud, startMs: number, endMs: number): Seeded[] {
  const seeded: Seeded[] = [];
  for (const domain of DOMAINS) {
    for (let h = startMs; h < endMs; h += 6 * HOUR_MS) {
      const files = [0, 1].map((i) => ({
        domain,
        hourStartMs: h,
        name: logName(domain, h, i),
        source: { size: 20_000 + i, seed: `${domain}-${h}-${i}` },
      }));
      cloud.live.seedLogs(domain, h, files);
      seeded.push(...files);
    }
  }
  return seeded;
}

function archiveKey(s: Seeded): string {
  const [date, time] = isoHour(s.hourStartMs).split('T');
  return `live-logs/${s.domain}/${date.replace(/-/g, '/')}/${time.slice(0, 2)}/${s.name}`;
}

async function expectEachArchivedExactlyOnce(cloud: SandboxCloud, seeded: Seeded[], downloads: 'exactly-once' | 'any' = 'exactly-once') {
  for (const s of seeded) {
    const info = cloud.oss.head(cloud.bucket, archiveKey(s));
    expect(info?.crc64).toBe((await expectedDigest(s.source)).crc64);
    // Downloaded once: no unit did another's work, and no retry re-fetched an archived file.
    if (downloads === 'exactly-once') expect(cloud.origin.stats.byPath[logPath(s.domain, s.hourStartMs, s.name)]).toBe(1);
  }
  expect(cloud.oss.listKeys(cloud.bucket, 'live-logs/')).toHaveLength(seeded.length);
}

describe.each(['fc3', 'fc2'] as const)('fan-out through Function Compute (%s)', (api) => {
  let cloud: SandboxCloud;
  let fc: FcEmulator;
  let archive: (event: unknown, context: any) => Promise<RunReport>;

  async function start(env: Record<string, string>, timeoutSec = 900) {
    cloud = await startSandboxCloud({ domains: DOMAINS });
    fc = await startFcEmulator({
      handler: (event, context) => archive(event, context),
      context: (requestId) => cloud.context({ requestId, timeoutSec }),
      functionName: 'live-log-archiver',
      serviceName: api === 'fc2' ? 'live-log-archiver' : undefined,
      concurrency: 3,
    });
    // One archiver for the manual invocation and every invocation the emulator runs: one function, one config.
    archive = createArchiver({
      env: { ...cloud.env, LOOKBACK_HOURS: '0', FANOUT_API: api, FANOUT_ENDPOINT: fc.endpoint, ...env },
      logSink: () => undefined,
    });
  }

  afterEach(async () => {
    await fc?.close();
    await cloud?.close();
  });

  it('backfills several domains over several days, every file archived exactly once', async () => {
    const endMs = currentHourMs();
    const startMs = endMs - 72 * HOUR_MS;
    await start({ MAX_HOURS_PER_INVOCATION: '24' });
    const seeded = seedRange(cloud, startMs, endMs);

    const first = await archive(
      Buffer.from(JSON.stringify({ action: 'backfill', start: isoHour(startMs), end: isoHour(endMs) })),
      cloud.context({ requestId: 'manual-backfill' }),
    );
    await fc.idle();

    expect(first.fanOut!.units).toBeGreaterThan(3);
    expect(first.fanOut!.failedToSend).toBe(0);
    expect(fc.invocations.every((i) => i.status === 'succeeded')).toBe(true);
    expect(fc.invocations.every((i) => (i.event as { action: string }).action === 'archive')).toBe(true);
    expect(fc.stats.maxRunning).toBeLessThanOrEqual(3);
    await expectEachArchivedExactlyOnce(cloud, seeded);
  });

  it('re-sends the remainder of a unit that ran out of time, until the hours are complete', async () => {
    const hour = currentHourMs() - 2 * HOUR_MS;
    // Each invocation lives 3 s and stops starting transfers 1 s before its end; every download takes 0.6 s.
    await start({ DEADLINE_MARGIN_SEC: '1', CONCURRENCY: '1' }, 3);
    const seeded: Seeded[] = Array.from({ length: 8 }, (_, i) => ({
      domain: DOMAINS[0],
      hourStartMs: hour,
      name: logName(DOMAINS[0], hour, i),
      source: { size: 10_000, seed: `slow-${i}` },
    }));
    cloud.live.seedLogs(DOMAINS[0], hour, seeded);
    cloud.origin.faults.stall(600, { times: 8 });

    const first = await archive(
      Buffer.from(JSON.stringify({ action: 'archive', domain: DOMAINS[0], hours: [isoHour(hour)] })),
      cloud.context({ requestId: 'unit-1', timeoutSec: 3 }),
    );
    await fc.idle();

    expect(first.errors).toEqual([]);
    expect(first.totals.remaining).toBeGreaterThan(0);
    expect(first.fanOut!.units).toBe(1);
    const rounds = fc.invocations.map((i) => (i.event as { attempt?: number }).attempt);
    expect(rounds[0]).toBe(2);
    // A download cut off by the deadline is fetched again by the next round; the archive still holds one copy.
    await expectEachArchivedExactlyOnce(cloud, seeded, 'any');
  });

  it('fans a timer run out per domain when there are more domains than one invocation carries', async () => {
    const hour = currentHourMs() - HOUR_MS;
    await start({ MAX_HOURS_PER_INVOCATION: '1' });
    const seeded: Seeded[] = DOMAINS.map((domain) => ({
      domain,
      hourStartMs: hour,
      name: logName(domain, hour, 0),
      source: { size: 5_000, seed: domain },
    }));
    for (const s of seeded) cloud.live.seedLogs(s.domain, hour, [s]);

    const report = await archive(
      Buffer.from(JSON.stringify({ triggerTime: isoHour(hour + HOUR_MS).replace(':00:00Z', ':05:00Z'), triggerName: 'hourly', payload: '' })),
      cloud.context({ requestId: 'timer' }),
    );
    await fc.idle();

    expect(report.totals.archivedNow).toBe(1);
    expect(report.fanOut).toEqual({ units: 2, hours: 2, failedToSend: 0 });
    expect(fc.invocations.map((i) => (i.event as { domain: string }).domain).sort()).toEqual(DOMAINS.slice(1));
    await expectEachArchivedExactlyOnce(cloud, seeded);
  });
});

describe('a unit whose listing fails', () => {
  it('sends its hours on as the next round, which archives them', async () => {
    const cloud = await startSandboxCloud({ domains: DOMAINS });
    let archive: (event: unknown, context: any) => Promise<RunReport> = async () => {
      throw new Error('not ready');
    };
    const fc = await startFcEmulator({
      handler: (event, context) => archive(event, context),
      context: (requestId) => cloud.context({ requestId }),
      functionName: 'live-log-archiver',
    });
    try {
      archive = createArchiver({ env: { ...cloud.env, LOOKBACK_HOURS: '0', FANOUT_ENDPOINT: fc.endpoint }, logSink: () => undefined });
      const hour = currentHourMs() - 3 * HOUR_MS;
      const seeded: Seeded = { domain: DOMAINS[0], hourStartMs: hour, name: logName(DOMAINS[0], hour, 0), source: { size: 1_000, seed: 'x' } };
      cloud.live.seedLogs(seeded.domain, hour, [seeded]);
      // More failures than one listing's retries: the first invocation cannot list at all.
      cloud.live.faults.failNext(6, 'internal-500');

      const first = await archive(
        Buffer.from(JSON.stringify({ action: 'archive', domain: seeded.domain, hours: [isoHour(hour)] })),
        cloud.context({ requestId: 'unit-listing-fails' }),
      );
      await fc.idle();

      expect(first.ok).toBe(false);
      expect(first.errors.join(' ')).toMatch(/listing fan-a\.example\.com failed/);
      expect(first.fanOut).toMatchObject({ units: 1, hours: 1 });
      expect(fc.invocations).toHaveLength(1);
      expect(fc.invocations[0].status).toBe('succeeded');
      await expectEachArchivedExactlyOnce(cloud, [seeded]);
    } finally {
      await fc.close();
      await cloud.close();
    }
  });
});
