/**
 * Spaces calls so that no more than `perSecond` start in any one second from this instance. The Live API's
 * 100 QPS is per account: each instance keeps its own share (LIVE_MAX_QPS x max instances < 100).
 */
import { sleep } from './retry';

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
    if (waitMs > 0) await sleep(waitMs, signal);
  }
}
