/**
 * The fault matrix: each row runs the real archiver (lib/archiver.ts with the real pop-core, ali-oss and Node HTTP
 * clients) against the loopback emulators with one fault switched on, then a clean run with every fault off, and
 * checks the end state against the seeded truth (sandbox/logdata.ts `expectedDigest`):
 *
 *  - every file is archived byte-identical (size and CRC-64), or recorded `failed`/`conflict` in its manifest with
 *    a reason; after the clean run every file is archived, except a file whose key holds a planted foreign object,
 *    which must end as a recorded conflict with that object untouched;
 *  - no archive object, once seen, ever changes or disappears (fingerprints taken around every invocation);
 *  - manifests agree with the archive: an `archived` entry's object exists with the entry's size and CRC-64 and
 *    holds the source's bytes; after the clean run every manifest parses and every archive object is a seeded
 *    file's key and is indexed.
 *
 * Shared by test/faults/fault-matrix.test.ts (CI_SCALE, asserts per row) and bench/faults.ts (`npm run faults`,
 * BENCH_SCALE, prints the table). Sandbox and tests only.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createArchiver } from '../../lib/archiver';
import { DEFAULT_KEY_TEMPLATE, archiveKey, leaseKey, leasePrefix, manifestKey } from '../../lib/keys';
import { parseManifest } from '../../lib/manifest';
import { HOUR_MS, isoHour } from '../../lib/time';
import type { Manifest, RunReport } from '../../lib/types';
import { startSandboxCloud, type SandboxCloud } from '../../sandbox/cloud';
import type { FileSource, SeedFile } from '../../sandbox/contracts';
import { logPath } from '../../sandbox/live-emulator';
import { expectedDigest, generatedBytes, gzipLogFile, logName } from '../../sandbox/logdata';
import type { RequestMatcher } from '../../sandbox/oss-emulator';

const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
const KILLABLE_SCRIPT = path.join(__dirname, 'killable-invocation.ts');

const DOMAIN = 'faults.example.com';
const ARCHIVE_PREFIX = 'live-logs/';
const STATE_PREFIX = 'live-logs-state/';
const MIB = 1024 * 1024;

/** Every row's configuration: 1 MiB multipart threshold and parts, so the large files take the multipart path. */
const BASE_ENV: Record<string, string> = {
  MULTIPART_THRESHOLD_MB: '1',
  PART_SIZE_MB: '1',
  LOOKBACK_HOURS: '0',
  CONCURRENCY: '4',
  MAX_ATTEMPTS: '3',
  // No row fans out; if one ever did, it must fail on loopback rather than reach for a real Function Compute.
  FANOUT_ENDPOINT: 'http://127.0.0.1:9',
};

// ---------------------------------------------------------------------------------------------------------------
// Scale
// ---------------------------------------------------------------------------------------------------------------

export interface MatrixScale {
  /** Real gzip relay logs per row (simple PUT path). */
  smallFiles: number;
  /** Lines in each small log (~40 bytes of gzip per line). */
  smallLines: number;
  /** Generated files above the 1 MiB multipart threshold per row. */
  largeFiles: number;
  largeBytes: number;
}

/** What the jest test runs: a few small files and one two-part multipart file per row. */
export const CI_SCALE: MatrixScale = { smallFiles: 3, smallLines: 300, largeFiles: 1, largeBytes: Math.round(1.5 * MIB) };

/** What `npm run faults` runs. */
export const BENCH_SCALE: MatrixScale = { smallFiles: 12, smallLines: 4000, largeFiles: 3, largeBytes: 6 * MIB };

// ---------------------------------------------------------------------------------------------------------------
// Truth and the row's world
// ---------------------------------------------------------------------------------------------------------------

/** A seeded file as it must end up in the archive. */
export interface TruthFile {
  domain: string;
  hourStartMs: number;
  /** LogName exactly as the API lists it (may carry the documented stray whitespace). */
  rawName: string;
  /** The name the archive uses: the LogName without whitespace. */
  name: string;
  source: FileSource;
  size: number;
  crc64: string;
  /** A foreign object was planted at its key: it must stay untouched and the file must end as a conflict. */
  plantedForeign?: boolean;
}

/** Row-specific observations, asserted by the jest test and printed by the bench. */
export type Facts = Record<string, number | boolean>;

interface Fingerprint {
  size: number;
  etag: string;
  crc64: string;
  lastModifiedMs: number;
  /** The emulator's files of this version: an overwrite with the same bytes within the same millisecond shows here. */
  files: string[] | null;
}

export interface InvokeOptions {
  requestId?: string;
  timeoutSec?: number;
}

/**
 * One row's world: a fresh loopback cloud, an archiver instance (configuration and clients reused like a warm
 * Function Compute instance), the seeded truth, and every report, log line and integrity problem seen so far.
 */
export class RowContext {
  readonly domain = DOMAIN;
  /** The hour every row works on; the timer is triggered at five past the next hour, as the hourly trigger is. */
  readonly hourMs = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS;
  readonly truth: TruthFile[] = [];
  readonly reports: RunReport[] = [];
  readonly logs: string[] = [];
  /** Integrity problems found by the archive observer (overwritten or vanished objects). */
  readonly problems: string[] = [];
  runs = 0;
  /** Added to the archiver's clock: a later run, after a dead invocation's lease has expired. */
  clockOffsetMs = 0;
  private readonly fingerprints = new Map<string, Fingerprint>();
  private readonly archive: ReturnType<typeof createArchiver>;

