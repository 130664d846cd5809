import { Settings } from 'luxon';
import {
  HOUR_MS,
  apiTime,
  dateParts,
  hourStart,
  hoursBetween,
  isoHour,
  parseIsoHour,
  previousHour,
} from '../../lib/time';

// Fixtures are literal epoch values computed outside this code base (python calendar.timegm), never by the
// functions under test.
const T_2026_11_27_09_00 = 1_795_770_000_000;
const T_2026_11_27_09_59_59 = 1_795_773_599_000;
const T_2026_11_27_10_05 = 1_795_773_900_000;
const T_2026_12_31_23_30 = 1_798_759_800_000;
const T_2027_01_01_00_00 = 1_798_761_600_000;
const T_2024_02_29_13_00 = 1_709_211_600_000;

describe('HOUR_MS', () => {
  it('is one hour in milliseconds', () => {
    expect(HOUR_MS).toBe(3_600_000);
  });
});

describe('hourStart', () => {
  it('floors a time inside an hour to the start of that UTC hour', () => {
    expect(hourStart(T_2026_11_27_09_59_59 + 999)).toBe(T_2026_11_27_09_00);
  });

  it('leaves an exact hour start unchanged', () => {
    expect(hourStart(T_2026_11_27_09_00)).toBe(T_2026_11_27_09_00);
  });

  it('rejects NaN instead of producing a bogus hour', () => {
    expect(() => hourStart(Number.NaN)).toThrow(RangeError);
  });
});

describe('isoHour', () => {
  it('formats the containing UTC hour with a Z suffix and no milliseconds', () => {
    expect(isoHour(T_2026_11_27_10_05)).toBe('2026-11-27T10:00:00Z');
  });

  it('formats a leap day correctly', () => {
    expect(isoHour(T_2024_02_29_13_00 + 1)).toBe('2024-02-29T13:00:00Z');
  });
});

describe('parseIsoHour', () => {
  it('parses the canonical form', () => {
    expect(parseIsoHour('2026-11-27T09:00:00Z')).toBe(T_2026_11_27_09_00);
  });

  it.each(['2026-11-27T09:00Z', '2026-11-27T09Z', '2026-11-27T09:00:00.000Z', '2026-11-27T09:00:00+00:00'])(
    'accepts the equivalent UTC spelling %s',
    (s) => {
      expect(parseIsoHour(s)).toBe(T_2026_11_27_09_00);
    },
  );

  it.each([
    ['a minute past the hour', '2026-11-27T09:01:00Z'],
    ['a local time without zone', '2026-11-27T09:00:00'],
    ['a non-UTC offset', '2026-11-27T09:00:00+08:00'],
    ['an impossible date', '2026-02-30T09:00:00Z'],
    ['hour 24', '2026-11-27T24:00:00Z'],
    ['free text', 'yesterday'],
  ])('rejects %s', (_label, s) => {
    expect(() => parseIsoHour(s)).toThrow(RangeError);
  });
});

describe('apiTime', () => {
  it('renders yyyy-MM-ddTHH:mm:ssZ in UTC, dropping milliseconds', () => {
    expect(apiTime(T_2026_11_27_10_05 + 42_123)).toBe('2026-11-27T10:05:42Z');
  });
});

describe('hoursBetween', () => {
  it('lists the hour starts in a half-open range', () => {
    expect(hoursBetween(T_2026_11_27_09_00, T_2026_11_27_09_00 + 3 * HOUR_MS)).toEqual([
      T_2026_11_27_09_00,
      T_2026_11_27_09_00 + HOUR_MS,
      T_2026_11_27_09_00 + 2 * HOUR_MS,
    ]);
  });

  it('excludes an hour that starts before an unaligned range start', () => {
    expect(hoursBetween(T_2026_11_27_09_00 + 1, T_2026_11_27_09_00 + 2 * HOUR_MS)).toEqual([
      T_2026_11_27_09_00 + HOUR_MS,
    ]);
  });

  it('crosses a year boundary', () => {
    expect(hoursBetween(T_2026_12_31_23_30, T_2027_01_01_00_00 + HOUR_MS)).toEqual([T_2027_01_01_00_00]);
  });

  it('is empty when the range is empty or reversed', () => {
    expect(hoursBetween(T_2026_11_27_09_00, T_2026_11_27_09_00)).toEqual([]);
    expect(hoursBetween(T_2026_11_27_10_05, T_2026_11_27_09_00)).toEqual([]);
  });
});

describe('previousHour', () => {
  it('is the hour before the trigger time with a lag of one', () => {
    expect(previousHour(T_2026_11_27_10_05, 1)).toBe(T_2026_11_27_09_00);
  });

  it('goes back further with a larger lag, across midnight into the previous day', () => {
    expect(previousHour(T_2026_11_27_10_05, 11)).toBe(1_795_734_000_000); // 2026-11-26T23:00:00Z
  });

  it('rejects a fractional or negative lag', () => {
    expect(() => previousHour(T_2026_11_27_10_05, 1.5)).toThrow(RangeError);
    expect(() => previousHour(T_2026_11_27_10_05, -1)).toThrow(RangeError);
  });
});

describe('dateParts', () => {
  it('gives zero-padded UTC parts', () => {
    expect(dateParts(T_2027_01_01_00_00 + 5 * 60_000)).toEqual({ yyyy: '2027', MM: '01', dd: '01', HH: '00' });
  });

  it('uses UTC, not the local time zone, late in the UTC day', () => {
    expect(dateParts(T_2026_12_31_23_30)).toEqual({ yyyy: '2026', MM: '12', dd: '31', HH: '23' });
  });
});

describe('whatever the default locale', () => {
  const saved = Settings.defaultLocale;
  afterEach(() => {
    Settings.defaultLocale = saved;
  });

  it('formats key parts in ASCII digits and parses hours the same, even under a locale with other digits', () => {
    // ar-EG formats numbers in Arabic-Indic digits: a key part must never depend on that.
    Settings.defaultLocale = 'ar-EG';
    const year999 = Date.UTC(999, 0, 2, 3);

    expect(dateParts(year999)).toEqual({ yyyy: '0999', MM: '01', dd: '02', HH: '03' });
    expect(parseIsoHour('2026-11-27T09:00:00Z')).toBe(Date.UTC(2026, 10, 27, 9));
  });
});

describe('the system locale', () => {
  it('is never asked for: every luxon object here is made in en-US (asking costs ~10 ms of a cold start)', () => {
    jest.isolateModules(() => {
      // A fresh luxon, whose cache of the system locale is empty.
      const fresh = require('../../lib/time') as typeof import('../../lib/time');
      const RealDateTimeFormat = Intl.DateTimeFormat;
      const localesAsked: unknown[] = [];
      const spy = jest.spyOn(Intl, 'DateTimeFormat').mockImplementation(((locales?: string | string[], options?: Intl.DateTimeFormatOptions) => {
        localesAsked.push(locales);
        return new RealDateTimeFormat(locales, options);
      }) as typeof Intl.DateTimeFormat);
      try {
        const hour = Date.UTC(2026, 10, 27, 9);
        expect(fresh.previousHour(hour + 1_234, 2)).toBe(hour - 2 * 3_600_000);
        expect(fresh.hoursBetween(hour, hour + 3 * 3_600_000)).toHaveLength(3);
        expect(fresh.apiTime(hour)).toBe('2026-11-27T09:00:00Z');
        expect(fresh.parseIsoHour('2026-11-27T09:00:00Z')).toBe(hour);
      } finally {
        spy.mockRestore();
      }
      expect(localesAsked.filter((l) => l === undefined).length).toBe(0);
    });
  });
});
