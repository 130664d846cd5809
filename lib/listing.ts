/**
 * Turns DescribeLivePushProxyLog answers into LogFiles. The API's documented quirks are handled here and nowhere
 * else: times as UNIX-second strings (StartTime later than EndTime in the reference example), whitespace and a
 * newline inside LogName, a LogPath without scheme that carries a signed query string.
 *
 * Nothing produced here (reasons, error messages) ever contains a LogPath's query string.
 */
import { ApiShapeError } from './errors';
import { validateLogName } from './keys';
import { hourStart } from './time';
import type { LogFile, RejectedEntry } from './types';

/** The largest LogSize believed: relay logs are gzip text of one hour; anything bigger is a broken answer. */
export const MAX_LOG_SIZE_BYTES = 50 * 1024 ** 3;

// Plausible UNIX-second bounds: 2000-01-01 .. 2100-01-01. A millisecond value (13 digits) falls outside, which
// is the point: guessing the unit would file a log under the wrong hour.
const MIN_PLAUSIBLE_SEC = 946_684_800;
const MAX_PLAUSIBLE_SEC = 4_102_444_800;

export interface ListingPage {
  /** Raw LogInfoDetail entries, for normalizeEntry. */
  items: unknown[];
  pageIndex: number;
  pageSize: number;
  total: number;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Integers come as JSON numbers; a digit string is accepted too, since RPC answers are not always typed. */
function asNonNegativeInteger(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v.trim())) return Number(v.trim());
  return undefined;
}

/**
 * Validates one page of the answer and extracts its entries and paging.
 *
 * Tolerated as "no entries" (the service's JSON drops empty containers): `DomainLogDetail` missing, `[]` or
 * `{}`-wrapped empty; a detail without `LogInfos` or with an empty `LogInfoDetail`. In those cases missing
 * `PageInfos` fall back to this page number, size 0, total 0. Everything else that is off throws ApiShapeError
 * with the field path: a body without `DomainLogDetails`, an answer for another DomainName, a non-array
 * LogInfoDetail, PageInfos missing when there are entries, non-integer paging numbers.
 * Several DomainLogDetail objects (never seen for a one-domain query) are concatenated; paging is the first's.
 */
export function parseListingPage(body: unknown, ctx: { domain: string; pageNumber: number }): ListingPage {
  const requestId = isObject(body) && typeof body.RequestId === 'string' ? body.RequestId : undefined;
  const fail = (field: string, problem: string): never => {
    throw new ApiShapeError(`Unexpected DescribeLivePushProxyLog answer for ${ctx.domain} page ${ctx.pageNumber}: ${field} ${problem}`, {
      field,
      requestId,
    });
  };

  if (!isObject(body)) return fail('(body)', `is ${describeType(body)}, expected an object`);
  const answeredDomain = body.DomainName;
  if (answeredDomain !== undefined) {
    if (typeof answeredDomain !== 'string') fail('DomainName', `is ${describeType(answeredDomain)}, expected a string`);
    else if (answeredDomain.trim().toLowerCase() !== ctx.domain.toLowerCase()) {
      fail('DomainName', `is ${JSON.stringify(answeredDomain)}, expected ${JSON.stringify(ctx.domain)}`);
    }
  }
  const details = body.DomainLogDetails;
  if (!isObject(details)) return fail('DomainLogDetails', details === undefined ? 'is missing' : `is ${describeType(details)}, expected an object`);
  const list = details.DomainLogDetail;
  if (list !== undefined && !Array.isArray(list)) fail('DomainLogDetails.DomainLogDetail', `is ${describeType(list)}, expected an array`);
  const detailList = (list ?? []) as unknown[];

  const items: unknown[] = [];
  let paging: { pageIndex: number; pageSize: number; total: number } | undefined;
  detailList.forEach((detail, i) => {
    const path = `DomainLogDetails.DomainLogDetail[${i}]`;
    if (!isObject(detail)) return fail(path, `is ${describeType(detail)}, expected an object`);
    const infos = detail.LogInfos;
    let entries: unknown[] = [];
    if (infos !== undefined) {
      if (!isObject(infos)) return fail(`${path}.LogInfos`, `is ${describeType(infos)}, expected an object`);
      const arr = infos.LogInfoDetail;
      if (arr !== undefined && !Array.isArray(arr)) {
        return fail(`${path}.LogInfos.LogInfoDetail`, `is ${describeType(arr)}, expected an array`);
      }
      entries = (arr ?? []) as unknown[];
    }
    items.push(...entries);
    const pageInfos = detail.PageInfos;
    if (pageInfos === undefined) {
      if (entries.length > 0) fail(`${path}.PageInfos`, 'is missing');
      return;
    }
    if (!isObject(pageInfos)) return fail(`${path}.PageInfos`, `is ${describeType(pageInfos)}, expected an object`);
    const read = (name: 'PageIndex' | 'PageSize' | 'Total'): number => {
      const raw = pageInfos[name];
      const n = asNonNegativeInteger(raw);
      if (n === undefined) {
        return fail(`${path}.PageInfos.${name}`, raw === undefined ? 'is missing' : `is ${JSON.stringify(raw)}, expected a non-negative integer`);
      }
      return n;
    };
    const current = { pageIndex: read('PageIndex'), pageSize: read('PageSize'), total: read('Total') };
    paging ??= current;
  });

  return { items, ...(paging ?? { pageIndex: ctx.pageNumber, pageSize: 0, total: 0 }) };
}

