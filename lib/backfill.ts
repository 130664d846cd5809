/**
 * A CLI backfill, run in place: the checked range is cut into (domain x UTC day) units, each unit is one backfill
 * event through the archiver (as the deployed function would run it), and the unit reports are combined into one.
 * Units keep each run's memory and deadline bounded, give the progress bar something to count, and are the same
 * units `--remote` hands to Function Compute.
 */
import type { BackfillEvent } from './events';
import type { Invoker } from './invoke';
import { splitUnits, type WorkUnit } from './plan';
import { mapPool } from './pool';
import { redactError } from './redact';
import { ReportBuilder } from './report';
import { HOUR_MS, parseIsoHour } from './time';
import type { RunReport } from './types';

/** A unit never crosses a UTC day (see splitUnits): at most 24 hours of one domain. */
const MAX_HOURS_PER_UNIT = 24;

/**
 * (domain x UTC day) units, cut further to `maxHoursPerInvocation` (MAX_HOURS_PER_INVOCATION): a unit the function
 * would split again is one it must not be handed, and one the CLI cannot run in place without fanning out.
 */
export function backfillUnits(event: Pick<BackfillEvent, 'domains' | 'startMs' | 'endMs'>, maxHoursPerInvocation: number): WorkUnit[] {
  const maxHoursPerUnit = Math.max(1, Math.min(MAX_HOURS_PER_UNIT, maxHoursPerInvocation));
  return splitUnits({ domains: event.domains, startMs: event.startMs, endMs: event.endMs, maxHoursPerUnit });
}

/** The backfill event that archives exactly one unit. */
export function unitBackfillEvent(unit: WorkUnit): { action: 'backfill'; domains: string[]; start: string; end: string } {
  const last = parseIsoHour(unit.hours[unit.hours.length - 1]);
  return { action: 'backfill', domains: [unit.domain], start: unit.hours[0], end: new Date(last + HOUR_MS).toISOString().replace('.000Z', 'Z') };
}

/**
 * One report for many unit runs: hours and counters added up, failures, errors and warnings carried over within
 * the usual bounds (repeated warnings once), ok only when every unit was ok.
 */
export function combineReports(
  reports: readonly RunReport[],
  meta: { runId: string; action: string; startedAtMs: number; finishedAtMs: number; warnings?: readonly string[] },
): RunReport {
  const builder = new ReportBuilder({ runId: meta.runId, action: meta.action, startedAtMs: meta.startedAtMs });
  const warnings = new Set<string>(meta.warnings ?? []);
  for (const report of reports) {
    for (const hour of report.hours) {
      const counters = builder.hour(hour.domain, parseIsoHour(hour.hour));
      for (const field of Object.keys(hour) as Array<keyof typeof hour>) {
        if (field === 'domain' || field === 'hour') continue;
        counters[field] += hour[field];
      }
    }
    for (const failure of report.failures) builder.failure(failure);
    for (const error of report.errors) builder.error(error);
    for (const warning of report.warnings) warnings.add(warning);
  }
  for (const warning of warnings) builder.warning(warning);
  const combined = builder.build(meta.finishedAtMs);
  const omitted = reports.reduce((n, r) => n + r.failuresOmitted, 0);
  combined.failuresOmitted += omitted;
  combined.ok = combined.ok && omitted === 0 && reports.every((r) => r.ok);
  return combined;
}


export interface DispatchedUnit {
  domain: string;
  /** First and last hour start of the unit (ISO). */
  from: string;
  to: string;
  hours: number;
  /** Function Compute's request id of the queued invocation. */
  requestId?: string;
  /** Why the unit could not be handed over, redacted. Absent when it was. */
  error?: string;
}

export interface DispatchResult {
  runId: string;
  units: DispatchedUnit[];
  sent: number;
  failed: number;
  ok: boolean;
}

/** Units handed to Function Compute at once: each call returns as soon as FC has queued the invocation. */
const DISPATCH_CONCURRENCY = 4;

/**
 * `--remote`: every unit becomes one asynchronous invocation of the deployed function (an `archive` event, which
 * the function runs in place). The invoker retries throttling and transient failures itself; a unit it still could
 * not hand over is reported, and sending the same backfill again is safe (units are idempotent).
 */
export async function dispatchUnits(
  units: readonly WorkUnit[],
  invoker: Invoker,
  opts: { runId: string; onSent?: (done: number) => void; concurrency?: number },
): Promise<DispatchResult> {
  let done = 0;
  const outcomes = await mapPool(units, opts.concurrency ?? DISPATCH_CONCURRENCY, async (unit) => {
    try {
      return await invoker.invokeAsync({ action: 'archive', domain: unit.domain, hours: unit.hours, parentRunId: opts.runId, attempt: 1 });
    } finally {
      opts.onSent?.(++done);
    }
  });
  const dispatched = units.map((unit, i): DispatchedUnit => {
    const base = { domain: unit.domain, from: unit.hours[0], to: unit.hours[unit.hours.length - 1], hours: unit.hours.length };
    const outcome = outcomes[i];
    if (outcome.status === 'rejected') return { ...base, error: redactError(outcome.reason) };
    return outcome.value.requestId === undefined ? base : { ...base, requestId: outcome.value.requestId };
  });
  const failed = dispatched.filter((u) => u.error !== undefined).length;
  return { runId: opts.runId, units: dispatched, sent: dispatched.length - failed, failed, ok: failed === 0 };
}
