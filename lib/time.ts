/**
 * UTC hour arithmetic. An hour is the half-open window [HH:00, HH+1:00); every function takes and returns epoch
 * milliseconds unless its name says otherwise. Invalid input throws RangeError: a NaN that slipped through here
 * would silently become a wrong object key or an API call for 1970.
 */
import { DateTime } from 'luxon';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/**
 * Every DateTime gets this locale. Left unset, luxon asks Intl for the system locale on first use (~10 ms of a cold
 * invocation), and a system locale with other digits would change formatted key parts.
 */
export const LUXON_LOCALE = 'en-US';

function utc(ms: number, what: string): DateTime {
  if (!Number.isFinite(ms)) throw new RangeError(`${what} must be a finite epoch-millisecond number, got ${ms}`);
  const dt = DateTime.fromMillis(ms, { zone: 'utc', locale: LUXON_LOCALE });
  if (!dt.isValid) throw new RangeError(`${what} is outside the representable date range: ${ms}`);
  return dt;
}

function nonNegativeInteger(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
  return n;
}

/**
 * `ms` itself, checked as `utc` checks it, for the plain arithmetic below: hourStart, isoHour and dateParts run
 * for every listed and archived file, and a luxon DateTime plus a toFormat per field cost measurable CPU per file
 * in an hour of thousands of small logs. UTC hours are whole multiples of HOUR_MS (epoch time has no leap seconds).
 */
function epochMs(ms: number, what: string): number {
  if (!Number.isFinite(ms)) throw new RangeError(`${what} must be a finite epoch-millisecond number, got ${ms}`);
  if (Number.isNaN(new Date(ms).getTime())) throw new RangeError(`${what} is outside the representable date range: ${ms}`);
  return ms;
}

/** Start of the UTC hour containing `ms`. */
export function hourStart(ms: number): number {
  return Math.floor(epochMs(ms, 'time') / HOUR_MS) * HOUR_MS;
}

/** The UTC hour containing `ms`, as written to manifests and reports: '2026-11-27T09:00:00Z'. */
export function isoHour(ms: number): string {
  const { yyyy, MM, dd, HH } = dateParts(ms);
  return `${yyyy}-${MM}-${dd}T${HH}:00:00Z`;
}

const ISO_HOUR = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})(?::00(?::00(?:\.0+)?)?)?(?:Z|[+-]00:?00)$/;

/**
 * Inverse of `isoHour`. Accepts '2026-11-27T09:00:00Z' (also '...T09:00Z', '...T09Z', '.000Z', '+00:00') and
 * rejects anything that is not exactly an hour start in UTC, so a typo never shifts a backfill silently.
 */
export function parseIsoHour(s: string): number {
  const m = ISO_HOUR.exec(s);
  if (!m) throw new RangeError(`not a UTC hour start like 2026-11-27T09:00:00Z: ${JSON.stringify(s)}`);
  const wanted = { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]), hour: Number(m[4]) };
  const dt = DateTime.fromObject(wanted, { zone: 'utc', locale: LUXON_LOCALE });
  // Luxon rolls hour 24 over to the next day; a round trip catches that and any other normalization.
  const exact =
    dt.isValid && dt.year === wanted.year && dt.month === wanted.month && dt.day === wanted.day && dt.hour === wanted.hour;
  if (!exact) throw new RangeError(`not a valid UTC hour: ${JSON.stringify(s)}`);
  return dt.toMillis();
}

/** The Live API's time parameter format, `yyyy-MM-ddTHH:mm:ssZ` in UTC (sub-second part dropped). */
export function apiTime(ms: number): string {
  return utc(ms, 'time').toFormat("yyyy-MM-dd'T'HH:mm:ss'Z'");
}

/** Starts of the UTC hours that begin inside [startMs, endMs), ascending. Unaligned bounds are not widened. */
export function hoursBetween(startMs: number, endMs: number): number[] {
  epochMs(startMs, 'startMs');
  epochMs(endMs, 'endMs');
  const hours: number[] = [];
  for (let hour = Math.ceil(startMs / HOUR_MS) * HOUR_MS; hour < endMs; hour += HOUR_MS) hours.push(hour);
  return hours;
}

/**
 * The hour a timer run is responsible for: `lagHours` before the hour containing the trigger time.
 * Uses the event's triggerTime, not the wall clock, so a delayed or retried invocation still does the same hour.
 * Plain arithmetic, not luxon's minus(): that makes a Duration in the system locale, and asking Intl for it costs
 * ~10 ms of a cold invocation.
 */
export function previousHour(triggerTimeMs: number, lagHours: number): number {
  nonNegativeInteger(lagHours, 'lagHours');
  return epochMs(hourStart(epochMs(triggerTimeMs, 'triggerTimeMs')) - lagHours * HOUR_MS, 'previous hour');
}

export interface DateParts {
  yyyy: string;
  MM: string;
  dd: string;
  HH: string;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Zero-padded UTC calendar parts, for object keys. */
export function dateParts(ms: number): DateParts {
  const date = new Date(epochMs(ms, 'time'));
  const year = date.getUTCFullYear();
  // Years without four plain digits (before 1000 or after 9999, never a log's) keep luxon's spelling.
  if (year < 1000 || year > 9999) {
    const dt = utc(ms, 'time');
    return { yyyy: dt.toFormat('yyyy'), MM: dt.toFormat('MM'), dd: dt.toFormat('dd'), HH: dt.toFormat('HH') };
  }
  return { yyyy: String(year), MM: pad2(date.getUTCMonth() + 1), dd: pad2(date.getUTCDate()), HH: pad2(date.getUTCHours()) };
}
