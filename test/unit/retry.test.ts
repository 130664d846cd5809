import { ApiError, DeadlineError, NonRetryableError } from '../../lib/errors';
import { backoffDelayMs, retry, sleep, type RetryOptions } from '../../lib/retry';

class Transient extends Error {}
class Permanent extends Error {}

/** A fake clock advanced only by the fake sleep, so tests are instant and exact. */
function fakeTime(startMs = 1_000_000) {
  let nowMs = startMs;
  const slept: number[] = [];
  return {
    now: () => nowMs,
    sleep: async (ms: number) => {
      slept.push(ms);
      nowMs += ms;
    },
    advance: (ms: number) => {
      nowMs += ms;
    },
    slept,
  };
}

function options(time: ReturnType<typeof fakeTime>, extra: Partial<RetryOptions> = {}): RetryOptions {
  return {
    attempts: 5,
    baseMs: 100,
    maxMs: 1000,
    random: () => 0.5,
    isRetryable: (err) => err instanceof Transient,
    now: time.now,
    sleep: time.sleep,
    ...extra,
  };
}

/** fn failing with the given errors in turn, then resolving with 'ok'. */
function failing(...errors: Error[]) {
  const calls: number[] = [];
  const fn = async (attempt: number) => {
    calls.push(attempt);
    const err = errors[calls.length - 1];
    if (err) throw err;
    return 'ok';
  };
  return { fn, calls };
}

describe('backoffDelayMs', () => {
  it('doubles the cap per attempt and scales it by the random draw (full jitter)', () => {
    const at = (attempt: number, r: number) => backoffDelayMs(attempt, { baseMs: 100, maxMs: 10_000, random: () => r });
    expect([at(1, 0.5), at(2, 0.5), at(3, 0.5), at(4, 0.5)]).toEqual([50, 100, 200, 400]);
    expect(at(3, 0)).toBe(0);
    expect(at(3, 0.999)).toBe(399);
  });

  it('never exceeds maxMs, even for a huge attempt number', () => {
    expect(backoffDelayMs(2000, { baseMs: 100, maxMs: 5000, random: () => 0.9999 })).toBe(4999);
  });

  it('rejects attempt 0', () => {
    expect(() => backoffDelayMs(0, { baseMs: 1, maxMs: 1 })).toThrow(RangeError);
  });
});

describe('retry', () => {
  it('returns the first success, after waiting with backoff between attempts', async () => {
    const time = fakeTime();
    const { fn, calls } = failing(new Transient(), new Transient());
    await expect(retry(fn, options(time))).resolves.toBe('ok');
    expect(calls).toEqual([1, 2, 3]);
    expect(time.slept).toEqual([50, 100]);
  });

  it('rethrows a non-retryable error at once, unchanged', async () => {
    const time = fakeTime();
    const permanent = new Permanent('no');
    const { fn, calls } = failing(new Transient(), permanent);
    await expect(retry(fn, options(time))).rejects.toBe(permanent);
    expect(calls).toEqual([1, 2]);
  });

  it('stops after the attempt count and rethrows the last error', async () => {
    const time = fakeTime();
    const last = new Transient('third');
    const { fn, calls } = failing(new Transient(), new Transient(), last);
    await expect(retry(fn, options(time, { attempts: 3 }))).rejects.toBe(last);
    expect(calls).toEqual([1, 2, 3]);
  });

  it('does not start a wait that would end past the deadline', async () => {
    const time = fakeTime(0);
    const second = new Transient('second');
    const { fn, calls } = failing(new Transient(), second, new Transient());
    // Waits are 50 then 100 ms; the deadline at 120 allows the first (ends at 50) but not the second (would end at 150).
    await expect(retry(fn, options(time, { deadlineMs: 120 }))).rejects.toBe(second);
    expect(calls).toEqual([1, 2]);
    expect(time.slept).toEqual([50]);
    expect(time.now()).toBeLessThan(120);
  });

  it('throws DeadlineError without calling fn when the deadline has already passed', async () => {
    const time = fakeTime(500);
    const { fn, calls } = failing();
    await expect(retry(fn, options(time, { deadlineMs: 500 }))).rejects.toBeInstanceOf(DeadlineError);
    expect(calls).toEqual([]);
  });

  it('reports each retry before waiting', async () => {
    const time = fakeTime();
    const first = new Transient('first');
    const seen: Array<{ error: unknown; attempt: number; delayMs: number }> = [];
    await retry(failing(first).fn, options(time, { onRetry: (info) => seen.push(info) }));
    expect(seen).toEqual([{ error: first, attempt: 1, delayMs: 50 }]);
  });

  it('uses lib/errors isRetryable by default: retryable ApiError retried, NonRetryableError and TypeError not', async () => {
    const throttled = new ApiError('throttled', { code: 'Throttling.User', retryable: true });
    const time = fakeTime();
    const defaults = { ...options(time), isRetryable: undefined };
    await expect(retry(failing(throttled).fn, defaults)).resolves.toBe('ok');

    const fatal = new NonRetryableError('stop');
    const f1 = failing(fatal);
    await expect(retry(f1.fn, defaults)).rejects.toBe(fatal);
    expect(f1.calls).toEqual([1]);

    const bug = new TypeError('x is undefined');
    const f2 = failing(bug);
    await expect(retry(f2.fn, defaults)).rejects.toBe(bug);
    expect(f2.calls).toEqual([1]);
  });

  it('stops with the abort reason when the signal aborts during a wait', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const calls: number[] = [];
    const promise = retry(
      async (attempt) => {
        calls.push(attempt);
        throw new Transient();
      },
      { attempts: 5, baseMs: 60_000, maxMs: 60_000, random: () => 0.5, isRetryable: () => true, signal: controller.signal },
    );
    setTimeout(() => controller.abort(reason), 5);
    await expect(promise).rejects.toBe(reason);
    expect(calls).toEqual([1]);
  });

  it('does not call fn when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('already'));
    const { fn, calls } = failing();
    await expect(retry(fn, { ...options(fakeTime()), signal: controller.signal })).rejects.toThrow('already');
    expect(calls).toEqual([]);
  });

  it('rejects a zero attempt count', async () => {
    await expect(retry(async () => 1, { ...options(fakeTime()), attempts: 0 })).rejects.toThrow(RangeError);
  });
});

describe('sleep', () => {
  it('resolves after roughly the given time', async () => {
    const started = Date.now();
    await sleep(20);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });

  it('rejects with the abort reason as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const reason = new Error('abort');
    setTimeout(() => controller.abort(reason), 5);
    await expect(sleep(60_000, controller.signal)).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('rejects at once for an already aborted signal', async () => {
    await expect(sleep(60_000, AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
  });
});
