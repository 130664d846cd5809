/**
 * Request counts, from the emulators' own counters: one timer run over D domains x 24 hours of files
 * (LOOKBACK_HOURS=23), then the same run again. The repeat must download nothing and read at most one small
 * object (the manifest) per domain and hour.
 */
import { HOUR_MS } from '../lib/time';
import { logName } from '../sandbox/logdata';
import { atMostRatio, exactly, type Figure, figure, type Section, SECTION_TITLES } from './figures';
import type { BenchOptions } from './options';
import { assertArchived, runHandler, startBenchCloud, type BenchCloud, type BenchContext } from './sandbox-runs';

const HOURS = 24;
/** DescribeLivePushProxyLog's page size as lib/live-client.ts asks for it. */
const LIVE_PAGE_SIZE = 1000;
const WRITE_OPS = ['PutObject', 'DeleteObject', 'DeleteMultipleObjects', 'InitiateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload', 'AbortMultipartUpload'];

export interface RequestCounts {
  liveCalls: number;
  ossRequests: number;
  ossByOp: Record<string, number>;
  ossBytesOut: number;
  downloads: number;
  elapsedMs: number;
}

export async function benchRequests(ctx: BenchContext, options: BenchOptions): Promise<{ section: Section; details: unknown }> {
  const domains = Array.from({ length: options.requestDomains }, (_, i) => `push-${i + 1}.example.com`);
  const bench = await startBenchCloud(ctx, 'requests', domains);
  try {
    const lastHourMs = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS;
    let files = 0;
    let bytes = 0;
    for (const domain of domains) {
      for (let h = 0; h < HOURS; h++) {
        const hour = lastHourMs - h * HOUR_MS;
        const seeded = Array.from({ length: options.requestFilesPerHour }, (_, i) => ({
          name: logName(domain, hour, i),
          source: { size: 20_000 + 1_000 * i + h, seed: `${domain}-${hour}-${i}` },
        }));
        bench.cloud.live.seedLogs(domain, hour, seeded);
        files += seeded.length;
        bytes += seeded.reduce((sum, s) => sum + s.source.size, 0);
      }
    }
    const env = {
      LOOKBACK_HOURS: String(HOURS - 1),
      // One invocation for the whole window, even when D x 24 exceeds the default fan-out threshold.
      MAX_HOURS_PER_INVOCATION: String(Math.max(48, domains.length * HOURS)),
    };
    const first = await countedRun(ctx, bench, lastHourMs, env);
    assertArchived(first.report, files, bytes);
    const repeat = await countedRun(ctx, bench, lastHourMs, env);
    if (!repeat.report?.ok || repeat.report.totals.archivedNow !== 0) {
      throw new Error(`the repeat run was expected to archive nothing: ${JSON.stringify(repeat.report)}`);
    }
    ctx.log(`  first run: ${JSON.stringify(first.counts)}`);
    ctx.log(`  repeat run: ${JSON.stringify(repeat.counts)}`);
    return {
      section: section(domains.length, files, first.counts, repeat.counts),
      details: { domains: domains.length, hours: HOURS, files, first: first.counts, repeat: repeat.counts },
    };
  } finally {
    await bench.close();
  }
}

async function countedRun(ctx: BenchContext, bench: BenchCloud, lastHourMs: number, env: Record<string, string>) {
  const { live, oss, origin } = bench.cloud;
  live.resetStats();
  oss.resetStats();
  origin.resetStats();
  const run = await runHandler(ctx, bench, lastHourMs, env);
  const counts: RequestCounts = {
    liveCalls: live.stats.calls,
    ossRequests: oss.stats.requests,
    ossByOp: { ...oss.stats.byOp },
    ossBytesOut: oss.stats.bytesOut,
    downloads: origin.stats.downloadsStarted,
    elapsedMs: run.elapsedMs,
  };
  return { report: run.report, counts };
}

function byOpText(byOp: Record<string, number>): string {
  return Object.entries(byOp)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([op, n]) => `${op} ${n}`)
    .join(', ');
}

function section(domainCount: number, files: number, first: RequestCounts, repeat: RequestCounts): Section {
  const hours = domainCount * HOURS;
  const listingCalls = domainCount * Math.max(1, Math.ceil(files / domainCount / LIVE_PAGE_SIZE));
  const writes = (counts: RequestCounts) => WRITE_OPS.reduce((sum, op) => sum + (counts.ossByOp[op] ?? 0), 0);
  const figures: Figure[] = [
    figure({
      id: 'requests.first.liveCalls',
      label: `first run: Live API calls (${domainCount} domains x ${HOURS} h, ${files} files)`,
      unit: '',
      value: first.liveCalls,
      baseline: { label: 'one paged listing per domain', value: listingCalls },
      target: atMostRatio(1),
    }),
    figure({
      id: 'requests.first.downloads',
      label: 'first run: downloads',
      unit: '',
      value: first.downloads,
      baseline: { label: 'files', value: files },
      target: atMostRatio(1),
    }),
    figure({
      id: 'requests.first.ossRequests',
      label: 'first run: OSS requests',
      unit: '',
      value: first.ossRequests,
      baseline: { label: 'a PUT per file + a manifest per hour', value: files + hours },
      note: byOpText(first.ossByOp),
    }),
    figure({
      id: 'requests.first.ossRequestsPerHour',
      label: '  per domain and hour, beyond the file PUTs',
      unit: '',
      value: (first.ossRequests - files) / hours,
    }),
    figure({
      id: 'requests.repeat.liveCalls',
      label: 'repeat run: Live API calls',
      unit: '',
      value: repeat.liveCalls,
      baseline: { label: 'one paged listing per domain', value: listingCalls },
      target: atMostRatio(1),
    }),
    figure({ id: 'requests.repeat.downloads', label: 'repeat run: downloads', unit: '', value: repeat.downloads, target: exactly(0) }),
    figure({
      id: 'requests.repeat.ossRequests',
      label: 'repeat run: OSS requests',
      unit: '',
      value: repeat.ossRequests,
      baseline: { label: 'one read per domain and hour', value: hours },
      target: atMostRatio(1),
      note: byOpText(repeat.ossByOp),
    }),
    figure({ id: 'requests.repeat.ossWrites', label: 'repeat run: OSS writes', unit: '', value: writes(repeat), target: exactly(0) }),
    figure({
      id: 'requests.repeat.readBytesPerHour',
      label: 'repeat run: bytes read from OSS per domain and hour',
      unit: 'KB',
      value: repeat.ossBytesOut / hours / 1000,
    }),
  ];
  return {
    title: SECTION_TITLES.requests,
    figures,
    notes: [`first run OSS by operation: ${byOpText(first.ossByOp)}`, `repeat run OSS by operation: ${byOpText(repeat.ossByOp) || 'none'}`],
  };
}
