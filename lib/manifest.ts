/**
 * The per-(domain, hour) manifest: the fast index of what is archived. Pure functions over the `Manifest` shape
 * of lib/types.ts; reading and writing it in OSS is someone else's job.
 *
 * The record* functions and addRun update the manifest IN PLACE (the run keeps one live manifest per hour and a
 * writer serializes it periodically) and return it for convenience. mergeManifests returns a new manifest.
 */
import { z } from 'zod';
import { redact } from './redact';
import { isoHour } from './time';
import { FileStatus, type LogFile, type Manifest, type ManifestEntry, type ManifestRun } from './types';

export const MANIFEST_SCHEMA_VERSION = 1;
/** Runs kept in a manifest, newest first: enough to see a pattern of failures, small enough to rewrite often. */
export const MAX_MANIFEST_RUNS = 20;
/** A lastError longer than this is cut: a manifest is rewritten often and must stay small. */
export const MAX_LAST_ERROR_CHARS = 500;

export function emptyManifest(domain: string, hourStartMs: number): Manifest {
  return { schemaVersion: MANIFEST_SCHEMA_VERSION, domain, hour: isoHour(hourStartMs), files: {}, runs: [] };
}

const isoTime = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(s) && !Number.isNaN(Date.parse(s)), {
  message: 'expected an ISO-8601 time',
});
const count = z.number().int().nonnegative().safe();

const entrySchema = z
  .object({
    name: z.string().min(1),
    key: z.string().min(1),
    size: count,
    crc64: z.string().regex(/^\d{1,20}$/, 'expected a decimal CRC-64').optional(),
    sourceStart: isoTime,
    sourceEnd: isoTime,
    status: z.enum([FileStatus.Archived, FileStatus.Failed, FileStatus.Conflict]),
    attempts: count,
    lastError: z.string().optional(),
    archivedAt: isoTime.optional(),
    updatedAt: isoTime,
  })
  .refine((e) => e.status !== FileStatus.Archived || e.archivedAt !== undefined, {
    message: 'an archived entry needs archivedAt',
    path: ['archivedAt'],
  });

const runSchema = z.object({ runId: z.string().min(1), at: isoTime, archived: count, failed: count });

const manifestSchema = z.object({
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
  domain: z.string().min(1),
  hour: z.string(),
  files: z.record(z.string(), entrySchema),
  runs: z.array(runSchema),
});

/**
 * Parses a stored manifest, or says why it cannot be trusted. "Corrupt" covers truncated or invalid JSON, an
 * unknown schemaVersion, a manifest of another domain or hour (a mis-copied object), an entry filed under a name
 * that is not its own, and any field of the wrong type. The caller rebuilds a corrupt manifest from the archive.
 * Unknown extra fields are dropped, not fatal.
 */
export function parseManifest(text: string, expected: { domain: string; hourStartMs: number }): Manifest | { corrupt: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { corrupt: `not valid JSON (${(err as Error).message})` };
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return { corrupt: `${path}: ${issue.message}` };
  }
  const m = parsed.data;
  const hour = isoHour(expected.hourStartMs);
  if (m.domain !== expected.domain) return { corrupt: `domain is ${JSON.stringify(m.domain)}, expected ${JSON.stringify(expected.domain)}` };
  if (m.hour !== hour) return { corrupt: `hour is ${JSON.stringify(m.hour)}, expected ${hour}` };
  for (const [name, entry] of Object.entries(m.files)) {
    if (entry.name !== name) return { corrupt: `files.${name}: entry is named ${JSON.stringify(entry.name)}` };
  }
  return { schemaVersion: MANIFEST_SCHEMA_VERSION, domain: m.domain, hour: m.hour, files: m.files, runs: m.runs };
}

const ENTRY_FIELD_ORDER: ReadonlyArray<keyof ManifestEntry> = [
  'name',
  'key',
  'size',
  'crc64',
  'sourceStart',
  'sourceEnd',
  'status',
  'attempts',
  'lastError',
  'archivedAt',
  'updatedAt',
];

/**
 * JSON with files sorted by name and fields in a fixed order, two-space indented, newline-terminated: the same
 * manifest always gives the same bytes, and an operator can read or diff it.
 */
