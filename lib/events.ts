/**
 * What an invocation was asked to do, decoded and checked before any network call. Three shapes arrive:
 *
 *  - timer:    the FC timer event `{"triggerTime","triggerName","payload"}`. `payload` is a string that may carry
 *              JSON overrides `{"domains"?,"lagHours"?,"lookbackHours"?}` (an object is accepted too, for hand-made
 *              events). An empty event, `{}`, or a hand-made event without `action` (optionally with the same
 *              override keys) is a timer run at the invocation time, marked `manual: true`.
 *  - backfill: `{"action":"backfill","domains"?,"start","end"}`, ISO-8601 UTC times, `end` exclusive.
 *  - archive:  a fan-out unit `{"action":"archive","domain","hours":[ISO hour starts],"parentRunId"?,"attempt"?}`.
 *              Hours are listed explicitly rather than as a range: a unit is then exactly the set of (domain, hour)
 *              pairs it owns, which keeps fan-out idempotent and its size obvious.
 *
 * Everything the caller gave is validated; unknown keys are errors (a typo must not silently become a default),
 * except in the outer timer envelope, which the platform owns. Errors name the field path and the fix.
 */
import { DateTime } from 'luxon';
import { EventError } from './errors';
import { MAX_HOURS_BACK, normalizeHostname } from './config';
import { DAY_MS, HOUR_MS, LUXON_LOCALE, apiTime, hourStart, isoHour, parseIsoHour } from './time';

export interface TimerOverrides {
  domains?: string[];
  lagHours?: number;
  lookbackHours?: number;
}

export interface TimerEvent {
  kind: 'timer';
  /** UTC, `yyyy-MM-ddTHH:mm:ssZ`. */
  triggerTime: string;
  triggerTimeMs: number;
  triggerName?: string;
  /** True when the event was not sent by a timer trigger (empty event or no action): triggerTime is the invocation time. */
  manual: boolean;
  overrides: TimerOverrides;
}

export interface BackfillEvent {
  kind: 'backfill';
  domains: string[];
  /** Hour-aligned, inside the servable window; `endMs` exclusive. */
  startMs: number;
  endMs: number;
  /** What was rounded or clamped, for the run report. */
  warnings: string[];
}

export interface ArchiveEvent {
  kind: 'archive';
  domain: string;
  /** ISO hour starts (`2026-11-27T09:00:00Z`), ascending, unique, all still servable. */
  hours: string[];
  parentRunId?: string;
  attempt?: number;
  /** Hours dropped because they aged out of the 31-day window while the unit was queued. */
  warnings: string[];
}

export type ArchiverEvent = TimerEvent | BackfillEvent | ArchiveEvent;

export interface ParseEventOptions {
  /** The invocation time: "now" for manual runs, the window, and future checks. */
  nowMs: number;
  /** `Config.domains`: already lowercased. */
  configuredDomains: string[];
}

/** How long the Live API keeps relay logs. */
export const LIVE_LOG_RETENTION_MS = 31 * DAY_MS;
/** Kept clear of the retention edge: an hour that is just servable at planning time may not be at listing time. */
export const RETENTION_SAFETY_MS = HOUR_MS;
/** More hours than 31 days hold can never be asked of one domain. */
export const MAX_HOURS_PER_DOMAIN = 744;
/** A trigger time this far ahead of the clock is a mistake, not skew. */
const TRIGGER_FUTURE_TOLERANCE_MS = 15 * 60_000;

const ACTIONS = ['backfill', 'archive'] as const;
const OVERRIDE_KEYS = ['domains', 'lagHours', 'lookbackHours'] as const;
const BACKFILL_KEYS = ['action', 'domains', 'start', 'end'] as const;
const ARCHIVE_KEYS = ['action', 'domain', 'hours', 'parentRunId', 'attempt'] as const;
const TIME_FIX = 'give an ISO-8601 UTC time such as 2026-11-01T00:00:00Z';

