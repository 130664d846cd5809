/**
 * Retry with exponential backoff and full jitter, bounded by attempt count AND by an absolute deadline.
 * Full jitter (a uniformly random wait up to the exponential cap) spreads the retries of many concurrent
 * callers, which matters for `Throttling*` answers: the 100-QPS budget is shared by the whole account.
 */
import { onAbort } from './abort-watch';
import { DeadlineError, isRetryable as defaultIsRetryable } from './errors';

export interface BackoffOptions {
  /** Cap of the first retry's wait. */
  baseMs: number;
  /** Upper bound of any single wait. */
  maxMs: number;
  /** Uniform in [0, 1); injectable for tests. Default Math.random. */
  random?: () => number;
}

/**
 * Wait before retry number `attempt` (1 = the wait after the first failure): uniform in
 * [0, min(maxMs, baseMs * 2^(attempt-1))).
 */
export function backoffDelayMs(attempt: number, opts: BackoffOptions): number {
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be an integer >= 1, got ${attempt}`);
  const capMs = Math.min(opts.maxMs, opts.baseMs * 2 ** (attempt - 1));
  return Math.floor((opts.random ?? Math.random)() * capMs);
}

export interface RetryInfo {
  error: unknown;
  /** The attempt that just failed, from 1. */
  attempt: number;
  delayMs: number;
}

export interface RetryOptions extends BackoffOptions {
  /** Total attempts including the first; 1 means no retry. */
  attempts: number;
  /**
   * Absolute time (epoch ms, the `now()` clock) after which no attempt starts and no wait ends. A wait that would
   * end at or past it is not started: the last error is thrown instead. Default: no deadline.
   */
  deadlineMs?: number;
  /** Default: lib/errors `isRetryable` (our errors say so themselves; programmer errors never). */
  isRetryable?: (err: unknown) => boolean;
  signal?: AbortSignal;
  /** Called before each wait, e.g. to log or count the retry. */
  onRetry?: (info: RetryInfo) => void;
  /** Injectable for tests. Default: `sleep` below. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Injectable for tests. Default Date.now. */
  now?: () => number;
}

/**
 * Runs `fn` until it resolves, fails with a non-retryable error (rethrown at once, unchanged), runs out of
 * attempts or of time (the last error rethrown, unchanged, so callers can still inspect its code), or `signal`
 * aborts (its reason thrown). If the deadline has passed before the first attempt, throws DeadlineError.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  if (!Number.isSafeInteger(opts.attempts) || opts.attempts < 1) {
    throw new RangeError(`attempts must be an integer >= 1, got ${opts.attempts}`);
  }
  const now = opts.now ?? Date.now;
  const wait = opts.sleep ?? sleep;
  const retryable = opts.isRetryable ?? defaultIsRetryable;
  const deadlineMs = opts.deadlineMs ?? Infinity;

  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    if (attempt === 1 && now() >= deadlineMs) {
      throw new DeadlineError('deadline passed before the first attempt', { deadlineMs });
    }
    try {
      return await fn(attempt);
    } catch (error) {
      opts.signal?.throwIfAborted();
      if (attempt >= opts.attempts || !retryable(error)) throw error;
      const delayMs = backoffDelayMs(attempt, opts);
      if (now() + delayMs >= deadlineMs) throw error;
      opts.onRetry?.({ error, attempt, delayMs });
      await wait(delayMs, opts.signal);
    }
  }
}

/** Resolves after `ms`; rejects with `signal.reason` as soon as it aborts (the timer is cleared either way). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      stopWatching();
      resolve();
    }, Math.max(0, ms));
    const stopWatching = onAbort(signal, () => {
      clearTimeout(timer);
      reject(signal?.reason);
    });
  });
}
