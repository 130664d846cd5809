/**
 * Archive status per (domain, hour), for the operator CLI: read the manifests of a range (one GET per hour), and
 * optionally the Live API's listing of the same hours, then fold them into a grid a person can scan.
 *
 * Three layers, each usable alone: `readManifests` / `readListedNames` do the I/O, `buildStatusGrid` is the pure
 * model (manifests + listing → cells), and `renderStatus` draws the model as text (plain or ANSI-coloured).
 * Manifests only exist for hours that had logs listed, so a missing manifest alone is ambiguous ("no logs" or
 * "never archived"); the listing is what turns it into a gap.
 */
import { manifestKey } from './keys';
import type { LiveLister } from './live-client';
import { parseManifest } from './manifest';
import { oldestListableHourMs } from './plan';
import { mapPool } from './pool';
import { redactError } from './redact';
import { HOUR_MS, hourStart, isoHour } from './time';
import { FileStatus, type Manifest, type ObjectStore } from './types';
import { compareCodeUnits } from './compare';

export const CellState = {
  /** Every known file of the hour is archived. */
  Archived: 'archived',
  /** The Live API lists files the manifest does not record (not yet attempted, or left by a deadline). */
  Partial: 'partial',
  /** The Live API lists files for the hour but there is no manifest: the hour was never archived. */
  MissingManifest: 'missing-manifest',
  /** At least one file failed (and none conflicts). The next run within the lookback retries it. */
  Failed: 'failed',
  /** At least one archive key holds other bytes than the source: needs an operator. */
  Conflict: 'conflict',
  /** The manifest exists but cannot be read or parsed. */
  Unreadable: 'unreadable-manifest',
  /** No manifest, and no files listed (or the listing was not asked or is out of reach). */
  NoData: 'no-data',
} as const;
export type CellState = (typeof CellState)[keyof typeof CellState];

/** Worst first: the order of the legend, the totals and the attention list. */
export const CELL_STATES: readonly CellState[] = [
  CellState.Conflict,
  CellState.Failed,
  CellState.Unreadable,
  CellState.MissingManifest,
  CellState.Partial,
  CellState.Archived,
  CellState.NoData,
];

/** States that make `status` exit non-zero: something is not archived although logs exist. */
export const ATTENTION_STATES: ReadonlySet<CellState> = new Set<CellState>([
  CellState.Conflict,
  CellState.Failed,
  CellState.Unreadable,
  CellState.MissingManifest,
  CellState.Partial,
]);

/** Failed or conflicting files named per cell; the rest are counted only, so a bad hour stays one screen. */
export const MAX_ISSUES_PER_CELL = 5;

export interface CellIssue {
  name: string;
  status: 'failed' | 'conflict';
  /** The manifest's lastError, already redacted by the writer. */
  error?: string;
}

export interface StatusCell {
  /** ISO hour start, e.g. 2026-11-27T09:00:00Z. */
  hour: string;
  state: CellState;
  /** Files the Live API lists for the hour; null when it was not asked, could not answer, or the hour is too old. */
  listed: number | null;
  /** Entries in the manifest (0 when there is none). */
  recorded: number;
  archived: number;
  failed: number;
  conflict: number;
  /** Listed by the Live API but not in the manifest. */
  unrecorded: number;
  /** Why the manifest could not be used (unreadable-manifest only). */
  manifestProblem?: string;
  issues: CellIssue[];
}

export interface StatusRow {
  domain: string;
  cells: StatusCell[];
}

export interface StatusTotals {
  /** Cells per state. */
  hours: Record<CellState, number>;
  files: {
    /** Sum over the hours the Live API was asked about; null when it was asked about none. */
    listed: number | null;
    recorded: number;
    archived: number;
    failed: number;
    conflict: number;
    unrecorded: number;
  };
}

export interface StatusGrid {
  /** ISO hour start of the first hour, and the exclusive end. */
  from: string;
  to: string;
  /** Hour starts (ISO), ascending: the columns. */
  hours: string[];
  rows: StatusRow[];
  totals: StatusTotals;
  /** True when any hour was compared with the Live API's listing. */
  sourceListed: boolean;
  /** Problems that did not stop the status (a domain whose listing failed, ...), redacted. */
  warnings: string[];
  /** True when any cell needs attention (see ATTENTION_STATES). */
  attention: boolean;
}

export type ManifestRead =
  | { kind: 'present'; manifest: Manifest }
  | { kind: 'missing' }
  | { kind: 'unreadable'; problem: string };