  constructor(
    readonly cloud: SandboxCloud,
    readonly scale: MatrixScale,
    readonly env: Record<string, string>,
  ) {
    this.archive = createArchiver({
      env,
      now: () => Date.now() + this.clockOffsetMs,
      logSink: (line) => this.logs.push(line),
    });
  }

  get bucket(): string {
    return this.cloud.bucket;
  }

  /** The row's standard files for the hour: small gzip logs (the first with the API's documented quirks) and large ones. */
  standardFiles(): SeedFile[] {
    const files: SeedFile[] = [];
    for (let i = 0; i < this.scale.smallFiles; i++) {
      const name = logName(this.domain, this.hourMs, i);
      files.push({
        // The reference example's stray newline after the domain, and StartTime after EndTime.
        name: i === 0 ? `${this.domain}\n${name.slice(this.domain.length)}` : name,
        swapTimes: i === 0,
        source: { content: gzipLogFile({ domain: this.domain, hourStartMs: this.hourMs, lines: this.scale.smallLines, seed: `small-${i}` }) },
        startMs: this.hourMs + (i + 1) * 60_000,
        endMs: this.hourMs + HOUR_MS,
      });
    }
    for (let i = 0; i < this.scale.largeFiles; i++) {
      const index = this.scale.smallFiles + i;
      files.push({
        name: logName(this.domain, this.hourMs, index),
        // Sizes differ by a few bytes so that no two large files are interchangeable.
        source: { size: this.scale.largeBytes + i * 1013, seed: `large-${i}` },
        startMs: this.hourMs + (index + 1) * 60_000,
        endMs: this.hourMs + HOUR_MS,
      });
    }
    return files;
  }

  /** Lists `files` in the Live emulator (served by the origin) and records them as truth. */
  async seed(files: SeedFile[]): Promise<TruthFile[]> {
    this.cloud.live.seedLogs(this.domain, this.hourMs, files);
    return this.addTruth(files);
  }

  /** Records files as truth without listing them yet (a row that makes them appear later). */
  async addTruth(files: SeedFile[]): Promise<TruthFile[]> {
    const seeded: TruthFile[] = [];
    for (const file of files) {
      const digest = await expectedDigest(file.source);
      const truthFile: TruthFile = {
        domain: this.domain,
        hourStartMs: this.hourMs,
        rawName: file.name,
        name: file.name.replace(/\s+/gu, ''),
        source: file.source,
        size: digest.size,
        crc64: digest.crc64,
      };
      this.truth.push(truthFile);
      seeded.push(truthFile);
    }
    return seeded;
  }

  keyOf(file: TruthFile): string {
    return archiveKey(DEFAULT_KEY_TEMPLATE, ARCHIVE_PREFIX, file);
  }

  manifestKeyOf(domain: string, hourStartMs: number): string {
    return manifestKey(STATE_PREFIX, domain, hourStartMs);
  }

  leaseKeyOf(generation: number): string {
    return leaseKey(STATE_PREFIX, this.domain, this.hourMs, generation);
  }

  leaseKeys(): string[] {
    return this.cloud.oss.listKeys(this.bucket, leasePrefix(STATE_PREFIX, this.domain, this.hourMs));
  }

  /** The origin path of a seeded file, to scope an origin fault to it. */
  originPathOf(file: TruthFile): string {
    return logPath(file.domain, file.hourStartMs, file.rawName);
  }

  /** The source bytes of a seeded file (to plant what a crashed run had already archived). */
  bytesOf(file: TruthFile): Buffer {
    return 'content' in file.source ? file.source.content : generatedBytes(file.source.seed, file.source.size);
  }

  /** Puts an object in place before a run, as something outside this run left it. */
  async plant(key: string, body: Buffer): Promise<void> {
    await this.cloud.oss.plantObject(this.bucket, key, body);
    this.observeArchive();
  }

  /** Plants foreign bytes at a file's key: the file must end as a conflict, the bytes untouched. */
  async plantForeign(file: TruthFile, body: Buffer): Promise<void> {
    file.plantedForeign = true;
    await this.plant(this.keyOf(file), body);
  }

  readManifest(domain = this.domain, hourStartMs = this.hourMs): Promise<Manifest | { corrupt: string } | null> {
    return readManifestFrom(this, domain, hourStartMs);
  }

  timerEvent(): Record<string, string> {
    return {
      triggerTime: new Date(this.hourMs + HOUR_MS + 5 * 60_000).toISOString().replace('.000Z', 'Z'),
      triggerName: 'hourly',
      payload: '',
    };
  }

  /** Invokes the archiver the way Function Compute does: a Buffer event and a context with STS credentials. */
  async invoke(event: unknown, opts: InvokeOptions = {}): Promise<RunReport> {
    this.observeArchive();
    this.runs++;
    const report = await this.archive(
      Buffer.from(JSON.stringify(event)),
      this.cloud.context({ requestId: opts.requestId, timeoutSec: opts.timeoutSec }),
    );
    this.reports.push(report);
    this.observeArchive();
    this.checkCounts(report);
    return report;
  }

