import { EventError } from '../../lib/errors';
import { archiveUnitEvent, oldestServableHourMs, parseEvent, type ArchiverEvent } from '../../lib/events';

// Fixtures are written out by hand, not computed with the code under test.
const NOW_MS = Date.UTC(2026, 10, 27, 10, 5, 0); // 2026-11-27T10:05:00Z
const OLDEST_SERVABLE = '2026-10-27T12:00:00Z'; // ceil(now - 31 days + 1 hour)
const CONFIGURED = ['live.example.com', 'push.example.com'];
const OPTS = { nowMs: NOW_MS, configuredDomains: CONFIGURED };

function parse(event: unknown): ArchiverEvent {
  return parseEvent(event, OPTS);
}

function eventError(event: unknown): EventError {
  try {
    parse(event);
  } catch (err) {
    if (err instanceof EventError) return err;
    throw err;
  }
  throw new Error('expected an EventError');
}

describe('timer events', () => {
  it('reads an FC timer event delivered as a Buffer', () => {
    const event = Buffer.from(JSON.stringify({ triggerTime: '2026-11-27T10:00:00Z', triggerName: 'hourly', payload: '' }));

    expect(parse(event)).toEqual({
      kind: 'timer',
      triggerTime: '2026-11-27T10:00:00Z',
      triggerTimeMs: Date.UTC(2026, 10, 27, 10),
      triggerName: 'hourly',
      manual: false,
      overrides: {},
    });
  });

  it('normalizes a trigger time with an offset to UTC', () => {
    const event = parse({ triggerTime: '2026-11-27T18:00:00+08:00', payload: '' });
    expect(event).toMatchObject({ kind: 'timer', triggerTime: '2026-11-27T10:00:00Z', triggerTimeMs: Date.UTC(2026, 10, 27, 10) });
  });

  it('reads JSON overrides from the payload string, validating domains against the configuration', () => {
    const payload = JSON.stringify({ domains: ['Push.Example.com'], lagHours: 2, lookbackHours: 48 });

    const event = parse({ triggerTime: '2026-11-27T10:00:00Z', triggerName: 'hourly', payload });

    expect(event).toMatchObject({ kind: 'timer', overrides: { domains: ['push.example.com'], lagHours: 2, lookbackHours: 48 } });
  });

  it('treats a whitespace-only payload as no overrides', () => {
    expect(parse({ triggerTime: '2026-11-27T10:00:00Z', payload: '  \n' })).toMatchObject({ overrides: {} });
  });

  it('rejects a payload that is not JSON, naming the payload field', () => {
    const err = eventError({ triggerTime: '2026-11-27T10:00:00Z', payload: 'lookback=48' });
    expect(err.field).toBe('payload');
    expect(err.message).toMatch(/^Invalid event: payload: is not valid JSON \(.+\); leave the timer payload empty, or give JSON overrides such as \{"lookbackHours":48\}$/);
  });

  it('rejects unknown override keys', () => {
    const err = eventError({ triggerTime: '2026-11-27T10:00:00Z', payload: '{"lookbackHour":48}' });
    expect(err.message).toBe('Invalid event: payload.lookbackHour: is not a known key; use only domains, lagHours, lookbackHours');
  });

  it('names the path of a wrongly typed override', () => {
    const err = eventError({ triggerTime: '2026-11-27T10:00:00Z', payload: '{"domains":["live.example.com",7]}' });
    expect(err.field).toBe('payload.domains[1]');
    expect(err.message).toBe('Invalid event: payload.domains[1]: must be a string, got a number; give an ingest domain name such as live.example.com');
  });

  it('rejects out-of-range lag and lookback, and a combination past the 31-day window', () => {
    expect(eventError({ triggerTime: '2026-11-27T10:00:00Z', payload: '{"lagHours":49}' }).message).toBe(
      'Invalid event: payload.lagHours: 49 is not a whole number from 0 to 48; give a whole number from 0 to 48',
    );
    expect(eventError({ triggerTime: '2026-11-27T10:00:00Z', payload: '{"lookbackHours":"24"}' }).problem).toBe('must be a number, got a string');
    expect(eventError({ triggerTime: '2026-11-27T10:00:00Z', payload: '{"lagHours":48,"lookbackHours":700}' }).field).toBe('payload.lookbackHours');
  });

  it('rejects a trigger time without a zone, or far in the future', () => {
    expect(eventError({ triggerTime: '2026-11-27T10:00:00' }).message).toBe(
      "Invalid event: triggerTime: '2026-11-27T10:00:00' is not an ISO-8601 date and time with a time zone; give an ISO-8601 UTC time such as 2026-11-01T00:00:00Z",
    );
    expect(eventError({ triggerTime: '2026-11-27T11:00:00Z' }).problem).toBe('2026-11-27T11:00:00Z is in the future (now is 2026-11-27T10:05:00Z)');
  });
});

