import {
  DEFAULT_KEY_TEMPLATE,
  HIVE_KEY_TEMPLATE,
  archiveKey,
  leaseKey,
  leasePrefix,
  manifestKey,
  parseLeaseGeneration,
  validateKeyTemplate,
  validateLogName,
} from '../../lib/keys';

// 2026-11-27T09:00:00Z, computed outside the code under test.
const HOUR_09 = 1_795_770_000_000;
// 2027-01-01T00:00:00Z
const NEW_YEAR = 1_798_761_600_000;

describe('validateLogName', () => {
  it('removes the newline the API puts inside a name, as in the documented example', () => {
    expect(validateLogName('example.com\n_2023_09_20_160000_170000.abcd.gz')).toEqual({
      ok: true,
      value: 'example.com_2023_09_20_160000_170000.abcd.gz',
    });
  });

  it('removes leading, trailing and inner spaces, tabs and carriage returns', () => {
    expect(validateLogName('  \texample.com _2023.gz\r\n')).toEqual({ ok: true, value: 'example.com_2023.gz' });
  });

  it.each([
    ['an empty name', '', 'empty'],
    ['a whitespace-only name', ' \n\t', 'empty'],
    ['a slash', 'a/b.gz', 'path separator'],
    ['a backslash', 'a\\b.gz', 'path separator'],
    ['a parent reference', '..', "'..'"],
    ['a double dot inside', 'a..gz', "'..'"],
    ['a lone dot', '.', "'.'"],
    ['a NUL byte', 'a\u0000b.gz', 'non-printable'],
    ['a DEL character', 'a\u007fb.gz', 'non-printable'],
    ['a bidi override', 'a\u202Eb.gz', 'non-printable'],
    ['a zero-width joiner', 'a\u200Db.gz', 'non-printable'],
  ])('rejects %s', (_label, raw, reasonPart) => {
    const result = validateLogName(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reasonPart);
  });

  it('accepts exactly 255 UTF-8 bytes and rejects 256', () => {
    expect(validateLogName('a'.repeat(255)).ok).toBe(true);
    const tooLong = validateLogName('a'.repeat(254) + 'é'); // é is 2 bytes in UTF-8
    expect(tooLong).toEqual({ ok: false, reason: 'LogName is 256 bytes long, over 255' });
  });

  it('accepts non-ASCII printable names', () => {
    expect(validateLogName('直播.log.gz')).toEqual({ ok: true, value: '直播.log.gz' });
  });
});

describe('validateKeyTemplate', () => {
  it.each([DEFAULT_KEY_TEMPLATE, HIVE_KEY_TEMPLATE])('accepts the built-in template %s', (t) => {
    expect(validateKeyTemplate(t)).toEqual({ ok: true, value: t });
  });

  it.each([
    ['missing {name}', '{domain}/{yyyy}/{MM}/{dd}/{HH}', 'missing {name}'],
    ['missing {HH}', '{domain}/{yyyy}/{MM}/{dd}/{name}', 'missing {HH}'],
    ['an unknown placeholder', '{domain}/{yyyy}/{MM}/{dd}/{HH}/{mm}/{name}', 'unknown placeholder {mm}'],
    ['a leading slash', '/{domain}/{yyyy}/{MM}/{dd}/{HH}/{name}', "start with '/'"],
    ['a parent segment', '{domain}/../{yyyy}/{MM}/{dd}/{HH}/{name}', "'..' segment"],
    ['an empty segment', '{domain}//{yyyy}/{MM}/{dd}/{HH}/{name}', 'empty segment'],
    ['an unbalanced brace', '{domain}/{yyyy}/{MM}/{dd}/{HH}/{name}}', 'unbalanced brace'],
    ['whitespace', '{domain}/{yyyy}/{MM}/{dd}/{HH}/ {name}', 'whitespace'],
  ])('rejects %s', (_label, template, reasonPart) => {
    const result = validateKeyTemplate(template);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reasonPart);
  });

  it('reports every problem at once', () => {
    const result = validateKeyTemplate('/{domain}/{foo}');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toContain('missing {name}');
      expect(result.reason).toContain('missing {yyyy}');
      expect(result.reason).toContain('unknown placeholder {foo}');
      expect(result.reason).toContain("start with '/'");
    }
  });
});