  /** Every file a run listed for an hour is accounted for exactly once in that hour's counts. */
  private checkCounts(report: RunReport): void {
    for (const h of report.hours) {
      const accounted = h.archivedNow + h.alreadyArchived + h.failed + h.conflicts + h.remaining;
      if (accounted !== h.listed) this.problem(`report of ${report.runId} counts ${accounted} files for ${h.domain} ${h.hour}, having listed ${h.listed}`);
    }
  }

  timer(opts: InvokeOptions = {}): Promise<RunReport> {
    return this.invoke(this.timerEvent(), opts);
  }

  /**
   * Fingerprints every object under the archive prefix. An object seen before must be exactly as it was: the
   * archiver writes archive keys create-only and never deletes them.
   */
  observeArchive(): void {
    const oss = this.cloud.oss;
    const present = new Set(oss.listKeys(this.bucket, ARCHIVE_PREFIX));
    for (const key of this.fingerprints.keys()) {
      if (!present.has(key)) this.problem(`archive object ${key} disappeared`);
    }
    for (const key of present) {
      const head = oss.head(this.bucket, key);
      if (!head) continue;
      const now: Fingerprint = {
        size: head.size,
        etag: head.etag,
        crc64: head.crc64,
        lastModifiedMs: head.lastModifiedMs,
        files: oss.objectFiles(this.bucket, key),
      };
      const before = this.fingerprints.get(key);
      if (!before) this.fingerprints.set(key, now);
      else if (JSON.stringify(before) !== JSON.stringify(now)) this.problem(`archive object ${key} was overwritten`);
    }
  }

  problem(message: string): void {
    if (!this.problems.includes(message)) this.problems.push(message);
  }

  /** Downloads the origin has started so far. */
  get downloads(): number {
    return this.cloud.origin.stats.downloadsStarted;
  }

  /** DescribeLivePushProxyLog calls for the row's domain so far. */
  get listCalls(): number {
    return this.cloud.live.stats.byDomain[this.domain] ?? 0;
  }
}

async function readManifestFrom(row: RowContext, domain: string, hourStartMs: number): Promise<Manifest | { corrupt: string } | null> {
  const key = row.manifestKeyOf(domain, hourStartMs);
  if (!row.cloud.oss.head(row.bucket, key)) return null;
  const text = (await row.cloud.oss.readObject(row.bucket, key)).toString('utf8');
  return parseManifest(text, { domain, hourStartMs });
}

// ---------------------------------------------------------------------------------------------------------------
// The end-state checker
// ---------------------------------------------------------------------------------------------------------------

export type Verdict = 'archived' | 'recorded' | 'pending';

export interface Inspection {
  verdicts: Map<TruthFile, Verdict>;
  /** Damage: wrong bytes, a manifest that contradicts the archive, a stray or unindexed object. */
  problems: string[];
}

/**
 * Classifies every truth file and lists what is damaged. `final` (after the clean run) is stricter: manifests must
 * parse, and every object under the archive prefix must be a seeded file's key with a manifest entry.
 */
export async function inspectArchive(row: RowContext, phase: 'after-fault' | 'final'): Promise<Inspection> {
  row.observeArchive();
  const oss = row.cloud.oss;
  const problems: string[] = [];
  const manifests = new Map<string, Manifest | null>();
  for (const file of row.truth) {
    const key = row.manifestKeyOf(file.domain, file.hourStartMs);
    if (manifests.has(key)) continue;
    const read = await readManifestFrom(row, file.domain, file.hourStartMs);
    if (read !== null && 'corrupt' in read) {
      // A corrupt manifest is rebuilt by the next run that needs it; after the clean run none may be left.
      if (phase === 'final') problems.push(`manifest ${key} is unreadable after the clean run: ${read.corrupt}`);
      manifests.set(key, null);
    } else {
      manifests.set(key, read);
    }
  }

  const verdicts = new Map<TruthFile, Verdict>();
  for (const file of row.truth) {
    const key = row.keyOf(file);
    const head = oss.head(row.bucket, key);
    const entry = manifests.get(row.manifestKeyOf(file.domain, file.hourStartMs))?.files[file.name];
    const identical = head !== null && head.size === file.size && head.crc64 === file.crc64;

    if (head && !identical && !file.plantedForeign) {
      problems.push(`${key} holds ${head.size} bytes with CRC-64 ${head.crc64}; the source has ${file.size} bytes with ${file.crc64}`);
    }
    if (entry?.status === 'archived') {
      if (!head) problems.push(`manifest says ${file.name} is archived, but ${key} does not exist`);
      else if (entry.size !== head.size || (entry.crc64 !== undefined && entry.crc64 !== head.crc64)) {
        problems.push(`manifest entry of ${file.name} (${entry.size} bytes, CRC-64 ${entry.crc64}) disagrees with ${key}`);
      } else if (!identical) problems.push(`manifest says ${file.name} is archived, but ${key} holds other bytes than the source`);
    }
    const recorded = (entry?.status === 'failed' || entry?.status === 'conflict') && Boolean(entry.lastError);
    if (entry && entry.status !== 'archived' && !entry.lastError) problems.push(`manifest records ${file.name} as ${entry.status} without a reason`);
    if (phase === 'final' && identical && entry?.status !== 'archived') {
      problems.push(`${key} is archived but its manifest entry says ${entry?.status ?? 'nothing'}`);
    }
    verdicts.set(file, identical ? 'archived' : recorded ? 'recorded' : 'pending');
  }

  if (phase === 'final') {
    const truthKeys = new Set(row.truth.map((f) => row.keyOf(f)));
    for (const key of oss.listKeys(row.bucket, ARCHIVE_PREFIX)) {
      if (!truthKeys.has(key)) problems.push(`stray object ${key} in the archive`);
    }
  }
  return { verdicts, problems };
}

