/**
 * Writes one (domain, hour) manifest as files complete, without a write per file: while a write is in flight,
 * later changes wait and go out together in the next one, and writes are spaced by `minIntervalMs`, or by
 * WRITE_SPACING_FACTOR times the last write's duration when that is longer: a manifest grows with its hour, and an
 * hour of tens of thousands of files would otherwise spend a growing share of the run re-sending megabytes.
 * The first interval counts from the writer's creation (when the hour's lease was taken), not from the first
 * change: an hour done within it is written once, by the final flush, instead of once for its first file and
 * again at the end (that first write, with its lease check, was 3 of the 14 state requests of a short hour).
 * A crash therefore loses at most the entries of the last interval; their objects are still found by the
 * next run (create-only PUT answers FileAlreadyExists, or the rebuild listing sees them).
 */
import { serializeManifest } from './manifest';
import type { Manifest, ObjectStore } from './types';

/** Mid-run writes take at most ~1/20 of the run's time, whatever the manifest's size. */
export const WRITE_SPACING_FACTOR = 20;

export class ManifestWriter {
  private dirty = false;
  private inFlight: Promise<void> | null = null;
  private lastWriteMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastError: unknown = null;
  private spacingMs: number;
  writes = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly key: string,
    private readonly manifest: () => Manifest,
    private readonly minIntervalMs: number,
    private readonly now: () => number = Date.now,
    /** Checked right before every write: a writer that lost its lease must not write (see lib/lease.ts). */
    private readonly mayWrite: () => Promise<boolean> = async () => true,
  ) {
    this.spacingMs = minIntervalMs;
    this.lastWriteMs = now();
  }

  /** Set once a write was refused because the lease was lost; nothing is written after that. */
  leaseLost = false;

  /** Note that the manifest changed; a write follows soon. */
  markDirty(): void {
    this.dirty = true;
    this.schedule();
  }

  /** Write whatever is pending now and wait for it, retrying a failed final write a few times. */
  async flush(attempts = 4): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.clearTimer();
      while (this.inFlight) await this.inFlight;
      this.clearTimer();
      if (!this.dirty) return;
      await this.writeNow();
      this.clearTimer();
      if (!this.dirty) return;
      if (attempt >= attempts) throw this.lastError;
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
  }

  private clearTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private schedule(): void {
    if (this.timer || this.inFlight) return;
    const waitMs = Math.max(0, this.lastWriteMs + this.spacingMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.writeNow();
    }, waitMs);
    this.timer.unref?.();
  }

  private writeNow(): Promise<void> {
    if (this.leaseLost) {
      this.dirty = false;
      return Promise.resolve();
    }
    this.dirty = false;
    const startedMs = this.now();
    this.lastWriteMs = startedMs;
    const body = serializeManifest(this.manifest());
    this.inFlight = this.mayWrite()
      .then((allowed) => {
        if (allowed) return this.store.putText(this.key, body);
        this.leaseLost = true;
      })
      .then(
        () => {
          this.writes++;
          this.lastError = null;
          this.spacingMs = Math.max(this.minIntervalMs, WRITE_SPACING_FACTOR * (this.now() - startedMs));
        },
        (err) => {
          // Keep the change pending: the next write (or the final flush) carries it.
          this.dirty = true;
          this.lastError = err;
        },
      )
      .finally(() => {
        this.inFlight = null;
        if (this.dirty && this.timer === null) this.schedule();
      });
    return this.inFlight;
  }
}
