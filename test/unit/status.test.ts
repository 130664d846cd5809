import {
  ATTENTION_STATES,
  CellState,
  buildCell,
  buildStatusGrid,
  renderAttention,
  renderGridBlocks,
  renderStatus,
  type ManifestRead,
} from '../../lib/status';
import type { Manifest, ManifestEntry } from '../../lib/types';

// Fixture times written out by hand, independent of lib/time.
const H22 = Date.UTC(2026, 10, 26, 22); // 2026-11-26T22:00:00Z
const H23 = Date.UTC(2026, 10, 26, 23);
const H00 = Date.UTC(2026, 10, 27, 0);
const H01 = Date.UTC(2026, 10, 27, 1);
const H02 = Date.UTC(2026, 10, 27, 2);

function entry(name: string, status: ManifestEntry['status'], lastError?: string): ManifestEntry {
  return {
    name,
    key: `live-logs/x/${name}`,
    size: 10,
    crc64: status === 'archived' ? '123' : undefined,
    sourceStart: '2026-11-27T00:00:00Z',
    sourceEnd: '2026-11-27T00:10:00Z',
    status,
    attempts: 1,
    lastError,
    archivedAt: status === 'archived' ? '2026-11-27T01:05:00Z' : undefined,
    updatedAt: '2026-11-27T01:05:00Z',
  };
}

function manifest(domain: string, hour: string, entries: ManifestEntry[]): ManifestRead {
  const m: Manifest = { schemaVersion: 1, domain, hour, files: Object.fromEntries(entries.map((e) => [e.name, e])), runs: [] };
  return { kind: 'present', manifest: m };
}

describe('buildCell', () => {
  it('calls an hour archived when every manifest entry is archived and the listing has nothing more', () => {
    const cell = buildCell('h', manifest('a', 'h', [entry('f1', 'archived'), entry('f2', 'archived')]), ['f1', 'f2']);
    expect(cell).toMatchObject({ state: 'archived', listed: 2, recorded: 2, archived: 2, unrecorded: 0 });
  });

  it('calls an hour partial when the Live API lists a file the manifest does not record', () => {
    const cell = buildCell('h', manifest('a', 'h', [entry('f1', 'archived')]), ['f1', 'f2']);
    expect(cell).toMatchObject({ state: 'partial', listed: 2, archived: 1, unrecorded: 1 });
  });

  it('calls an hour a missing manifest when files are listed but no manifest exists', () => {
    expect(buildCell('h', { kind: 'missing' }, ['f1', 'f2', 'f2'])).toMatchObject({ state: 'missing-manifest', listed: 2, unrecorded: 2 });
  });

  it('calls an hour without manifest no data when nothing is listed or the listing is unknown', () => {
    expect(buildCell('h', { kind: 'missing' }, []).state).toBe('no-data');
    expect(buildCell('h', { kind: 'missing' }, null)).toMatchObject({ state: 'no-data', listed: null });
  });

  it('ranks conflict over failed over partial, and names the failing files with their errors', () => {
    const failed = buildCell('h', manifest('a', 'h', [entry('f1', 'archived'), entry('f2', 'failed', 'download reset')]), ['f1', 'f2', 'f3']);
    expect(failed).toMatchObject({ state: 'failed', failed: 1, unrecorded: 1 });
    expect(failed.issues).toEqual([{ name: 'f2', status: 'failed', error: 'download reset' }]);
    const conflict = buildCell('h', manifest('a', 'h', [entry('f1', 'conflict', 'other bytes'), entry('f2', 'failed')]), null);
    expect(conflict).toMatchObject({ state: 'conflict', conflict: 1, failed: 1, listed: null });
  });

  it('keeps an unreadable manifest as its own state with the reason', () => {
    expect(buildCell('h', { kind: 'unreadable', problem: 'corrupt: not valid JSON' }, ['f1'])).toMatchObject({
      state: 'unreadable-manifest',
      manifestProblem: 'corrupt: not valid JSON',
    });
  });
});