// ---------------------------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------------------------

export interface FaultRow {
  /** Stable id, for the jest test's row-specific expectations. */
  id: string;
  /** The table's first column. */
  fault: string;
  env?: Record<string, string>;
  /** Arranges, switches the fault on and runs the faulted invocation(s). Returns row-specific facts. */
  act(row: RowContext): Promise<Facts>;
  /** The later run with every fault off. Default: the next timer invocation. */
  cleanRun?(row: RowContext): Promise<void>;
}

const isArchivePut: RequestMatcher = (r) => r.op === 'PutObject' && r.key.startsWith(ARCHIVE_PREFIX);
const isManifestPut: RequestMatcher = (r) => r.op === 'PutObject' && r.key.startsWith(`${STATE_PREFIX}manifests/`);
const isOp =
  (op: string): RequestMatcher =>
  (r) =>
    r.op === op;

/** A matcher that counts how often it matched, i.e. how many requests the injector faulted with it. */
function counted(match: RequestMatcher): { match: RequestMatcher; count: () => number } {
  let matched = 0;
  return {
    match: (r) => {
      const hit = match(r);
      if (hit) matched++;
      return hit;
    },
    count: () => matched,
  };
}

async function seedStandard(row: RowContext): Promise<TruthFile[]> {
  return row.seed(row.standardFiles());
}

const totals = (report: RunReport) => report.totals;

async function entryOf(row: RowContext, file: TruthFile) {
  const manifest = await row.readManifest();
  return manifest && !('corrupt' in manifest) ? manifest.files[file.name] : undefined;
}

// --- Live API ---

const liveThrottleStorm: FaultRow = {
  id: 'live-throttling-storm',
  fault: 'Live API: Throttling.User storm (2 s)',
  async act(row) {
    await seedStandard(row);
    row.cloud.live.faults.throttleForMs(2000);
    const report = await row.timer();
    return {
      throttledAnswers: row.cloud.live.stats.throttled,
      archivedInFaultedRun: totals(report).archivedNow,
      listingErrorReported: report.errors.some((e) => e.includes('listing')),
    };
  },
};

const liveInternalError: FaultRow = {
  id: 'live-500',
  fault: 'Live API: 500 InternalError (x4)',
  async act(row) {
    await seedStandard(row);
    row.cloud.live.faults.failNext(4, 'internal-500');
    const report = await row.timer();
    return { internalErrors: row.cloud.live.stats.byCode.InternalError ?? 0, archivedInFaultedRun: totals(report).archivedNow };
  },
};

const liveHtml503: FaultRow = {
  id: 'live-503-html',
  fault: 'Live API: 503 with an HTML body (x4)',
  async act(row) {
    await seedStandard(row);
    row.cloud.live.faults.failNext(4, 'unavailable-503-html');
    const report = await row.timer();
    return { htmlAnswers: row.cloud.live.stats.byCode.ServiceUnavailable ?? 0, archivedInFaultedRun: totals(report).archivedNow };
  },
};

const liveSlow: FaultRow = {
  id: 'live-slow',
  fault: 'Live API: slow answers (800 ms each)',
  async act(row) {
    await seedStandard(row);
    row.cloud.live.faults.setDelayMs(800);
    const startedMs = Date.now();
    const report = await row.timer();
    return { faultedRunMs: Date.now() - startedMs, archivedInFaultedRun: totals(report).archivedNow };
  },
};

const livePageChanges: FaultRow = {
  id: 'live-page-changes',
  fault: 'Live API: files appear mid-paging (2 per page)',
  async act(row) {
    const files = await seedStandard(row);
    const [before, after] = [
      { name: logName(row.domain, row.hourMs, 900), source: { content: Buffer.from('late log, listed before the cursor\n') }, startMs: row.hourMs },
      { name: logName(row.domain, row.hourMs, 901), source: { content: Buffer.from('late log, listed after the cursor\n') }, startMs: row.hourMs + 59 * 60_000 },
    ];
    let inserted = false;
    row.cloud.live.faults.setPageSizeCap(2);
    row.cloud.live.faults.setBeforeList((call) => {
      // While page 2 is asked for: one file sorts before everything already paged through, one after.
      if (call.pageNumber === 2 && !inserted) {
        inserted = true;
        row.cloud.live.seedLogs(row.domain, row.hourMs, [before, after]);
      }
    });
    // Both late files are truth: the clean run (the next hourly run) must archive the one this run missed.
    const late = await row.addTruth([before, after]);
    const report = await row.timer();
    const inArchive = (f: TruthFile) => row.cloud.oss.head(row.bucket, row.keyOf(f)) !== null;
    return {
      pagesFetched: row.listCalls,
      listedInFaultedRun: totals(report).listed,
      originalFilesArchived: files.every(inArchive),
      lateAfterCursorArchived: inArchive(late[1]),
      lateBeforeCursorArchived: inArchive(late[0]),
    };
  },
};

