/**
 * Checks the archive against its index: for every entry a manifest of the range records as archived, HEAD the
 * object and compare its size and CRC-64 with what the manifest recorded when the file was verified on upload.
 * Read-only: a mismatch is reported, never repaired (the archived object is write-once and needs an operator).
 */
import { mapPool } from './pool';
import { redactError } from './redact';
import { readManifests, cellId } from './status';
import { HOUR_MS, isoHour } from './time';
import { FileStatus, type ObjectStore } from './types';
import { compareCodeUnits } from './compare';

export const VerifyProblemKind = {
  /** The manifest says archived, OSS has no object under the key. */
  Missing: 'missing',
  SizeMismatch: 'size-mismatch',
  Crc64Mismatch: 'crc64-mismatch',
  /** The HEAD itself failed (network, permission): the object could not be checked. */
  HeadFailed: 'head-failed',
  /** The manifest could not be read or parsed: its entries could not be checked. */
  ManifestUnreadable: 'manifest-unreadable',
} as const;
export type VerifyProblemKind = (typeof VerifyProblemKind)[keyof typeof VerifyProblemKind];

export interface ObjectFacts {
  size: number;
  crc64?: string;
}

export interface VerifyProblem {
  kind: VerifyProblemKind;
  domain: string;
  hour: string;
  /** Absent for a manifest problem. */
  name?: string;
  key?: string;
  expected?: ObjectFacts;
  actual?: ObjectFacts;
  /** Redacted detail: the reason of a failed HEAD or an unreadable manifest. */
  detail?: string;
}

export interface VerifyResult {
  from: string;
  to: string;
  domains: string[];
  manifests: { read: number; missing: number; unreadable: number };
  objects: {
    /** Archived entries HEADed. */
    checked: number;
    /** Size and CRC-64 both equal. */
    verified: number;
    /** Size equal; no CRC-64 on one side (a manifest rebuilt from a listing, an object without the header). */
    sizeOnly: number;
    /** Failed or conflict entries: nothing archived to check. */
    notArchived: number;
  };
  problems: VerifyProblem[];
  ok: boolean;
}

export interface VerifyOptions {
  statePrefix: string;
  domains: readonly string[];
  /** Hour starts, ascending, at least one. */
  hoursMs: readonly number[];
  /** Requests in flight at once. */
  concurrency: number;
  onProgress?: (event: VerifyProgress) => void;
}

/** `manifests` while reading the index (total = domains x hours), then `objects` while HEADing (total = keys). */
export interface VerifyProgress {
  phase: 'manifests' | 'objects';
  done: number;
  total: number;
}

interface ArchivedEntry {
  domain: string;
  hour: string;
  name: string;
  key: string;
  expected: ObjectFacts;
}

export async function verifyArchive(store: ObjectStore, opts: VerifyOptions): Promise<VerifyResult> {
  if (opts.hoursMs.length === 0) throw new RangeError('verify needs at least one hour');
  const manifestTotal = opts.domains.length * opts.hoursMs.length;
  let manifestsDone = 0;
  opts.onProgress?.({ phase: 'manifests', done: 0, total: manifestTotal });
  const reads = await readManifests(store, {
    statePrefix: opts.statePrefix,
    domains: opts.domains,
    hoursMs: opts.hoursMs,
    concurrency: opts.concurrency,
    onRead: () => opts.onProgress?.({ phase: 'manifests', done: ++manifestsDone, total: manifestTotal }),
  });

  const result: VerifyResult = {
    from: isoHour(opts.hoursMs[0]),
    to: isoHour(opts.hoursMs[opts.hoursMs.length - 1] + HOUR_MS),
    domains: [...opts.domains],
    manifests: { read: 0, missing: 0, unreadable: 0 },
    objects: { checked: 0, verified: 0, sizeOnly: 0, notArchived: 0 },
    problems: [],
    ok: true,
  };
  const archived: ArchivedEntry[] = [];
  for (const domain of opts.domains) {
    for (const hourMs of opts.hoursMs) {
      const read = reads.get(cellId(domain, hourMs));
      const hour = isoHour(hourMs);
      if (read === undefined || read.kind === 'missing') {
        result.manifests.missing++;
        continue;
      }
      if (read.kind === 'unreadable') {
        result.manifests.unreadable++;
        result.problems.push({ kind: VerifyProblemKind.ManifestUnreadable, domain, hour, detail: read.problem });
        continue;
      }
      result.manifests.read++;
      for (const entry of Object.values(read.manifest.files)) {
        if (entry.status !== FileStatus.Archived) {
          result.objects.notArchived++;
          continue;
        }
        const expected: ObjectFacts = { size: entry.size };
        if (entry.crc64 !== undefined) expected.crc64 = entry.crc64;
        archived.push({ domain, hour, name: entry.name, key: entry.key, expected });
      }
    }
  }
  archived.sort((a, b) => compareCodeUnits(a.domain, b.domain) || compareCodeUnits(a.hour, b.hour) || compareCodeUnits(a.name, b.name));

  let objectsDone = 0;
  opts.onProgress?.({ phase: 'objects', done: 0, total: archived.length });
  const outcomes = await mapPool(archived, opts.concurrency, async (entry) => {
    try {
      return await store.head(entry.key);
    } finally {
      opts.onProgress?.({ phase: 'objects', done: ++objectsDone, total: archived.length });
    }
  });
  outcomes.forEach((outcome, i) => {
    const entry = archived[i];
    result.objects.checked++;
    const where = { domain: entry.domain, hour: entry.hour, name: entry.name, key: entry.key, expected: entry.expected };
    if (outcome.status === 'rejected') {
      result.problems.push({ kind: VerifyProblemKind.HeadFailed, ...where, detail: redactError(outcome.reason) });
      return;
    }
    const head = outcome.value;
    if (head === null) {
      result.problems.push({ kind: VerifyProblemKind.Missing, ...where });
      return;
    }
    const actual: ObjectFacts = { size: head.size };
    if (head.crc64 !== undefined) actual.crc64 = head.crc64;
    const check = compareFacts(entry.expected, actual);
    if (check === 'verified') result.objects.verified++;
    else if (check === 'size-only') result.objects.sizeOnly++;
    else result.problems.push({ kind: check, ...where, actual });
  });
  result.ok = result.problems.length === 0;
  return result;
}