/** Two domains over five hours across a UTC midnight, one cell of each interesting state. */
function fixtureGrid(withListing = true) {
  const reads: Record<string, ManifestRead> = {
    [`a.example.com ${H22}`]: manifest('a.example.com', '2026-11-26T22:00:00Z', [entry('a1', 'archived')]),
    [`a.example.com ${H23}`]: manifest('a.example.com', '2026-11-26T23:00:00Z', [entry('a2', 'archived'), entry('a3', 'failed', 'reset by peer')]),
    [`a.example.com ${H00}`]: manifest('a.example.com', '2026-11-27T00:00:00Z', [entry('a4', 'archived')]),
    [`b.example.com ${H22}`]: { kind: 'unreadable', problem: 'corrupt: not valid JSON' },
    [`b.example.com ${H23}`]: manifest('b.example.com', '2026-11-26T23:00:00Z', [entry('b1', 'conflict', 'other bytes')]),
  };
  const listed: Record<string, string[]> = {
    [`a.example.com ${H00}`]: ['a4', 'a5'],
    [`b.example.com ${H01}`]: ['b9'],
  };
  return buildStatusGrid({
    domains: ['a.example.com', 'b.example.com'],
    hoursMs: [H22, H23, H00, H01, H02],
    manifestOf: (d, h) => reads[`${d} ${h}`] ?? { kind: 'missing' },
    listedNamesOf: withListing ? (d, h) => listed[`${d} ${h}`] ?? (h < H02 ? [] : null) : undefined,
    warnings: [],
  });
}

describe('buildStatusGrid', () => {
  it('has one row per domain and one cell per hour, with the range and totals', () => {
    const grid = fixtureGrid();
    expect(grid.from).toBe('2026-11-26T22:00:00Z');
    expect(grid.to).toBe('2026-11-27T03:00:00Z');
    expect(grid.rows.map((r) => r.cells.map((c) => c.state))).toEqual([
      ['archived', 'failed', 'partial', 'no-data', 'no-data'],
      ['unreadable-manifest', 'conflict', 'no-data', 'missing-manifest', 'no-data'],
    ]);
    expect(grid.totals.hours).toEqual({
      conflict: 1,
      failed: 1,
      'unreadable-manifest': 1,
      'missing-manifest': 1,
      partial: 1,
      archived: 1,
      'no-data': 4,
    });
    expect(grid.totals.files).toEqual({ listed: 3, recorded: 5, archived: 3, failed: 1, conflict: 1, unrecorded: 2 });
    expect(grid.sourceListed).toBe(true);
    expect(grid.attention).toBe(true);
  });

  it('needs no attention when every hour is archived or has no data', () => {
    const grid = buildStatusGrid({
      domains: ['a.example.com'],
      hoursMs: [H00, H01],
      manifestOf: (_d, h) => (h === H00 ? manifest('a.example.com', '2026-11-27T00:00:00Z', [entry('a1', 'archived')]) : { kind: 'missing' }),
    });
    expect(grid.attention).toBe(false);
    expect(grid.sourceListed).toBe(false);
    expect(grid.totals.files.listed).toBeNull();
    expect([...ATTENTION_STATES]).not.toContain(CellState.NoData);
  });
});

