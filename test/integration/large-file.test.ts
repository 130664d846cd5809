import { expectedDigest, logName } from '../../sandbox/logdata';
import { isoHour } from '../../lib/time';
import { startHarness, previousHourMs, type Harness } from '../support/harness';

const GIB = 1024 ** 3;

describe('a 1 GiB log file through the handler', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('streams it through the multipart path and finds it byte-identical in the archive', async () => {
    const domain = 'big.example.com';
    const hour = previousHourMs();
    h = await startHarness({ domains: [domain] });
    const source = { size: GIB + 12_345, seed: 'one-gib' };
    const name = logName(domain, hour, 0);
    h.cloud.live.seedLogs(domain, hour, [{ name, source }]);
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 50);

    const report = await h.timer({ timeoutSec: 900 }).finally(() => clearInterval(sampler));

    expect(report.totals).toMatchObject({ archivedNow: 1, failed: 0, bytesArchived: source.size });
    const [date, time] = isoHour(hour).split('T');
    const key = `live-logs/${domain}/${date.replace(/-/g, '/')}/${time.slice(0, 2)}/${name}`;
    const stored = h.cloud.oss.head(h.cloud.bucket, key)!;
    expect(stored.objectType).toBe('Multipart');
    expect(stored.size).toBe(source.size);
    expect(stored.crc64).toBe((await expectedDigest(source)).crc64);
    // Streaming, not buffering: the archiver and all three emulators share this process, and still the
    // resident set grows by a small fraction of the file.
    expect(rssPeak - rssBefore).toBeLessThan(300 * 1024 * 1024);
  }, 240_000);
});
