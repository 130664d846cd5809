/**
 * Keeps this instance's Live API calls within LIVE_MAX_QPS. The API's 100 QPS is per account: each instance
 * keeps its own share (LIVE_MAX_QPS x max instances < 100).
 *
 * N permits (N = the rate per second, a whole number), each used again one second after its call's answer came
 * back. The service counts a call when it arrives, which is before its answer, so no second of arrivals can ever
 * hold more than N, however long requests take on the way; counting from the moment a call was sent did not hold:
 * a burst sent on fresh connections arrived late, the next one on warm connections early, and the emulator, which
 * counts like the service, throttled it. Even spacing (one call every 1/N s) kept to the limit too, but made a
 * listing's second page wait 1/N s for nothing: 100 ms at 10 QPS, ~5 % of a busy hour's run.
 * A fractional rate R above 1 gives floor(R) permits, each used again one second after its answer: a second cannot
 * hold 2.5 calls, and using them again floor(R)/R s later (800 ms at 2.5) let one second hold 2 x floor(R) (4 at
 * 2.5) when answers came fast. Below 1 per second, the one permit is used again 1/R seconds after its answer.
 */
import { onAbort } from './abort-watch';
import { sleep } from './retry';

/** Gives the permit back: call it once the call's answer (or its failure) is in. Calling it again does nothing. */
export type Release = () => void;

export class RateLimiter {
  private readonly windowMs: number;
  /** Per permit, when it may be used again; Infinity while its call is in flight. */
  private readonly freeAtMs: number[];
  /** Callers waiting because every permit is in flight: woken by the next release. */
  private readonly waiting = new Set<() => void>();

  constructor(
    perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new RangeError(`rate must be a positive number, got ${perSecond}`);
    const permits = Math.max(1, Math.floor(perSecond));
    this.windowMs = 1000 / Math.min(1, perSecond);
    this.freeAtMs = new Array<number>(permits).fill(-Infinity);
  }

  /** Resolves with a permit once the caller may send its call; rejects with the signal's reason if it aborts. */
  async acquire(signal?: AbortSignal): Promise<Release> {
    for (;;) {
      signal?.throwIfAborted();
      let soonest = 0;
      for (let i = 1; i < this.freeAtMs.length; i++) if (this.freeAtMs[i] < this.freeAtMs[soonest]) soonest = i;
      const freeAtMs = this.freeAtMs[soonest];
      const nowMs = this.now();
      if (freeAtMs <= nowMs) return this.take(soonest);
      // Someone else may take the permit meanwhile: look again after the wait.
      if (freeAtMs === Infinity) await this.nextRelease(signal);
      else await sleep(freeAtMs - nowMs, signal);
    }
  }

  private take(permit: number): Release {
    this.freeAtMs[permit] = Infinity;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.freeAtMs[permit] = this.now() + this.windowMs;
      const woken = [...this.waiting];
      this.waiting.clear();
      for (const wake of woken) wake();
    };
  }

  private nextRelease(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const wake = () => {
        stopWatching();
        resolve();
      };
      this.waiting.add(wake);
      const stopWatching = onAbort(signal, () => {
        this.waiting.delete(wake);
        reject(signal?.reason);
      });
    });
  }
}