// --- log origin ---

function originBodyFault(id: string, fault: string, arm: (row: RowContext, times: number) => void, env?: Record<string, string>): FaultRow {
  return {
    id,
    fault,
    env,
    async act(row) {
      const files = await seedStandard(row);
      arm(row, files.length);
      const report = await row.timer();
      return { downloadsStarted: row.downloads, files: files.length, archivedInFaultedRun: totals(report).archivedNow };
    },
  };
}

const originReset = originBodyFault('origin-reset', 'origin: connection reset mid-body', (row, times) =>
  row.cloud.origin.faults.resetAfter(1000, { times }),
);

const originCut = originBodyFault('origin-cut', 'origin: body cut short', (row, times) => row.cloud.origin.faults.cutAfter(1000, { times }));

const originStall = originBodyFault(
  'origin-stall',
  'origin: stall past the read timeout (1 s)',
  (row) => row.cloud.origin.faults.stall(3000, { afterBytes: 500, times: 2 }),
  { DOWNLOAD_TIMEOUT_SEC: '1' },
);

const originExpired: FaultRow = {
  id: 'origin-403-expired',
  fault: 'origin: 403, signed URLs expired after listing',
  async act(row) {
    const files = await seedStandard(row);
    let expired = false;
    row.cloud.live.faults.setAnswerTransform((answer) => {
      // Every URL signed so far, those in this very answer included, is dead before the archiver can use it.
      if (!expired) {
        expired = true;
        row.cloud.origin.faults.expireAll();
      }
      return answer;
    });
    const report = await row.timer();
    return { listCalls: row.listCalls, files: files.length, archivedInFaultedRun: totals(report).archivedNow };
  },
};

const originNotFound: FaultRow = {
  id: 'origin-404',
  fault: 'origin: 404 on one file',
  async act(row) {
    const files = await seedStandard(row);
    row.cloud.origin.faults.notFound({ path: row.originPathOf(files[0]), times: 1000 });
    const report = await row.timer();
    const entry = await entryOf(row, files[0]);
    return {
      failedInFaultedRun: totals(report).failed,
      recordedWith404: entry?.status === 'failed' && /404/.test(entry.lastError ?? ''),
      otherFilesArchived: totals(report).archivedNow,
    };
  },
};

// --- OSS ---

function ossRequestFault(id: string, fault: string, arm: (row: RowContext) => () => number): FaultRow {
  return {
    id,
    fault,
    async act(row) {
      await seedStandard(row);
      const injected = arm(row);
      const report = await row.timer();
      return {
        injected: injected(),
        archivedInFaultedRun: totals(report).archivedNow,
        manifestNotWrittenReported: report.errors.some((e) => /manifest .* could not be written/.test(e)),
        pendingUploads: row.cloud.oss.pendingUploads(row.bucket).length,
      };
    },
  };
}

const ossPart5xx = ossRequestFault('oss-part-5xx', 'OSS: 500 on UploadPart (x2)', (row) => {
  const rule = counted(isOp('UploadPart'));
  row.cloud.oss.faults.failNext(2, 500, rule.match);
  return rule.count;
});

const ossPartReset = ossRequestFault('oss-part-reset', 'OSS: reset during UploadPart (x2)', (row) => {
  const rule = counted(isOp('UploadPart'));
  row.cloud.oss.faults.resetNext(2, rule.match, 200_000);
  return rule.count;
});

const ossComplete5xx = ossRequestFault('oss-complete-5xx', 'OSS: 503 on CompleteMultipartUpload', (row) => {
  const rule = counted(isOp('CompleteMultipartUpload'));
  row.cloud.oss.faults.failNext(1, 503, rule.match);
  return rule.count;
});

const ossPut5xx = ossRequestFault('oss-put-5xx', 'OSS: 503 on simple PUTs (1 per file)', (row) => {
  const rule = counted(isArchivePut);
  row.cloud.oss.faults.failNext(row.scale.smallFiles, 503, rule.match);
  return rule.count;
});

const ossPutReset = ossRequestFault('oss-put-reset', 'OSS: reset during simple PUTs (1 per file)', (row) => {
  const rule = counted(isArchivePut);
  row.cloud.oss.faults.resetNext(row.scale.smallFiles, rule.match, 2000);
  return rule.count;
});

const ossManifest5xx = ossRequestFault('oss-manifest-5xx', 'OSS: 500 on every manifest write of a run', (row) => {
  const rule = counted(isManifestPut);
  // More than the writer's interim writes and its final flush's attempts: the manifest is never written.
  row.cloud.oss.faults.failNext(20, 500, rule.match);
  return rule.count;
});

