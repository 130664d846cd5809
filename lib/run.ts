/**
 * One archive run: list each domain's window once, then per (domain, hour): read the manifest, transfer what
 * it does not prove archived (bounded concurrency, deadline), and write the manifest as files complete.
 */
import { setMaxListeners } from 'node:events';
import type { DownloadResponse } from './download';
import { isRetryable } from './errors';
import { redactError } from './redact';
import { archiveKey, manifestKey } from './keys';
import { acquireLease, type Lease } from './lease';
import type { LiveLister } from './live-client';
import type { Logger } from './log';
import {
  addRun,
  emptyManifest,
  entryUpdate,
  isArchived,
  parseManifest,
  recordArchived,
  recordConflict,
  recordFailed,
} from './manifest';
import { ManifestWriter } from './manifest-writer';
import { mapPool } from './pool';
import { ReportBuilder } from './report';
import { hoursBetween, isoHour } from './time';
import { rebuildFromArchive } from './rebuild';
import { transferFile, type TransferOutcome } from './transfer';
import type { HourReport, LogFile, Manifest, ObjectStore, RunReport } from './types';
import { compareCodeUnits } from './compare';

export interface ArchiveWork {
  action: string;
  domains: string[];
  /** Hour-aligned window to list and archive: [startMs, endMs). */
  startMs: number;
  endMs: number;
  /** When given, only these hour starts inside the window (a fan-out unit's hours need not be contiguous). */
  hours?: number[];
}

/** An hour whose files were not all dealt with because the invocation ran out of time. */
export interface UnfinishedHour {
  domain: string;
  hourStartMs: number;
}

export interface RunOutcome {
  report: RunReport;
  unfinished: UnfinishedHour[];
}

export interface RunDeps {
  lister: LiveLister;
  store: ObjectStore;
  openDownload: (url: string, signal?: AbortSignal) => Promise<DownloadResponse>;
  logger: Logger;
  now?: () => number;
}

export interface RunSettings {
  runId: string;
  archivePrefix: string;
  statePrefix: string;
  keyTemplate: string;
  /** Headers every archived object carries: storage class, encryption, tagging. */
  objectHeaders: Record<string, string>;
  concurrency: number;
  maxAttempts: number;
  /** No transfer starts after this; the files left are reported as remaining. */
  stopStartingAtMs: number;
  /**
   * Transfers still running at this time are aborted (and count as remaining, not failed), leaving time to write
   * manifests and release leases before the platform ends the invocation. Default: never.
   */
  abortInFlightAtMs?: number;
  /** When this invocation would be killed: the expiry of the leases it takes. */
  leaseExpiresAtMs: number;
  manifestWriteIntervalMs?: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  signal?: AbortSignal;
}

interface HourJob {
  domain: string;
  hourStartMs: number;
  files: LogFile[];
  manifest: Manifest;
  changed: boolean;
  /** Only hours with work take a lease and get a writer; a fully archived hour is read once and left alone. */
  lease: Lease | null;
  writer: ManifestWriter | null;
  report: HourReport;
  startedMs: number;
}

const LISTING_CONCURRENCY = 4;
const MANIFEST_IO_CONCURRENCY = 8;

