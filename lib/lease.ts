/**
 * One lease per (domain, hour), so that two invocations working on the same hour at once (a backfill overlapping
 * the timer, a platform retry) never both write its manifest.
 *
 * OSS has no conditional PUT, so the lease is a chain of create-only objects, one per generation:
 * `{statePrefix}leases/{domain}/{yyyy-MM-ddTHH}/{generation}`. Whoever creates generation g+1 (with
 * `x-oss-forbid-overwrite`) holds the hour; a generation is created only when g is free (released, expired or
 * unreadable), and OSS lets exactly one contender create it. A lease object is only ever rewritten by the holder
 * that created it (to mark it released); older generations are deleted by a releasing holder, never the newest.
 *
 * Expiry is the holder's invocation deadline (start + FC timeout), so a crashed holder's hour is taken over as soon
 * as that invocation would have died anyway. Pure with respect to the store: any ObjectStore works.
 */
import { z } from 'zod';
import { AlreadyExistsError } from './errors';
import { leaseKey, leasePrefix, parseLeaseGeneration } from './keys';
import { HOUR_MS } from './time';
import type { ObjectStore } from './types';

/**
 * Another holder's lease counts as expired only this long after its `expiresAtMs`. The holder judges its own
 * expiry by its own clock (`stillHeld`), a contender by the contender's clock: the grace keeps the two from
 * overlapping as long as the clocks disagree by less than it. FC hosts are NTP-synced; 30 s is generous.
 */
export const LEASE_EXPIRY_GRACE_MS = 30_000;

/**
 * The longest lease anyone may take: Function Compute's longest run time (86400 s). A lease object claiming to
 * last longer was written by a broken clock or a bug and would otherwise lock its hour out for good, so it is
 * treated as unreadable (free).
 */
export const MAX_LEASE_DURATION_MS = 24 * HOUR_MS;

/**
 * Rounds of list-read-create in one acquire. A lost round (another contender created the generation first, the
 * generation we read vanished, or a newer one turned up after ours) is followed by one fresh listing, which either
 * shows the winner holding the hour or a free newest generation to try once more.
 */
const ACQUIRE_ROUNDS = 2;

/** The JSON body of a lease object. */
export interface LeaseRecord {
  /** The run that holds (or held) the lease. */
  holder: string;
  acquiredAt: string;
  expiresAt: string;
  expiresAtMs: number;
  released?: true;
  releasedAt?: string;
}

export interface Lease {
  readonly domain: string;
  readonly hourStartMs: number;
  readonly generation: number;
  readonly key: string;
  readonly holder: string;
  readonly expiresAtMs: number;
  /**
   * Marks this generation released and deletes the hour's older generations (best effort). Does nothing when the
   * lease was taken over meanwhile: the object then belongs to history, and the newer holder cleans it up.
   * Idempotent; throws only when the release mark itself could not be written (the lease then simply expires).
   */
  release(): Promise<void>;
  /**
   * Re-reads the store: true while no newer generation exists, ours is unchanged and not released, and our own
   * clock has not passed `expiresAtMs`. Call it right before writing the manifest so that a holder that was
   * taken over (it outlived its deadline) does not write as a zombie.
   */
  stillHeld(): Promise<boolean>;
}

export interface AcquireLeaseOptions {
  statePrefix: string;
  domain: string;
  /** Start of the UTC hour; must be hour-aligned. */
  hourStartMs: number;
  /** Who asks: the run id, written into the lease and reported to refused contenders. */
  holder: string;
  /** The holder's invocation deadline (start + FC timeout). */
  expiresAtMs: number;
  /** Clock, injectable for tests. Default Date.now. */
  now?: () => number;
  /** Default LEASE_EXPIRY_GRACE_MS. */
  expiryGraceMs?: number;
}

export type AcquireLeaseResult =
  | { acquired: true; lease: Lease }
  | {
      acquired: false;
      /** Holder of the generation that keeps us out; 'unknown' when that lease object could not be read. */
      heldBy: string;
      /** When that lease expires (without the grace); 0 when it could not be read. */
      expiresAtMs: number;
      generation: number;
    };

const leaseRecordSchema = z.object({
  holder: z.string().min(1),
  acquiredAt: z.string(),
  expiresAt: z.string(),
  expiresAtMs: z.number().int().safe(),
  released: z.literal(true).optional(),
  releasedAt: z.string().optional(),
});

/** A lease object's body, or null when it is not a lease we can trust (corrupt JSON, wrong shape). */
export function parseLeaseRecord(text: string): LeaseRecord | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = leaseRecordSchema.safeParse(json);
  return parsed.success ? parsed.data : null;
}