const ossManifestReset = ossRequestFault('oss-manifest-reset', 'OSS: reset during manifest writes (x3)', (row) => {
  const rule = counted(isManifestPut);
  row.cloud.oss.faults.resetNext(3, rule.match, 0);
  return rule.count;
});

const ossForeignObject: FaultRow = {
  id: 'oss-file-exists',
  fault: 'OSS: FileAlreadyExists, other content',
  async act(row) {
    const files = await seedStandard(row);
    const small = files[0];
    const large = files[row.scale.smallFiles];
    // A manifest that does not know the files, so the run goes to the create-only PUT (not the rebuild).
    await row.plant(
      row.manifestKeyOf(row.domain, row.hourMs),
      Buffer.from(JSON.stringify({ schemaVersion: 1, domain: row.domain, hour: isoHour(row.hourMs), files: {}, runs: [] })),
    );
    const planted = new Map<TruthFile, Buffer>([
      [small, Buffer.from('not the relay log\n')],
      // Same size, other bytes: only a checksum can tell, and the multipart path is refused before any byte is sent.
      [large, generatedBytes('foreign-object', large.size)],
    ]);
    if (row.scale.smallFiles > 1) planted.set(files[1], generatedBytes('foreign-small', files[1].size));
    for (const [file, body] of planted) await row.plantForeign(file, body);

    const report = await row.timer();
    const manifest = await row.readManifest();
    const conflicts = manifest && !('corrupt' in manifest) ? Object.values(manifest.files).filter((e) => e.status === 'conflict').length : 0;
    let untouched = true;
    for (const [file, body] of planted) untouched &&= (await row.cloud.oss.readObject(row.bucket, row.keyOf(file))).equals(body);
    return { planted: planted.size, conflictsReported: totals(report).conflicts, conflictsInManifest: conflicts, plantedUntouched: untouched };
  },
};

function corruptManifestRow(id: string, fault: string, corrupt: (valid: Buffer) => Buffer): FaultRow {
  return {
    id,
    fault,
    async act(row) {
      const files = row.standardFiles();
      const firstHalf = files.slice(0, Math.ceil(files.length / 2));
      await row.seed(firstHalf);
      await row.timer();
      const key = row.manifestKeyOf(row.domain, row.hourMs);
      const valid = await row.cloud.oss.readObject(row.bucket, key);
      await row.plant(key, corrupt(valid));
      const later = await row.seed(files.slice(firstHalf.length));
      const downloadsBefore = row.downloads;
      const report = await row.timer();
      return {
        downloadsInFaultedRun: row.downloads - downloadsBefore,
        newFiles: later.length,
        warnedUnreadable: report.warnings.some((w) => w.includes('unreadable')),
        alreadyArchivedInFaultedRun: totals(report).alreadyArchived,
      };
    },
  };
}

const ossCorruptManifest = corruptManifestRow('oss-corrupt-manifest', 'OSS: corrupt manifest (not a manifest)', () =>
  Buffer.from('{"schemaVersion":1,"domain":42,"files":[]}'),
);

const ossTruncatedManifest = corruptManifestRow('oss-truncated-manifest', 'OSS: truncated manifest', (valid) =>
  valid.subarray(0, Math.floor(valid.length / 2)),
);

const ossStaleLease: FaultRow = {
  id: 'oss-stale-lease',
  fault: 'OSS: stale lease of a crashed run',
  async act(row) {
    const files = await seedStandard(row);
    // The crashed run had archived one file and written no manifest; its lease expired a minute ago.
    await row.plant(row.keyOf(files[0]), row.bytesOf(files[0]));
    const expiredMs = Date.now() - 60_000;
    await row.plant(
      row.leaseKeyOf(1),
      Buffer.from(
        JSON.stringify({
          holder: 'crashed-run',
          acquiredAt: new Date(expiredMs - 900_000).toISOString(),
          expiresAt: new Date(expiredMs).toISOString(),
          expiresAtMs: expiredMs,
        }),
      ),
    );
    const downloadsBefore = row.downloads;
    const report = await row.timer();
    return {
      archivedInFaultedRun: totals(report).archivedNow,
      downloadsInFaultedRun: row.downloads - downloadsBefore,
      files: files.length,
      onlyNewGenerationLeft: JSON.stringify(row.leaseKeys()) === JSON.stringify([row.leaseKeyOf(2)]),
    };
  },
};

// --- Function Compute ---

/** How long the killed invocation's lease lasts: its FC timeout. */
const KILLED_TIMEOUT_SEC = 60;
const KILLED_REQUEST_ID = 'killed-invocation';

