import { loadConfig } from '../../lib/config';
import { parseEvent } from '../../lib/events';
import { MAX_UNIT_ROUNDS, planInvocation, remainderUnits } from '../../lib/fanout';

const NOW = Date.UTC(2026, 10, 27, 10, 7, 0);
const H = 3_600_000;
const env = (extra: Record<string, string> = {}) =>
  loadConfig({ ARCHIVER_DOMAINS: 'a.example.com,b.example.com,c.example.com', OSS_BUCKET: 'bucket-x', OSS_REGION: 'oss-cn-shanghai', ...extra });
const event = (e: unknown) => parseEvent(Buffer.from(JSON.stringify(e)), { nowMs: NOW, configuredDomains: ['a.example.com', 'b.example.com', 'c.example.com'] });

describe('planInvocation', () => {
  it('keeps a small backfill in place', () => {
    const plan = planInvocation(
      event({ action: 'backfill', domains: ['a.example.com'], start: '2026-11-26T00:00:00Z', end: '2026-11-26T06:00:00Z' }),
      env(),
      'run-1',
    );
    expect(plan.units).toEqual([]);
    expect(plan.inPlace).toMatchObject({ domains: ['a.example.com'], startMs: Date.UTC(2026, 10, 26, 0), endMs: Date.UTC(2026, 10, 26, 6) });
  });

  it('splits a large backfill into domain x day units, runs the oldest here and sends the rest', () => {
    const plan = planInvocation(
      event({ action: 'backfill', start: '2026-11-20T00:00:00Z', end: '2026-11-23T00:00:00Z' }),
      env({ MAX_HOURS_PER_INVOCATION: '24' }),
      'run-1',
    );
    expect(plan.inPlace!.hours).toHaveLength(24);
    expect(plan.inPlace!.startMs).toBe(Date.UTC(2026, 10, 20, 0));
    expect(plan.units).toHaveLength(3 * 3 - 1);
    expect(plan.units.every((u) => u.hours.length === 24 && u.parentRunId === 'run-1' && u.attempt === 1)).toBe(true);
    // Well under FC's 128 KB limit for asynchronous payloads.
    expect(Math.max(...plan.units.map((u) => JSON.stringify(u).length))).toBeLessThan(2_000);
  });

  it('fans a timer run out per domain past the domain budget, each unit carrying the whole window', () => {
    const plan = planInvocation(event({ triggerTime: '2026-11-27T10:05:00Z', triggerName: 'hourly', payload: '' }), env({ MAX_HOURS_PER_INVOCATION: '1', LOOKBACK_HOURS: '2' }), 'run-1');
    expect(plan.inPlace!.domains).toEqual(['a.example.com']);
    expect(plan.units.map((u) => u.domain)).toEqual(['b.example.com', 'c.example.com']);
    expect(plan.units[0].hours).toEqual(['2026-11-27T07:00:00Z', '2026-11-27T08:00:00Z', '2026-11-27T09:00:00Z']);
  });
});

describe('planInvocation with LAG_HOURS=0 (the current hour is the target)', () => {
  const timer = event({ triggerTime: '2026-11-27T10:05:00Z', triggerName: 'hourly', payload: '' });
  const plan = planInvocation(timer, env({ MAX_HOURS_PER_INVOCATION: '1', LAG_HOURS: '0', LOOKBACK_HOURS: '2' }), 'run-1');

  it('sends units that the receiving invocation accepts: only hours already complete', () => {
    expect(plan.units.map((u) => u.domain)).toEqual(['b.example.com', 'c.example.com']);
    for (const unit of plan.units) {
      expect(() => event(unit)).not.toThrow();
      expect(unit.hours).toEqual(['2026-11-27T08:00:00Z', '2026-11-27T09:00:00Z']);
    }
  });

  it('sends no unit when the current hour is all there is', () => {
    const noLookback = planInvocation(timer, env({ MAX_HOURS_PER_INVOCATION: '1', LAG_HOURS: '0', LOOKBACK_HOURS: '0' }), 'run-1');
    expect(noLookback.units).toEqual([]);
  });
});

describe('remainderUnits', () => {
  const unit = event({ action: 'archive', domain: 'a.example.com', hours: ['2026-11-26T01:00:00Z', '2026-11-26T02:00:00Z'], attempt: 2 });

  it('leaves a timer run’s unfinished hours to the next timer run', () => {
    const timer = event({ triggerTime: '2026-11-27T10:05:00Z', triggerName: 'hourly', payload: '' });
    expect(remainderUnits(timer, [{ domain: 'a.example.com', hourStartMs: NOW - 2 * H }], 'r').units).toEqual([]);
  });

  it('sends the unfinished hours of a unit as the next round', () => {
    const { units } = remainderUnits(unit, [{ domain: 'a.example.com', hourStartMs: Date.UTC(2026, 10, 26, 2) }], 'r');
    expect(units).toEqual([{ action: 'archive', domain: 'a.example.com', hours: ['2026-11-26T02:00:00Z'], parentRunId: 'r', attempt: 3 }]);
  });

  it('abandons hours after the last round instead of looping forever', () => {
    const last = event({ action: 'archive', domain: 'a.example.com', hours: ['2026-11-26T01:00:00Z'], attempt: MAX_UNIT_ROUNDS });
    const out = remainderUnits(last, [{ domain: 'a.example.com', hourStartMs: Date.UTC(2026, 10, 26, 1) }], 'r');
    expect(out.units).toEqual([]);
    expect(out.abandoned).toHaveLength(1);
  });
});