export type NormalizeResult = { file: LogFile } | { rejected: RejectedEntry };

export interface NormalizeContext {
  domain: string;
  /** Scheme given to a LogPath that has none (the API's never do); 'http' only for the loopback emulator. */
  scheme: 'https' | 'http';
  /** Receives `URL.host`: lower-case hostname, plus `:port` when the URL names a non-default port. */
  allowHost: (host: string) => boolean;
}

/** A name as it may appear in a rejection: control characters escaped, bounded. */
function displayName(raw: unknown): string {
  if (typeof raw !== 'string') return `(${describeType(raw)})`;
  const escaped = JSON.stringify(raw).slice(1, -1);
  return escaped.length <= 200 ? escaped : `${escaped.slice(0, 199)}…`;
}

function parseUnixSeconds(v: unknown): number | undefined {
  let sec: number | undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v)) sec = v;
  else if (typeof v === 'string' && /^\d{1,12}$/.test(v.trim())) sec = Number(v.trim());
  if (sec === undefined || sec < MIN_PLAUSIBLE_SEC || sec > MAX_PLAUSIBLE_SEC) return undefined;
  return sec * 1000;
}

function parseLogSize(v: unknown): number | undefined {
  const n = asNonNegativeInteger(v);
  return n !== undefined && n <= MAX_LOG_SIZE_BYTES ? n : undefined;
}

const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
/**
 * The first `Expires` parameter of a query (believed only when it is 1-12 plain digits). Anchored at the query's
 * '?' or a '&' (a '?' may also appear unencoded inside a value, where 'Expires=' is not a parameter), and a bare
 * `Expires` without '=' counts as the first, empty one, as URLSearchParams has it.
 */
const EXPIRES_PARAM = /(?:^\?|&)Expires(?:=([^&]*))?(?:&|$)/;

/**
 * Normalizes one LogInfoDetail, or says why it cannot be used. Whitespace is removed from LogPath as from
 * LogName (the reference shows the same stray newline in both; WHATWG URL parsing would drop a newline anyway
 * but would encode a space). A LogPath with a scheme other than http(s), with user info, unparsable, or on a
 * host the allowlist refuses is rejected. `Expires` (UNIX seconds) becomes `urlExpiresMs`; if it is absent or
 * malformed the URL is used without a known expiry.
 */