export interface StatusInput {
  domains: readonly string[];
  /** Hour starts, ascending. */
  hoursMs: readonly number[];
  manifestOf(domain: string, hourStartMs: number): ManifestRead;
  /** Names the Live API lists for the hour, or null when unknown. Omitted: the listing was not asked at all. */
  listedNamesOf?(domain: string, hourStartMs: number): readonly string[] | null;
  warnings?: readonly string[];
}

// ---------------------------------------------------------------------------------------------------------------
// The model (pure)

export function buildStatusGrid(input: StatusInput): StatusGrid {
  const hoursMs = [...input.hoursMs];
  if (hoursMs.length === 0) throw new RangeError('a status grid needs at least one hour');
  let sourceListed = false;
  const rows = input.domains.map((domain) => ({
    domain,
    cells: hoursMs.map((hourMs) => {
      const listed = input.listedNamesOf?.(domain, hourMs) ?? null;
      if (listed !== null) sourceListed = true;
      return buildCell(isoHour(hourMs), input.manifestOf(domain, hourMs), listed);
    }),
  }));
  const totals = totalsOf(rows);
  return {
    from: isoHour(hoursMs[0]),
    to: isoHour(hoursMs[hoursMs.length - 1] + HOUR_MS),
    hours: hoursMs.map(isoHour),
    rows,
    totals,
    sourceListed,
    warnings: [...(input.warnings ?? [])],
    attention: CELL_STATES.some((s) => ATTENTION_STATES.has(s) && totals.hours[s] > 0),
  };
}

export function buildCell(hour: string, read: ManifestRead, listedNames: readonly string[] | null): StatusCell {
  const listed = listedNames === null ? null : new Set(listedNames).size;
  const cell: StatusCell = { hour, state: CellState.NoData, listed, recorded: 0, archived: 0, failed: 0, conflict: 0, unrecorded: 0, issues: [] };
  if (read.kind === 'unreadable') {
    cell.state = CellState.Unreadable;
    cell.manifestProblem = read.problem;
    return cell;
  }
  if (read.kind === 'missing') {
    cell.unrecorded = listed ?? 0;
    cell.state = cell.unrecorded > 0 ? CellState.MissingManifest : CellState.NoData;
    return cell;
  }
  const entries = Object.values(read.manifest.files).sort((a, b) => compareCodeUnits(a.name, b.name));
  cell.recorded = entries.length;
  for (const entry of entries) {
    if (entry.status === FileStatus.Archived) {
      cell.archived++;
      continue;
    }
    if (entry.status === FileStatus.Failed) cell.failed++;
    else cell.conflict++;
    if (cell.issues.length < MAX_ISSUES_PER_CELL) {
      const issue: CellIssue = { name: entry.name, status: entry.status };
      if (entry.lastError !== undefined) issue.error = entry.lastError;
      cell.issues.push(issue);
    }
  }
  if (listedNames !== null) {
    const recorded = new Set(entries.map((e) => e.name));
    cell.unrecorded = new Set(listedNames.filter((name) => !recorded.has(name))).size;
  }
  cell.state =
    cell.conflict > 0
      ? CellState.Conflict
      : cell.failed > 0
        ? CellState.Failed
        : cell.unrecorded > 0
          ? CellState.Partial
          : cell.archived > 0
            ? CellState.Archived
            : CellState.NoData;
  return cell;
}

function totalsOf(rows: readonly StatusRow[]): StatusTotals {
  const hours = Object.fromEntries(CELL_STATES.map((s) => [s, 0])) as Record<CellState, number>;
  const files: StatusTotals['files'] = { listed: null, recorded: 0, archived: 0, failed: 0, conflict: 0, unrecorded: 0 };
  for (const row of rows) {
    for (const cell of row.cells) {
      hours[cell.state]++;
      if (cell.listed !== null) files.listed = (files.listed ?? 0) + cell.listed;
      files.recorded += cell.recorded;
      files.archived += cell.archived;
      files.failed += cell.failed;
      files.conflict += cell.conflict;
      files.unrecorded += cell.unrecorded;
    }
  }
  return { hours, files };
}

// ---------------------------------------------------------------------------------------------------------------
// Reading (I/O through the ports)

export interface ReadManifestsOptions {
  statePrefix: string;
  domains: readonly string[];
  hoursMs: readonly number[];
  concurrency: number;
  /** Called once per (domain, hour) read, for progress. */
  onRead?: () => void;
}