describe('archiveKey', () => {
  const file = { domain: 'live.example.com', hourStartMs: HOUR_09, name: 'live.example.com_2026_11_27_0900.gz' };

  it('renders the default layout under the prefix', () => {
    expect(archiveKey(DEFAULT_KEY_TEMPLATE, 'archive/', file)).toBe(
      'archive/live.example.com/2026/11/27/09/live.example.com_2026_11_27_0900.gz',
    );
  });

  it('renders the Hive-style layout with zero-padded UTC parts', () => {
    expect(archiveKey(HIVE_KEY_TEMPLATE, '', { ...file, hourStartMs: NEW_YEAR })).toBe(
      'domain=live.example.com/dt=2027-01-01/hour=00/live.example.com_2026_11_27_0900.gz',
    );
  });

  it('renders each file under its own hour and template when hours and templates alternate', () => {
    const twoHours = [HOUR_09, NEW_YEAR, HOUR_09, NEW_YEAR];
    const keys = twoHours.flatMap((hourStartMs) => [
      archiveKey(DEFAULT_KEY_TEMPLATE, '', { ...file, hourStartMs }),
      archiveKey('{name}/{HH}{dd}{MM}{yyyy}/{domain}', 'x/', { ...file, hourStartMs }),
    ]);
    const at09 = ['live.example.com/2026/11/27/09/live.example.com_2026_11_27_0900.gz', 'x/live.example.com_2026_11_27_0900.gz/0927112026/live.example.com'];
    const atNewYear = ['live.example.com/2027/01/01/00/live.example.com_2026_11_27_0900.gz', 'x/live.example.com_2026_11_27_0900.gz/0001012027/live.example.com'];
    expect(keys).toEqual([...at09, ...atNewYear, ...at09, ...atNewYear]);
  });

  it('refuses an invalid template', () => {
    expect(() => archiveKey('{domain}/{name}', '', file)).toThrow(/missing \{yyyy\}/);
  });

  it('refuses a name that has not been through validateLogName', () => {
    expect(() => archiveKey(DEFAULT_KEY_TEMPLATE, '', { ...file, name: 'a\nb.gz' })).toThrow(/not a validated name/);
    expect(() => archiveKey(DEFAULT_KEY_TEMPLATE, '', { ...file, name: '../x' })).toThrow(TypeError);
  });

  it('refuses a domain that would add key segments', () => {
    expect(() => archiveKey(DEFAULT_KEY_TEMPLATE, '', { ...file, domain: 'a/b' })).toThrow(/cannot be used/);
  });

  it('refuses a key over 1023 bytes', () => {
    expect(() => archiveKey(DEFAULT_KEY_TEMPLATE, 'p'.repeat(1000) + '/', file)).toThrow(/over OSS's 1023/);
  });
});

describe('manifestKey', () => {
  it('places the manifest by domain and UTC date, one JSON per hour', () => {
    expect(manifestKey('state/', 'live.example.com', HOUR_09)).toBe('state/manifests/live.example.com/2026/11/27/09.json');
  });
});

describe('leaseKey and leasePrefix', () => {
  it('puts all generations of an hour under one prefix', () => {
    expect(leasePrefix('state/', 'live.example.com', HOUR_09)).toBe('state/leases/live.example.com/2026-11-27T09/');
  });

  it('zero-pads the generation to six digits so lexicographic order is numeric order', () => {
    expect(leaseKey('state/', 'live.example.com', HOUR_09, 7)).toBe('state/leases/live.example.com/2026-11-27T09/000007');
    const keys = [10, 9, 100].map((g) => leaseKey('', 'd', HOUR_09, g)).sort();
    expect(keys.map((k) => k.slice(-6))).toEqual(['000009', '000010', '000100']);
  });

  it('rejects a negative, fractional or seven-digit generation', () => {
    expect(() => leaseKey('', 'd', HOUR_09, -1)).toThrow(RangeError);
    expect(() => leaseKey('', 'd', HOUR_09, 1.5)).toThrow(RangeError);
    expect(() => leaseKey('', 'd', HOUR_09, 1_000_000)).toThrow(RangeError);
  });

  it('parses the generation back from a listed key and ignores anything else', () => {
    const prefix = 'state/leases/d/2026-11-27T09/';
    expect(parseLeaseGeneration(prefix, `${prefix}000042`)).toBe(42);
    expect(parseLeaseGeneration(prefix, `${prefix}42`)).toBeNull();
    expect(parseLeaseGeneration(prefix, `${prefix}000042.tmp`)).toBeNull();
    expect(parseLeaseGeneration(prefix, 'state/leases/d/2026-11-27T10/000042')).toBeNull();
  });
});
