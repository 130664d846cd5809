/**
 * Object key naming: archived logs, manifests and leases. Every key is a pure function of (domain, hour, name), so
 * a lost manifest can be rebuilt by HEADing the keys the listing implies, and two runs never disagree on a key.
 */
import { dateParts, type DateParts } from './time';

export type Validation<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Longest LogName kept: the common file-system limit, well inside OSS's 1023-byte key limit with a prefix. */
export const MAX_LOG_NAME_BYTES = 255;
export const MAX_OBJECT_KEY_BYTES = 1023;

export const DEFAULT_KEY_TEMPLATE = '{domain}/{yyyy}/{MM}/{dd}/{HH}/{name}';
/** Partition-style layout that Hive, Spark, DLA and MaxCompute external tables discover on their own. */
export const HIVE_KEY_TEMPLATE = 'domain={domain}/dt={yyyy}-{MM}-{dd}/hour={HH}/{name}';

const PLACEHOLDERS = ['domain', 'yyyy', 'MM', 'dd', 'HH', 'name'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

// \p{C}: control, format (bidi overrides, zero-width joiners), unassigned, private use, lone surrogates.
const NOT_PRINTABLE = /\p{C}/u;
const WHITESPACE = /\s+/gu;

/**
 * Makes an API LogName safe to use as the last segment of an object key, or says why it cannot be.
 *
 * ALL whitespace is removed, not only at the ends: the API reference shows the name as
 * "example.com\n_2023_09_20_160000_170000.****.gz" where the file it names is
 * "example.com_2023_09_20_160000_170000.****.gz" (its LogPath shows the same newline), so whitespace inside a
 * name is an artefact of the API, never part of a real relay log name. Two names that differ only in whitespace
 * therefore map to one key, which is what we want for the same file listed twice.
 *
 * Rejected: empty; '/' or '\' (would add key segments); '..' anywhere (a '..' segment is impossible without '/',
 * but tools that join keys to local paths are not all careful, and real names never contain it); '.' alone;
 * control, format or other non-printable characters; more than 255 UTF-8 bytes.
 */
export function validateLogName(raw: string): Validation<string> {
  const name = raw.replace(WHITESPACE, '');
  if (name === '') return { ok: false, reason: 'LogName is empty' };
  if (name.includes('/') || name.includes('\\')) return { ok: false, reason: 'LogName contains a path separator' };
  if (name.includes('..')) return { ok: false, reason: "LogName contains '..'" };
  if (name === '.') return { ok: false, reason: "LogName is '.'" };
  if (NOT_PRINTABLE.test(name)) return { ok: false, reason: 'LogName contains a non-printable character' };
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_LOG_NAME_BYTES) {
    return { ok: false, reason: `LogName is ${bytes} bytes long, over ${MAX_LOG_NAME_BYTES}` };
  }
  return { ok: true, value: name };
}

/**
 * Checks an archive key template: every placeholder present exactly as spelled (together they make the key
 * unique per file), no unknown placeholder, no leading '/', no '..' or empty segment, nothing non-printable.
 * All problems are reported at once, so a config error is fixed in one go.
 */
export function validateKeyTemplate(template: string): Validation<string> {
  const problems: string[] = [];
  const used = new Set<string>();
  for (const m of template.matchAll(/\{([^{}]*)\}/g)) used.add(m[1]);
  for (const p of PLACEHOLDERS) if (!used.has(p)) problems.push(`missing {${p}}`);
  for (const u of used) {
    if (!(PLACEHOLDERS as readonly string[]).includes(u)) problems.push(`unknown placeholder {${u}}`);
  }
  const withoutPlaceholders = template.replace(/\{[^{}]*\}/g, 'x');
  if (/[{}]/.test(withoutPlaceholders)) problems.push('unbalanced brace');
  if (template.startsWith('/')) problems.push("must not start with '/'");
  if (template.split('/').some((seg) => seg === '..' || seg === '.')) problems.push("must not contain a '.' or '..' segment");
  if (template.includes('//')) problems.push('must not contain an empty segment');
  if (/\s/u.test(template) || NOT_PRINTABLE.test(template)) problems.push('must not contain whitespace or control characters');
  if (problems.length > 0) return { ok: false, reason: `invalid key template ${JSON.stringify(template)}: ${problems.join('; ')}` };
  return { ok: true, value: template };
}

/** A configured domain becomes a key segment: it must not be able to add segments or escape the prefix. */
function assertDomainSegment(domain: string): void {
  if (
    domain === '' ||
    domain.includes('/') ||
    domain.includes('\\') ||
    domain.includes('..') ||
    /\s/u.test(domain) ||
    NOT_PRINTABLE.test(domain)
  ) {
    throw new TypeError(`domain ${JSON.stringify(domain)} cannot be used in an object key`);
  }
}