export function normalizeEntry(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  if (!isObject(raw)) return reject(ctx, `(${describeType(raw)})`, 'entry is not an object');
  const rawName = raw.LogName;
  if (typeof rawName !== 'string') return reject(ctx, displayName(rawName), 'LogName is missing or not a string');
  const checkedName = validateLogName(rawName);
  if (!checkedName.ok) return reject(ctx, displayName(rawName), checkedName.reason);
  const name = checkedName.value;

  const startRaw = parseUnixSeconds(raw.StartTime);
  if (startRaw === undefined) return reject(ctx, name, `StartTime ${describeValue(raw.StartTime)} is not a plausible UNIX time in seconds`);
  const endRaw = parseUnixSeconds(raw.EndTime);
  if (endRaw === undefined) return reject(ctx, name, `EndTime ${describeValue(raw.EndTime)} is not a plausible UNIX time in seconds`);
  // The reference example has StartTime an hour after EndTime: order them rather than trust the labels.
  const startMs = Math.min(startRaw, endRaw);
  const endMs = Math.max(startRaw, endRaw);

  const size = parseLogSize(raw.LogSize);
  if (size === undefined) {
    return reject(ctx, name, `LogSize ${describeValue(raw.LogSize)} is not an integer in 0..${MAX_LOG_SIZE_BYTES}`);
  }

  if (typeof raw.LogPath !== 'string') return reject(ctx, name, 'LogPath is missing or not a string');
  const path = raw.LogPath.replace(/\s+/gu, '');
  if (path === '') return reject(ctx, name, 'LogPath is empty');
  const withScheme = HAS_SCHEME.test(path) ? path : `${ctx.scheme}://${path}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return reject(ctx, name, 'LogPath is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return reject(ctx, name, `LogPath has unsupported scheme ${url.protocol.slice(0, 20)}`);
  }
  if (url.username !== '' || url.password !== '') return reject(ctx, name, 'LogPath carries user info');
  if (!ctx.allowHost(url.host)) return reject(ctx, name, `LogPath host ${url.host} is not on the download host allowlist`);

  const file: LogFile = {
    domain: ctx.domain,
    hourStartMs: hourStart(startMs),
    name,
    url: url.href,
    size,
    startMs,
    endMs,
  };
  // A pattern on the query, not url.searchParams: that parses the whole query into a new object, for each of
  // thousands of entries (half of normalizing a page). Only plain digits are believed either way.
  const expiresSec = EXPIRES_PARAM.exec(url.search)?.[1];
  if (expiresSec !== undefined && /^\d{1,12}$/.test(expiresSec)) file.urlExpiresMs = Number(expiresSec) * 1000;
  return { file };
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number') return String(v);
  return `(${describeType(v)})`;
}

function reject(ctx: NormalizeContext, name: string, reason: string): { rejected: RejectedEntry } {
  return { rejected: { domain: ctx.domain, name, reason } };
}

/**
 * Drops entries listed twice (across pages, or across overlapping windows): same domain, hour and name. The one
 * whose URL expires later is kept, since its link is the one more likely to still work; on a tie (or no expiry)
 * the first listed. Order of first appearance is preserved.
 */
export function dedupe(files: readonly LogFile[]): LogFile[] {
  const byKey = new Map<string, LogFile>();
  for (const f of files) {
    const key = `${f.domain}\u0000${f.hourStartMs}\u0000${f.name}`;
    const kept = byKey.get(key);
    if (kept === undefined) byKey.set(key, f);
    else if ((f.urlExpiresMs ?? -Infinity) > (kept.urlExpiresMs ?? -Infinity)) byKey.set(key, f);
  }
  return [...byKey.values()];
}

/**
 * Download host allowlist. Patterns:
 *  - `*.aliyuncs.com`: any subdomain at any depth, not the apex (list `aliyuncs.com` too if wanted);
 *  - `host`: that host on the scheme's default port only;
 *  - `host:port`: that host on that port; `host:*`: that host on any port (loopback emulators on ephemeral ports).
 * The wildcard form takes the same port suffixes. Matching is case-insensitive and ignores a trailing dot.
 * IPv6 literals are written in brackets, `[::1]:8080`, as URL.host gives them.
 */
export function hostAllowlist(patterns: readonly string[]): (host: string) => boolean {
  const compiled = patterns.map(compilePattern);
  return (host: string) => {
    const parsed = splitHostPort(host);
    if (parsed === undefined) return false;
    return compiled.some((p) => p(parsed.hostname, parsed.port));
  };
}

function splitHostPort(hostPort: string): { hostname: string; port: string | undefined } | undefined {
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d+|\*))?$/.exec(hostPort.trim().toLowerCase());
  if (!m) return undefined;
  return { hostname: m[1].replace(/\.$/, ''), port: m[2] };
}

function compilePattern(pattern: string): (hostname: string, port: string | undefined) => boolean {
  const parsed = splitHostPort(pattern);
  if (parsed === undefined || parsed.hostname === '' || parsed.hostname === '*' || parsed.hostname === '*.') {
    throw new TypeError(`invalid host allowlist pattern ${JSON.stringify(pattern)}`);
  }
  const { hostname, port } = parsed;
  const portMatches = (p: string | undefined): boolean => port === '*' || port === p;
  if (hostname.startsWith('*.')) {
    const suffix = hostname.slice(1); // ".aliyuncs.com"
    if (suffix.includes('*')) throw new TypeError(`invalid host allowlist pattern ${JSON.stringify(pattern)}: '*' only as the first label`);
    return (h, p) => h.length > suffix.length && h.endsWith(suffix) && portMatches(p);
  }
  if (hostname.includes('*')) throw new TypeError(`invalid host allowlist pattern ${JSON.stringify(pattern)}: '*' only as the first label`);
  return (h, p) => h === hostname && portMatches(p);
}
