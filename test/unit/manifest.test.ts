import {
  MAX_MANIFEST_RUNS,
  addRun,
  emptyManifest,
  isArchived,
  mergeManifests,
  parseManifest,
  recordArchived,
  recordConflict,
  recordFailed,
  serializeManifest,
  type EntryUpdate,
} from '../../lib/manifest';
import type { Manifest } from '../../lib/types';

// 2026-11-27T09:00:00Z, computed outside the code under test.
const HOUR_09 = 1_795_770_000_000;
const where = { domain: 'live.example.com', hourStartMs: HOUR_09 };

function update(name: string, extra: Partial<EntryUpdate> = {}): EntryUpdate {
  return {
    name,
    key: `archive/live.example.com/2026/11/27/09/${name}`,
    size: 100,
    sourceStart: '2026-11-27T09:00:00.000Z',
    sourceEnd: '2026-11-27T10:00:00.000Z',
    attempts: 1,
    at: '2026-11-27T10:06:00.000Z',
    ...extra,
  };
}

function fresh(): Manifest {
  return emptyManifest('live.example.com', HOUR_09);
}

describe('emptyManifest', () => {
  it('names the domain and the ISO hour, with no files and no runs', () => {
    expect(fresh()).toEqual({ schemaVersion: 1, domain: 'live.example.com', hour: '2026-11-27T09:00:00Z', files: {}, runs: [] });
  });
});

describe('serializeManifest and parseManifest', () => {
  function populated(): Manifest {
    const m = fresh();
    recordArchived(m, update('b.gz', { crc64: '11051210869376104954' }));
    recordFailed(m, { ...update('a.gz'), error: 'origin answered HTTP 503' });
    addRun(m, { runId: 'run-1', at: '2026-11-27T10:06:30.000Z', archived: 1, failed: 1 });
    return m;
  }

  it('round-trips a manifest exactly', () => {
    const m = populated();
    expect(parseManifest(serializeManifest(m), where)).toEqual(m);
  });

  it('gives the same bytes whatever order files were recorded in, sorted by name, newline-terminated', () => {
    const m1 = populated();
    const m2 = fresh();
    recordFailed(m2, { ...update('a.gz'), error: 'origin answered HTTP 503' });
    recordArchived(m2, update('b.gz', { crc64: '11051210869376104954' }));
    addRun(m2, { runId: 'run-1', at: '2026-11-27T10:06:30.000Z', archived: 1, failed: 1 });
    const text = serializeManifest(m2);
    expect(text).toBe(serializeManifest(m1));
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.indexOf('"a.gz"')).toBeLessThan(text.indexOf('"b.gz"'));
  });

  it('reads truncated JSON as corrupt', () => {
    const text = serializeManifest(populated());
    const result = parseManifest(text.slice(0, text.length / 2), where);
    expect(result).toEqual({ corrupt: expect.stringContaining('not valid JSON') });
  });

  it.each([
    ['another schema version', (j: any) => (j.schemaVersion = 2), 'schemaVersion'],
    ['another domain', (j: any) => (j.domain = 'other.com'), 'domain is "other.com"'],
    ['another hour', (j: any) => (j.hour = '2026-11-27T10:00:00Z'), 'hour is "2026-11-27T10:00:00Z"'],
    ['a string size', (j: any) => (j.files['b.gz'].size = '100'), 'files.b.gz.size'],
    ['an unknown status', (j: any) => (j.files['b.gz'].status = 'done'), 'files.b.gz.status'],
    ['a negative attempt count', (j: any) => (j.files['b.gz'].attempts = -1), 'files.b.gz.attempts'],
    ['an archived entry without archivedAt', (j: any) => delete j.files['b.gz'].archivedAt, 'files.b.gz.archivedAt'],
    ['an entry under another name', (j: any) => (j.files['b.gz'].name = 'c.gz'), 'files.b.gz: entry is named "c.gz"'],
    ['a non-ISO updatedAt', (j: any) => (j.files['a.gz'].updatedAt = 'yesterday'), 'files.a.gz.updatedAt'],
    ['runs as an object', (j: any) => (j.runs = {}), 'runs'],
    ['a JSON array', (_j: any) => undefined, '(root)'],
  ])('reads %s as corrupt, saying where', (label, mutate, reasonPart) => {
    const json = JSON.parse(serializeManifest(populated()));
    mutate(json);
    const text = label === 'a JSON array' ? '[]' : JSON.stringify(json);
    const result = parseManifest(text, where);
    expect('corrupt' in result && result.corrupt).toEqual(expect.stringContaining(reasonPart));
  });
});

