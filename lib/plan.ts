/**
 * What a run is responsible for, in time: the hour a timer run is due for, the lookback window it re-lists for
 * late logs, backfill ranges, the API-servable listing windows, and the split of big work into fan-out units.
 * Pure: the clock is a parameter.
 */
import { DAY_MS, HOUR_MS, hourStart, hoursBetween, isoHour, previousHour } from './time';

/** DescribeLivePushProxyLog serves the last 31 days, and one query may span at most that much. */
export const API_RETENTION_MS = 31 * DAY_MS;
/**
 * Kept between the oldest hour we ask for and the API's retention edge: the listing happens a little after the
 * plan is made, and the service's clock is not ours. Without it a window planned at the edge is refused
 * (InvalidStartTime.ValueNotSupported) a few seconds later.
 */
export const RETENTION_SAFETY_MARGIN_MS = 15 * 60_000;

/** A half-open, hour-aligned span [startMs, endMs). */
export interface TimeRange {
  startMs: number;
  endMs: number;
}

export interface Plan {
  kind: 'timer' | 'range';
  /** The hours this run is due for: the lag hour of a timer run; the whole range of a backfill. */
  target: TimeRange;
  /** What to list and archive: lookback start .. target end (equal to target for a backfill). */
  window: TimeRange;
  /** Deduplicated, in the order given. */
  domains: string[];
  /** True when the requested window reached further back than the API serves and was cut. */
  clampedToRetention: boolean;
}

/** The oldest hour start the API will still list when asked at `nowMs` (with the safety margin). */
export function oldestListableHourMs(nowMs: number): number {
  const edgeMs = nowMs - API_RETENTION_MS + RETENTION_SAFETY_MARGIN_MS;
  const floor = hourStart(edgeMs);
  return floor === edgeMs ? floor : floor + HOUR_MS;
}

function uniqueDomains(domains: readonly string[]): string[] {
  return [...new Set(domains)];
}

function nonNegativeInteger(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
}

export interface TimerPlanInput {
  triggerTimeMs: number;
  lagHours: number;
  lookbackHours: number;
  domains: readonly string[];
  /** For the retention limit. Default: the trigger time (a timer fires on time; a replay uses its own clock). */
  nowMs?: number;
}

/**
 * A timer run: the target is the hour `lagHours` before the trigger's hour; the window adds `lookbackHours`
 * before it, cut at the API's retention edge. Throws RangeError when even the target hour is past that edge
 * (a long-delayed replay of an old event): there is nothing the API can still give for it.
 */
export function planTimer(input: TimerPlanInput): Plan {
  nonNegativeInteger(input.lookbackHours, 'lookbackHours');
  const targetStartMs = previousHour(input.triggerTimeMs, input.lagHours);
  const target = { startMs: targetStartMs, endMs: targetStartMs + HOUR_MS };
  const oldestMs = oldestListableHourMs(input.nowMs ?? input.triggerTimeMs);
  if (target.startMs < oldestMs) {
    throw new RangeError(
      `the target hour ${isoHour(target.startMs)} is older than the Live API keeps logs (oldest listable hour ${isoHour(oldestMs)})`,
    );
  }
  const wantedStartMs = target.startMs - input.lookbackHours * HOUR_MS;
  const clampedToRetention = wantedStartMs < oldestMs;
  return {
    kind: 'timer',
    target,
    window: { startMs: clampedToRetention ? oldestMs : wantedStartMs, endMs: target.endMs },
    domains: uniqueDomains(input.domains),
    clampedToRetention,
  };
}

export interface RangePlanInput {
  startMs: number;
  endMs: number;
  domains: readonly string[];
  nowMs: number;
}

/**
 * A backfill: the range widened to whole hours (an hour touched is an hour archived), cut to what the API still
 * serves at the old end and to completed hours at the new end (the current hour is still being written).
 * Throws RangeError when nothing of the range remains.
 */
export function planRange(input: RangePlanInput): Plan {
  const alignedStartMs = hourStart(input.startMs);
  const endFloorMs = hourStart(input.endMs);
  const alignedEndMs = endFloorMs === input.endMs ? endFloorMs : endFloorMs + HOUR_MS;
  const oldestMs = oldestListableHourMs(input.nowMs);
  const currentHourMs = hourStart(input.nowMs);
  const startMs = Math.max(alignedStartMs, oldestMs);
  const endMs = Math.min(alignedEndMs, currentHourMs);
  if (startMs >= endMs) {
    throw new RangeError(
      `nothing to archive in ${isoHour(alignedStartMs)} .. ${isoHour(alignedEndMs)}: the Live API serves completed hours from ${isoHour(oldestMs)} to before ${isoHour(currentHourMs)}`,
    );
  }
  const window = { startMs, endMs };
  return { kind: 'range', target: window, window, domains: uniqueDomains(input.domains), clampedToRetention: startMs > alignedStartMs };
}

/**
 * Splits a range into windows one DescribeLivePushProxyLog query can serve (at most 31 days each), oldest first.
 * Within the retention period that is always a single window per domain.
 */
export function listingWindows(startMs: number, endMs: number): TimeRange[] {
  const windows: TimeRange[] = [];
  for (let from = hourStart(startMs); from < endMs; from += API_RETENTION_MS) {
    windows.push({ startMs: from, endMs: Math.min(from + API_RETENTION_MS, endMs) });
  }
  return windows;
}

export interface WorkUnit {
  domain: string;
  /** ISO hour starts, ascending, all in one UTC day. */
  hours: string[];
}

export interface SplitInput {
  domains: readonly string[];
  startMs: number;
  endMs: number;
  /** At most this many hours per unit; a unit never crosses a UTC day, so values above 24 act as 24. */
  maxHoursPerUnit: number;
}

/**
 * Fan-out units: (domain x UTC day), cut into pieces of at most `maxHoursPerUnit` hours. Ordered oldest day
 * first, then domains in the order given: with a 31-day backfill the oldest hours leave the API's retention
 * first, so they must be dispatched first. The same input always gives the same units.
 */
export function splitUnits(input: SplitInput): WorkUnit[] {
  if (!Number.isSafeInteger(input.maxHoursPerUnit) || input.maxHoursPerUnit < 1) {
    throw new RangeError(`maxHoursPerUnit must be an integer >= 1, got ${input.maxHoursPerUnit}`);
  }
  const byDay = new Map<number, number[]>();
  for (const h of hoursBetween(hourStart(input.startMs), input.endMs)) {
    const day = h - (h % DAY_MS);
    const list = byDay.get(day);
    if (list) list.push(h);
    else byDay.set(day, [h]);
  }
  const units: WorkUnit[] = [];
  for (const dayHours of byDay.values()) {
    for (const domain of uniqueDomains(input.domains)) {
      for (let i = 0; i < dayHours.length; i += input.maxHoursPerUnit) {
        units.push({ domain, hours: dayHours.slice(i, i + input.maxHoursPerUnit).map(isoHour) });
      }
    }
  }
  return units;
}
