/**
 * `npm start`: one real archive run against the embedded emulators. Starts the loopback cloud, seeds the
 * previous hour with gzip logs of mixed sizes (and the API's documented quirks), invokes the real FC handler the
 * way Function Compute does (Buffer event, context with STS credentials), prints the report and where the files
 * and manifests landed, then runs again to show that a second run archives nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HOUR_MS, isoHour } from '../lib/time';
import type { RunReport } from '../lib/types';
import { startSandboxCloud, type SandboxCloud } from '../sandbox/cloud';
import type { SeedFile } from '../sandbox/contracts';
import { gzipLogFile, logName } from '../sandbox/logdata';

export interface SandboxOptions {
  domains?: string[];
  /** Keep the OSS emulator's data directory after the run (it is printed). */
  keepData?: boolean;
  runs?: number;
  out?: (line: string) => void;
  /** Structured log lines of the handler; by default they are not printed (the report is). */
  logSink?: (line: string) => void;
}

const DEFAULT_DOMAINS = ['push-a.example.com', 'push-b.example.com', 'push-c.example.com'];

export function seedSandboxHour(cloud: SandboxCloud, domains: string[], hourStartMs: number): number {
  let count = 0;
  domains.forEach((domain, d) => {
    const files: SeedFile[] = [
      { name: logName(domain, hourStartMs, 0), source: { content: gzipLogFile({ domain, hourStartMs, lines: 200 }) } },
      {
        name: logName(domain, hourStartMs, 1),
        source: { content: gzipLogFile({ domain, hourStartMs, lines: 20_000, seed: `${domain}-busy` }) },
      },
      // As in the API reference: a newline inside LogName and StartTime later than EndTime.
      {
        name: logName(domain, hourStartMs, 2).replace(`${domain}_`, `${domain}\n_`),
        source: { content: gzipLogFile({ domain, hourStartMs, lines: 50, seed: `${domain}-quirk` }) },
        swapTimes: true,
      },
      // A large file: past the multipart threshold the sandbox sets below.
      { name: logName(domain, hourStartMs, 3), source: { size: (6 + d) * 1024 * 1024, seed: `${domain}-large` } },
    ];
    cloud.live.seedLogs(domain, hourStartMs, files);
    count += files.length;
  });
  return count;
}

export async function runSandbox(opts: SandboxOptions = {}): Promise<RunReport[]> {
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const domains = opts.domains ?? DEFAULT_DOMAINS;
  const dataDir = await mkdtemp(path.join(tmpdir(), 'live-log-archiver-sandbox-'));
  const cloud = await startSandboxCloud({ domains, dataDir });
  const reports: RunReport[] = [];
  try {
    const triggerMs = Math.floor(Date.now() / HOUR_MS) * HOUR_MS + 5 * 60_000;
    const hour = Math.floor(triggerMs / HOUR_MS) * HOUR_MS - HOUR_MS;
    const seeded = seedSandboxHour(cloud, domains, hour);
    out(`live-log-archiver sandbox`);
    out(`  Live API  ${cloud.live.endpoint}`);
    out(`  OSS       ${cloud.oss.endpoint}  bucket ${cloud.bucket}  data ${dataDir}`);
    out(`  origin    ${cloud.origin.endpoint}`);
    out(`  seeded    ${seeded} log files for ${domains.length} domains in hour ${isoHour(hour)}`);

    // The handler reads its configuration from the environment, as it does in Function Compute.
    // LOG_LEVEL=warn keeps the handler's JSON log lines (FC's log stream) out of this readable output.
    Object.assign(process.env, cloud.env, { MULTIPART_THRESHOLD_MB: '4', PART_SIZE_MB: '2', LOOKBACK_HOURS: '0', LOG_LEVEL: 'warn' });
    const { handler } = await import('../functions/archiver/index');
    const event = Buffer.from(
      JSON.stringify({ triggerTime: new Date(triggerMs).toISOString().replace('.000Z', 'Z'), triggerName: 'hourly', payload: '' }),
    );
    const runs = opts.runs ?? 2;
    for (let i = 1; i <= runs; i++) {
      const downloadsBefore = cloud.origin.stats.downloadsStarted;
      const report = await handler(event, cloud.context({ requestId: `sandbox-run-${i}` }));
      reports.push(report);
      out('');
      out(`run ${i}: ${report.ok ? 'ok' : 'NOT OK'} in ${report.durationMs} ms, ` +
        `${cloud.origin.stats.downloadsStarted - downloadsBefore} downloads`);
      for (const line of formatReport(report)) out(`  ${line}`);
    }
    out('');
    out(`archive (bucket ${cloud.bucket}):`);
    for (const key of cloud.oss.listKeys(cloud.bucket)) {
      out(`  ${key}  ${cloud.oss.head(cloud.bucket, key)?.size ?? '?'} bytes`);
    }
    return reports;
  } finally {
    await cloud.close();
    if (!opts.keepData) await rm(dataDir, { recursive: true, force: true });
  }
}

export function formatReport(report: RunReport): string[] {
  const t = report.totals;
  const lines = [
    `listed ${t.listed}, archived now ${t.archivedNow}, already archived ${t.alreadyArchived}, ` +
      `failed ${t.failed}, conflicts ${t.conflicts}, remaining ${t.remaining}, ${t.bytesArchived} bytes`,
  ];
  for (const h of report.hours) {
    lines.push(
      `${h.domain} ${h.hour}: listed ${h.listed}, archived now ${h.archivedNow}, already ${h.alreadyArchived}, ` +
        `failed ${h.failed}, ${h.bytesArchived} bytes, ${h.durationMs} ms`,
    );
  }
  for (const f of report.failures) lines.push(`FAILED ${f.domain} ${f.hour} ${f.name}: ${f.reason}`);
  for (const e of report.errors) lines.push(`ERROR ${e}`);
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  return lines;
}

if (require.main === module) {
  runSandbox({ keepData: process.argv.includes('--keep-data') }).then(
    (reports) => {
      process.exitCode = reports.every((r) => r.ok) ? 0 : 1;
    },
    (err) => {
      process.stderr.write(`sandbox failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
