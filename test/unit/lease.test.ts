import { acquireLease, LEASE_EXPIRY_GRACE_MS, type AcquireLeaseOptions, type Lease } from '../../lib/lease';
import { MemoryStore, type MemoryStoreOptions } from '../../lib/memory-store';

// Fixtures built by hand, not with lib/keys or lib/time: 2026-11-27T09:00:00Z and the keys it must produce.
const HOUR_START_MS = Date.UTC(2026, 10, 27, 9);
const STATE_PREFIX = 'state/';
const DOMAIN = 'pull.example.com';
const HOUR_PREFIX = 'state/leases/pull.example.com/2026-11-27T09/';
const genKey = (generation: number) => HOUR_PREFIX + String(generation).padStart(6, '0');
const T0_MS = Date.UTC(2026, 10, 27, 10, 5);
const TIMEOUT_MS = 10 * 60_000;

class Clock {
  constructor(public ms: number) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

function setup(storeOptions: MemoryStoreOptions = {}) {
  const store = new MemoryStore(storeOptions);
  const clock = new Clock(T0_MS);
  const options = (holder: string, overrides: Partial<AcquireLeaseOptions> = {}): AcquireLeaseOptions => ({
    statePrefix: STATE_PREFIX,
    domain: DOMAIN,
    hourStartMs: HOUR_START_MS,
    holder,
    expiresAtMs: clock.ms + TIMEOUT_MS,
    now: clock.now,
    ...overrides,
  });
  const acquire = (holder: string, overrides: Partial<AcquireLeaseOptions> = {}) => acquireLease(store, options(holder, overrides));
  const acquired = async (holder: string, overrides: Partial<AcquireLeaseOptions> = {}): Promise<Lease> => {
    const result = await acquire(holder, overrides);
    if (!result.acquired) throw new Error(`expected ${holder} to acquire, held by ${result.heldBy}`);
    return result.lease;
  };
  const body = (generation: number): Record<string, unknown> | null => {
    const bytes = store.bytes(genKey(generation));
    return bytes === null ? null : (JSON.parse(bytes.toString('utf8')) as Record<string, unknown>);
  };
  return { store, clock, acquire, acquired, body };
}

describe('acquireLease', () => {
  it('gives the first contender generation 1 with its holder and deadline written into the lease object', async () => {
    const { store, acquire, body } = setup();

    const result = await acquire('run-a');

    expect(result.acquired).toBe(true);
    if (!result.acquired) return;
    expect(result.lease).toMatchObject({
      domain: DOMAIN,
      hourStartMs: HOUR_START_MS,
      generation: 1,
      key: genKey(1),
      holder: 'run-a',
      expiresAtMs: T0_MS + TIMEOUT_MS,
    });
    expect(store.keys()).toEqual([genKey(1)]);
    expect(body(1)).toEqual({
      holder: 'run-a',
      acquiredAt: '2026-11-27T10:05:00.000Z',
      expiresAt: '2026-11-27T10:15:00.000Z',
      expiresAtMs: T0_MS + TIMEOUT_MS,
    });
  });

  it('refuses a second contender while the lease is held, naming the holder, and writes nothing', async () => {
    const { store, acquired, acquire, clock } = setup();
    await acquired('run-a');
    clock.advance(60_000);

    const second = await acquire('run-b');

    expect(second).toEqual({ acquired: false, heldBy: 'run-a', expiresAtMs: T0_MS + TIMEOUT_MS, generation: 1 });
    expect(store.keys()).toEqual([genKey(1)]);
  });

  it('lets a retry of the same request (same holder id) take over the live lease its dead attempt left', async () => {
    const { acquired, clock } = setup();
    const dead = await acquired('request-1');
    clock.advance(60_000);

    const retry = await acquired('request-1');

    expect(retry.generation).toBe(2);
    expect(await dead.stillHeld()).toBe(false);
  });

  it('lets the next contender in with generation 2 once the holder releases', async () => {
    const { acquired, body } = setup();
    const first = await acquired('run-a');

    await first.release();
    const second = await acquired('run-b');

    expect(body(1)).toMatchObject({ holder: 'run-a', released: true, releasedAt: '2026-11-27T10:05:00.000Z' });
    expect(second.generation).toBe(2);
    expect(body(2)).toMatchObject({ holder: 'run-b' });
    expect(body(2)).not.toHaveProperty('released');
  });

  it('keeps an expired lease for the clock-skew grace, then lets a contender take it over', async () => {
    const { acquired, acquire, clock } = setup();
    const crashed = await acquired('run-a');

    clock.ms = crashed.expiresAtMs + LEASE_EXPIRY_GRACE_MS - 1;
    const tooEarly = await acquire('run-b');
    clock.ms = crashed.expiresAtMs + LEASE_EXPIRY_GRACE_MS;
    const takeover = await acquire('run-b');

    expect(tooEarly).toMatchObject({ acquired: false, heldBy: 'run-a' });
    expect(takeover).toMatchObject({ acquired: true, lease: { generation: 2, holder: 'run-b' } });
  });

  it("says the old holder no longer holds after a takeover, while the new holder's lease is held", async () => {
    const { acquired, clock } = setup();
    const old = await acquired('run-a');
    expect(await old.stillHeld()).toBe(true);

    clock.ms = old.expiresAtMs + LEASE_EXPIRY_GRACE_MS;
    const taker = await acquired('run-b', { expiresAtMs: clock.ms + TIMEOUT_MS });

    expect(await old.stillHeld()).toBe(false);
    expect(await taker.stillHeld()).toBe(true);
  });

  it("says a holder no longer holds once its own deadline passes, before anyone takes over", async () => {
    const { acquired, clock } = setup();
    const lease = await acquired('run-a');

    clock.ms = lease.expiresAtMs;

    expect(await lease.stillHeld()).toBe(false);
  });

  it('says a released lease is no longer held, and a second release is a no-op', async () => {
    const { store, acquired } = setup();
    const lease = await acquired('run-a');

    await lease.release();
    const putsAfterFirstRelease = store.calls.putText;
    await lease.release();

    expect(await lease.stillHeld()).toBe(false);
    expect(store.calls.putText).toBe(putsAfterFirstRelease);
  });

  it('never writes or re-creates anything when the old holder releases after a takeover', async () => {
    const { store, acquired, clock, body } = setup();
    const old = await acquired('run-a');
    clock.ms = old.expiresAtMs + LEASE_EXPIRY_GRACE_MS;
    const taker = await acquired('run-b', { expiresAtMs: clock.ms + TIMEOUT_MS });
    await taker.release();
    const taker2 = await acquired('run-c', { expiresAtMs: clock.ms + TIMEOUT_MS });
    const bodyOfNewest = body(3);

    await old.release();

    // run-b's release deleted generation 1; the old holder must not bring it back, nor touch 2 or 3.
    expect(store.keys()).toEqual([genKey(2), genKey(3)]);
    expect(body(3)).toEqual(bodyOfNewest);
    expect(await taker2.stillHeld()).toBe(true);
  });

  it('treats a corrupt lease object as free and leaves it to the clean-up instead of overwriting it', async () => {
    const { store, acquired } = setup();
    await store.putText(genKey(1), '{"holder": "run-x", "expiresAtMs": tru');

    const lease = await acquired('run-a');

    expect(lease.generation).toBe(2);
    expect(store.bytes(genKey(1))?.toString()).toBe('{"holder": "run-x", "expiresAtMs": tru');
    await lease.release();
    expect(store.keys()).toEqual([genKey(2)]);
  });

  it('treats a lease of the wrong shape as free', async () => {
    const { store, acquired } = setup();
    await store.putText(genKey(1), JSON.stringify({ holder: 'run-x', expiresAtMs: '2026-11-27T11:00:00Z' }));

    expect((await acquired('run-a')).generation).toBe(2);
  });

  it('treats a lease that claims to outlast any invocation (a broken clock) as free', async () => {
    const { store, acquired } = setup();
    const tenDaysMs = 10 * 24 * 3_600_000;
    await store.putText(
      genKey(1),
      JSON.stringify({ holder: 'run-x', acquiredAt: 'x', expiresAt: 'x', expiresAtMs: T0_MS + tenDaysMs }),
    );

    expect((await acquired('run-a')).generation).toBe(2);
  });

  it('lets exactly one of 20 concurrent contenders acquire; the others name the winner', async () => {
    // Yield on every store call so that the contenders' list, read and create steps interleave.
    const { store, acquire } = setup({ beforeOperation: () => new Promise((resolve) => setImmediate(resolve)) });
    const holders = Array.from({ length: 20 }, (_, i) => `run-${i}`);

    const results = await Promise.all(holders.map((holder) => acquire(holder)));

    const winners = results.filter((r) => r.acquired);
    expect(winners).toHaveLength(1);
    const winner = winners[0].acquired ? winners[0].lease.holder : '';
    for (const result of results.filter((r) => !r.acquired)) expect(result).toMatchObject({ heldBy: winner, generation: 1 });
    expect(store.keys()).toEqual([genKey(1)]);
  });

  it('lets exactly one of 20 concurrent contenders take over an expired lease', async () => {
    const { store, acquired, acquire, clock } = setup({ beforeOperation: () => new Promise((resolve) => setImmediate(resolve)) });
    const crashed = await acquired('run-crashed');
    clock.ms = crashed.expiresAtMs + LEASE_EXPIRY_GRACE_MS;

    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => acquire(`run-${i}`, { expiresAtMs: clock.ms + TIMEOUT_MS })));

    expect(results.filter((r) => r.acquired)).toHaveLength(1);
    expect(store.keys()).toEqual([genKey(1), genKey(2)]);
  });

