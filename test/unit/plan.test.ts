import { listingWindows, oldestListableHourMs, planRange, planTimer, splitUnits } from '../../lib/plan';

// Literal epoch values (python calendar.timegm), never computed by the code under test.
const T = {
  '2026-10-01T00:00Z': 1_790_812_800_000,
  '2026-10-27T10:00Z': 1_793_095_200_000,
  '2026-10-27T11:00Z': 1_793_098_800_000,
  '2026-11-01T00:00Z': 1_793_491_200_000,
  '2026-11-25T22:00Z': 1_795_644_000_000,
  '2026-11-26T00:00Z': 1_795_651_200_000,
  '2026-11-26T09:00Z': 1_795_683_600_000,
  '2026-11-27T09:00Z': 1_795_770_000_000,
  '2026-11-27T10:00Z': 1_795_773_600_000,
  '2026-11-27T10:05Z': 1_795_773_900_000,
  '2026-11-27T10:30Z': 1_795_775_400_000,
  '2026-11-27T11:00Z': 1_795_777_200_000,
  '2026-11-27T12:00Z': 1_795_780_800_000,
  '2026-12-02T00:00Z': 1_796_169_600_000,
};
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('oldestListableHourMs', () => {
  it('is the first hour start at least 31 days minus a 15-minute margin back', () => {
    // 10:05 - 31 days + 15 min = 10-27T10:20, rounded up to 11:00.
    expect(oldestListableHourMs(T['2026-11-27T10:05Z'])).toBe(T['2026-10-27T11:00Z']);
  });

  it('does not round up an edge that is already an hour start', () => {
    // 10:45 - 31 days + 15 min = 10-27T11:00 exactly.
    expect(oldestListableHourMs(T['2026-11-27T10:00Z'] + 45 * MINUTE)).toBe(T['2026-10-27T11:00Z']);
  });
});

describe('planTimer', () => {
  it('targets the hour before the trigger and re-lists the lookback hours before it', () => {
    const plan = planTimer({ triggerTimeMs: T['2026-11-27T10:05Z'], lagHours: 1, lookbackHours: 24, domains: ['a.com', 'b.com', 'a.com'] });
    expect(plan).toEqual({
      kind: 'timer',
      target: { startMs: T['2026-11-27T09:00Z'], endMs: T['2026-11-27T10:00Z'] },
      window: { startMs: T['2026-11-26T09:00Z'], endMs: T['2026-11-27T10:00Z'] },
      domains: ['a.com', 'b.com'],
      clampedToRetention: false,
    });
  });

  it('makes the window the target alone with no lookback', () => {
    const plan = planTimer({ triggerTimeMs: T['2026-11-27T10:05Z'], lagHours: 1, lookbackHours: 0, domains: ['a.com'] });
    expect(plan.window).toEqual(plan.target);
  });

  it('cuts a lookback that reaches past the API retention, and says so', () => {
    const plan = planTimer({ triggerTimeMs: T['2026-11-27T10:05Z'], lagHours: 1, lookbackHours: 1000, domains: ['a.com'] });
    expect(plan.window.startMs).toBe(T['2026-10-27T11:00Z']);
    expect(plan.clampedToRetention).toBe(true);
  });

  it('refuses a replayed event whose target hour the API no longer serves', () => {
    expect(() =>
      planTimer({ triggerTimeMs: T['2026-11-27T10:05Z'], lagHours: 1, lookbackHours: 0, domains: ['a.com'], nowMs: T['2026-11-27T10:05Z'] + 40 * DAY }),
    ).toThrow(/older than the Live API keeps/);
  });

  it('rejects a negative lookback', () => {
    expect(() => planTimer({ triggerTimeMs: T['2026-11-27T10:05Z'], lagHours: 1, lookbackHours: -1, domains: [] })).toThrow(RangeError);
  });
});

