/**
 * The Live listing port (lib/live-client.ts) against the Live emulator's flow control: the instance's own
 * limiter must keep a burst of listings inside the per-key limit, so none of them is answered Throttling.User.
 */
import { createLiveLister } from '../../lib/live-client';
import { hostAllowlist } from '../../lib/listing';
import { SANDBOX_AK, type FileSource, type LogOriginLike } from '../../sandbox/contracts';
import { startLiveEmulator, type LiveEmulator } from '../../sandbox/live-emulator';

const HOUR_MS = 3_600_000;
const HOUR = Date.UTC(2026, 10, 27, 9);

class PlainOrigin implements LogOriginLike {
  addFile(_path: string, _source: FileSource): void {}
  signedLogPath(path: string, expiresAtSec: number): string {
    return `127.0.0.1:1${path}?OSSAccessKeyId=x&Expires=${expiresAtSec}&Signature=sig`;
  }
}

/** A lister with one attempt per call: a throttled call fails the listing instead of being retried out of sight. */
function oneAttemptLister(emulator: LiveEmulator, maxQps: number) {
  return createLiveLister({
    endpoint: emulator.endpoint,
    regionId: 'cn-hangzhou',
    credentials: SANDBOX_AK,
    scheme: 'http',
    allowHost: hostAllowlist(['127.0.0.1:*']),
    maxQps,
    attempts: 1,
  });
}

describe('Live lister flow control', () => {
  it('sends a burst of listings at LIVE_MAX_QPS without one Throttling.User from a service that allows as many', async () => {
    const qps = 3;
    const emulator = await startLiveEmulator({ origin: new PlainOrigin(), now: () => HOUR + 2 * HOUR_MS, qpsLimitPerKey: qps });
    try {
      const domains = Array.from({ length: 7 }, (_, i) => `d${i}.example.com`);
      for (const domain of domains) {
        emulator.seedLogs(domain, HOUR, [{ name: `${domain}_0.log.gz`, source: { content: Buffer.from('x') } }]);
      }
      const lister = oneAttemptLister(emulator, qps);

      const listings = await Promise.all(domains.map((d) => lister.list(d, HOUR, HOUR + HOUR_MS)));

      expect(listings.map((l) => l.files.map((f) => f.name))).toEqual(domains.map((d) => [`${d}_0.log.gz`]));
      expect(emulator.stats.throttled).toBe(0);
      expect(emulator.stats.calls).toBe(domains.length);
    } finally {
      await emulator.close();
    }
  });

  it('keeps a fractional LIVE_MAX_QPS under it in every second: 2.5 is never 3 calls in one second', async () => {
    // A service that allows 2 calls in any one second is exactly one that allows "at most 2.5 per second".
    const emulator = await startLiveEmulator({ origin: new PlainOrigin(), now: () => HOUR + 2 * HOUR_MS, qpsLimitPerKey: 2 });
    try {
      const domains = Array.from({ length: 5 }, (_, i) => `f${i}.example.com`);
      for (const domain of domains) {
        emulator.seedLogs(domain, HOUR, [{ name: `${domain}_0.log.gz`, source: { content: Buffer.from('x') } }]);
      }
      const lister = oneAttemptLister(emulator, 2.5);

      const listings = await Promise.all(domains.map((d) => lister.list(d, HOUR, HOUR + HOUR_MS)));

      expect(listings.map((l) => l.files.map((f) => f.name))).toEqual(domains.map((d) => [`${d}_0.log.gz`]));
      expect(emulator.stats.throttled).toBe(0);
    } finally {
      await emulator.close();
    }
  });

  describe('paging', () => {
    let emulator: LiveEmulator;
    const domain = 'paged.example.com';
    const listerFor = (attempts = 1) =>
      createLiveLister({
        endpoint: emulator.endpoint,
        regionId: 'cn-hangzhou',
        credentials: SANDBOX_AK,
        scheme: 'http',
        allowHost: hostAllowlist(['127.0.0.1:*']),
        maxQps: 100,
        attempts,
      });
    beforeEach(async () => {
      emulator = await startLiveEmulator({ origin: new PlainOrigin(), now: () => HOUR + 2 * HOUR_MS, qpsLimitPerKey: 100_000 });
      emulator.seedLogs(
        domain,
        HOUR,
        Array.from({ length: 25 }, (_, i) => ({ name: `${domain}_${String(i).padStart(2, '0')}.log.gz`, source: { content: Buffer.from('x') } })),
      );
      emulator.faults.setPageSizeCap(10);
    });
    afterEach(async () => {
      await emulator.close();
    });

    it('asks for each next page while it reads the last one, and lists every file once', async () => {
      const listing = await listerFor().list(domain, HOUR, HOUR + HOUR_MS);

      expect(listing.files.map((f) => f.name)).toEqual(Array.from({ length: 25 }, (_, i) => `${domain}_${String(i).padStart(2, '0')}.log.gz`));
      expect(listing.apiCalls).toBe(3);
      expect(emulator.stats.requests.map((r) => r.params.PageNumber)).toEqual(['1', '2', '3']);
    });

    it('fails the listing with the error of a page asked for ahead, and leaves no unhandled rejection behind', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        // Armed while page 1 is served: the next request, page 2, is answered 500.
        emulator.faults.setBeforeList((call) => {
          if (call.pageNumber === 1) emulator.faults.failNext(1, 'internal-500');
        });
        await expect(listerFor().list(domain, HOUR, HOUR + HOUR_MS)).rejects.toThrow(/InternalError/);
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(unhandled).toEqual([]);
        expect(emulator.stats.requests.map((r) => [r.params.PageNumber, r.code])).toEqual([
          ['1', 'OK'],
          ['2', 'InternalError'],
        ]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });
  });
});