describe('manual invocations', () => {
  it.each([
    ['an empty Buffer', Buffer.alloc(0)],
    ['an empty string', ''],
    ['undefined', undefined],
    ['an empty object', {}],
    ['the JSON text {}', Buffer.from('{}')],
  ])('treat %s as a timer run at the invocation time', (_label, event) => {
    expect(parse(event)).toEqual({ kind: 'timer', triggerTime: '2026-11-27T10:05:00Z', triggerTimeMs: NOW_MS, manual: true, overrides: {} });
  });

  it('accept override keys without an action', () => {
    expect(parse({ lookbackHours: 0, domains: ['live.example.com'] })).toMatchObject({
      kind: 'timer',
      manual: true,
      overrides: { lookbackHours: 0, domains: ['live.example.com'] },
    });
  });

  it('reject a misspelled key instead of running the timer with defaults', () => {
    expect(eventError({ acton: 'backfill' }).message).toBe('Invalid event: acton: is not a known key; use only action, domains, lagHours, lookbackHours');
  });
});

describe('decoding', () => {
  it('rejects text that is not JSON with a fix', () => {
    const err = eventError(Buffer.from('backfill please'));
    expect(err.field).toBe('event');
    expect(err.fix).toContain('send a JSON object');
  });

  it('rejects JSON that is not an object', () => {
    expect(eventError('[1,2]').message).toBe('Invalid event: event: is an array, not a JSON object; send a JSON object, or an empty event for a timer run');
  });

  it('rejects an unknown action, listing the valid ones', () => {
    expect(eventError({ action: 'restore' }).message).toBe("Invalid event: action: 'restore' is not a known action; use one of backfill, archive, or omit action for a timer run");
  });
});

