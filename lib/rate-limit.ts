/**
 * Spaces calls so that no more than `perSecond` start in any one second from this instance. The Live API's
 * 100 QPS is per account: each instance keeps its own share (LIVE_MAX_QPS x max instances < 100).
 */
import { onAbort } from './abort-watch';

export class RateLimiter {
  private nextSlotMs = 0;
  private readonly intervalMs: number;

  constructor(
    perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.intervalMs = 1000 / perSecond;
  }

  /** Resolves when the caller may make its call. */
  async take(signal?: AbortSignal): Promise<void> {
    const now = this.now();
    const slot = Math.max(now, this.nextSlotMs);
    this.nextSlotMs = slot + this.intervalMs;
    const waitMs = slot - now;
    if (waitMs > 0) await delay(waitMs, signal);
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      stopWatching();
      resolve();
    }, ms);
    const stopWatching = onAbort(signal, () => {
      clearTimeout(timer);
      reject(signal?.reason);
    });
  });
}
