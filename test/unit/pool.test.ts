import { mapPool } from '../../lib/pool';

/** A promise resolved from outside, to control exactly when each call finishes. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('mapPool', () => {
  it('never has more than `concurrency` calls in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    await mapPool(Array.from({ length: 20 }, (_, i) => i), 3, async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await tick();
      inFlight--;
    });
    expect(peak).toBe(3);
  });

  it('returns results in input order even when later items finish first', async () => {
    const gates = [deferred<string>(), deferred<string>(), deferred<string>()];
    const done = mapPool([0, 1, 2], 3, (i) => gates[i].promise);
    gates[2].resolve('c');
    gates[1].resolve('b');
    await tick();
    gates[0].resolve('a');
    const results = await done;
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : null))).toEqual(['a', 'b', 'c']);
  });

  it('captures each failure, including synchronous throws, without failing the others', async () => {
    const boom = new Error('boom');
    const results = await mapPool([1, 2, 3], 2, (n) => {
      if (n === 1) throw boom;
      if (n === 2) return Promise.reject(new Error('two'));
      return Promise.resolve(n * 10);
    });
    expect(results[0]).toEqual({ status: 'rejected', reason: boom });
    expect(results[1].status).toBe('rejected');
    expect(results[2]).toEqual({ status: 'fulfilled', value: 30 });
  });

  it('starts no new item after the signal aborts; unstarted items carry the abort reason', async () => {
    const controller = new AbortController();
    const reason = new Error('deadline');
    const started: number[] = [];
    const results = await mapPool([0, 1, 2, 3, 4], 2, async (i) => {
      started.push(i);
      if (i === 1) controller.abort(reason);
      await tick();
      return i;
    }, { signal: controller.signal });
    expect(started).toEqual([0, 1]);
    expect(results.slice(0, 2)).toEqual([{ status: 'fulfilled', value: 0 }, { status: 'fulfilled', value: 1 }]);
    expect(results.slice(2)).toEqual([2, 3, 4].map(() => ({ status: 'rejected', reason })));
  });

  it('passes the index and handles an empty list', async () => {
    expect(await mapPool(['a', 'b'], Infinity, async (item, index) => `${item}${index}`)).toEqual([
      { status: 'fulfilled', value: 'a0' },
      { status: 'fulfilled', value: 'b1' },
    ]);
    expect(await mapPool([], 4, async () => 1)).toEqual([]);
  });

  it('rejects a concurrency below one or fractional', async () => {
    await expect(mapPool([1], 0, async () => 1)).rejects.toThrow(RangeError);
    await expect(mapPool([1], 1.5, async () => 1)).rejects.toThrow(RangeError);
  });
});
