/**
 * Bounded-concurrency map (p-map's job, without the dependency): at most `concurrency` calls of `fn` in flight,
 * one settled result per item in input order. One failure does not reject the batch: a run that archives 300
 * files must report the 299 that worked as well as the one that did not.
 */

export interface MapPoolOptions {
  /** Once aborted, no further item is started; items not started settle as rejected with `signal.reason`. */
  signal?: AbortSignal;
}

export async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
  opts: MapPoolOptions = {},
): Promise<PromiseSettledResult<R>[]> {
  if (!(concurrency === Infinity || (Number.isSafeInteger(concurrency) && concurrency >= 1))) {
    throw new RangeError(`concurrency must be an integer >= 1 or Infinity, got ${concurrency}`);
  }
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;

  async function worker(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      if (opts.signal?.aborted) {
        results[index] = { status: 'rejected', reason: opts.signal.reason };
        continue;
      }
      try {
        // Inside the try so that a synchronous throw in fn is captured like a rejection.
        results[index] = { status: 'fulfilled', value: await fn(items[index], index) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  }

  const workers = Math.min(concurrency, items.length);
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
