/**
 * The Live API limiter on Jest's fake clock (timers and Date.now together), so seconds of traffic run in
 * milliseconds and every wait is exact.
 */
import { RateLimiter } from '../../lib/rate-limit';

/** Seeded, so a failure can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** The most instants of `times` inside any half-open window [t, t + windowMs). */
function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i] - sorted[j] >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

const settled = async () => {
  await jest.advanceTimersByTimeAsync(0);
};

describe('RateLimiter', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('gives N permits at once; the next caller waits for an answer, then one second more', async () => {
    const limiter = new RateLimiter(3);
    const releases = await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()]);
    let fourthAt: number | null = null;
    void limiter.acquire().then(() => (fourthAt = Date.now()));

    await jest.advanceTimersByTimeAsync(5_000);
    expect(fourthAt).toBeNull(); // all three calls still in flight: no answer, no new call

    releases[1]();
    const answeredAt = Date.now();
    await jest.advanceTimersByTimeAsync(999);
    expect(fourthAt).toBeNull();
    await jest.advanceTimersByTimeAsync(1);
    expect(fourthAt).toBe(answeredAt + 1_000);
  });

  it('does not make a caller wait while a permit is free', async () => {
    const limiter = new RateLimiter(2);
    const startedAt = Date.now();
    const times: number[] = [];
    for (let i = 0; i < 3; i++) void limiter.acquire().then(() => times.push(Date.now()));
    await settled();
    expect(times).toEqual([startedAt, startedAt]);
  });

  it('counts a release given twice once: the second does not push the permit further away', async () => {
    const limiter = new RateLimiter(1);
    const release = await limiter.acquire();
    release();
    await jest.advanceTimersByTimeAsync(600);
    release();
    await jest.advanceTimersByTimeAsync(400);
    let got = false;
    void limiter.acquire().then(() => (got = true));
    await settled();
    expect(got).toBe(true);
  });

  it.each([1, 3, 10])(
    'with %d per second, no one second holds more arrivals at the service, whatever the latency',
    async (qps) => {
      for (const seed of [1, 7, 2026]) {
        const random = seeded(seed);
        const limiter = new RateLimiter(qps);
        const arrivals: number[] = [];
        let answered = 0;
        const call = async () => {
          const release = await limiter.acquire();
          const sentAt = Date.now();
          // Latencies of 0-400 ms; the service counts the call somewhere on the way.
          const latencyMs = Math.floor(random() * 400);
          arrivals.push(sentAt + Math.floor(random() * latencyMs));
          await new Promise((resolve) => setTimeout(resolve, latencyMs));
          release();
          answered++;
        };
        const calls = qps * 8;
        for (let i = 0; i < calls; i++) setTimeout(() => void call(), Math.floor(random() * 3_000));
        await jest.advanceTimersByTimeAsync(60_000);

        expect(answered).toBe(calls);
        expect(busiestWindow(arrivals, 1_000)).toBeLessThanOrEqual(qps);
      }
    },
  );

  it('keeps a fractional rate above 1 under it in every second: 2.5 per second is 2 permits, each used again a second after its answer', async () => {
    const limiter = new RateLimiter(2.5);
    const t0 = Date.now();
    const starts: number[] = [];
    for (let i = 0; i < 6; i++) {
      void limiter.acquire().then((release) => {
        starts.push(Date.now() - t0);
        release();
      });
    }
    await jest.advanceTimersByTimeAsync(10_000);
    // Not 800 ms apart: answered at once, 2 permits every 800 ms put 4 calls inside one second, over 2.5.
    expect(starts).toEqual([0, 0, 1_000, 1_000, 2_000, 2_000]);
  });

  it.each([
    [0.5, 2_000, 1],
    [1.5, 1_000, 1],
    [2.5, 1_000, 2],
    [9.9, 1_000, 9],
  ])('with %d per second, no %d ms window holds more than %d arrivals, whatever the latency (0 included)', async (rate, windowMs, most) => {
    for (const seed of [3, 11, 2026]) {
      const random = seeded(seed);
      const limiter = new RateLimiter(rate);
      const arrivals: number[] = [];
      let answered = 0;
      const call = async () => {
        const release = await limiter.acquire();
        const sentAt = Date.now();
        // Half the calls answered at once (a warm local endpoint), the others within 0-300 ms.
        const latencyMs = random() < 0.5 ? 0 : Math.floor(random() * 300);
        arrivals.push(sentAt + Math.floor(random() * latencyMs));
        if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
        release();
        answered++;
      };
      const calls = Math.ceil(rate * 6);
      for (let i = 0; i < calls; i++) setTimeout(() => void call(), Math.floor(random() * 2_000));
      await jest.advanceTimersByTimeAsync(120_000);

      expect(answered).toBe(calls);
      expect(busiestWindow(arrivals, windowMs)).toBeLessThanOrEqual(most);
    }
  });

  it('a waiting caller rejects with the abort reason; the permit still goes to the next one', async () => {
    const limiter = new RateLimiter(1);
    const held = await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    const reason = new Error('invocation deadline');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);

    let next = false;
    void limiter.acquire().then(() => (next = true));
    held();
    await jest.advanceTimersByTimeAsync(1_000);
    expect(next).toBe(true);
  });

  it('refuses a rate that is not a positive number, naming it', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new RateLimiter(bad)).toThrow(`rate must be a positive number, got ${bad}`);
    }
  });
});