/** The oldest hour start the Live API can still list at `nowMs`, with the safety margin. */
export function oldestServableHourMs(nowMs: number): number {
  return ceilToHour(nowMs - LIVE_LOG_RETENTION_MS + RETENTION_SAFETY_MS);
}

export function parseEvent(event: unknown, opts: ParseEventOptions): ArchiverEvent {
  const body = decode(event);
  if (body === null) return manualTimer(opts.nowMs, {});
  const action = body.action;
  if (action === undefined) {
    if ('triggerTime' in body) return parseTimer(body, opts);
    rejectUnknownKeys(body, ['action', ...OVERRIDE_KEYS], '');
    return manualTimer(opts.nowMs, parseOverrides(body, '', opts));
  }
  if (action === 'backfill') return parseBackfill(body, opts);
  if (action === 'archive') return parseArchive(body, opts);
  throw new EventError({
    field: 'action',
    problem: typeof action === 'string' ? `'${shorten(action)}' is not a known action` : `must be a string, got ${describeType(action)}`,
    fix: `use one of ${ACTIONS.join(', ')}, or omit action for a timer run`,
  });
}

/** The event for one fan-out unit, as `parseEvent` reads it back. */
export function archiveUnitEvent(unit: { domain: string; hourStartsMs: number[]; parentRunId?: string; attempt?: number }): Record<string, unknown> {
  return {
    action: 'archive',
    domain: unit.domain,
    hours: unit.hourStartsMs.map(isoHour),
    ...(unit.parentRunId === undefined ? {} : { parentRunId: unit.parentRunId }),
    ...(unit.attempt === undefined ? {} : { attempt: unit.attempt }),
  };
}

// ---------------------------------------------------------------------------------------------------------------

type JsonObject = Record<string, unknown>;

/** Buffer/string → JSON object; null when the event is empty. */
function decode(event: unknown): JsonObject | null {
  let value: unknown = event;
  if (Buffer.isBuffer(value)) value = value.toString('utf8');
  if (value instanceof Uint8Array) value = Buffer.from(value).toString('utf8');
  if (typeof value === 'string') {
    const text = value.replace(/^\uFEFF/, '').trim();
    if (text === '') return null;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new EventError({
        field: 'event',
        problem: `is not valid JSON (${(err as Error).message})`,
        fix: 'send a JSON object, e.g. {"action":"backfill","start":"2026-11-01T00:00:00Z","end":"2026-11-02T00:00:00Z"}, or an empty event for a timer run',
      });
    }
  }
  if (value === undefined || value === null) return null;
  if (!isObject(value)) {
    throw new EventError({ field: 'event', problem: `is ${describeType(value)}, not a JSON object`, fix: 'send a JSON object, or an empty event for a timer run' });
  }
  return value;
}

function manualTimer(nowMs: number, overrides: TimerOverrides): TimerEvent {
  return { kind: 'timer', triggerTime: apiTime(nowMs), triggerTimeMs: nowMs, manual: true, overrides };
}

function parseTimer(body: JsonObject, opts: ParseEventOptions): TimerEvent {
  const triggerTimeMs = parseInstant(body.triggerTime, 'triggerTime', { utcOnly: false });
  if (triggerTimeMs > opts.nowMs + TRIGGER_FUTURE_TOLERANCE_MS) {
    throw new EventError({
      field: 'triggerTime',
      problem: `${apiTime(triggerTimeMs)} is in the future (now is ${apiTime(opts.nowMs)})`,
      fix: 'give the time the run stands for, at or before now',
    });
  }
  const triggerName = body.triggerName;
  if (triggerName !== undefined && typeof triggerName !== 'string') {
    throw new EventError({ field: 'triggerName', problem: `must be a string, got ${describeType(triggerName)}`, fix: 'give the trigger name as a string, or omit it' });
  }
  const event: TimerEvent = {
    kind: 'timer',
    triggerTime: apiTime(triggerTimeMs),
    triggerTimeMs,
    manual: false,
    overrides: parsePayload(body.payload, opts),
  };
  if (triggerName) event.triggerName = triggerName;
  return event;
}