export async function runArchive(work: ArchiveWork, deps: RunDeps, settings: RunSettings): Promise<RunOutcome> {
  const now = deps.now ?? Date.now;
  const startedMs = now();
  const report = new ReportBuilder({ runId: settings.runId, action: work.action, startedAtMs: startedMs });
  const log = deps.logger.child({ runId: settings.runId });
  const abort = abortControllerFor(settings, now);
  const unfinished = new Map<string, UnfinishedHour>();
  const markUnfinished = (domain: string, hourStartMs: number) =>
    unfinished.set(`${domain}\u0000${hourStartMs}`, { domain, hourStartMs });
  const leftForLater = (job: HourJob) => {
    job.report.remaining++;
    markUnfinished(job.domain, job.hourStartMs);
  };

  try {
    // Hours that could not be listed or whose state could not be read are unfinished too: a unit sends them on.
    const listed = await listDomains(work, deps, report, abort.signal, markUnfinished);
    const jobs = await prepareHours(listed, deps, settings, report, now, markUnfinished);
    try {
      const pending = jobs.flatMap((job) => job.files.filter((f) => !isArchived(job.manifest, f.name, f.size)).map((file) => ({ job, file })));
      const pendingPerJob = new Map<HourJob, number>();
      for (const { job } of pending) pendingPerJob.set(job, (pendingPerJob.get(job) ?? 0) + 1);
      for (const job of jobs) job.report.alreadyArchived += job.files.length - (pendingPerJob.get(job) ?? 0);
      log.info('run planned', { hours: jobs.length, pending: pending.length });

      await mapPool(pending, settings.concurrency, async ({ job, file }) => {
        if (now() >= settings.stopStartingAtMs || abort.signal.aborted) {
          leftForLater(job);
          return;
        }
        let key: string;
        try {
          key = archiveKey(settings.keyTemplate, settings.archivePrefix, file);
        } catch (err) {
          // No key, no transfer (e.g. ARCHIVE_PREFIX + template + name over OSS's 1023 bytes). Reported as failed
          // every run, never dropped: the pool ignores what its callbacks throw. Not in the manifest, which keeps
          // an entry per archive key.
          job.report.failed++;
          const reason = `no archive key: ${redactError(err)}`;
          report.failure({ domain: file.domain, hour: isoHour(file.hourStartMs), name: file.name, reason });
          log.warn('file failed', { domain: file.domain, file: file.name, reason });
          return;
        }
        const outcome = await transferFile(
          file,
          {
            store: deps.store,
            openDownload: deps.openDownload,
            refreshUrl: (f) => refreshUrl(deps.lister, f, abort.signal),
          },
          {
            key,
            headers: objectHeaders(settings.objectHeaders, file),
            maxAttempts: settings.maxAttempts,
            baseDelayMs: settings.retryBaseDelayMs ?? 500,
            maxDelayMs: settings.retryMaxDelayMs ?? 10_000,
            deadlineMs: settings.stopStartingAtMs,
            signal: abort.signal,
          },
        );
        if (outcome.status === 'failed' && abort.signal.aborted) {
          // Cut off by the deadline, not by a fault: nothing was committed, the next run takes it.
          leftForLater(job);
          return;
        }
        record(job, file, key, outcome, report, now);
        if (outcome.status === 'failed') log.warn('file failed', { domain: file.domain, file: file.name, reason: outcome.reason });
      });
    } finally {
      await finishHours(jobs, settings, report, now);
    }
  } finally {
    abort.dispose();
  }
  const built = report.build(now());
  if (built.totals.remaining > 0) {
    built.warnings.push(`${built.totals.remaining} files were left for a later run: the invocation reached its deadline or an hour was busy`);
  }
  return { report: built, unfinished: [...unfinished.values()] };
}

/** Writes each touched manifest with this run's record, then releases the hour's lease. */
async function finishHours(jobs: HourJob[], settings: RunSettings, report: ReportBuilder, now: () => number) {
  await mapPool(jobs, MANIFEST_IO_CONCURRENCY, async (job) => {
    job.report.durationMs = now() - job.startedMs;
    try {
      if (job.writer && job.changed) {
        addRun(job.manifest, {
          runId: settings.runId,
          at: new Date(now()).toISOString(),
          archived: job.report.archivedNow + job.report.alreadyArchived,
          failed: job.report.failed + job.report.conflicts,
        });
        job.writer.markDirty();
        await job.writer.flush();
        if (job.writer.leaseLost) {
          report.error(
            `lease on ${job.domain} ${isoHour(job.hourStartMs)} was taken over before the manifest was written; ` +
              'the archived objects stand and the next run records them',
          );
        }
      }
    } catch (err) {
      report.error(`manifest for ${job.domain} ${isoHour(job.hourStartMs)} could not be written: ${redactError(err)}`);
    } finally {
      await job.lease?.release().catch((err) => {
        report.warning(`lease on ${job.domain} ${isoHour(job.hourStartMs)} not released (it expires): ${redactError(err)}`);
      });
    }
  });
}