/** Size first: a size mismatch is the clearer report even when the CRC-64 differs too (it always will). */
export function compareFacts(expected: ObjectFacts, actual: ObjectFacts): 'verified' | 'size-only' | 'size-mismatch' | 'crc64-mismatch' {
  if (expected.size !== actual.size) return VerifyProblemKind.SizeMismatch;
  if (expected.crc64 === undefined || actual.crc64 === undefined) return 'size-only';
  return expected.crc64 === actual.crc64 ? 'verified' : VerifyProblemKind.Crc64Mismatch;
}


// ---------------------------------------------------------------------------------------------------------------
// Rendering

const DEFAULT_PROBLEM_LINES = 50;

export function renderVerify(result: VerifyResult, opts: { maxProblemLines?: number } = {}): string {
  const maxLines = opts.maxProblemLines ?? DEFAULT_PROBLEM_LINES;
  const m = result.manifests;
  const o = result.objects;
  const lines = [
    `Verify ${result.from} .. ${result.to} (${result.domains.join(', ')})`,
    `Manifests: ${m.read} read, ${m.missing} missing (no logs or not archived), ${m.unreadable} unreadable`,
    `Objects: ${o.checked} checked, ${o.verified} verified (size + CRC-64), ${o.sizeOnly} size only (no CRC-64 recorded), ` +
      `${o.notArchived} failed/conflict entries not checked`,
  ];
  if (result.problems.length === 0) {
    lines.push('OK: every archived object matches its manifest');
  } else {
    lines.push(`PROBLEMS: ${result.problems.length}`);
    for (const p of result.problems.slice(0, maxLines)) lines.push(`  ${describeProblem(p)}`);
    if (result.problems.length > maxLines) lines.push(`  ... and ${result.problems.length - maxLines} more (--json lists them all)`);
  }
  return `${lines.join('\n')}\n`;
}

export function describeProblem(p: VerifyProblem): string {
  const where = `${p.domain} ${p.hour}`;
  switch (p.kind) {
    case VerifyProblemKind.ManifestUnreadable:
      return `${p.kind} ${where}: ${p.detail ?? ''}`.trimEnd();
    case VerifyProblemKind.Missing:
      return `${p.kind} ${where} ${p.key}: no object (manifest: ${facts(p.expected)})`;
    case VerifyProblemKind.HeadFailed:
      return `${p.kind} ${where} ${p.key}: ${p.detail ?? 'HEAD failed'}`;
    default:
      return `${p.kind} ${where} ${p.key}: manifest ${facts(p.expected)}, OSS ${facts(p.actual)}`;
  }
}

function facts(f: ObjectFacts | undefined): string {
  if (f === undefined) return 'unknown';
  return `${f.size} bytes, crc64 ${f.crc64 ?? 'unknown'}`;
}