describe('planRange', () => {
  it('widens an unaligned range to whole hours and stops before the current hour', () => {
    const plan = planRange({
      startMs: T['2026-11-25T22:00Z'] + 30 * MINUTE,
      endMs: T['2026-11-27T12:00Z'],
      domains: ['a.com'],
      nowMs: T['2026-11-27T10:30Z'],
    });
    expect(plan.window).toEqual({ startMs: T['2026-11-25T22:00Z'], endMs: T['2026-11-27T10:00Z'] });
    expect(plan.target).toEqual(plan.window);
    expect(plan.kind).toBe('range');
    expect(plan.clampedToRetention).toBe(false);
  });

  it('rounds an unaligned end up so the hour it touches is included', () => {
    const plan = planRange({ startMs: T['2026-11-27T09:00Z'], endMs: T['2026-11-27T09:00Z'] + 1, domains: ['a.com'], nowMs: T['2026-11-27T10:30Z'] });
    expect(plan.window).toEqual({ startMs: T['2026-11-27T09:00Z'], endMs: T['2026-11-27T10:00Z'] });
  });

  it('cuts the part the API no longer serves', () => {
    const plan = planRange({ startMs: T['2026-10-01T00:00Z'], endMs: T['2026-11-01T00:00Z'], domains: ['a.com'], nowMs: T['2026-11-27T10:05Z'] });
    expect(plan.window).toEqual({ startMs: T['2026-10-27T11:00Z'], endMs: T['2026-11-01T00:00Z'] });
    expect(plan.clampedToRetention).toBe(true);
  });

  it('refuses a range entirely outside what the API serves', () => {
    expect(() =>
      planRange({ startMs: T['2026-10-01T00:00Z'], endMs: T['2026-10-27T10:00Z'], domains: ['a.com'], nowMs: T['2026-11-27T10:05Z'] }),
    ).toThrow(/nothing to archive/);
    expect(() =>
      planRange({ startMs: T['2026-11-27T10:00Z'], endMs: T['2026-11-27T12:00Z'], domains: ['a.com'], nowMs: T['2026-11-27T10:05Z'] }),
    ).toThrow(RangeError);
  });
});

describe('listingWindows', () => {
  it('is a single window for a range within 31 days', () => {
    expect(listingWindows(T['2026-10-27T11:00Z'], T['2026-11-27T10:00Z'])).toEqual([
      { startMs: T['2026-10-27T11:00Z'], endMs: T['2026-11-27T10:00Z'] },
    ]);
  });

  it('splits a longer range into consecutive windows of at most 31 days', () => {
    expect(listingWindows(T['2026-10-01T00:00Z'], T['2026-12-02T00:00Z'] + HOUR)).toEqual([
      { startMs: T['2026-10-01T00:00Z'], endMs: T['2026-11-01T00:00Z'] },
      { startMs: T['2026-11-01T00:00Z'], endMs: T['2026-12-02T00:00Z'] },
      { startMs: T['2026-12-02T00:00Z'], endMs: T['2026-12-02T00:00Z'] + HOUR },
    ]);
  });

  it('is empty for an empty range', () => {
    expect(listingWindows(T['2026-11-27T09:00Z'], T['2026-11-27T09:00Z'])).toEqual([]);
  });
});

describe('splitUnits', () => {
  it('splits by UTC day, oldest day first, then domain, then into pieces of at most maxHoursPerUnit', () => {
    const units = splitUnits({
      domains: ['a.com', 'b.com'],
      startMs: T['2026-11-25T22:00Z'],
      endMs: T['2026-11-26T00:00Z'] + 3 * HOUR,
      maxHoursPerUnit: 2,
    });
    expect(units).toEqual([
      { domain: 'a.com', hours: ['2026-11-25T22:00:00Z', '2026-11-25T23:00:00Z'] },
      { domain: 'b.com', hours: ['2026-11-25T22:00:00Z', '2026-11-25T23:00:00Z'] },
      { domain: 'a.com', hours: ['2026-11-26T00:00:00Z', '2026-11-26T01:00:00Z'] },
      { domain: 'a.com', hours: ['2026-11-26T02:00:00Z'] },
      { domain: 'b.com', hours: ['2026-11-26T00:00:00Z', '2026-11-26T01:00:00Z'] },
      { domain: 'b.com', hours: ['2026-11-26T02:00:00Z'] },
    ]);
  });

  it('never lets a unit cross midnight, however large maxHoursPerUnit is', () => {
    const units = splitUnits({ domains: ['a.com'], startMs: T['2026-11-25T22:00Z'], endMs: T['2026-11-26T00:00Z'] + 2 * HOUR, maxHoursPerUnit: 744 });
    expect(units.map((u) => u.hours.length)).toEqual([2, 2]);
  });

  it('covers every (domain, hour) exactly once', () => {
    const units = splitUnits({ domains: ['a', 'b', 'c'], startMs: T['2026-10-27T11:00Z'], endMs: T['2026-11-27T10:00Z'], maxHoursPerUnit: 5 });
    const pairs = units.flatMap((u) => u.hours.map((h) => `${u.domain} ${h}`));
    expect(new Set(pairs).size).toBe(pairs.length);
    expect(pairs).toHaveLength(3 * (31 * 24 - 1));
  });

  it('rejects a maxHoursPerUnit below one', () => {
    expect(() => splitUnits({ domains: ['a'], startMs: 0, endMs: HOUR, maxHoursPerUnit: 0 })).toThrow(RangeError);
  });
});