describe('recordArchived', () => {
  it('records an archived entry with the time it was archived and clears a previous error', () => {
    const m = fresh();
    recordFailed(m, { ...update('a.gz', { attempts: 2 }), error: 'timeout' });
    recordArchived(m, update('a.gz', { crc64: '42', at: '2026-11-27T11:06:00.000Z' }));
    expect(m.files['a.gz']).toEqual({
      name: 'a.gz',
      key: 'archive/live.example.com/2026/11/27/09/a.gz',
      size: 100,
      crc64: '42',
      sourceStart: '2026-11-27T09:00:00.000Z',
      sourceEnd: '2026-11-27T10:00:00.000Z',
      status: 'archived',
      attempts: 3,
      archivedAt: '2026-11-27T11:06:00.000Z',
      updatedAt: '2026-11-27T11:06:00.000Z',
    });
  });

  it('keeps the first archivedAt and the known CRC when the same object is recorded again', () => {
    const m = fresh();
    recordArchived(m, update('a.gz', { crc64: '42' }));
    recordArchived(m, update('a.gz', { attempts: 0, at: '2026-11-28T00:00:00.000Z' }));
    expect(m.files['a.gz']).toMatchObject({ archivedAt: '2026-11-27T10:06:00.000Z', crc64: '42', attempts: 1, updatedAt: '2026-11-28T00:00:00.000Z' });
  });
});

describe('recordFailed', () => {
  it('counts at least one attempt, adds to earlier ones and keeps the latest error', () => {
    const m = fresh();
    recordFailed(m, { ...update('a.gz', { attempts: 0 }), error: 'first' });
    recordFailed(m, { ...update('a.gz', { attempts: 3 }), error: 'second' });
    expect(m.files['a.gz']).toMatchObject({ status: 'failed', attempts: 4, lastError: 'second' });
  });

  it('never downgrades an archived entry', () => {
    const m = fresh();
    recordArchived(m, update('a.gz'));
    const before = structuredClone(m.files['a.gz']);
    recordFailed(m, { ...update('a.gz'), error: 'late failure' });
    expect(m.files['a.gz']).toEqual(before);
  });

  it('leaves a conflict for the operator', () => {
    const m = fresh();
    recordConflict(m, { ...update('a.gz'), error: 'archive key holds 99 bytes' });
    recordFailed(m, { ...update('a.gz'), error: 'timeout' });
    expect(m.files['a.gz']).toMatchObject({ status: 'conflict', lastError: 'archive key holds 99 bytes' });
  });

  it('strips a signed query string, flattens newlines and bounds the stored error', () => {
    const m = fresh();
    const error = `GET https://b.aliyuncs.com/x.gz?OSSAccessKeyId=LTAIabc&Expires=1&Signature=SIGSECRET failed\n${'x'.repeat(1000)}`;
    recordFailed(m, { ...update('a.gz'), error });
    const stored = m.files['a.gz'].lastError ?? '';
    expect(stored).not.toMatch(/SIGSECRET|LTAIabc|\n/);
    expect(stored).toContain('https://b.aliyuncs.com/x.gz');
    expect(stored.length).toBe(500);
  });
});

describe('recordConflict', () => {
  it('overrides an archived entry, since the source now differs from what was archived', () => {
    const m = fresh();
    recordArchived(m, update('a.gz'));
    recordConflict(m, { ...update('a.gz', { size: 120 }), error: 'archive key holds 100 bytes, the source has 120' });
    expect(m.files['a.gz']).toMatchObject({ status: 'conflict', size: 120, attempts: 2 });
    expect(m.files['a.gz'].archivedAt).toBeUndefined();
    expect(isArchived(m, 'a.gz', 100)).toBe(false);
  });
});

describe('isArchived', () => {
  it('is true only for an archived entry of the same size', () => {
    const m = fresh();
    recordArchived(m, update('a.gz'));
    recordFailed(m, { ...update('b.gz'), error: 'x' });
    expect(isArchived(m, 'a.gz', 100)).toBe(true);
    expect(isArchived(m, 'a.gz', 101)).toBe(false);
    expect(isArchived(m, 'b.gz', 100)).toBe(false);
    expect(isArchived(m, 'c.gz', 100)).toBe(false);
  });

  it('does not mistake Object.prototype members for entries', () => {
    const m = fresh();
    expect(isArchived(m, 'constructor', 0)).toBe(false);
    recordArchived(m, update('__proto__'));
    expect(Object.keys(m.files)).toEqual(['__proto__']);
    expect(isArchived(m, '__proto__', 100)).toBe(true);
  });
});

