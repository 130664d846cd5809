import { logName } from '../../sandbox/logdata';
import { previousHourMs, startHarness, type Harness } from '../support/harness';

const DOMAIN = 'slow-listing.example.com';

describe('a listing that outlasts the invocation', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('is cut at the deadline and reported, instead of running on past the time Function Compute gives', async () => {
    h = await startHarness({ domains: [DOMAIN], env: { DEADLINE_MARGIN_SEC: '2' } });
    const hour = previousHourMs();
    h.cloud.live.seedLogs(DOMAIN, hour, [{ name: logName(DOMAIN, hour, 0), source: { size: 1000, seed: 'slow' } }]);
    // Every answer takes 0.9 s and is a throttling refusal: six attempts take well over the 4 s the run has.
    h.cloud.live.faults.setDelayMs(900);
    h.cloud.live.faults.throttleNext(100);

    const startedMs = Date.now();
    const report = await h.timer({ timeoutSec: 4 });

    expect(Date.now() - startedMs).toBeLessThan(4_000);
    expect(report.ok).toBe(false);
    expect(report.errors.join(' ')).toMatch(new RegExp(`listing ${DOMAIN.replace(/\./g, '\\.')} failed`));
  });
});