  it('re-lists after losing a create race and reports the winner', async () => {
    let armed = true;
    let interloper: Promise<unknown> = Promise.resolve();
    const ctx = setup({
      beforeOperation: async (op, key) => {
        // Between run-a's listing and its create of generation 1, run-b gets there first.
        if (armed && op === 'putText' && key === genKey(1)) {
          armed = false;
          interloper = ctx.acquire('run-b');
          await interloper;
        }
      },
    });

    const result = await ctx.acquire('run-a');

    expect(await interloper).toMatchObject({ acquired: true, lease: { generation: 1 } });
    expect(result).toEqual({ acquired: false, heldBy: 'run-b', expiresAtMs: T0_MS + TIMEOUT_MS, generation: 1 });
    expect(ctx.body(1)).toMatchObject({ holder: 'run-b' });
  });

  it('voids a lease created from a stale listing when a newer generation turned up meanwhile', async () => {
    // The worst stale listing: run-x reads generation 1 (released) and is about to create 2, while others take
    // 2, release it (deleting 1), take 3, release it (deleting 2) and take 4. run-x's create-only PUT of 2 then
    // succeeds, because 2 no longer exists; it must still not count as holding the hour.
    let armed = false;
    let newest: Lease | undefined;
    const ctx = setup({
      beforeOperation: async (op, key) => {
        if (!armed || op !== 'putText' || key !== genKey(2)) return;
        armed = false;
        await (await ctx.acquired('run-b')).release();
        await (await ctx.acquired('run-c')).release();
        newest = await ctx.acquired('run-d');
      },
    });
    await (await ctx.acquired('run-a')).release();
    armed = true;

    const result = await ctx.acquire('run-x');

    expect(result).toMatchObject({ acquired: false, heldBy: 'run-d', generation: 4 });
    expect(ctx.body(2)).toMatchObject({ holder: 'run-x', released: true });
    expect(await newest?.stillHeld()).toBe(true);
  });