/** One GET per (domain, hour). A failed GET counts as unreadable (with the redacted reason), not as missing. */
export async function readManifests(store: ObjectStore, opts: ReadManifestsOptions): Promise<Map<string, ManifestRead>> {
  const cells = opts.domains.flatMap((domain) => opts.hoursMs.map((hourStartMs) => ({ domain, hourStartMs })));
  const results = await mapPool(cells, opts.concurrency, async ({ domain, hourStartMs }): Promise<ManifestRead> => {
    try {
      const text = await store.getText(manifestKey(opts.statePrefix, domain, hourStartMs));
      if (text === null) return { kind: 'missing' };
      const parsed = parseManifest(text, { domain, hourStartMs });
      return 'corrupt' in parsed ? { kind: 'unreadable', problem: `corrupt: ${parsed.corrupt}` } : { kind: 'present', manifest: parsed };
    } finally {
      opts.onRead?.();
    }
  });
  const reads = new Map<string, ManifestRead>();
  results.forEach((result, i) => {
    const { domain, hourStartMs } = cells[i];
    reads.set(
      cellId(domain, hourStartMs),
      result.status === 'fulfilled' ? result.value : { kind: 'unreadable', problem: `could not be read: ${redactError(result.reason)}` },
    );
  });
  return reads;
}

export interface ListedNames {
  /** Names per (domain, hour) for every hour the Live API answered about (an empty array for none). */
  names: Map<string, string[]>;
  warnings: string[];
}

/**
 * The Live API's listing of the completed hours of the range it still serves (31 days), one paged listing per
 * domain. A domain whose listing fails is a warning: its cells fall back to the manifests alone.
 */
export async function readListedNames(
  lister: LiveLister,
  opts: { domains: readonly string[]; startMs: number; endMs: number; nowMs: number },
): Promise<ListedNames> {
  const names = new Map<string, string[]>();
  const warnings: string[] = [];
  const startMs = Math.max(opts.startMs, oldestListableHourMs(opts.nowMs));
  // The current hour's logs are still being written; the API would answer "none yet".
  const endMs = Math.min(opts.endMs, hourStart(opts.nowMs));
  if (startMs >= endMs) return { names, warnings };
  const results = await mapPool(opts.domains, LISTING_CONCURRENCY, (domain) => lister.list(domain, startMs, endMs));
  results.forEach((result, i) => {
    const domain = opts.domains[i];
    if (result.status === 'rejected') {
      warnings.push(`listing ${domain} failed, its hours are shown from manifests only: ${redactError(result.reason)}`);
      return;
    }
    for (let h = startMs; h < endMs; h += HOUR_MS) names.set(cellId(domain, h), []);
    for (const file of result.value.files) names.get(cellId(domain, file.hourStartMs))?.push(file.name);
  });
  return { names, warnings };
}

const LISTING_CONCURRENCY = 4;