function abortControllerFor(settings: RunSettings, now: () => number) {
  const controller = new AbortController();
  // Every transfer in flight (CONCURRENCY of them, each with its download and upload) listens to this one signal.
  setMaxListeners(0, controller.signal);
  const onOuterAbort = () => controller.abort(settings.signal?.reason);
  settings.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let timer: NodeJS.Timeout | null = null;
  if (settings.abortInFlightAtMs !== undefined) {
    timer = setTimeout(() => controller.abort(new Error('invocation deadline')), Math.max(0, settings.abortInFlightAtMs - now()));
    timer.unref?.();
  }
  return {
    signal: controller.signal,
    dispose() {
      if (timer) clearTimeout(timer);
      settings.signal?.removeEventListener('abort', onOuterAbort);
    },
  };
}

async function listDomains(
  work: ArchiveWork,
  deps: RunDeps,
  report: ReportBuilder,
  signal: AbortSignal,
  markUnfinished: (domain: string, hourStartMs: number) => void,
): Promise<LogFile[]> {
  // The deadline's signal stops paging and throttling back-off too: a listing must not outlive the invocation.
  const results = await mapPool(work.domains, LISTING_CONCURRENCY, (domain) =>
    deps.lister.list(domain, work.startMs, work.endMs, signal),
  );
  const files: LogFile[] = [];
  const onlyHours = work.hours ? new Set(work.hours) : null;
  results.forEach((result, i) => {
    const domain = work.domains[i];
    if (result.status === 'rejected') {
      report.error(`listing ${domain} failed: ${redactError(result.reason)}`);
      // A transient failure (throttling, 5xx past the retries) is worth another round; a malformed answer is not.
      if (isRetryable(result.reason)) {
        for (const h of work.hours ?? hoursBetween(work.startMs, work.endMs)) markUnfinished(domain, h);
      }
      return;
    }
    for (const rejected of result.value.rejected) {
      report.failure({ domain, hour: '', name: rejected.name, reason: `rejected from the listing: ${rejected.reason}` });
    }
    for (const file of result.value.files) {
      // The API may answer with files just outside the asked window; another run owns those hours.
      if (file.hourStartMs < work.startMs || file.hourStartMs >= work.endMs) continue;
      if (onlyHours && !onlyHours.has(file.hourStartMs)) continue;
      files.push(file);
    }
  });
  return files;
}

async function prepareHours(
  files: LogFile[],
  deps: RunDeps,
  settings: RunSettings,
  report: ReportBuilder,
  now: () => number,
  markUnfinished: (domain: string, hourStartMs: number) => void,
): Promise<HourJob[]> {
  const byHour = new Map<string, LogFile[]>();
  for (const file of files) {
    const id = `${file.domain}\u0000${file.hourStartMs}`;
    const list = byHour.get(id);
    if (list) list.push(file);
    else byHour.set(id, [file]);
  }
  const groups = [...byHour.values()].sort(
    (a, b) => compareCodeUnits(a[0].domain, b[0].domain) || a[0].hourStartMs - b[0].hourStartMs,
  );
  const jobs = await mapPool(groups, MANIFEST_IO_CONCURRENCY, (hourFiles) => prepareHour(hourFiles, deps, settings, report, now));
  const ready: HourJob[] = [];
  jobs.forEach((result, i) => {
    if (result.status === 'fulfilled') {
      if (result.value) ready.push(result.value);
      return;
    }
    const { domain, hourStartMs } = groups[i][0];
    report.hour(domain, hourStartMs).remaining += groups[i].length;
    markUnfinished(domain, hourStartMs);
    report.error(`state of ${domain} ${isoHour(hourStartMs)} could not be read: ${redactError(result.reason)}`);
  });
  return ready;
}

/**
 * Reads the hour's manifest; only when it does not prove every listed file archived, takes the hour's lease and
 * reads the manifest again under it (another holder may have written it meanwhile). Null when the hour is busy.
 */