describe('backfill events', () => {
  it('defaults to all configured domains and keeps hour-aligned bounds', () => {
    const event = parse(Buffer.from('{"action":"backfill","start":"2026-11-01T00:00:00Z","end":"2026-11-02T00:00:00Z"}'));

    expect(event).toEqual({
      kind: 'backfill',
      domains: CONFIGURED,
      startMs: Date.UTC(2026, 10, 1),
      endMs: Date.UTC(2026, 10, 2),
      warnings: [],
    });
  });

  it('rounds start down and end up to the hour, with warnings', () => {
    const event = parse({ action: 'backfill', domains: ['live.example.com'], start: '2026-11-01T00:30:00Z', end: '2026-11-01T05:00:01Z' });

    expect(event).toEqual({
      kind: 'backfill',
      domains: ['live.example.com'],
      startMs: Date.UTC(2026, 10, 1, 0),
      endMs: Date.UTC(2026, 10, 1, 6),
      warnings: [
        'start 2026-11-01T00:30:00Z is not on an hour; rounded down to 2026-11-01T00:00:00Z',
        'end 2026-11-01T05:00:01Z is not on an hour; rounded up to 2026-11-01T06:00:00Z',
      ],
    });
  });

  it('clamps a start older than the 31-day window to the oldest servable hour, naming both values', () => {
    const event = parse({ action: 'backfill', start: '2026-10-01T00:00:00Z', end: '2026-11-01T00:00:00Z' });

    expect(event).toMatchObject({ startMs: Date.parse(OLDEST_SERVABLE), endMs: Date.UTC(2026, 10, 1) });
    expect((event as { warnings: string[] }).warnings).toEqual([
      `start 2026-10-01T00:00:00Z is older than the 31 days the Live API keeps logs; clamped to ${OLDEST_SERVABLE}, the oldest servable hour`,
    ]);
    expect(oldestServableHourMs(NOW_MS)).toBe(Date.parse(OLDEST_SERVABLE));
  });

  it('rejects a range that ends before the window: nothing is left to archive', () => {
    const err = eventError({ action: 'backfill', start: '2026-09-01T00:00:00Z', end: '2026-10-27T12:00:00Z' });
    expect(err.field).toBe('end');
    expect(err.message).toBe(
      `Invalid event: end: 2026-10-27T12:00:00Z is older than the 31 days the Live API keeps logs (the oldest servable hour is ${OLDEST_SERVABLE}), so nothing is left to archive; give an end after ${OLDEST_SERVABLE}`,
    );
  });

  it('clamps an end in the future to the start of the current hour', () => {
    const event = parse({ action: 'backfill', start: '2026-11-27T00:00:00Z', end: '2026-12-01T00:00:00Z' });

    expect(event).toMatchObject({ startMs: Date.UTC(2026, 10, 27, 0), endMs: Date.UTC(2026, 10, 27, 10) });
    expect((event as { warnings: string[] }).warnings).toEqual([
      'end 2026-12-01T00:00:00Z is after the start of the current hour, whose logs are not complete; clamped to 2026-11-27T10:00:00Z',
    ]);
  });

  it('rejects a range that only covers the current hour', () => {
    expect(eventError({ action: 'backfill', start: '2026-11-27T10:00:00Z', end: '2026-11-27T11:00:00Z' }).field).toBe('start');
  });

  it('clamps the full 31 days to what is servable, within the per-domain limit', () => {
    const event = parse({ action: 'backfill', start: '2026-10-01T00:00:00Z', end: '2026-12-31T00:00:00Z' });
    const hours = ((event as { endMs: number }).endMs - (event as { startMs: number }).startMs) / 3_600_000;
    expect(hours).toBe(742);
  });

  it('rejects start not before end', () => {
    expect(eventError({ action: 'backfill', start: '2026-11-02T00:00:00Z', end: '2026-11-01T00:00:00Z' }).message).toBe(
      'Invalid event: end: 2026-11-01T00:00:00Z is not after start 2026-11-02T00:00:00Z; give an end later than start (end is exclusive)',
    );
  });

  it.each([
    [{ start: '2026-11-01T08:00:00+08:00', end: '2026-11-02T00:00:00Z' }, 'start', "'2026-11-01T08:00:00+08:00' is not in UTC"],
    [{ start: '2026-11-01', end: '2026-11-02T00:00:00Z' }, 'start', "'2026-11-01' is not an ISO-8601 date and time with a time zone"],
    [{ start: '2026-13-01T00:00:00Z', end: '2026-11-02T00:00:00Z' }, 'start', "'2026-13-01T00:00:00Z' is not a valid date and time (unit out of range)"],
    [{ start: 1700000000, end: '2026-11-02T00:00:00Z' }, 'start', 'must be a string, got a number'],
    [{ end: '2026-11-02T00:00:00Z' }, 'start', 'is missing'],
    [{ start: '2026-11-01T00:00:00Z', end: '2026-11-02T00:00:00Z', domains: 'live.example.com' }, 'domains', 'must be an array of domain names, got a string'],
    [{ start: '2026-11-01T00:00:00Z', end: '2026-11-02T00:00:00Z', domains: [] }, 'domains', 'is empty'],
    [{ start: '2026-11-01T00:00:00Z', end: '2026-11-02T00:00:00Z', domains: ['live.example.com', 'bad host'] }, 'domains[1]', "'bad host' is not a valid hostname"],
    [{ start: '2026-11-01T00:00:00Z', end: '2026-11-02T00:00:00Z', domains: ['other.example.com'] }, 'domains[0]', "'other.example.com' is not a configured domain"],
    [{ start: '2026-11-01T00:00:00Z', end: '2026-11-02T00:00:00Z', until: 'x' }, 'until', 'is not a known key'],
  ])('rejects %j at %s', (fields, field, problem) => {
    const err = eventError({ action: 'backfill', ...fields });
    expect(err.field).toBe(field);
    expect(err.problem).toBe(problem);
  });

  it('names the configured domains in the fix for an unknown one', () => {
    expect(eventError({ action: 'backfill', start: '2026-11-01T00:00:00Z', end: '2026-11-02T00:00:00Z', domains: ['x.example.com'] }).fix).toBe(
      'use one of live.example.com, push.example.com, or add it to ARCHIVER_DOMAINS',
    );
  });
});