  it('deletes the older generations of the hour on release, and nothing of other hours', async () => {
    const { store, acquired, clock } = setup();
    const otherHour = await acquired('run-other', { hourStartMs: HOUR_START_MS + 3_600_000 });
    const first = await acquired('run-a');
    clock.ms = first.expiresAtMs + LEASE_EXPIRY_GRACE_MS;
    const second = await acquired('run-b', { expiresAtMs: clock.ms + TIMEOUT_MS });
    clock.ms = second.expiresAtMs + LEASE_EXPIRY_GRACE_MS;
    const third = await acquired('run-c', { expiresAtMs: clock.ms + TIMEOUT_MS });
    expect(store.keys().filter((k) => k.startsWith(HOUR_PREFIX))).toEqual([genKey(1), genKey(2), genKey(3)]);

    await third.release();

    expect(store.keys()).toEqual([genKey(3), otherHour.key]);
    expect(otherHour.key).toBe('state/leases/pull.example.com/2026-11-27T10/000001');
  });

  it('still releases when deleting an older generation fails', async () => {
    let failDeletes = false;
    const ctx = setup({
      beforeOperation: (op) => {
        if (failDeletes && op === 'delete') throw new Error('injected delete failure');
      },
    });
    const first = await ctx.acquired('run-a');
    ctx.clock.ms = first.expiresAtMs + LEASE_EXPIRY_GRACE_MS;
    const second = await ctx.acquired('run-b', { expiresAtMs: ctx.clock.ms + TIMEOUT_MS });
    failDeletes = true;

    await second.release();

    expect(ctx.body(2)).toMatchObject({ released: true });
    expect(ctx.store.keys()).toEqual([genKey(1), genKey(2)]);
    expect((await ctx.acquired('run-c')).generation).toBe(3);
  });

  it('rejects options that would make a meaningless lease', async () => {
    const { acquire, clock } = setup();

    await expect(acquire('')).rejects.toThrow(/holder/);
    await expect(acquire('run-a', { hourStartMs: HOUR_START_MS + 1 })).rejects.toThrow(/hour start/);
    await expect(acquire('run-a', { expiresAtMs: clock.ms })).rejects.toThrow(/not in the future/);
    await expect(acquire('run-a', { expiresAtMs: clock.ms + 25 * 3_600_000 })).rejects.toThrow(/over/);
  });
});
