/**
 * `onAbort(signal, fn)`: call `fn` if the run's signal aborts, until the returned function is called.
 *
 * Why not `signal.addEventListener`, nor a Set of callbacks: a run hands one long-lived signal to every transfer,
 * so whatever holds the callbacks ends up in the old generation, and the scavenger treats every reference out of
 * an old object as live until the next full GC, even when that object is itself garbage. Node keeps an
 * EventTarget's listeners in a linked list whose removed nodes still point at their neighbours; a Set rehashes
 * into a fresh table every few additions and leaves the old table, still naming the transfers that were in flight,
 * in old space. Either way each transfer's closure kept a finished transfer (streams, requests, SDK closures)
 * alive past its end: on the 2,000-file hour ~45% of every young generation survived and 70-85 MB was promoted,
 * against 2-6% and ~4 MB for the same copy without per-transfer callbacks on the run's signal.
 * Here callbacks sit in slots of an array that only grows to the most transfers ever in flight at once; a finished
 * transfer empties its slot, so no old object keeps pointing at it.
 */
interface Watchers {
  slots: ((() => void) | null)[];
  /** Indexes of empty slots (numbers: they reference nothing). */
  free: number[];
}

const watchersBySignal = new WeakMap<AbortSignal, Watchers>();

export function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (!signal) return noop;
  if (signal.aborted) {
    fn();
    return noop;
  }
  let watchers = watchersBySignal.get(signal);
  if (!watchers) {
    const created: Watchers = { slots: [], free: [] };
    signal.addEventListener('abort', () => fireAll(created), { once: true });
    watchersBySignal.set(signal, created);
    watchers = created;
  }
  const w = watchers;
  const index = w.free.length > 0 ? (w.free.pop() as number) : w.slots.push(null) - 1;
  w.slots[index] = fn;
  let watching = true;
  return () => {
    if (!watching) return;
    watching = false;
    if (w.slots[index] === fn) {
      w.slots[index] = null;
      w.free.push(index);
    }
  };
}

/**
 * Each slot is emptied just before its callback runs, so a callback stopped by an earlier one during the same
 * abort is not called (as EventTarget skips a listener removed mid-dispatch), and one that throws does not keep
 * the others from running: the first error is rethrown once all have run.
 */
function fireAll(w: Watchers): void {
  let firstError: { error: unknown } | undefined;
  for (let index = 0; index < w.slots.length; index++) {
    const fn = w.slots[index];
    if (fn === null) continue;
    w.slots[index] = null;
    try {
      fn();
    } catch (error) {
      firstError ??= { error };
    }
  }
  w.free = w.slots.map((_, i) => i);
  if (firstError) throw firstError.error;
}

function noop(): void {}

/** Slots held for `signal` (for tests: bounded by the most callbacks ever registered at once). */
export function watcherCapacity(signal: AbortSignal): number {
  return watchersBySignal.get(signal)?.slots.length ?? 0;
}
