/**
 * lib/lease.ts through the OSS adapter (lib/oss-store.ts, the real ali-oss client) against the OSS emulator: the
 * create-only generations must hold up over real HTTP, with every contender on its own client as separate
 * invocations would be. What is stored is checked through the emulator's direct (signature-free) access.
 */
import { acquireLease, LEASE_EXPIRY_GRACE_MS, type AcquireLeaseResult, type Lease } from '../../lib/lease';
import { createOssStore } from '../../lib/oss-store';
import type { ObjectStore } from '../../lib/types';
import { SANDBOX_STS } from '../../sandbox/contracts';
import { startOssEmulator, type OssEmulator } from '../../sandbox/oss-emulator';

const BUCKET = 'state-bucket';
const STATE_PREFIX = 'state/';
const DOMAIN = 'pull.example.com';
const TIMEOUT_MS = 10 * 60_000;
// Each test works on its own hour, so they share one emulator without seeing each other's leases.
const hourStartMs = (hour: number) => Date.UTC(2026, 10, 27, hour);
const hourPrefix = (hour: number) => `state/leases/pull.example.com/2026-11-27T${String(hour).padStart(2, '0')}/`;
const genKey = (hour: number, generation: number) => hourPrefix(hour) + String(generation).padStart(6, '0');

let emulator: OssEmulator;

beforeAll(async () => {
  emulator = await startOssEmulator({ buckets: [BUCKET] });
});

afterAll(async () => {
  await emulator.close();
});

/** A fresh adapter with its own ali-oss client, as a separate invocation would have. */
function newStore(): ObjectStore {
  return createOssStore({
    bucket: BUCKET,
    region: emulator.region,
    endpoint: emulator.endpoint,
    pathStyle: false,
    credentials: SANDBOX_STS,
    multipartThresholdBytes: 1024 * 1024,
    partSizeBytes: 1024 * 1024,
    timeoutMs: 10_000,
  });
}

interface WriteRecord {
  key: string;
  holder: string;
  forbidOverwrite: boolean;
  succeeded: boolean;
}

/** Passes every call through to the real adapter and notes each text write and whether OSS accepted it. */
function recording(store: ObjectStore, writes: WriteRecord[]): ObjectStore {
  return {
    putStream: (key, body, opts) => store.putStream(key, body, opts),
    head: (key) => store.head(key),
    getText: (key) => store.getText(key),
    delete: (key) => store.delete(key),
    list: (prefix) => store.list(prefix),
    async putText(key, body, opts) {
      const record = { key, holder: (JSON.parse(body) as { holder: string }).holder, forbidOverwrite: opts?.forbidOverwrite === true };
      try {
        await store.putText(key, body, opts);
        writes.push({ ...record, succeeded: true });
      } catch (err) {
        writes.push({ ...record, succeeded: false });
        throw err;
      }
    },
  };
}

async function storedLease(key: string): Promise<Record<string, unknown>> {
  return JSON.parse((await emulator.readObject(BUCKET, key)).toString('utf8')) as Record<string, unknown>;
}

function winnersOf(results: AcquireLeaseResult[]): Lease[] {
  return results.flatMap((result) => (result.acquired ? [result.lease] : []));
}