function parsePayload(payload: unknown, opts: ParseEventOptions): TimerOverrides {
  let value = payload;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text === '') return {};
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new EventError({
        field: 'payload',
        problem: `is not valid JSON (${(err as Error).message})`,
        fix: 'leave the timer payload empty, or give JSON overrides such as {"lookbackHours":48}',
      });
    }
  }
  if (value === undefined || value === null) return {};
  if (!isObject(value)) {
    throw new EventError({ field: 'payload', problem: `is ${describeType(value)}, not a JSON object`, fix: 'give JSON overrides such as {"lookbackHours":48}, or leave it empty' });
  }
  rejectUnknownKeys(value, OVERRIDE_KEYS, 'payload');
  return parseOverrides(value, 'payload', opts);
}

function parseOverrides(body: JsonObject, prefix: string, opts: ParseEventOptions): TimerOverrides {
  const overrides: TimerOverrides = {};
  if (body.domains !== undefined) overrides.domains = parseDomainList(body.domains, path(prefix, 'domains'), opts.configuredDomains);
  if (body.lagHours !== undefined) overrides.lagHours = parseInteger(body.lagHours, path(prefix, 'lagHours'), 0, 48);
  if (body.lookbackHours !== undefined) overrides.lookbackHours = parseInteger(body.lookbackHours, path(prefix, 'lookbackHours'), 0, 720);
  if (overrides.lagHours !== undefined && overrides.lookbackHours !== undefined && overrides.lagHours + overrides.lookbackHours > MAX_HOURS_BACK) {
    throw new EventError({
      field: path(prefix, 'lookbackHours'),
      problem: `${overrides.lookbackHours} with lagHours ${overrides.lagHours} reaches ${overrides.lagHours + overrides.lookbackHours} hours back, beyond the ${MAX_HOURS_BACK} the Live API can still serve (31 days)`,
      fix: `lower lookbackHours to at most ${MAX_HOURS_BACK - overrides.lagHours}`,
    });
  }
  return overrides;
}

function parseBackfill(body: JsonObject, opts: ParseEventOptions): BackfillEvent {
  rejectUnknownKeys(body, BACKFILL_KEYS, '');
  const domains = body.domains === undefined ? [...opts.configuredDomains] : parseDomainList(body.domains, 'domains', opts.configuredDomains);
  const requestedStartMs = parseInstant(body.start, 'start', { utcOnly: true });
  const requestedEndMs = parseInstant(body.end, 'end', { utcOnly: true });
  if (requestedStartMs >= requestedEndMs) {
    throw new EventError({ field: 'end', problem: `${apiTime(requestedEndMs)} is not after start ${apiTime(requestedStartMs)}`, fix: 'give an end later than start (end is exclusive)' });
  }

  const warnings: string[] = [];
  let startMs = hourStart(requestedStartMs);
  if (startMs !== requestedStartMs) warnings.push(`start ${apiTime(requestedStartMs)} is not on an hour; rounded down to ${isoHour(startMs)}`);
  let endMs = ceilToHour(requestedEndMs);
  if (endMs !== requestedEndMs) warnings.push(`end ${apiTime(requestedEndMs)} is not on an hour; rounded up to ${apiTime(endMs)}`);

  const oldestMs = oldestServableHourMs(opts.nowMs);
  if (endMs <= oldestMs) {
    throw new EventError({
      field: 'end',
      problem: `${apiTime(endMs)} is older than the 31 days the Live API keeps logs (the oldest servable hour is ${isoHour(oldestMs)}), so nothing is left to archive`,
      fix: `give an end after ${isoHour(oldestMs)}`,
    });
  }
  if (startMs < oldestMs) {
    warnings.push(`start ${isoHour(startMs)} is older than the 31 days the Live API keeps logs; clamped to ${isoHour(oldestMs)}, the oldest servable hour`);
    startMs = oldestMs;
  }
  const currentHourMs = hourStart(opts.nowMs);
  if (startMs >= currentHourMs) {
    throw new EventError({
      field: 'start',
      problem: `${isoHour(startMs)} is not before the current hour ${isoHour(currentHourMs)}, whose logs are not complete`,
      fix: `give a start before ${isoHour(currentHourMs)}`,
    });
  }
  if (endMs > currentHourMs) {
    warnings.push(`end ${apiTime(endMs)} is after the start of the current hour, whose logs are not complete; clamped to ${isoHour(currentHourMs)}`);
    endMs = currentHourMs;
  }
  const hours = (endMs - startMs) / HOUR_MS;
  if (hours > MAX_HOURS_PER_DOMAIN) {
    throw new EventError({ field: 'end', problem: `the range covers ${hours} hours per domain, more than ${MAX_HOURS_PER_DOMAIN}`, fix: 'split the backfill into ranges of at most 31 days' });
  }
  return { kind: 'backfill', domains, startMs, endMs, warnings };
}