export function cellId(domain: string, hourStartMs: number): string {
  return `${domain}\u0000${hourStartMs}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering (pure text; colour is ANSI SGR and only when asked)

export const CELL_SYMBOL: Record<CellState, string> = {
  [CellState.Archived]: '#',
  [CellState.Partial]: '+',
  [CellState.MissingManifest]: '?',
  [CellState.Failed]: 'x',
  [CellState.Conflict]: '!',
  [CellState.Unreadable]: '*',
  [CellState.NoData]: '.',
};

const CELL_LABEL: Record<CellState, string> = {
  [CellState.Archived]: 'archived',
  [CellState.Partial]: 'partial',
  [CellState.MissingManifest]: 'no manifest (logs listed)',
  [CellState.Failed]: 'failed',
  [CellState.Conflict]: 'conflict',
  [CellState.Unreadable]: 'manifest unreadable',
  [CellState.NoData]: 'no data',
};

const ANSI = { green: '\x1b[32m', yellow: '\x1b[33m', red: '\x1b[31m', dim: '\x1b[2m', bold: '\x1b[1m', reset: '\x1b[0m' } as const;

const CELL_COLOR: Record<CellState, string> = {
  [CellState.Archived]: ANSI.green,
  [CellState.Partial]: ANSI.yellow,
  [CellState.MissingManifest]: ANSI.yellow,
  [CellState.Failed]: ANSI.red,
  [CellState.Conflict]: ANSI.bold + ANSI.red,
  [CellState.Unreadable]: ANSI.red,
  [CellState.NoData]: ANSI.dim,
};

export interface RenderOptions {
  color: boolean;
  /** Day groups wrap into blocks that fit this many columns (at least one day per block). */
  widthCols: number;
  /** Cells listed under "Needs attention" before the rest are only counted. */
  maxAttentionLines?: number;
}

const DATE_HEADER_CHARS = 10; // yyyy-MM-dd
const GROUP_GAP = '  ';
const DEFAULT_ATTENTION_LINES = 20;

/** The whole human-readable status: title, grid (wrapped by days), legend, totals, cells that need attention. */
export function renderStatus(grid: StatusGrid, opts: RenderOptions): string {
  const paint = painter(opts.color);
  const lines: string[] = [];
  const domainCount = grid.rows.length;
  lines.push(
    `Archive status ${grid.from} .. ${grid.to} (${grid.hours.length} ${plural(grid.hours.length, 'hour')} x ${domainCount} ${plural(domainCount, 'domain')}, UTC)`,
  );
  for (const block of renderGridBlocks(grid, opts)) lines.push('', ...block);
  lines.push('', renderLegend(opts.color), ...renderTotals(grid));
  const attention = renderAttention(grid, opts.maxAttentionLines ?? DEFAULT_ATTENTION_LINES);
  if (attention.length > 0) lines.push('', paint(ANSI.bold, 'Needs attention:'), ...attention);
  for (const warning of grid.warnings) lines.push(`warning: ${warning}`);
  return `${lines.join('\n')}\n`;
}

interface DayGroup {
  date: string;
  /** Column indexes into grid.hours. */
  columns: number[];
  width: number;
}

function dayGroups(hours: readonly string[]): DayGroup[] {
  const groups: DayGroup[] = [];
  hours.forEach((hour, column) => {
    const date = hour.slice(0, 10);
    const last = groups[groups.length - 1];
    if (last && last.date === date) last.columns.push(column);
    else groups.push({ date, columns: [column], width: 0 });
  });
  // A day cut by the range may hold fewer hours than its date is wide; pad it so headers never collide.
  for (const g of groups) g.width = Math.max(g.columns.length, DATE_HEADER_CHARS);
  return groups;
}

/**
 * Each block: date header, two ruler lines (tens and units of the UTC hour, tens shown where they change), then
 * one row per domain with a symbol per hour.
 */
export function renderGridBlocks(grid: StatusGrid, opts: RenderOptions): string[][] {
  const paint = painter(opts.color);
  const labelWidth = Math.max('domain'.length, ...grid.rows.map((r) => r.domain.length));
  const blocks: DayGroup[][] = [];
  let used = labelWidth;
  for (const group of dayGroups(grid.hours)) {
    const needed = GROUP_GAP.length + group.width;
    const current = blocks[blocks.length - 1];
    if (current && used + needed <= opts.widthCols) {
      current.push(group);
      used += needed;
    } else {
      blocks.push([group]);
      used = labelWidth + needed;
    }
  }
  return blocks.map((groups) => {
    const pad = (text: string, width: number) => text + ' '.repeat(Math.max(0, width - text.length));
    const line = (label: string, part: (g: DayGroup) => string) =>
      (pad(label, labelWidth) + groups.map((g) => GROUP_GAP + part(g)).join('')).trimEnd();
    const hourOf = (column: number) => Number(grid.hours[column].slice(11, 13));
    const tens = (g: DayGroup) =>
      pad(g.columns.map((c, i) => (i === 0 || hourOf(c) % 10 === 0 ? String(Math.floor(hourOf(c) / 10)) : ' ')).join(''), g.width);
    const units = (g: DayGroup) => pad(g.columns.map((c) => String(hourOf(c) % 10)).join(''), g.width);
    const rows = grid.rows.map((row) => {
      // Plain padding after the cells keeps the colour codes out of the width arithmetic.
      const cellsOf = (g: DayGroup) =>
        g.columns.map((c) => paint(CELL_COLOR[row.cells[c].state], CELL_SYMBOL[row.cells[c].state])).join('') +
        ' '.repeat(g.width - g.columns.length);
      return line(row.domain, cellsOf);
    });
    return [line('', (g) => pad(g.date, g.width)), line('', tens), line('', units), ...rows];
  });
}

export function renderLegend(color: boolean): string {
  const paint = painter(color);
  const order: CellState[] = [
    CellState.Archived,
    CellState.Partial,
    CellState.MissingManifest,
    CellState.Failed,
    CellState.Conflict,
    CellState.Unreadable,
    CellState.NoData,
  ];
  return `Legend: ${order.map((s) => `${paint(CELL_COLOR[s], CELL_SYMBOL[s])} ${CELL_LABEL[s]}`).join('  ')}`;
}

export function renderTotals(grid: StatusGrid): string[] {
  const h = grid.totals.hours;
  const f = grid.totals.files;
  const cells = grid.hours.length * grid.rows.length;
  const hourParts = CELL_STATES.map((s) => `${h[s]} ${CELL_LABEL[s]}`);
  const listed =
    f.listed === null
      ? 'not compared with the Live API listing'
      : `${f.listed} listed by the Live API, ${f.unrecorded} of them not in a manifest`;
  return [
    `Hours (${cells}): ${hourParts.join(', ')}`,
    `Files: ${f.recorded} in manifests (${f.archived} archived, ${f.failed} failed, ${f.conflict} conflict); ${listed}`,
  ];
}

/**
 * One line per cell that needs attention, worst state first, with the failing files named. Consecutive hours of
 * one domain without a manifest collapse into one line: a new deployment's untouched past is one line, not 700.
 */
export function renderAttention(grid: StatusGrid, maxLines: number): string[] {
  const found: Array<{ domain: string; cell: StatusCell }> = [];
  for (const row of grid.rows) for (const cell of row.cells) if (ATTENTION_STATES.has(cell.state)) found.push({ domain: row.domain, cell });
  const rank = (s: CellState) => CELL_STATES.indexOf(s);
  found.sort((a, b) => rank(a.cell.state) - rank(b.cell.state) || compareCodeUnits(a.domain, b.domain) || compareCodeUnits(a.cell.hour, b.cell.hour));
  const items: Array<{ domain: string; cells: StatusCell[] }> = [];
  for (const { domain, cell } of found) {
    const last = items[items.length - 1];
    const lastCell = last?.cells[last.cells.length - 1];
    const continues =
      cell.state === CellState.MissingManifest &&
      lastCell?.state === CellState.MissingManifest &&
      last.domain === domain &&
      Date.parse(cell.hour) === Date.parse(lastCell.hour) + HOUR_MS;
    if (continues) last.cells.push(cell);
    else items.push({ domain, cells: [cell] });
  }
  const lines = items.slice(0, maxLines).flatMap(({ domain, cells }) => {
    const [cell] = cells;
    if (cells.length > 1) {
      const files = cells.reduce((n, c) => n + c.unrecorded, 0);
      const end = isoHour(Date.parse(cells[cells.length - 1].hour) + HOUR_MS);
      return [
        `  ${CELL_SYMBOL[cell.state]} ${domain} ${cell.hour} .. ${end} (${cells.length} hours) no manifest, ${files} ${plural(files, 'file')} listed by the Live API: not archived yet`,
      ];
    }
    return [
      `  ${CELL_SYMBOL[cell.state]} ${domain} ${cell.hour} ${describeCell(cell)}`,
      ...cell.issues.map((issue) => `      ${issue.status} ${issue.name}${issue.error ? `: ${issue.error}` : ''}`),
    ];
  });
  const hiddenHours = items.slice(maxLines).reduce((n, item) => n + item.cells.length, 0);
  if (hiddenHours > 0) lines.push(`  ... and ${hiddenHours} more ${plural(hiddenHours, 'hour')} (--json lists every cell)`);
  return lines;
}


export function describeCell(cell: StatusCell): string {
  switch (cell.state) {
    case CellState.Unreadable:
      return `manifest unreadable (${cell.manifestProblem ?? 'unknown reason'}); the next run rebuilds it from the archive`;
    case CellState.MissingManifest:
      return `no manifest, ${cell.unrecorded} ${plural(cell.unrecorded, 'file')} listed by the Live API: not archived yet`;
    case CellState.Partial:
      return `${cell.archived} of ${cell.listed ?? cell.recorded} listed files archived, ${cell.unrecorded} not in the manifest`;
    default:
      return `${cell.archived} archived, ${cell.failed} failed, ${cell.conflict} conflict` + (cell.unrecorded > 0 ? `, ${cell.unrecorded} not in the manifest` : '');
  }
}

function painter(color: boolean): (code: string, text: string) => string {
  return color ? (code, text) => `${code}${text}${ANSI.reset}` : (_code, text) => text;
}

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}