/** A timer invocation in a child process, SIGKILLed while the first large file's multipart upload is open. */
async function killMidTransfer(row: RowContext): Promise<Facts> {
  const files = await seedStandard(row);
  const large = files[row.scale.smallFiles];
  // The large file stalls after its first part, so the kill lands while its multipart upload is open.
  row.cloud.origin.faults.stall(60_000, { path: row.originPathOf(large), afterBytes: MIB + 200_000 });
  const largeKey = row.keyOf(large);
  row.observeArchive();
  row.runs++;
  const killed = await runAndKill(row, {
    when: () => row.cloud.oss.pendingUploads(row.bucket).some((u) => u.key === largeKey && u.partNumbers.length >= 1),
  });
  row.observeArchive();
  return {
    killedWhileUploading: killed.killedWhenReady,
    pendingUploadsAfterKill: row.cloud.oss.pendingUploads(row.bucket).length,
    largeObjectAfterKill: row.cloud.oss.head(row.bucket, largeKey) !== null,
  };
}

const fcKilled: FaultRow = {
  id: 'fc-killed',
  fault: 'FC: invocation SIGKILLed mid-transfer',
  act: killMidTransfer,
  async cleanRun(row) {
    // The next hourly run: the dead invocation's lease (its deadline plus the contenders' grace) is long over.
    row.clockOffsetMs = (KILLED_TIMEOUT_SEC + 60) * 1000;
    await row.timer();
  },
};

const fcKilledRetried: FaultRow = {
  id: 'fc-killed-retried',
  fault: 'FC: SIGKILLed, then retried (same requestId)',
  act: killMidTransfer,
  async cleanRun(row) {
    // Function Compute's asynchronous retry of the dead attempt: same request id, at once, lease still unexpired.
    await row.timer({ requestId: KILLED_REQUEST_ID });
  },
};

const fcSameEventTwice: FaultRow = {
  id: 'fc-retry-same-event',
  fault: 'FC: same event delivered twice (same requestId)',
  async act(row) {
    await seedStandard(row);
    const requestId = 'fc-async-retry-0001';
    const first = await row.timer({ requestId });
    const downloadsAfterFirst = row.downloads;
    const putsAfterFirst = row.cloud.oss.stats.byOp.PutObject ?? 0;
    const second = await row.timer({ requestId });
    const manifest = await row.readManifest();
    const runsRecorded = manifest && !('corrupt' in manifest) ? manifest.runs.filter((r) => r.runId === requestId).length : -1;
    return {
      firstArchived: totals(first).archivedNow,
      secondArchived: totals(second).archivedNow,
      secondAlreadyArchived: totals(second).alreadyArchived,
      secondRunDownloads: row.downloads - downloadsAfterFirst,
      secondRunPuts: (row.cloud.oss.stats.byOp.PutObject ?? 0) - putsAfterFirst,
      runsRecordedForRequestId: runsRecorded,
    };
  },
};

const fcConcurrent: FaultRow = {
  id: 'fc-two-at-once',
  fault: 'FC: two invocations of one hour at once',
  async act(row) {
    const files = await seedStandard(row);
    // Slow downloads keep the first run busy while the second arrives.
    row.cloud.origin.faults.stall(50, { times: files.length });
    const reports = await Promise.all([row.timer({ requestId: 'concurrent-a' }), row.timer({ requestId: 'concurrent-b' })]);
    return {
      runsThatArchived: reports.filter((r) => totals(r).archivedNow > 0).length,
      archivedTotal: reports.reduce((n, r) => n + totals(r).archivedNow, 0),
      downloads: row.downloads,
      files: files.length,
    };
  },
};

/** Every row, in table order. */
export const FAULT_ROWS: readonly FaultRow[] = [
  liveThrottleStorm,
  liveInternalError,
  liveHtml503,
  liveSlow,
  livePageChanges,
  originReset,
  originCut,
  originStall,
  originExpired,
  originNotFound,
  ossPart5xx,
  ossPartReset,
  ossComplete5xx,
  ossPut5xx,
  ossPutReset,
  ossManifest5xx,
  ossManifestReset,
  ossForeignObject,
  ossCorruptManifest,
  ossTruncatedManifest,
  ossStaleLease,
  fcKilled,
  fcKilledRetried,
  fcSameEventTwice,
  fcConcurrent,
];

// ---------------------------------------------------------------------------------------------------------------
// The killed invocation
// ---------------------------------------------------------------------------------------------------------------

interface KillOutcome {
  /** False when the child ended (or the wait timed out) before `when` held. */
  killedWhenReady: boolean;
  stderrTail: string;
}

/**
 * Runs one timer invocation in a child process against this row's emulators and SIGKILLs it as soon as `when()`
 * holds (polled), as Function Compute kills an instance: no finally blocks, no lease release, no manifest flush.
 */
