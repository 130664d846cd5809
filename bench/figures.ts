/**
 * A measured figure, its baseline from the same run, and the target it is held to; and the table they print as.
 * Benchmarks report, they never fail: a missed target is a row that says "no", not an exit code.
 */

/** How the target is read: on the ratio value/baseline, or on the value itself. */
export interface Target {
  on: 'ratio' | 'value';
  op: '>=' | '<=' | '<' | '==';
  limit: number;
  /** As printed, e.g. ">= 0.9x" or "< 200 MB". */
  text: string;
}

export interface Figure {
  id: string;
  label: string;
  unit: string;
  value: number;
  baseline?: { label: string; value: number };
  ratio?: number;
  target?: Target;
  met?: boolean;
  /** Anything a reader of the number must know (what dominated it, which run it came from). */
  note?: string;
}

export function figure(f: Omit<Figure, 'ratio' | 'met'>): Figure {
  const ratio = f.baseline && f.baseline.value !== 0 ? f.value / f.baseline.value : undefined;
  let met: boolean | undefined;
  if (f.target) {
    const subject = f.target.on === 'ratio' ? ratio : f.value;
    met = subject === undefined ? false : compare(subject, f.target.op, f.target.limit);
  }
  return { ...f, ...(ratio === undefined ? {} : { ratio }), ...(met === undefined ? {} : { met }) };
}

function compare(subject: number, op: Target['op'], limit: number): boolean {
  switch (op) {
    case '>=':
      return subject >= limit;
    case '<=':
      return subject <= limit;
    case '<':
      return subject < limit;
    case '==':
      return subject === limit;
  }
}

export const atLeastRatio = (limit: number): Target => ({ on: 'ratio', op: '>=', limit, text: `>= ${limit}x` });
export const atMostRatio = (limit: number): Target => ({ on: 'ratio', op: '<=', limit, text: `<= ${limit}x` });
export const below = (limit: number, unit: string): Target => ({ on: 'value', op: '<', limit, text: `< ${limit} ${unit}` });
export const atMost = (limit: number, unit: string): Target => ({ on: 'value', op: '<=', limit, text: `<= ${limit} ${unit}` });
export const exactly = (limit: number): Target => ({ on: 'value', op: '==', limit, text: `= ${limit}` });

export const SECTION_TITLES = {
  largeThroughput: 'Throughput, large files',
  smallThroughput: 'Throughput, many small files',
  memory: 'Memory (archiver child process, peak RSS)',
  requests: 'Requests',
  coldStart: 'Cold start',
} as const;

/** Large- and small-file suites both add rows to this section. */
export const CPU_SECTION_TITLE = 'Where the time goes: CPU of the process moving the bytes (same runs)';

export const MICRO_SECTION_TITLE = 'Where the time goes: per-byte work, this process alone (median of 3)';

export interface Section {
  title: string;
  figures: Figure[];
  /** Lines printed under the section's rows. */
  notes: string[];
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function withUnit(value: number, unit: string): string {
  return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

/** The rows as they are printed and pasted into docs/PERFORMANCE.md (a Markdown table, readable as plain text). */
export function renderTable(sections: Section[]): string {
  const header = ['figure', 'value', 'baseline (same run)', 'ratio', 'target', 'met'];
  const rows: string[][] = [];
  for (const section of sections) {
    rows.push([`**${section.title}**`, '', '', '', '', '']);
    for (const f of section.figures) {
      rows.push([
        f.label,
        withUnit(f.value, f.unit),
        f.baseline ? `${withUnit(f.baseline.value, f.unit)} (${f.baseline.label})` : '',
        f.ratio === undefined ? '' : `${f.ratio.toFixed(2)}x`,
        f.target?.text ?? '',
        f.met === undefined ? '' : f.met ? 'yes' : 'NO',
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  const notes = sections.flatMap((s) => s.notes.map((n) => `- ${s.title}: ${n}`));
  return [line(header), rule, ...rows.map(line), '', ...notes].join('\n');
}

export function median(values: number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export const MiB = 1024 * 1024;
export const MB = 1_000_000;

/** The order the table reads in: results first, then the explanations. Sections not listed come last. */
const SECTION_ORDER: string[] = [...Object.values(SECTION_TITLES), CPU_SECTION_TITLE, MICRO_SECTION_TITLE];

/** Sections of the same title (memory is measured by two suites) become one, in SECTION_ORDER. */
export function mergeSections(sections: Section[]): Section[] {
  const merged = new Map<string, Section>();
  for (const s of sections) {
    const existing = merged.get(s.title);
    if (existing) {
      existing.figures.push(...s.figures);
      existing.notes.push(...s.notes);
    } else {
      merged.set(s.title, { title: s.title, figures: [...s.figures], notes: [...s.notes] });
    }
  }
  const rank = (title: string) => (SECTION_ORDER.includes(title) ? SECTION_ORDER.indexOf(title) : SECTION_ORDER.length);
  return [...merged.values()].sort((a, b) => rank(a.title) - rank(b.title));
}
