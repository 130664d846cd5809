/**
 * The fault matrix (test/faults/matrix.ts) at CI size: the same rows `npm run faults` runs, each through the real
 * handler and SDK clients against the emulators. Every row must lose nothing and damage nothing, and show the
 * behaviour that makes it so (a re-list after a 403, the planted object untouched, one worker per hour...).
 */
import { CI_SCALE, FAULT_ROWS, runRow, type Facts, type RowResult } from './matrix';
import { silenceUrllibWarnings } from '../support/urllib-warnings';

type Expectation = (facts: Facts, result: RowResult) => void;

const everyFileArchivedDespiteTheFault: Expectation = (_facts, r) => {
  expect(r.archived).toBe(r.files);
};

/**
 * Faults spread over concurrent transfers: which file meets how many of them is timing, so a file may use up its
 * attempts and be recorded failed (the clean run then archives it). Either way the faulted run settles every file.
 */
const everyFileSettledByTheFaultedRun: Expectation = (_facts, r) => {
  expect(r.archived + r.failedAndRecorded).toBe(r.files);
  expect(r.archived).toBeGreaterThan(0);
};

const EXPECTATIONS: Record<string, Expectation> = {
  'live-throttling-storm': (f, r) => {
    expect(f.throttledAnswers).toBeGreaterThan(0);
    // Backoff either outlasted the storm or the listing error was reported and the clean run did the work.
    expect(r.archived === r.files || f.listingErrorReported === true).toBe(true);
  },
  'live-500': (f, r) => {
    expect(f.internalErrors).toBe(4);
    everyFileArchivedDespiteTheFault(f, r);
  },
  'live-503-html': (f, r) => {
    expect(f.htmlAnswers).toBe(4);
    everyFileArchivedDespiteTheFault(f, r);
  },
  'live-slow': (f, r) => {
    expect(f.faultedRunMs).toBeGreaterThanOrEqual(800);
    everyFileArchivedDespiteTheFault(f, r);
  },
  'live-page-changes': (f, r) => {
    expect(f.pagesFetched).toBe(3);
    expect(f.originalFilesArchived).toBe(true);
    expect(f.lateAfterCursorArchived).toBe(true);
    // Listed behind the cursor: this run cannot see it; the next run's listing does.
    expect(f.lateBeforeCursorArchived).toBe(false);
    expect(r.deferred).toBe(1);
  },
  'origin-reset': (f, r) => {
    // Every broken download was followed by a fresh one.
    expect(f.downloadsStarted).toBeGreaterThan(r.files);
    everyFileSettledByTheFaultedRun(f, r);
  },
  'origin-cut': (f, r) => {
    expect(f.downloadsStarted).toBeGreaterThan(r.files);
    everyFileSettledByTheFaultedRun(f, r);
  },
  'origin-stall': (f, r) => {
    expect(f.downloadsStarted).toBe(r.files + 2);
    everyFileArchivedDespiteTheFault(f, r);
  },
  'origin-403-expired': (f, r) => {
    // One listing, then a re-list for a fresh URL after a 403 (at most one per file).
    expect(f.listCalls).toBeGreaterThanOrEqual(2);
    expect(f.listCalls).toBeLessThanOrEqual(1 + r.files);
    everyFileArchivedDespiteTheFault(f, r);
  },
  'origin-404': (f, r) => {
    expect(f.failedInFaultedRun).toBe(1);
    expect(f.recordedWith404).toBe(true);
    expect(r.failedAndRecorded).toBe(1);
    expect(r.archived).toBe(r.files - 1);
  },
  'oss-part-5xx': (f, r) => {
    expect(f.injected).toBe(2);
    expect(f.pendingUploads).toBe(0);
    everyFileArchivedDespiteTheFault(f, r);
  },
  'oss-part-reset': (f, r) => {
    expect(f.injected).toBe(2);
    expect(f.pendingUploads).toBe(0);
    everyFileArchivedDespiteTheFault(f, r);
  },
  'oss-complete-5xx': (f, r) => {
    expect(f.injected).toBe(1);
    expect(f.pendingUploads).toBe(0);
    everyFileArchivedDespiteTheFault(f, r);
  },
  'oss-put-5xx': (f, r) => {
    expect(f.injected).toBe(CI_SCALE.smallFiles);
    everyFileSettledByTheFaultedRun(f, r);
  },
  'oss-put-reset': (f, r) => {
    expect(f.injected).toBe(CI_SCALE.smallFiles);
    everyFileSettledByTheFaultedRun(f, r);
  },
  'oss-manifest-5xx': (f, r) => {
    expect(f.manifestNotWrittenReported).toBe(true);
    // The objects stand without a manifest; the clean run rebuilt it from the archive (checked by the matrix).
    everyFileArchivedDespiteTheFault(f, r);
  },
  'oss-manifest-reset': (f, r) => {
    expect(f.injected).toBe(3);
    expect(f.manifestNotWrittenReported).toBe(false);
    everyFileArchivedDespiteTheFault(f, r);
  },
  'oss-file-exists': (f, r) => {
    expect(f.plantedUntouched).toBe(true);
    expect(f.conflictsInManifest).toBe(f.planted);
    expect(f.conflictsReported).toBe(f.planted);
    expect(r.failedAndRecorded).toBe(f.planted);
  },
  'oss-corrupt-manifest': (f, r) => {
    expect(f.warnedUnreadable).toBe(true);
    // Rebuilt from the archive: what was archived before is not downloaded again.
    expect(f.downloadsInFaultedRun).toBe(f.newFiles);
    everyFileArchivedDespiteTheFault(f, r);
  },
  'oss-truncated-manifest': (f, r) => {
    expect(f.warnedUnreadable).toBe(true);
    expect(f.downloadsInFaultedRun).toBe(f.newFiles);
    everyFileArchivedDespiteTheFault(f, r);
  },
  'oss-stale-lease': (f, r) => {
    expect(f.onlyNewGenerationLeft).toBe(true);
    // The file the crashed run had archived is found in the archive, not downloaded again.
    expect(f.downloadsInFaultedRun).toBe(r.files - 1);
    everyFileArchivedDespiteTheFault(f, r);
  },
  'fc-killed': (f, r) => {
    expect(f.killedWhileUploading).toBe(true);
    expect(f.largeObjectAfterKill).toBe(false);
    // The dead invocation's open multipart upload is left to the bucket's lifecycle rule; it is not an object.
    expect(f.pendingUploadsAfterKill).toBeGreaterThanOrEqual(1);
    expect(r.deferred).toBeGreaterThanOrEqual(1);
  },
  'fc-killed-retried': (f, r) => {
    expect(f.killedWhileUploading).toBe(true);
    expect(f.largeObjectAfterKill).toBe(false);
    expect(r.deferred).toBeGreaterThanOrEqual(1);
  },
  'fc-retry-same-event': (f, r) => {
    expect(f.firstArchived).toBe(r.files);
    expect(f.secondArchived).toBe(0);
    expect(f.secondAlreadyArchived).toBe(r.files);
    expect(f.secondRunDownloads).toBe(0);
    expect(f.secondRunPuts).toBe(0);
    expect(f.runsRecordedForRequestId).toBe(1);
  },
  'fc-two-at-once': (f, r) => {
    expect(f.runsThatArchived).toBe(1);
    expect(f.archivedTotal).toBe(r.files);
    expect(f.downloads).toBe(r.files);
  },
};

let restoreWarnings: () => void;

beforeAll(() => {
  restoreWarnings = silenceUrllibWarnings();
});

afterAll(() => {
  restoreWarnings();
});

describe('the fault matrix at CI size: nothing lost under faults, nothing damaged', () => {
  it('has a row-specific expectation for every row', () => {
    expect(FAULT_ROWS.map((row) => row.id).filter((id) => !(id in EXPECTATIONS))).toEqual([]);
  });

  it.each(FAULT_ROWS.map((row) => [row.fault, row] as const))(
    '%s',
    async (_fault, row) => {
      const result = await runRow(row, CI_SCALE);

      expect(result.problems).toEqual([]);
      expect(result.lost).toBe(0);
      expect(result.damaged).toBe(0);
      EXPECTATIONS[row.id](result.facts, result);
    },
    30_000,
  );
});