async function runAndKill(row: RowContext, opts: { when: () => boolean; timeoutMs?: number }): Promise<KillOutcome> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', KILLABLE_SCRIPT], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      ...row.env,
      FAULT_EVENT: JSON.stringify(row.timerEvent()),
      FAULT_REQUEST_ID: KILLED_REQUEST_ID,
      FAULT_TIMEOUT_SEC: String(KILLED_TIMEOUT_SEC),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let ended = false;
  void exited.then(() => {
    ended = true;
  });
  const deadlineMs = Date.now() + (opts.timeoutMs ?? 30_000);
  let ready = false;
  while (!ended && Date.now() < deadlineMs) {
    if (opts.when()) {
      ready = true;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGKILL');
  await exited;
  return { killedWhenReady: ready, stderrTail: stderr };
}

// ---------------------------------------------------------------------------------------------------------------
// Running rows
// ---------------------------------------------------------------------------------------------------------------

export interface RowResult {
  id: string;
  fault: string;
  /** Invocations, the killed one, setup runs and the clean run included. */
  runs: number;
  files: number;
  /** Archived byte-identical when the faulted run(s) ended. */
  archived: number;
  /** Recorded failed or conflict, with a reason, when the faulted run(s) ended. */
  failedAndRecorded: number;
  /** Neither yet when the faulted run(s) ended (not listed yet, listing failed, deadline, killed): the clean run's. */
  deferred: number;
  /** Files neither archived nor a recorded conflict after the clean run. Must be 0. */
  lost: number;
  /**
   * Distinct integrity problems: wrong bytes, overwritten or vanished objects, manifests contradicting the archive,
   * stray objects, run reports whose counts do not add up or contradict the archive. Must be 0.
   */
  damaged: number;
  problems: string[];
  facts: Facts;
  durationMs: number;
}

/** The clean run's report must tell what the archive shows: every file listed, each archived or a conflict. */
function checkCleanRunReport(row: RowContext, final: Inspection): void {
  const report = row.reports.at(-1);
  if (!report) return;
  const planted = row.truth.filter((f) => f.plantedForeign).length;
  const { listed, archivedNow, alreadyArchived, conflicts, failed, remaining } = report.totals;
  const expected = { listed: row.truth.length, archived: row.truth.length - planted, conflicts: planted, failed: 0, remaining: 0 };
  const actual = { listed, archived: archivedNow + alreadyArchived, conflicts, failed, remaining };
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    row.problem(`clean run report says ${JSON.stringify(actual)}, the archive shows ${JSON.stringify(expected)}`);
  }
  if (archivedNow + alreadyArchived !== [...final.verdicts.values()].filter((v) => v === 'archived').length) {
    row.problem(`clean run report counts ${archivedNow + alreadyArchived} archived files, the archive holds another number`);
  }
}

function resetFaults(cloud: SandboxCloud): void {
  cloud.live.faults.reset();
  cloud.origin.faults.reset();
  cloud.oss.faults.reset();
}

export async function runRow(row: FaultRow, scale: MatrixScale): Promise<RowResult> {
  const startedMs = Date.now();
  const cloud = await startSandboxCloud({ domains: [DOMAIN] });
  try {
    const ctx = new RowContext(cloud, scale, { ...cloud.env, ...BASE_ENV, ...row.env });
    const facts = await row.act(ctx);
    resetFaults(cloud);
    const afterFault = await inspectArchive(ctx, 'after-fault');
    await (row.cleanRun ? row.cleanRun(ctx) : ctx.timer().then(() => undefined));
    const final = await inspectArchive(ctx, 'final');
    checkCleanRunReport(ctx, final);

    const count = (verdict: Verdict) => [...afterFault.verdicts.values()].filter((v) => v === verdict).length;
    const lost = ctx.truth.filter((file) => {
      const verdict = final.verdicts.get(file);
      return !(verdict === 'archived' && !file.plantedForeign) && !(verdict === 'recorded' && file.plantedForeign);
    });
    const problems = [...new Set([...ctx.problems, ...afterFault.problems, ...final.problems])];
    return {
      id: row.id,
      fault: row.fault,
      runs: ctx.runs,
      files: ctx.truth.length,
      archived: count('archived'),
      failedAndRecorded: count('recorded'),
      deferred: count('pending'),
      lost: lost.length,
      damaged: problems.length,
      problems: [...problems, ...lost.map((f) => `lost: ${f.name} is ${final.verdicts.get(f)} after the clean run`)],
      facts,
      durationMs: Date.now() - startedMs,
    };
  } finally {
    await cloud.close();
  }
}

export async function runMatrix(
  rows: readonly FaultRow[],
  scale: MatrixScale,
  onRow?: (result: RowResult) => void,
): Promise<RowResult[]> {
  const results: RowResult[] = [];
  for (const row of rows) {
    const result = await runRow(row, scale);
    onRow?.(result);
    results.push(result);
  }
  return results;
}

const COLUMNS: Array<{ title: string; value: (r: RowResult) => string | number }> = [
  { title: 'fault', value: (r) => r.fault },
  { title: 'runs', value: (r) => r.runs },
  { title: 'files', value: (r) => r.files },
  { title: 'archived', value: (r) => r.archived },
  { title: 'failed-and-recorded', value: (r) => r.failedAndRecorded },
  { title: 'deferred', value: (r) => r.deferred },
  { title: 'lost (must be 0)', value: (r) => r.lost },
  { title: 'damaged (must be 0)', value: (r) => r.damaged },
];

/** A Markdown table, readable as plain text too. */
export function formatTable(results: readonly RowResult[]): string {
  const cells = results.map((r) => COLUMNS.map((c) => String(c.value(r))));
  const widths = COLUMNS.map((c, i) => Math.max(c.title.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]) =>
    `| ${values.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join(' | ')} |`;
  // Right-aligned number columns: the colon sits at the right end of the rule.
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(COLUMNS.map((c) => c.title)), rule, ...cells.map(line)].join('\n');
}