describe('lease over ali-oss and the OSS emulator', () => {
  it('lets exactly one of 20 concurrent contenders, each on its own client, acquire the hour', async () => {
    const hour = 1;
    const expiresAtMs = Date.now() + TIMEOUT_MS;

    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        acquireLease(newStore(), { statePrefix: STATE_PREFIX, domain: DOMAIN, hourStartMs: hourStartMs(hour), holder: `run-${i}`, expiresAtMs }),
      ),
    );

    const winners = winnersOf(results);
    expect(winners).toHaveLength(1);
    expect(emulator.listKeys(BUCKET, hourPrefix(hour))).toEqual([genKey(hour, 1)]);
    expect(await storedLease(genKey(hour, 1))).toMatchObject({ holder: winners[0].holder, expiresAtMs });
    for (const loser of results.filter((r) => !r.acquired)) expect(loser).toMatchObject({ heldBy: winners[0].holder, generation: 1 });
  });

  it('lets a contender take over an expired lease; the old holder then neither holds nor disturbs the new one', async () => {
    const hour = 2;
    let clockMs = Date.now();
    const now = () => clockMs;
    const options = { statePrefix: STATE_PREFIX, domain: DOMAIN, hourStartMs: hourStartMs(hour), now };
    const first = await acquireLease(newStore(), { ...options, holder: 'run-crashed', expiresAtMs: clockMs + TIMEOUT_MS });
    if (!first.acquired) throw new Error('the first contender must acquire');
    const old = first.lease;

    clockMs = old.expiresAtMs + LEASE_EXPIRY_GRACE_MS;
    const second = await acquireLease(newStore(), { ...options, holder: 'run-taker', expiresAtMs: clockMs + TIMEOUT_MS });
    if (!second.acquired) throw new Error(`expected a takeover, held by ${second.heldBy}`);
    const taker = second.lease;

    expect(taker.generation).toBe(2);
    expect(await old.stillHeld()).toBe(false);
    expect(await taker.stillHeld()).toBe(true);

    await old.release();
    expect(await storedLease(genKey(hour, 2))).not.toHaveProperty('released');
    expect(await taker.stillHeld()).toBe(true);

    await taker.release();
    expect(emulator.listKeys(BUCKET, hourPrefix(hour))).toEqual([genKey(hour, 2)]);
    expect(await storedLease(genKey(hour, 2))).toMatchObject({ holder: 'run-taker', released: true });
  });

  it('never lets a lease object be written by anyone but the holder that created it, over rounds of races', async () => {
    const hour = 3;
    let clockMs = Date.now();
    const now = () => clockMs;
    const writes: WriteRecord[] = [];
    const rounds = 6;
    const contendersPerRound = 8;
    const winnersPerRound: Lease[][] = [];

    for (let round = 0; round < rounds; round++) {
      const results = await Promise.all(
        Array.from({ length: contendersPerRound }, (_, i) =>
          acquireLease(recording(newStore(), writes), {
            statePrefix: STATE_PREFIX,
            domain: DOMAIN,
            hourStartMs: hourStartMs(hour),
            holder: `round-${round}-run-${i}`,
            expiresAtMs: clockMs + TIMEOUT_MS,
            now,
          }),
        ),
      );
      const winners = winnersOf(results);
      winnersPerRound.push(winners);
      // Alternate a clean release with a crash that the next round takes over after expiry.
      if (round % 2 === 0) await winners[0]?.release();
      else clockMs = (winners[0]?.expiresAtMs ?? clockMs) + LEASE_EXPIRY_GRACE_MS;
    }

    expect(winnersPerRound.map((w) => w.length)).toEqual(Array(rounds).fill(1));
    expect(winnersPerRound.map((w) => w[0].generation)).toEqual([1, 2, 3, 4, 5, 6]);
    const creatorOf = new Map<string, string>();
    for (const write of writes.filter((w) => w.succeeded)) {
      if (!creatorOf.has(write.key)) {
        expect(write.forbidOverwrite).toBe(true);
        creatorOf.set(write.key, write.holder);
      }
      expect(write.holder).toBe(creatorOf.get(write.key));
    }
    expect(writes.filter((w) => w.succeeded && w.forbidOverwrite)).toHaveLength(rounds);
    // Round 4's release (generation 5) cleaned up 1..4; round 5's crashed lease (6) is the newest and stays.
    expect(emulator.listKeys(BUCKET, hourPrefix(hour))).toEqual([genKey(hour, 5), genKey(hour, 6)]);
    expect(await storedLease(genKey(hour, 6))).toMatchObject({ holder: winnersPerRound[5][0].holder });
  });
});