async function prepareHour(
  hourFiles: LogFile[],
  deps: RunDeps,
  settings: RunSettings,
  report: ReportBuilder,
  now: () => number,
): Promise<HourJob | null> {
  const { domain, hourStartMs } = hourFiles[0];
  const hourReport = report.hour(domain, hourStartMs);
  hourReport.listed = hourFiles.length;
  const key = manifestKey(settings.statePrefix, domain, hourStartMs);
  const job: HourJob = {
    domain,
    hourStartMs,
    files: hourFiles.sort((a, b) => compareCodeUnits(a.name, b.name)),
    manifest: emptyManifest(domain, hourStartMs),
    changed: false,
    lease: null,
    writer: null,
    report: hourReport,
    startedMs: now(),
  };
  const first = await loadManifest(deps.store, key, domain, hourStartMs);
  if (first.manifest && job.files.every((f) => isArchived(first.manifest!, f.name, f.size))) {
    job.manifest = first.manifest;
    return job;
  }

  const taken = await acquireLease(deps.store, {
    statePrefix: settings.statePrefix,
    domain,
    hourStartMs,
    holder: settings.runId,
    expiresAtMs: settings.leaseExpiresAtMs,
    now,
  });
  if (!taken.acquired) {
    const provenArchived = first.manifest ? hourFiles.filter((f) => isArchived(first.manifest!, f.name, f.size)).length : 0;
    hourReport.alreadyArchived += provenArchived;
    hourReport.remaining += hourFiles.length - provenArchived;
    report.warning(
      `${domain} ${isoHour(hourStartMs)} is being archived by ${taken.heldBy} ` +
        `(lease until ${new Date(taken.expiresAtMs).toISOString()}); left to it`,
    );
    return null;
  }
  const lease = taken.lease;
  job.lease = lease;
  job.writer = new ManifestWriter(
    deps.store,
    key,
    () => job.manifest,
    settings.manifestWriteIntervalMs ?? 2000,
    now,
    () => lease.stillHeld(),
  );
  try {
    const loaded = await loadManifest(deps.store, key, domain, hourStartMs);
    if (loaded.manifest) {
      job.manifest = loaded.manifest;
    } else {
      if (loaded.problem) report.warning(`manifest ${key} ${loaded.problem}: rebuilding it from the archive`);
      const rebuilt = await rebuildFromArchive(job.files, job.manifest, deps.store, settings, now());
      job.changed ||= rebuilt;
    }
  } catch (err) {
    await lease.release().catch(() => undefined);
    throw err;
  }
  return job;
}

async function loadManifest(
  store: ObjectStore,
  key: string,
  domain: string,
  hourStartMs: number,
): Promise<{ manifest?: Manifest; problem?: string }> {
  const text = await store.getText(key);
  if (text === null) return {};
  const parsed = parseManifest(text, { domain, hourStartMs });
  if ('corrupt' in parsed) return { problem: `is unreadable (${parsed.corrupt})` };
  return { manifest: parsed };
}

function record(job: HourJob, file: LogFile, key: string, outcome: TransferOutcome, report: ReportBuilder, now: () => number) {
  job.changed = true;
  const hour = isoHour(file.hourStartMs);
  switch (outcome.status) {
    case 'archived':
      job.report.archivedNow++;
      job.report.bytesArchived += outcome.bytes;
      recordArchived(job.manifest, entryUpdate(file, key, now(), { crc64: outcome.crc64, attempts: outcome.attempts }));
      break;
    case 'already-archived':
      job.report.alreadyArchived++;
      recordArchived(job.manifest, entryUpdate(file, key, now(), { crc64: outcome.crc64, attempts: outcome.attempts }));
      break;
    case 'conflict':
      job.report.conflicts++;
      recordConflict(job.manifest, { ...entryUpdate(file, key, now(), { attempts: outcome.attempts }), error: outcome.reason });
      report.failure({ domain: file.domain, hour, name: file.name, reason: `conflict: ${outcome.reason}` });
      break;
    case 'failed':
      job.report.failed++;
      recordFailed(job.manifest, { ...entryUpdate(file, key, now(), { attempts: outcome.attempts }), error: outcome.reason });
      report.failure({ domain: file.domain, hour, name: file.name, reason: outcome.reason });
      break;
  }
  job.writer?.markDirty();
}

function objectHeaders(base: Record<string, string>, file: LogFile): Record<string, string> {
  return {
    ...base,
    'x-oss-meta-source-size': String(file.size),
    'x-oss-meta-source-start': new Date(file.startMs).toISOString(),
    'x-oss-meta-source-end': new Date(file.endMs).toISOString(),
  };
}

async function refreshUrl(lister: LiveLister, file: LogFile, signal?: AbortSignal): Promise<string | null> {
  const fresh = await lister.list(file.domain, file.hourStartMs, file.hourStartMs + 3_600_000, signal);
  return fresh.files.find((f) => f.name === file.name)?.url ?? null;
}