function assertKey(key: string): string {
  if (key.startsWith('/')) throw new TypeError(`object key must not start with '/': ${JSON.stringify(key)}`);
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_OBJECT_KEY_BYTES) throw new TypeError(`object key is ${bytes} bytes, over OSS's ${MAX_OBJECT_KEY_BYTES}`);
  return key;
}

export interface ArchiveKeyInput {
  domain: string;
  hourStartMs: number;
  /** Already validated with validateLogName. */
  name: string;
}

/**
 * Templates that passed validateKeyTemplate, split into literal text and placeholders. archiveKey runs for every
 * file with the one configured template: validating it each time allocated ~2.4 KB per call (matchAll, sets,
 * splits), ~10 MB of garbage in a 2,000-file hour, and a regex replace per key was most of what was left.
 */
const compiledTemplates = new Map<string, (string | { placeholder: Placeholder })[]>();

function compiledTemplate(template: string): (string | { placeholder: Placeholder })[] {
  let pieces = compiledTemplates.get(template);
  if (!pieces) {
    const checked = validateKeyTemplate(template);
    if (!checked.ok) throw new TypeError(checked.reason);
    pieces = template.split(/\{([^{}]*)\}/g).map((piece, i) => (i % 2 === 1 ? { placeholder: piece as Placeholder } : piece));
    compiledTemplates.set(template, pieces);
  }
  return pieces;
}

/** The last hour's date parts: the files of a run come hour by hour. */
let lastParts: { hourStartMs: number; parts: DateParts } | null = null;

function hourParts(hourStartMs: number): DateParts {
  if (lastParts?.hourStartMs !== hourStartMs) lastParts = { hourStartMs, parts: dateParts(hourStartMs) };
  return lastParts.parts;
}

/** `prefix` + the rendered template. The prefix is used verbatim ('' or ending in '/' by convention). */
export function archiveKey(template: string, prefix: string, file: ArchiveKeyInput): string {
  const pieces = compiledTemplate(template);
  assertDomainSegment(file.domain);
  const name = validateLogName(file.name);
  if (!name.ok || name.value !== file.name) {
    throw new TypeError(`log name ${JSON.stringify(file.name)} is not a validated name: ${name.ok ? 'not normalized' : name.reason}`);
  }
  const parts = hourParts(file.hourStartMs);
  let key = prefix;
  for (const piece of pieces) {
    if (typeof piece === 'string') key += piece;
    else if (piece.placeholder === 'domain') key += file.domain;
    else if (piece.placeholder === 'name') key += file.name;
    else key += parts[piece.placeholder];
  }
  return assertKey(key);
}

/** `{statePrefix}manifests/{domain}/{yyyy}/{MM}/{dd}/{HH}.json` */
export function manifestKey(statePrefix: string, domain: string, hourStartMs: number): string {
  assertDomainSegment(domain);
  const { yyyy, MM, dd, HH } = dateParts(hourStartMs);
  return assertKey(`${statePrefix}manifests/${domain}/${yyyy}/${MM}/${dd}/${HH}.json`);
}

export const LEASE_GENERATION_DIGITS = 6;
export const MAX_LEASE_GENERATION = 10 ** LEASE_GENERATION_DIGITS - 1;

/** `{statePrefix}leases/{domain}/{yyyy-MM-ddTHH}/`: list it to find the generations taken for an hour. */
export function leasePrefix(statePrefix: string, domain: string, hourStartMs: number): string {
  assertDomainSegment(domain);
  const { yyyy, MM, dd, HH } = dateParts(hourStartMs);
  return assertKey(`${statePrefix}leases/${domain}/${yyyy}-${MM}-${dd}T${HH}/`);
}

/**
 * `{leasePrefix}{generation}` with the generation zero-padded to 6 digits, so that OSS's lexicographic listing
 * order is numeric order and the highest generation is the last key listed.
 */
export function leaseKey(statePrefix: string, domain: string, hourStartMs: number, generation: number): string {
  if (!Number.isSafeInteger(generation) || generation < 0 || generation > MAX_LEASE_GENERATION) {
    throw new RangeError(`lease generation must be an integer in 0..${MAX_LEASE_GENERATION}, got ${generation}`);
  }
  return leasePrefix(statePrefix, domain, hourStartMs) + String(generation).padStart(LEASE_GENERATION_DIGITS, '0');
}

/** The generation encoded in a key listed under `leasePrefix`, or null for anything else found there. */
export function parseLeaseGeneration(prefix: string, key: string): number | null {
  if (!key.startsWith(prefix)) return null;
  const rest = key.slice(prefix.length);
  if (!new RegExp(`^\\d{${LEASE_GENERATION_DIGITS}}$`).test(rest)) return null;
  return Number(rest);
}