describe('addRun', () => {
  it('keeps runs newest first, one per run id, bounded', () => {
    const m = fresh();
    for (let i = 0; i < MAX_MANIFEST_RUNS + 5; i++) {
      addRun(m, { runId: `run-${i}`, at: new Date(HOUR_09 + i * 60_000).toISOString(), archived: i, failed: 0 });
    }
    addRun(m, { runId: 'run-24', at: new Date(HOUR_09 + 30 * 60_000).toISOString(), archived: 99, failed: 0 });
    expect(m.runs).toHaveLength(MAX_MANIFEST_RUNS);
    expect(m.runs[0]).toMatchObject({ runId: 'run-24', archived: 99 });
    expect(m.runs[1].runId).toBe('run-23');
    expect(m.runs.filter((r) => r.runId === 'run-24')).toHaveLength(1);
    expect(m.runs[MAX_MANIFEST_RUNS - 1].runId).toBe('run-5');
  });
});

describe('mergeManifests', () => {
  it('takes the union of files and lets archived win over failed, with the larger attempt count', () => {
    const a = fresh();
    const b = fresh();
    recordArchived(a, update('one.gz'));
    recordFailed(b, { ...update('one.gz', { attempts: 4 }), error: 'timeout' });
    recordArchived(b, update('two.gz'));
    const merged = mergeManifests(a, b);
    expect(Object.keys(merged.files).sort()).toEqual(['one.gz', 'two.gz']);
    expect(merged.files['one.gz']).toMatchObject({ status: 'archived', attempts: 4 });
    expect(mergeManifests(b, a).files['one.gz'].status).toBe('archived');
  });

  it('keeps the earlier archivedAt of two archived entries, whichever side it is on', () => {
    const a = fresh();
    const b = fresh();
    recordArchived(a, update('x.gz', { at: '2026-11-27T10:07:00.000Z', crc64: '1' }));
    recordArchived(b, update('x.gz', { at: '2026-11-27T10:06:00.000Z', crc64: '2' }));
    expect(mergeManifests(a, b).files['x.gz']).toMatchObject({ archivedAt: '2026-11-27T10:06:00.000Z', crc64: '2' });
    expect(mergeManifests(b, a).files['x.gz']).toMatchObject({ archivedAt: '2026-11-27T10:06:00.000Z', crc64: '2' });
  });

  it('prefers a conflict over a failure, and the later of two failures', () => {
    const a = fresh();
    const b = fresh();
    recordConflict(a, { ...update('c.gz'), error: 'conflict' });
    recordFailed(b, { ...update('c.gz', { at: '2026-11-27T12:00:00.000Z' }), error: 'late failure' });
    recordFailed(a, { ...update('f.gz', { at: '2026-11-27T10:00:00.000Z' }), error: 'older' });
    recordFailed(b, { ...update('f.gz', { at: '2026-11-27T11:00:00.000Z' }), error: 'newer' });
    const merged = mergeManifests(a, b);
    expect(merged.files['c.gz'].status).toBe('conflict');
    expect(merged.files['f.gz'].lastError).toBe('newer');
  });

  it('merges runs newest first, without duplicates, bounded', () => {
    const a = fresh();
    const b = fresh();
    for (let i = 0; i < 15; i++) addRun(a, { runId: `a${i}`, at: new Date(HOUR_09 + i * 2 * 60_000).toISOString(), archived: 0, failed: 0 });
    for (let i = 0; i < 15; i++) addRun(b, { runId: `b${i}`, at: new Date(HOUR_09 + (i * 2 + 1) * 60_000).toISOString(), archived: 0, failed: 0 });
    addRun(b, { runId: 'a14', at: new Date(HOUR_09 + 28 * 60_000).toISOString(), archived: 0, failed: 0 });
    const runs = mergeManifests(a, b).runs;
    expect(runs).toHaveLength(MAX_MANIFEST_RUNS);
    expect(runs.slice(0, 3).map((r) => r.runId)).toEqual(['b14', 'a14', 'b13']);
    expect(new Set(runs.map((r) => r.runId)).size).toBe(runs.length);
  });

  it('does not modify its inputs', () => {
    const a = fresh();
    const b = fresh();
    recordFailed(a, { ...update('x.gz', { attempts: 1 }), error: 'e' });
    recordArchived(b, update('x.gz', { attempts: 5 }));
    const before = [structuredClone(a), structuredClone(b)];
    const merged = mergeManifests(a, b);
    merged.files['x.gz'].attempts = 99;
    expect([a, b]).toEqual(before);
  });

  it('refuses manifests of different hours', () => {
    expect(() => mergeManifests(fresh(), emptyManifest('live.example.com', HOUR_09 + 3_600_000))).toThrow(TypeError);
  });
});