function parseArchive(body: JsonObject, opts: ParseEventOptions): ArchiveEvent {
  rejectUnknownKeys(body, ARCHIVE_KEYS, '');
  const domain = parseDomain(body.domain, 'domain', opts.configuredDomains);
  const hoursValue = body.hours;
  if (!Array.isArray(hoursValue)) {
    throw new EventError({
      field: 'hours',
      problem: hoursValue === undefined ? 'is missing' : `must be an array, got ${describeType(hoursValue)}`,
      fix: 'list the UTC hour starts of the unit, e.g. ["2026-11-27T09:00:00Z"]',
    });
  }
  if (hoursValue.length === 0) throw new EventError({ field: 'hours', problem: 'is empty', fix: 'list at least one UTC hour start, e.g. ["2026-11-27T09:00:00Z"]' });
  if (hoursValue.length > MAX_HOURS_PER_DOMAIN) {
    throw new EventError({ field: 'hours', problem: `lists ${hoursValue.length} hours, more than ${MAX_HOURS_PER_DOMAIN}`, fix: 'split the unit' });
  }

  const currentHourMs = hourStart(opts.nowMs);
  const oldestMs = oldestServableHourMs(opts.nowMs);
  const hourStartsMs = new Set<number>();
  const warnings: string[] = [];
  hoursValue.forEach((item, index) => {
    const field = `hours[${index}]`;
    if (typeof item !== 'string') throw new EventError({ field, problem: `must be a string, got ${describeType(item)}`, fix: 'give a UTC hour start such as 2026-11-27T09:00:00Z' });
    let ms: number;
    try {
      ms = parseIsoHour(item);
    } catch {
      throw new EventError({ field, problem: `'${shorten(item)}' is not a UTC hour start`, fix: 'give a UTC hour start such as 2026-11-27T09:00:00Z' });
    }
    if (ms >= currentHourMs) {
      throw new EventError({ field, problem: `${isoHour(ms)} is not complete yet (the current hour starts ${isoHour(currentHourMs)})`, fix: `give hours before ${isoHour(currentHourMs)}` });
    }
    // A unit can wait in the async queue; an hour that aged out meanwhile is skipped, the rest still need doing.
    if (ms < oldestMs) warnings.push(`hour ${isoHour(ms)} is older than the 31 days the Live API keeps logs (oldest servable ${isoHour(oldestMs)}); skipped`);
    else hourStartsMs.add(ms);
  });
  if (hourStartsMs.size === 0) {
    throw new EventError({ field: 'hours', problem: `every hour is older than the oldest servable hour ${isoHour(oldestMs)}, so nothing is left to archive`, fix: 'give hours within the last 31 days' });
  }

  const event: ArchiveEvent = { kind: 'archive', domain, hours: [...hourStartsMs].sort((a, b) => a - b).map(isoHour), warnings };
  if (body.parentRunId !== undefined) event.parentRunId = parseRunId(body.parentRunId);
  if (body.attempt !== undefined) event.attempt = parseInteger(body.attempt, 'attempt', 1, 100);
  return event;
}