describe('archive (fan-out unit) events', () => {
  it('reads a unit, sorting and de-duplicating its hours', () => {
    const event = parse({
      action: 'archive',
      domain: 'LIVE.example.com',
      hours: ['2026-11-27T08:00:00Z', '2026-11-27T07:00:00Z', '2026-11-27T08:00Z'],
      parentRunId: 'run-1',
      attempt: 2,
    });

    expect(event).toEqual({
      kind: 'archive',
      domain: 'live.example.com',
      hours: ['2026-11-27T07:00:00Z', '2026-11-27T08:00:00Z'],
      parentRunId: 'run-1',
      attempt: 2,
      warnings: [],
    });
  });

  it('round-trips the event built by archiveUnitEvent', () => {
    const hourStartsMs = [Date.UTC(2026, 10, 26, 23), Date.UTC(2026, 10, 27, 0)];
    const payload = JSON.stringify(archiveUnitEvent({ domain: 'push.example.com', hourStartsMs, parentRunId: 'r-9' }));

    expect(parse(Buffer.from(payload))).toEqual({
      kind: 'archive',
      domain: 'push.example.com',
      hours: ['2026-11-26T23:00:00Z', '2026-11-27T00:00:00Z'],
      parentRunId: 'r-9',
      warnings: [],
    });
  });

  it('skips hours that aged out of the window while queued, with a warning', () => {
    const event = parse({ action: 'archive', domain: 'live.example.com', hours: ['2026-10-27T11:00:00Z', OLDEST_SERVABLE] });
    expect(event).toMatchObject({
      hours: [OLDEST_SERVABLE],
      warnings: [`hour 2026-10-27T11:00:00Z is older than the 31 days the Live API keeps logs (oldest servable ${OLDEST_SERVABLE}); skipped`],
    });
  });

  it.each([
    [{ domain: 'live.example.com', hours: ['2026-10-01T00:00:00Z'] }, 'hours', /^every hour is older than the oldest servable hour/],
    [{ domain: 'live.example.com', hours: ['2026-11-27T10:00:00Z'] }, 'hours[0]', /^2026-11-27T10:00:00Z is not complete yet/],
    [{ domain: 'live.example.com', hours: ['2026-11-27T09:30:00Z'] }, 'hours[0]', /^'2026-11-27T09:30:00Z' is not a UTC hour start$/],
    [{ domain: 'live.example.com', hours: [] }, 'hours', /^is empty$/],
    [{ domain: 'live.example.com', hours: '2026-11-27T09:00:00Z' }, 'hours', /^must be an array, got a string$/],
    [{ domain: 'live.example.com', hours: ['2026-11-27T09:00:00Z', null] }, 'hours[1]', /^must be a string, got null$/],
    [{ hours: ['2026-11-27T09:00:00Z'] }, 'domain', /^is missing$/],
    [{ domain: 'live.example.com', hours: ['2026-11-27T09:00:00Z'], attempt: 0 }, 'attempt', /^0 is not a whole number from 1 to 100$/],
    [{ domain: 'live.example.com', hours: ['2026-11-27T09:00:00Z'], parentRunId: 'a b' }, 'parentRunId', /^'a b' is not a run ID$/],
    [{ domain: 'live.example.com', hours: ['2026-11-27T09:00:00Z'], start: 'x' }, 'start', /^is not a known key$/],
  ])('rejects %j at %s', (fields, field, problem) => {
    const err = eventError({ action: 'archive', ...fields });
    expect(err.field).toBe(field);
    expect(err.problem).toMatch(problem);
  });

  it('refuses more hours than 31 days hold', () => {
    const hours = Array.from({ length: 745 }, () => '2026-11-27T09:00:00Z');
    expect(eventError({ action: 'archive', domain: 'live.example.com', hours }).problem).toBe('lists 745 hours, more than 744');
  });
});
