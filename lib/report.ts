/**
 * Collects what a run did into the RunReport the handler returns (and FC's async destinations record). Bounded
 * in size whatever happens: a 31-day backfill that fails every file must still produce a report that fits in a
 * log line and an async invocation record, so failures, errors and warnings are capped and reasons truncated.
 * Every text that enters is passed through lib/redact on the way in.
 */
import { redact } from './redact';
import { isoHour } from './time';
import type { FailedFile, HourReport, RunReport } from './types';

export const MAX_REPORTED_FAILURES = 100;
export const MAX_REASON_CHARS = 300;
/** Errors and warnings are capped too; the last kept line then says how many more there were. */
export const MAX_REPORTED_MESSAGES = 100;

export interface ReportBuilderOptions {
  runId: string;
  action: string;
  startedAtMs: number;
  maxFailures?: number;
  maxReasonChars?: number;
  maxMessages?: number;
}

type Totals = RunReport['totals'];

function clip(text: string, maxChars: number): string {
  const line = redact(text).replace(/\s+/g, ' ').trim();
  return line.length <= maxChars ? line : `${line.slice(0, Math.max(0, maxChars - 1))}…`;
}

/** A capped list of messages that remembers how many it dropped. */
class BoundedMessages {
  private readonly kept: string[] = [];
  private dropped = 0;

  constructor(private readonly max: number, private readonly maxChars: number, private readonly noun: string) {}

  add(message: string): void {
    if (this.kept.length < this.max) this.kept.push(clip(message, this.maxChars));
    else this.dropped++;
  }

  get count(): number {
    return this.kept.length + this.dropped;
  }

  list(): string[] {
    return this.dropped === 0 ? [...this.kept] : [...this.kept, `(${this.dropped} more ${this.noun} omitted)`];
  }
}

export class ReportBuilder {
  private readonly hours = new Map<string, HourReport>();
  private readonly failures: FailedFile[] = [];
  private failuresOmitted = 0;
  private readonly errors: BoundedMessages;
  private readonly warnings: BoundedMessages;
  private readonly maxFailures: number;
  private readonly maxReasonChars: number;

  constructor(private readonly opts: ReportBuilderOptions) {
    this.maxFailures = opts.maxFailures ?? MAX_REPORTED_FAILURES;
    this.maxReasonChars = opts.maxReasonChars ?? MAX_REASON_CHARS;
    const maxMessages = opts.maxMessages ?? MAX_REPORTED_MESSAGES;
    this.errors = new BoundedMessages(maxMessages, this.maxReasonChars, 'errors');
    this.warnings = new BoundedMessages(maxMessages, this.maxReasonChars, 'warnings');
  }

  /**
   * The counters of one (domain, hour), created at zero on first use. The caller updates the returned object's
   * fields directly (`h.archivedNow++`); the same object is returned on every call for that hour.
   */
  hour(domain: string, hourStartMs: number): HourReport {
    const hour = isoHour(hourStartMs);
    const id = `${domain}\u0000${hour}`;
    let counters = this.hours.get(id);
    if (counters === undefined) {
      counters = {
        domain,
        hour,
        listed: 0,
        archivedNow: 0,
        alreadyArchived: 0,
        failed: 0,
        conflicts: 0,
        bytesArchived: 0,
        durationMs: 0,
        remaining: 0,
      };
      this.hours.set(id, counters);
    }
    return counters;
  }

  /**
   * A file that failed, conflicted or was rejected from the listing. Listed only (counts are the caller's, on
   * the hour): the first `maxFailures` are kept, the rest only counted. Any failure makes the report not ok.
   */
  failure(f: FailedFile): void {
    if (this.failures.length < this.maxFailures) {
      this.failures.push({ domain: f.domain, hour: f.hour, name: f.name, reason: clip(f.reason, this.maxReasonChars) });
    } else {
      this.failuresOmitted++;
    }
  }

  /** A problem not tied to one file (a domain's listing failed, a manifest could not be written). */
  error(message: string): void {
    this.errors.add(message);
  }

  warning(message: string): void {
    this.warnings.add(message);
  }

  /** A snapshot: later changes to the builder do not alter a report already built. */
  build(finishedAtMs: number): RunReport {
    const hours = [...this.hours.values()]
      .map((h) => ({ ...h }))
      .sort((a, b) => (a.hour < b.hour ? -1 : a.hour > b.hour ? 1 : a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
    const totals: Totals = { listed: 0, archivedNow: 0, alreadyArchived: 0, failed: 0, conflicts: 0, bytesArchived: 0, remaining: 0 };
    for (const h of hours) {
      for (const field of Object.keys(totals) as Array<keyof Totals>) totals[field] += h[field];
    }
    const ok =
      totals.failed === 0 &&
      totals.conflicts === 0 &&
      this.failures.length === 0 &&
      this.failuresOmitted === 0 &&
      this.errors.count === 0;
    return {
      runId: this.opts.runId,
      action: this.opts.action,
      startedAt: new Date(this.opts.startedAtMs).toISOString(),
      finishedAt: new Date(finishedAtMs).toISOString(),
      durationMs: Math.max(0, finishedAtMs - this.opts.startedAtMs),
      ok,
      totals,
      hours,
      failures: this.failures.map((f) => ({ ...f })),
      failuresOmitted: this.failuresOmitted,
      errors: this.errors.list(),
      warnings: this.warnings.list(),
    };
  }
}
