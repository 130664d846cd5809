/**
 * What `npm run bench` measures and how big: every size can be set from the command line, and `--quick` shrinks
 * everything to a smoke run (well under a minute) that exercises the same code paths.
 */
import { parseArgs } from 'node:util';

const MiB = 1024 * 1024;

export const SUITES = ['crc', 'cold', 'large', 'small', 'requests', 'profile'] as const;
export type Suite = (typeof SUITES)[number];
/**
 * `profile` only on request: its shares are hints, not measurements. In the 2,000-file hour it put ~1,000 ms in
 * CRC-64's update(), which measured directly (process.cpuUsage around every call) cost 170 ms, and the run's
 * total CPU was the same with and without that measurement: the profiler slows or misplaces the inlined call.
 * The CPU-time rows of the default run are what the report relies on.
 */
const DEFAULT_SUITES: Suite[] = ['crc', 'cold', 'large', 'small', 'requests'];

export interface BenchOptions {
  quick: boolean;
  suites: Suite[];
  /** Large-file sizes: each is archived and moved raw `largeRepeats` times (memory is read from the same runs). */
  largeSizesBytes: number[];
  largeRepeats: number;
  smallFiles: number;
  smallMinBytes: number;
  smallMaxBytes: number;
  smallRepeats: number;
  /** Files transferred at once, by the archiver (CONCURRENCY) and by the raw baseline alike. */
  concurrency: number;
  requestDomains: number;
  requestFilesPerHour: number;
  importRuns: number;
  crcBytes: number;
  profileBytes: number;
  /** Where the JSON goes; relative to the project root. */
  outFile: string;
}

const FULL: Omit<BenchOptions, 'quick' | 'suites' | 'outFile'> = {
  largeSizesBytes: [512 * MiB, 2048 * MiB],
  // A median of 3: with 2, one run slowed by other work on the machine moved the figure by 5-10 %.
  largeRepeats: 3,
  smallFiles: 2000,
  smallMinBytes: 10_000,
  smallMaxBytes: 100_000,
  smallRepeats: 3,
  concurrency: 8,
  requestDomains: 2,
  requestFilesPerHour: 2,
  importRuns: 21,
  crcBytes: 512 * MiB,
  profileBytes: 512 * MiB,
};

const QUICK: typeof FULL = {
  // Both above MULTIPART_THRESHOLD_MB (64), so the memory comparison is between two multipart uploads.
  largeSizesBytes: [80 * MiB, 160 * MiB],
  largeRepeats: 1,
  smallFiles: 200,
  smallMinBytes: 10_000,
  smallMaxBytes: 100_000,
  smallRepeats: 1,
  concurrency: 8,
  requestDomains: 1,
  requestFilesPerHour: 1,
  importRuns: 3,
  crcBytes: 64 * MiB,
  profileBytes: 64 * MiB,
};

export const USAGE = `npm run bench -- [options]
  --quick                   small sizes, one repeat: a smoke run of every benchmark
  --only <list>             comma-separated suites: ${SUITES.join(', ')} (default: all but profile)
  --large-mib <list>        large file sizes in MiB (default 512,2048)
  --large-repeats <n>       runs per large size and path (default 3)
  --small-files <n>         files in the many-small-files hour (default 2000)
  --small-repeats <n>       runs of the small-files hour per path (default 3)
  --concurrency <n>         CONCURRENCY for the archiver and the raw baseline (default 8)
  --domains <n>             domains in the request-count run (default 2; x 24 hours)
  --import-runs <n>         fresh node processes per import-time median (default 21)
  --out <file>              JSON output (default bench/results/latest.json)`;

export function parseBenchOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'large-mib': { type: 'string' },
      'large-repeats': { type: 'string' },
      'small-files': { type: 'string' },
      'small-repeats': { type: 'string' },
      concurrency: { type: 'string' },
      domains: { type: 'string' },
      'import-runs': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const base = values.quick ? QUICK : FULL;
  const suites = values.only ? parseSuites(values.only) : [...DEFAULT_SUITES];
  return {
    ...base,
    quick: values.quick ?? false,
    suites,
    largeSizesBytes: values['large-mib'] ? parseList('--large-mib', values['large-mib']).map((mib) => mib * MiB) : base.largeSizesBytes,
    largeRepeats: intOption('--large-repeats', values['large-repeats'], base.largeRepeats, 1, 20),
    smallFiles: intOption('--small-files', values['small-files'], base.smallFiles, 1, 100_000),
    smallRepeats: intOption('--small-repeats', values['small-repeats'], base.smallRepeats, 1, 20),
    concurrency: intOption('--concurrency', values.concurrency, base.concurrency, 1, 64),
    requestDomains: intOption('--domains', values.domains, base.requestDomains, 1, 50),
    importRuns: intOption('--import-runs', values['import-runs'], base.importRuns, 1, 200),
    outFile: values.out ?? 'bench/results/latest.json',
  };
}

function parseSuites(text: string): Suite[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!(SUITES as readonly string[]).includes(name)) throw new Error(`--only: unknown suite ${name}; known: ${SUITES.join(', ')}`);
  }
  return names as Suite[];
}

function parseList(flag: string, text: string): number[] {
  const list = text.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isSafeInteger(n) || n <= 0 || n > 5 * 1024)) {
    throw new Error(`${flag} takes comma-separated whole MiB in 1..5120, got ${text}`);
  }
  return list;
}

function intOption(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`${flag} must be an integer in ${min}..${max}, got ${text}`);
  return n;
}
