/**
 * What one invocation does itself and what it hands to Function Compute as asynchronous invocations of the same
 * function. Pure: no I/O. Every unit is idempotent (manifests, leases, write-once keys), so the platform's own
 * retries and a unit sent twice are harmless.
 */
import type { Config } from './config';
import type { ArchiverEvent } from './events';
import type { UnitEvent } from './invoke';
import { planTimer, splitUnits } from './plan';
import type { ArchiveWork, UnfinishedHour } from './run';
import { HOUR_MS, hourStart, isoHour, parseIsoHour } from './time';

export interface InvocationPlan {
  /** Work done in this invocation; null when everything is fanned out. */
  inPlace: ArchiveWork | null;
  units: UnitEvent[];
}

/** A unit re-sent this many times without finishing is reported instead of re-sent again. */
export const MAX_UNIT_ROUNDS = 8;
/** Fan-out units never span more than a UTC day of one domain. */
const MAX_HOURS_PER_UNIT = 24;

export function planInvocation(event: ArchiverEvent, config: Config, runId: string): InvocationPlan {
  switch (event.kind) {
    case 'timer': {
      const plan = planTimer({
        triggerTimeMs: event.triggerTimeMs,
        lagHours: event.overrides.lagHours ?? config.lagHours,
        lookbackHours: event.overrides.lookbackHours ?? config.lookbackHours,
        domains: event.overrides.domains ?? config.domains,
      });
      const { startMs, endMs } = plan.window;
      // Each domain's due hour is one hour of transfer work (the lookback is mostly one manifest read per hour):
      // past MAX_HOURS_PER_INVOCATION domains, the rest go to invocations of their own, one per domain.
      const budget = config.maxHoursPerInvocation;
      const here = plan.domains.slice(0, budget);
      const away = plan.domains.slice(budget);
      // A unit may carry only complete hours (lib/events.ts refuses a unit naming the current one). With
      // LAG_HOURS=0 the target is the trigger's own hour: units leave it to the next timer run's lookback.
      const unitHours = hourRange(startMs, Math.min(endMs, hourStart(event.triggerTimeMs)));
      return {
        inPlace: here.length > 0 ? { action: 'timer', domains: here, startMs, endMs } : null,
        units: unitHours.length > 0 ? away.map((domain) => unit(domain, unitHours, runId, 1)) : [],
      };
    }
    case 'backfill': {
      const hours = (event.endMs - event.startMs) / HOUR_MS;
      if (hours * event.domains.length <= config.maxHoursPerInvocation) {
        return {
          inPlace: { action: 'backfill', domains: event.domains, startMs: event.startMs, endMs: event.endMs },
          units: [],
        };
      }
      const units = splitUnits({
        domains: event.domains,
        startMs: event.startMs,
        endMs: event.endMs,
        maxHoursPerUnit: Math.min(MAX_HOURS_PER_UNIT, config.maxHoursPerInvocation),
      });
      // The oldest unit (first to age out of the API's 31 days) runs here; the rest start in parallel.
      const [first, ...rest] = units;
      return {
        inPlace: workOf('backfill', first.domain, first.hours.map(parseIsoHour)),
        units: rest.map((u) => unit(u.domain, u.hours.map(parseIsoHour), runId, 1)),
      };
    }
    case 'archive':
      return { inPlace: workOf('archive', event.domain, event.hours.map(parseIsoHour)), units: [] };
  }
}

/**
 * Hours a backfill or unit left because its invocation ran out of time, as units for another invocation.
 * Timer runs leave theirs to the next timer run, whose lookback covers them.
 */
export function remainderUnits(
  event: ArchiverEvent,
  unfinished: UnfinishedHour[],
  runId: string,
): { units: UnitEvent[]; abandoned: UnfinishedHour[] } {
  if (event.kind === 'timer' || unfinished.length === 0) return { units: [], abandoned: [] };
  const round = (event.kind === 'archive' ? (event.attempt ?? 1) : 1) + 1;
  if (round > MAX_UNIT_ROUNDS) return { units: [], abandoned: unfinished };
  const byDomain = new Map<string, number[]>();
  for (const h of unfinished) byDomain.set(h.domain, [...(byDomain.get(h.domain) ?? []), h.hourStartMs]);
  const units: UnitEvent[] = [];
  for (const [domain, hours] of byDomain) {
    const sorted = [...hours].sort((a, b) => a - b);
    for (let i = 0; i < sorted.length; i += MAX_HOURS_PER_UNIT) {
      units.push(unit(domain, sorted.slice(i, i + MAX_HOURS_PER_UNIT), runId, round));
    }
  }
  return { units, abandoned: [] };
}

function workOf(action: string, domain: string, hours: number[]): ArchiveWork {
  const sorted = [...hours].sort((a, b) => a - b);
  return { action, domains: [domain], startMs: sorted[0], endMs: sorted[sorted.length - 1] + HOUR_MS, hours: sorted };
}

function hourRange(startMs: number, endMs: number): number[] {
  const hours: number[] = [];
  for (let h = startMs; h < endMs; h += HOUR_MS) hours.push(h);
  return hours;
}

function unit(domain: string, hours: number[], parentRunId: string, attempt: number): UnitEvent {
  return { action: 'archive', domain, hours: hours.map(isoHour), parentRunId, attempt };
}