export function serializeLeaseRecord(record: LeaseRecord): string {
  const { holder, acquiredAt, expiresAt, expiresAtMs, released, releasedAt } = record;
  return JSON.stringify({ holder, acquiredAt, expiresAt, expiresAtMs, ...(released ? { released, releasedAt } : {}) });
}

/** Whether a lease written by someone else still keeps the hour, judged by our clock with the grace. */
function keepsOthersOut(record: LeaseRecord, nowMs: number, graceMs: number): boolean {
  if (record.released) return false;
  if (record.expiresAtMs > nowMs + MAX_LEASE_DURATION_MS + graceMs) return false;
  return nowMs < record.expiresAtMs + graceMs;
}

interface HourLeases {
  store: ObjectStore;
  statePrefix: string;
  domain: string;
  hourStartMs: number;
  prefix: string;
}

/** The hour's generations, ascending. Keys under the prefix that are not generations are ignored. */
async function listGenerations(hour: HourLeases): Promise<number[]> {
  const generations: number[] = [];
  for await (const { key } of hour.store.list(hour.prefix)) {
    const generation = parseLeaseGeneration(hour.prefix, key);
    if (generation !== null) generations.push(generation);
  }
  return generations.sort((a, b) => a - b);
}

type GenerationRead = { state: 'missing' } | { state: 'unreadable' } | { state: 'readable'; record: LeaseRecord };

async function readGeneration(hour: HourLeases, generation: number): Promise<GenerationRead> {
  const text = await hour.store.getText(keyOf(hour, generation));
  if (text === null) return { state: 'missing' };
  const record = parseLeaseRecord(text);
  return record === null ? { state: 'unreadable' } : { state: 'readable', record };
}

function keyOf(hour: HourLeases, generation: number): string {
  return leaseKey(hour.statePrefix, hour.domain, hour.hourStartMs, generation);
}

/**
 * Takes the (domain, hour) lease, or says who holds it.
 *
 * Each round lists the hour's generations, reads the newest g (none: g = 0) and, when it is free, creates g+1
 * create-only. Then it lists once more: a generation above ours means our listing was stale in the worst way
 * (g+1 had been created, released and deleted by a newer holder's clean-up, so our create-only PUT re-created it)
 * and ours is void. Because the newest generation is never deleted, a holder that sees nothing above its own
 * after creating it is the only holder until it releases or expires.
 */
export async function acquireLease(store: ObjectStore, options: AcquireLeaseOptions): Promise<AcquireLeaseResult> {
  const now = options.now ?? Date.now;
  const graceMs = options.expiryGraceMs ?? LEASE_EXPIRY_GRACE_MS;
  validateOptions(options, now(), graceMs);
  const hour: HourLeases = {
    store,
    statePrefix: options.statePrefix,
    domain: options.domain,
    hourStartMs: options.hourStartMs,
    prefix: leasePrefix(options.statePrefix, options.domain, options.hourStartMs),
  };

  let lostTo = 0;
  for (let round = 1; round <= ACQUIRE_ROUNDS; round++) {
    const generations = await listGenerations(hour);
    const newest = generations.at(-1) ?? 0;
    if (newest > 0) {
      const read = await readGeneration(hour, newest);
      // Listed but gone: a newer holder's release deleted it, so a newer generation exists; look again.
      if (read.state === 'missing') {
        lostTo = newest;
        continue;
      }
      // A live lease under our own holder id was taken by an earlier attempt of this same request: Function
      // Compute retries an asynchronous invocation (same request id) only after that attempt died, so it is taken
      // over at once instead of blocking the retry until the dead attempt's deadline.
      const ours = read.state === 'readable' && read.record.holder === options.holder;
      if (read.state === 'readable' && !ours && keepsOthersOut(read.record, now(), graceMs)) return refused(read.record, newest);
    }

    const candidate = newest + 1;
    const acquiredAtMs = now();
    const record: LeaseRecord = {
      holder: options.holder,
      acquiredAt: new Date(acquiredAtMs).toISOString(),
      expiresAt: new Date(options.expiresAtMs).toISOString(),
      expiresAtMs: options.expiresAtMs,
    };
    try {
      await store.putText(keyOf(hour, candidate), serializeLeaseRecord(record), { forbidOverwrite: true });
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
      lostTo = candidate;
      continue;
    }

    const newestAfter = (await listGenerations(hour)).at(-1) ?? 0;
    if (newestAfter > candidate) {
      // Ours is void; say so in the object too, so no one (an operator, a status tool) mistakes it for live.
      await markReleased(hour, candidate, record, now).catch(() => undefined);
      lostTo = newestAfter;
      continue;
    }
    return { acquired: true, lease: new StoreLease(hour, candidate, record, now) };
  }

  // Contention outlasted our rounds: report whoever beat us last, as they stand now.
  const winner = await readGeneration(hour, lostTo);
  if (winner.state === 'readable') return refused(winner.record, lostTo);
  return { acquired: false, heldBy: 'unknown', expiresAtMs: 0, generation: lostTo };
}