function parseRunId(value: unknown): string {
  if (typeof value === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(value)) return value;
  throw new EventError({
    field: 'parentRunId',
    problem: typeof value === 'string' ? `'${shorten(value)}' is not a run ID` : `must be a string, got ${describeType(value)}`,
    fix: 'give the parent run ID (1-128 letters, digits, . _ : -), or omit it',
  });
}

function parseDomainList(value: unknown, field: string, configured: readonly string[]): string[] {
  if (!Array.isArray(value)) {
    throw new EventError({ field, problem: `must be an array of domain names, got ${describeType(value)}`, fix: 'give an array such as ["live.example.com"], or omit it for all configured domains' });
  }
  if (value.length === 0) throw new EventError({ field, problem: 'is empty', fix: 'name at least one domain, or omit it for all configured domains' });
  const domains: string[] = [];
  value.forEach((item, index) => {
    const domain = parseDomain(item, `${field}[${index}]`, configured);
    if (!domains.includes(domain)) domains.push(domain);
  });
  return domains;
}

function parseDomain(value: unknown, field: string, configured: readonly string[]): string {
  if (typeof value !== 'string') {
    throw new EventError({ field, problem: value === undefined ? 'is missing' : `must be a string, got ${describeType(value)}`, fix: 'give an ingest domain name such as live.example.com' });
  }
  const domain = normalizeHostname(value);
  if (domain === null) throw new EventError({ field, problem: `'${shorten(value)}' is not a valid hostname`, fix: 'give an ingest domain name such as live.example.com' });
  if (!configured.includes(domain)) {
    throw new EventError({ field, problem: `'${domain}' is not a configured domain`, fix: `use one of ${configured.join(', ') || '(none configured)'}, or add it to ARCHIVER_DOMAINS` });
  }
  return domain;
}

function parseInteger(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new EventError({
      field,
      problem: typeof value === 'number' ? `${value} is not a whole number from ${min} to ${max}` : `must be a number, got ${describeType(value)}`,
      fix: `give a whole number from ${min} to ${max}`,
    });
  }
  return value;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;
const UTC_DESIGNATOR = /^(?:Z|[+-]00:?00)$/i;

/** An ISO-8601 instant with an explicit zone; `utcOnly` insists on Z or +00:00, as the Live API does. */
function parseInstant(value: unknown, field: string, opts: { utcOnly: boolean }): number {
  if (typeof value !== 'string') {
    throw new EventError({ field, problem: value === undefined ? 'is missing' : `must be a string, got ${describeType(value)}`, fix: TIME_FIX });
  }
  const match = ISO_INSTANT.exec(value);
  if (!match) {
    throw new EventError({ field, problem: `'${shorten(value)}' is not an ISO-8601 date and time with a time zone`, fix: TIME_FIX });
  }
  if (opts.utcOnly && !UTC_DESIGNATOR.test(match[1])) {
    throw new EventError({ field, problem: `'${value}' is not in UTC`, fix: `${TIME_FIX} (convert local times to UTC)` });
  }
  const parsed = DateTime.fromISO(value, { setZone: true, locale: LUXON_LOCALE });
  if (!parsed.isValid) throw new EventError({ field, problem: `'${value}' is not a valid date and time (${parsed.invalidReason})`, fix: TIME_FIX });
  return parsed.toMillis();
}

function rejectUnknownKeys(body: JsonObject, known: readonly string[], prefix: string): void {
  const unknown = Object.keys(body).filter((key) => !known.includes(key));
  if (unknown.length === 0) return;
  throw new EventError({
    field: prefix ? `${prefix}.${unknown[0]}` : unknown[0],
    problem: `is not a known key${unknown.length > 1 ? ` (nor ${unknown.slice(1).join(', ')})` : ''}`,
    fix: `use only ${known.join(', ')}`,
  });
}

function ceilToHour(ms: number): number {
  const floor = hourStart(ms);
  return floor === ms ? ms : floor + HOUR_MS;
}

function path(prefix: string, key: string): string {
  return prefix ? `${prefix}.${key}` : key;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value === undefined) return 'undefined';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function shorten(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