export function serializeManifest(m: Manifest): string {
  const files: Record<string, Record<string, unknown>> = {};
  for (const name of Object.keys(m.files).sort()) {
    const entry = m.files[name];
    const ordered: Record<string, unknown> = {};
    for (const field of ENTRY_FIELD_ORDER) if (entry[field] !== undefined) ordered[field] = entry[field];
    setOwn(files, name, ordered);
  }
  const runs = m.runs.map((r) => ({ runId: r.runId, at: r.at, archived: r.archived, failed: r.failed }));
  return `${JSON.stringify({ schemaVersion: m.schemaVersion, domain: m.domain, hour: m.hour, files, runs }, null, 2)}\n`;
}

/** What a run knows about one file when it records an outcome. */
export interface EntryUpdate {
  name: string;
  key: string;
  size: number;
  crc64?: string;
  /** ISO times of the source log's span. */
  sourceStart: string;
  sourceEnd: string;
  /** Attempts spent on the file by this run (0 when the outcome was found, not made); added to the entry's count. */
  attempts: number;
  /** ISO time of this update. */
  at: string;
}

/** The update for `file` stored under `key`, as of `atMs`. */
export function entryUpdate(
  file: Pick<LogFile, 'name' | 'size' | 'startMs' | 'endMs'>,
  key: string,
  atMs: number,
  extra: { crc64?: string; attempts?: number } = {},
): EntryUpdate {
  return {
    name: file.name,
    key,
    size: file.size,
    crc64: extra.crc64,
    sourceStart: new Date(file.startMs).toISOString(),
    sourceEnd: new Date(file.endMs).toISOString(),
    attempts: extra.attempts ?? 0,
    at: new Date(atMs).toISOString(),
  };
}

export interface FailureUpdate extends EntryUpdate {
  /** Already redacted by the caller; signed queries and registered secrets are stripped again here regardless. */
  error: string;
}

// Own-property access only: a file named like an Object.prototype member ("constructor", "__proto__") must read
// as absent and be stored as a plain entry, not reach the prototype.
function entryOf(m: Manifest, name: string): ManifestEntry | undefined {
  return Object.hasOwn(m.files, name) ? m.files[name] : undefined;
}

function setEntry(files: Record<string, ManifestEntry>, entry: ManifestEntry): void {
  setOwn(files, entry.name, entry);
}

/**
 * An own, enumerable property whatever the name. Only `__proto__` needs defineProperty (assignment would set the
 * prototype); defineProperty for every name cost ~25 µs per entry on a 2,000-file hour, plain assignment ~0.1.
 */
function setOwn<T>(target: Record<string, T>, name: string, value: T): void {
  if (name === '__proto__') Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  else target[name] = value;
}

function boundedError(error: string): string {
  const line = redact(error).replace(/\s+/g, ' ').trim();
  return line.length <= MAX_LAST_ERROR_CHARS ? line : `${line.slice(0, MAX_LAST_ERROR_CHARS - 1)}…`;
}

function baseEntry(update: EntryUpdate, status: FileStatus, attempts: number): ManifestEntry {
  const entry: ManifestEntry = {
    name: update.name,
    key: update.key,
    size: update.size,
    sourceStart: update.sourceStart,
    sourceEnd: update.sourceEnd,
    status,
    attempts,
    updatedAt: update.at,
  };
  if (update.crc64 !== undefined) entry.crc64 = update.crc64;
  return entry;
}

/**
 * The file is in the archive. Recording it again (a later run finding it done) keeps the first archivedAt and
 * a known CRC; attempts accumulate.
 */
export function recordArchived(m: Manifest, update: EntryUpdate): Manifest {
  const prev = entryOf(m, update.name);
  const entry = baseEntry(update, FileStatus.Archived, (prev?.attempts ?? 0) + update.attempts);
  const sameObject = prev?.status === FileStatus.Archived && prev.key === update.key && prev.size === update.size;
  entry.archivedAt = sameObject && prev.archivedAt !== undefined ? prev.archivedAt : update.at;
  if (entry.crc64 === undefined && sameObject && prev.crc64 !== undefined) entry.crc64 = prev.crc64;
  setEntry(m.files, entry);
  return m;
}

/**
 * The file could not be archived this time. Never downgrades: an archived entry stays archived (the object
 * exists, whatever a later attempt ran into), and a conflict stays a conflict (it needs an operator, a transient
 * failure says nothing new about it). At least one attempt is counted.
 */
