/**
 * lib/abort-watch.ts at its edges: re-entrant registration, one function watched twice, late stop functions, a
 * callback stopped by another during the abort (skipped, as EventTarget skips a listener removed mid-dispatch),
 * and that the sleeps built on it (retry's sleep, the rate limiter's delay) give their slot back on every path.
 */
import { onAbort, watcherCapacity } from '../../lib/abort-watch';
import { RateLimiter } from '../../lib/rate-limit';
import { sleep } from '../../lib/retry';

describe('onAbort edge cases', () => {
  it('calls a callback registered from inside another callback during the abort, exactly once', () => {
    const controller = new AbortController();
    const inner = jest.fn();
    const outer = jest.fn(() => {
      onAbort(controller.signal, inner);
    });
    onAbort(controller.signal, outer);

    controller.abort();
    controller.abort();

    expect(outer).toHaveBeenCalledTimes(1);
    expect(inner).toHaveBeenCalledTimes(1);
  });

  it('calls a callback registered in a freed and reused slot once, and not the stopped one', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    const stops = ['a', 'b', 'c', 'd'].map((name) => onAbort(controller.signal, () => calls.push(name)));
    stops[1]();
    stops[3]();
    onAbort(controller.signal, () => calls.push('e')); // reuses a freed slot
    onAbort(controller.signal, () => calls.push('f')); // reuses the other one

    controller.abort();

    expect(calls.sort()).toEqual(['a', 'c', 'e', 'f']);
    expect(watcherCapacity(controller.signal)).toBe(4);
  });

  it('one function watched twice is called twice, and a late stop of the first never removes the second', () => {
    const controller = new AbortController();
    const fn = jest.fn();
    const stopFirst = onAbort(controller.signal, fn);
    stopFirst();
    const stopSecond = onAbort(controller.signal, fn); // same function, same (reused) slot
    stopFirst();
    stopFirst();
    onAbort(controller.signal, fn); // a third registration of the same function, in a new slot

    controller.abort();

    expect(fn).toHaveBeenCalledTimes(2);
    stopSecond();
  });

  it('after the abort, late stop functions neither call nor free anything twice; later callbacks run at once', () => {
    const controller = new AbortController();
    const fns = [jest.fn(), jest.fn(), jest.fn()];
    const stops = fns.map((fn) => onAbort(controller.signal, fn));
    stops[0]();
    const capacity = watcherCapacity(controller.signal);

    controller.abort();
    for (const stop of stops) {
      stop();
      stop();
    }
    const later = [jest.fn(), jest.fn()];
    for (const fn of later) onAbort(controller.signal, fn)();

    expect(fns.map((fn) => fn.mock.calls.length)).toEqual([0, 1, 1]);
    expect(later.map((fn) => fn.mock.calls.length)).toEqual([1, 1]);
    expect(watcherCapacity(controller.signal)).toBe(capacity);
  });

  it('does not call a callback stopped by an earlier callback during the same abort', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    let stopSecond: () => void = () => undefined;
    onAbort(controller.signal, () => {
      calls.push('first');
      stopSecond(); // e.g. a transfer whose cut-off synchronously settles another transfer
    });
    stopSecond = onAbort(controller.signal, () => calls.push('second'));

    controller.abort();

    expect(calls).toEqual(['first']);
  });

  it('gives each signal its own slots', () => {
    const one = new AbortController();
    const two = new AbortController();
    const a = jest.fn();
    const b = jest.fn();
    const stopA = onAbort(one.signal, a);
    onAbort(two.signal, b);
    stopA();

    one.abort();
    two.abort();

    expect(a).not.toHaveBeenCalled();
    expect(b).toHaveBeenCalledTimes(1);
  });
});

describe('sleeps on a run signal', () => {
  it("retry's sleep frees its slot when it resolves, so sequential sleeps hold one slot", async () => {
    const controller = new AbortController();
    for (let i = 0; i < 50; i++) await sleep(0, controller.signal);
    expect(watcherCapacity(controller.signal)).toBe(1);
  });

  it("retry's sleep rejects promptly on abort, with the reason, and leaves no timer behind", async () => {
    const controller = new AbortController();
    const reason = new Error('deadline');
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const sleeping = sleep(60_000, controller.signal);
    const startedMs = Date.now();
    setTimeout(() => controller.abort(reason), 10);

    await expect(sleeping).rejects.toBe(reason);

    expect(Date.now() - startedMs).toBeLessThan(1_000);
    const timersAfter = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(timersAfter).toBeLessThanOrEqual(timersBefore);
  });

  it('the rate limiter frees its slot after each wait and rejects promptly on abort', async () => {
    const controller = new AbortController();
    // One permit, used again a second after each answer, on a clock that runs 997 ms ahead after every call:
    // every call after the first waits ~3 ms.
    let aheadMs = 0;
    const limiter = new RateLimiter(1, () => Date.now() + aheadMs);
    let waited = 0;
    for (let i = 0; i < 20; i++, aheadMs += 997) {
      const before = Date.now();
      const release = await limiter.acquire(controller.signal);
      release();
      if (Date.now() - before >= 1) waited++;
    }
    expect(waited).toBeGreaterThanOrEqual(5);
    expect(watcherCapacity(controller.signal)).toBeLessThanOrEqual(1);

    const slow = new RateLimiter(1);
    (await slow.acquire(controller.signal))();
    const waiting = slow.acquire(controller.signal);
    const startedMs = Date.now();
    const reason = new Error('deadline');
    setTimeout(() => controller.abort(reason), 10);
    await expect(waiting).rejects.toBe(reason);
    expect(Date.now() - startedMs).toBeLessThan(500);
  });
});
