/**
 * A CLI backfill, run in place: the checked range is cut into (domain x UTC day) units, each unit is one backfill
 * event through the archiver (as the deployed function would run it), and the unit reports are combined into one.
 * Units keep each run's memory and deadline bounded, give the progress bar something to count, and are the same
 * units `--remote` hands to Function Compute.
 */
import type { BackfillEvent } from './events';
import { splitUnits, type WorkUnit } from './plan';
import { ReportBuilder } from './report';
import { HOUR_MS, parseIsoHour } from './time';
import type { RunReport } from './types';

/** A unit never crosses a UTC day (see splitUnits): at most 24 hours of one domain. */
const HOURS_PER_UNIT = 24;

export function backfillUnits(event: Pick<BackfillEvent, 'domains' | 'startMs' | 'endMs'>): WorkUnit[] {
  return splitUnits({ domains: event.domains, startMs: event.startMs, endMs: event.endMs, maxHoursPerUnit: HOURS_PER_UNIT });
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

