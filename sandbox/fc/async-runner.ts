/**
 * What Function Compute does with an accepted asynchronous invocation: queue it, run it through the handler when an
 * instance is free (at most `concurrency` at once), and when the handler throws, run it again after a backoff, up
 * to `maxAsyncRetryAttempts` more times (s.yaml `asyncInvokeConfig.maxAsyncRetryAttempts`; FC's default is 3, the
 * emulator's 2). Every invocation is recorded with its outcome.
 * Sandbox-only: never imported by the function bundle.
 */
import type { FcContext } from '../../lib/archiver';
import { redactError } from '../../lib/redact';

export type FcApiName = 'fc3' | 'fc2';

export const InvocationStatus = {
  Queued: 'queued',
  Running: 'running',
  Succeeded: 'succeeded',
  Failed: 'failed',
} as const;
export type InvocationStatus = (typeof InvocationStatus)[keyof typeof InvocationStatus];

export interface FcInvocationRecord {
  requestId: string;
  /** The body parsed as JSON. */
  event: unknown;
  api: FcApiName;
  /** Handler runs so far (1 + retries). */
  attempts: number;
  status: InvocationStatus;
  /** What the handler returned on its successful run. */
  result?: unknown;
  /** The last handler error, redacted (lib/redact.ts). */
  error?: string;
  acceptedAtMs: number;
  finishedAtMs?: number;
}

export type FcHandler = (event: Buffer, context: FcContext) => Promise<unknown>;

export interface AsyncRunnerOptions {
  handler: FcHandler;
  context: (requestId: string) => FcContext;
  concurrency: number;
  maxAsyncRetryAttempts: number;
  /** Wait before the first retry; doubled for each further one (FC backs off too, in seconds). */
  retryDelayMs: number;
}

export interface RunnerStats {
  handlerRuns: number;
  retries: number;
  running: number;
  maxRunning: number;
  succeeded: number;
  failed: number;
}

interface Job {
  record: FcInvocationRecord;
  payload: Buffer;
}

export class AsyncInvocationRunner {
  readonly records: FcInvocationRecord[] = [];
  readonly stats: RunnerStats = { handlerRuns: 0, retries: 0, running: 0, maxRunning: 0, succeeded: 0, failed: 0 };
  private readonly queue: Job[] = [];
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly idleWaiters: Array<() => void> = [];
  /** Requests still being read or answered by the HTTP side: they may enqueue work any moment. */
  private openRequests = 0;
  private stopped = false;

  constructor(private readonly opts: AsyncRunnerOptions) {
    if (!Number.isSafeInteger(opts.concurrency) || opts.concurrency < 1) throw new RangeError(`concurrency must be an integer >= 1, got ${opts.concurrency}`);
    if (!Number.isSafeInteger(opts.maxAsyncRetryAttempts) || opts.maxAsyncRetryAttempts < 0 || opts.maxAsyncRetryAttempts > 8) {
      throw new RangeError(`maxAsyncRetryAttempts must be an integer 0..8 (FC's range), got ${opts.maxAsyncRetryAttempts}`);
    }
  }

  /** Marks an HTTP request in progress; call the returned function once it is answered. */
  beginRequest(): () => void {
    this.openRequests++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.openRequests--;
      this.settleIdle();
    };
  }

  enqueue(record: FcInvocationRecord, payload: Buffer): void {
    this.records.push(record);
    if (this.stopped) return;
    this.queue.push({ record, payload });
    this.pump();
  }

  /** Resolves once nothing is queued, running, waiting to retry or arriving: chained invocations included. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops queued work and pending retries (they stay recorded as queued). Running handlers are not interrupted. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    this.settleIdle();
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.stats.running === 0 && this.retryTimers.size === 0 && this.openRequests === 0;
  }

  private settleIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private pump(): void {
    while (!this.stopped && this.stats.running < this.opts.concurrency && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      void this.run(job);
    }
    this.settleIdle();
  }

  private async run(job: Job): Promise<void> {
    const { record } = job;
    record.status = InvocationStatus.Running;
    record.attempts++;
    this.stats.handlerRuns++;
    this.stats.running++;
    this.stats.maxRunning = Math.max(this.stats.maxRunning, this.stats.running);
    try {
      // A fresh copy per run: a handler that mutates its Buffer must not change what a retry receives.
      const result = await Promise.resolve().then(() => this.opts.handler(Buffer.from(job.payload), this.opts.context(record.requestId)));
      record.status = InvocationStatus.Succeeded;
      record.result = result;
      delete record.error;
      record.finishedAtMs = Date.now();
      this.stats.succeeded++;
    } catch (err) {
      record.error = redactError(err);
      if (record.attempts <= this.opts.maxAsyncRetryAttempts && !this.stopped) {
        record.status = InvocationStatus.Queued;
        this.stats.retries++;
        this.scheduleRetry(job);
      } else {
        record.status = InvocationStatus.Failed;
        record.finishedAtMs = Date.now();
        this.stats.failed++;
      }
    } finally {
      this.stats.running--;
      this.pump();
    }
  }

  private scheduleRetry(job: Job): void {
    const delayMs = this.opts.retryDelayMs * 2 ** (job.record.attempts - 1);
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (this.stopped) return;
      this.queue.push(job);
      this.pump();
    }, delayMs);
    this.retryTimers.add(timer);
  }
}