describe('renderStatus', () => {
  it('draws the plain grid, legend, totals and attention list exactly', () => {
    const text = renderStatus(fixtureGrid(), { color: false, widthCols: 120 });

    expect(text).toBe(
      [
        'Archive status 2026-11-26T22:00:00Z .. 2026-11-27T03:00:00Z (5 hours x 2 domains, UTC)',
        '',
        '               2026-11-26  2026-11-27',
        '               2           0',
        '               23          012',
        'a.example.com  #x          +..',
        'b.example.com  *!          .?.',
        '',
        'Legend: # archived  + partial  ? no manifest (logs listed)  x failed  ! conflict  * manifest unreadable  . no data',
        'Hours (10): 1 conflict, 1 failed, 1 manifest unreadable, 1 no manifest (logs listed), 1 partial, 1 archived, 4 no data',
        'Files: 5 in manifests (3 archived, 1 failed, 1 conflict); 3 listed by the Live API, 2 of them not in a manifest',
        '',
        'Needs attention:',
        '  ! b.example.com 2026-11-26T23:00:00Z 0 archived, 0 failed, 1 conflict',
        '      conflict b1: other bytes',
        '  x a.example.com 2026-11-26T23:00:00Z 1 archived, 1 failed, 0 conflict',
        '      failed a3: reset by peer',
        '  * b.example.com 2026-11-26T22:00:00Z manifest unreadable (corrupt: not valid JSON); the next run rebuilds it from the archive',
        '  ? b.example.com 2026-11-27T01:00:00Z no manifest, 1 file listed by the Live API: not archived yet',
        '  + a.example.com 2026-11-27T00:00:00Z 1 of 2 listed files archived, 1 not in the manifest',
        '',
      ].join('\n'),
    );
  });

  it('says when the Live API listing was not compared', () => {
    expect(renderStatus(fixtureGrid(false), { color: false, widthCols: 120 })).toContain(
      'Files: 5 in manifests (3 archived, 1 failed, 1 conflict); not compared with the Live API listing',
    );
  });

  it('colours cells in terminal mode: green archived, red failed, yellow partial, dim no data', () => {
    const text = renderStatus(fixtureGrid(), { color: true, widthCols: 120 });

    expect(text).toContain('\x1b[32m#\x1b[0m');
    expect(text).toContain('\x1b[31mx\x1b[0m');
    expect(text).toContain('\x1b[33m+\x1b[0m');
    expect(text).toContain('\x1b[2m.\x1b[0m');
    expect(renderStatus(fixtureGrid(), { color: false, widthCols: 120 })).not.toContain('\x1b[');
  });

  it('wraps day groups into blocks that fit the width, repeating the headers', () => {
    const blocks = renderGridBlocks(fixtureGrid(), { color: false, widthCols: 30 });

    expect(blocks).toHaveLength(2);
    expect(blocks[0][0].trim()).toBe('2026-11-26');
    expect(blocks[1][0].trim()).toBe('2026-11-27');
    expect(blocks[1][4]).toBe('b.example.com  .?.');
  });

  it('collapses consecutive hours of one domain without a manifest into one attention line', () => {
    const grid = buildStatusGrid({
      domains: ['a.example.com', 'b.example.com'],
      hoursMs: [H22, H23, H00, H01],
      manifestOf: () => ({ kind: 'missing' }),
      listedNamesOf: (d, h) => (d === 'a.example.com' ? (h === H00 ? [] : ['f1', 'f2']) : h === H23 ? ['f1'] : []),
    });

    expect(renderAttention(grid, 2)).toEqual([
      '  ? a.example.com 2026-11-26T22:00:00Z .. 2026-11-27T00:00:00Z (2 hours) no manifest, 4 files listed by the Live API: not archived yet',
      '  ? a.example.com 2026-11-27T01:00:00Z no manifest, 2 files listed by the Live API: not archived yet',
      '  ... and 1 more hour (--json lists every cell)',
    ]);
  });

  it('labels a full day with tens where they change and every unit', () => {
    const hours = Array.from({ length: 24 }, (_, i) => H00 + i * 3_600_000);
    const grid = buildStatusGrid({ domains: ['a.example.com'], hoursMs: hours, manifestOf: () => ({ kind: 'missing' }) });

    const [block] = renderGridBlocks(grid, { color: false, widthCols: 120 });

    expect(block.slice(1)).toEqual([
      '               0         1         2',
      '               012345678901234567890123',
      'a.example.com  ........................',
    ]);
  });
});