export function recordFailed(m: Manifest, update: FailureUpdate): Manifest {
  const prev = entryOf(m, update.name);
  if (prev?.status === FileStatus.Archived || prev?.status === FileStatus.Conflict) return m;
  const entry = baseEntry(update, FileStatus.Failed, (prev?.attempts ?? 0) + Math.max(1, update.attempts));
  entry.lastError = boundedError(update.error);
  setEntry(m.files, entry);
  return m;
}

/**
 * The archive key holds other bytes than the source: recorded whatever the entry said before, since this is newer
 * knowledge than an earlier "archived" (the source changed) and the object is left untouched for an operator.
 */
export function recordConflict(m: Manifest, update: FailureUpdate): Manifest {
  const prev = entryOf(m, update.name);
  const entry = baseEntry(update, FileStatus.Conflict, (prev?.attempts ?? 0) + update.attempts);
  entry.lastError = boundedError(update.error);
  setEntry(m.files, entry);
  return m;
}

export function isArchived(m: Manifest, name: string, size: number): boolean {
  const entry = entryOf(m, name);
  return entry !== undefined && entry.status === FileStatus.Archived && entry.size === size;
}

function timeOf(iso: string | undefined): number {
  const ms = iso === undefined ? Number.NaN : Date.parse(iso);
  return Number.isNaN(ms) ? -Infinity : ms;
}

/** Newest first; a run id appears once (its latest report wins); at most MAX_MANIFEST_RUNS. */
function normalizeRuns(runs: readonly ManifestRun[]): ManifestRun[] {
  const byId = new Map<string, ManifestRun>();
  for (const run of runs) {
    const kept = byId.get(run.runId);
    if (kept === undefined || timeOf(run.at) > timeOf(kept.at)) byId.set(run.runId, { ...run });
  }
  return [...byId.values()]
    .sort((a, b) => timeOf(b.at) - timeOf(a.at) || (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0))
    .slice(0, MAX_MANIFEST_RUNS);
}

export function addRun(m: Manifest, run: ManifestRun): Manifest {
  m.runs = normalizeRuns([run, ...m.runs]);
  return m;
}

const STATUS_RANK: Record<FileStatus, number> = {
  [FileStatus.Archived]: 3,
  [FileStatus.Conflict]: 2,
  [FileStatus.Failed]: 1,
};

function mergeEntry(a: ManifestEntry, b: ManifestEntry): ManifestEntry {
  let winner: ManifestEntry;
  if (STATUS_RANK[a.status] !== STATUS_RANK[b.status]) {
    winner = STATUS_RANK[a.status] > STATUS_RANK[b.status] ? a : b;
  } else if (a.status === FileStatus.Archived) {
    // The first writer's object is the one in OSS (create-only PUT): its archivedAt is the true one.
    winner = timeOf(b.archivedAt) < timeOf(a.archivedAt) ? b : a;
  } else {
    winner = timeOf(b.updatedAt) > timeOf(a.updatedAt) ? b : a;
  }
  return { ...winner, attempts: Math.max(a.attempts, b.attempts) };
}

/**
 * Combines the manifests of two writers that raced on the same hour: union of files by name; archived beats
 * conflict beats failed (an object that verified is ground truth); of two archived entries the earlier archivedAt;
 * otherwise the later update; attempts the larger of the two. Runs are merged newest first, bounded.
 * Neither input is modified.
 */
export function mergeManifests(a: Manifest, b: Manifest): Manifest {
  if (a.domain !== b.domain || a.hour !== b.hour) {
    throw new TypeError(`cannot merge manifests of ${a.domain} ${a.hour} and ${b.domain} ${b.hour}`);
  }
  const files: Record<string, ManifestEntry> = {};
  for (const entry of Object.values(a.files)) setEntry(files, { ...entry });
  for (const entry of Object.values(b.files)) {
    const mine = Object.hasOwn(files, entry.name) ? files[entry.name] : undefined;
    setEntry(files, mine === undefined ? { ...entry } : mergeEntry(mine, entry));
  }
  return { schemaVersion: MANIFEST_SCHEMA_VERSION, domain: a.domain, hour: a.hour, files, runs: normalizeRuns([...a.runs, ...b.runs]) };
}