function refused(record: LeaseRecord, generation: number): AcquireLeaseResult {
  return { acquired: false, heldBy: record.holder, expiresAtMs: record.expiresAtMs, generation };
}

function validateOptions(options: AcquireLeaseOptions, nowMs: number, graceMs: number): void {
  if (typeof options.holder !== 'string' || options.holder === '') throw new TypeError('lease holder must be a non-empty string');
  if (!Number.isSafeInteger(options.hourStartMs) || options.hourStartMs % HOUR_MS !== 0) {
    throw new RangeError(`lease hourStartMs must be an hour start in epoch milliseconds, got ${options.hourStartMs}`);
  }
  if (!Number.isSafeInteger(options.expiresAtMs)) throw new RangeError(`lease expiresAtMs must be an integer, got ${options.expiresAtMs}`);
  if (options.expiresAtMs <= nowMs) {
    throw new RangeError(`lease expiresAtMs ${new Date(options.expiresAtMs).toISOString()} is not in the future`);
  }
  if (options.expiresAtMs - nowMs > MAX_LEASE_DURATION_MS) {
    throw new RangeError(`lease would last ${options.expiresAtMs - nowMs} ms, over the ${MAX_LEASE_DURATION_MS} ms an invocation can run`);
  }
  if (!Number.isSafeInteger(graceMs) || graceMs < 0) throw new RangeError(`lease expiryGraceMs must be a non-negative integer, got ${graceMs}`);
}

async function markReleased(hour: HourLeases, generation: number, record: LeaseRecord, now: () => number): Promise<void> {
  const released: LeaseRecord = { ...record, released: true, releasedAt: new Date(now()).toISOString() };
  // A plain PUT: the object is ours, created by us with forbid-overwrite, and no one else ever writes it.
  await hour.store.putText(keyOf(hour, generation), serializeLeaseRecord(released));
}

class StoreLease implements Lease {
  readonly domain: string;
  readonly hourStartMs: number;
  readonly key: string;
  private released = false;
  private releasing: Promise<void> | null = null;

  constructor(
    private readonly hour: HourLeases,
    readonly generation: number,
    private readonly record: LeaseRecord,
    private readonly now: () => number,
  ) {
    this.domain = hour.domain;
    this.hourStartMs = hour.hourStartMs;
    this.key = keyOf(hour, generation);
  }

  get holder(): string {
    return this.record.holder;
  }

  get expiresAtMs(): number {
    return this.record.expiresAtMs;
  }

  async stillHeld(): Promise<boolean> {
    // Our own deadline by our own clock, no grace: the contenders' grace is what separates us from them.
    if (this.released || this.now() >= this.expiresAtMs) return false;
    const generations = await listGenerations(this.hour);
    if (generations.some((generation) => generation > this.generation)) return false;
    const read = await readGeneration(this.hour, this.generation);
    if (read.state !== 'readable') return false;
    const current = read.record;
    const ours = current.holder === this.record.holder && current.acquiredAt === this.record.acquiredAt;
    return ours && !current.released && this.now() < this.expiresAtMs;
  }

  release(): Promise<void> {
    if (this.released) return Promise.resolve();
    this.releasing ??= this.releaseOnce().then(
      () => {
        this.released = true;
      },
      (err: unknown) => {
        this.releasing = null;
        throw err;
      },
    );
    return this.releasing;
  }

  private async releaseOnce(): Promise<void> {
    const generations = await listGenerations(this.hour);
    // Taken over: writing now could only re-create an object the new holder already deleted.
    if (generations.some((generation) => generation > this.generation)) return;
    await markReleased(this.hour, this.generation, this.record, this.now);
    for (const older of generations.filter((generation) => generation < this.generation)) {
      try {
        await this.hour.store.delete(keyOf(this.hour, older));
      } catch {
        // Best effort: a leftover older generation is harmless (only the newest counts) and the next release retries.
      }
    }
  }
}
