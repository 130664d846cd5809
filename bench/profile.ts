/**
 * `--only profile`: one run of lib/archiver.ts under `node --cpu-prof` per workload, its samples grouped by module
 * (CRC-64, the rest of lib/, ali-oss, urllib, Node's streams and sockets, GC, idle). Run from source (ts-node) so
 * every module keeps its file name; samples before the job and ts-node's compiling are left out of the shares.
 * A hint of where to look, not a measurement: see DEFAULT_SUITES in bench/options.ts for how far it can be off.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { logName } from '../sandbox/logdata';
import { figure, MB, median, type Figure, type Section } from './figures';
import { runArchiverFromSource, startBenchCloud, type BenchContext } from './sandbox-runs';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  /** µs on the monotonic clock, as process.hrtime. */
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const STARTUP = 'start-up (ts-node compiling the sources)';
const IDLE = 'idle (waiting for sockets)';

/** This project's lib/ as it appears in profile URLs (file:// URLs or plain paths). */
const PROJECT_LIB = `${path.resolve(__dirname, '..', 'lib')}${path.sep}`;

const PROJECT_ROOT_PREFIX = `${path.resolve(__dirname, '..')}${path.sep}`;

/** A frame's file relative to the project (`lib/run.ts`, `node_modules/ali-oss/lib/...`); Node's own as they are. */
function shortUrl(url: string): string {
  const file = url.replace(/^file:\/\//, '');
  return file.startsWith(PROJECT_ROOT_PREFIX) ? file.slice(PROJECT_ROOT_PREFIX.length) : file;
}

/** Module group of a profile frame; the order of the tests matters (lib/crc64 before lib/). */
function groupOf(frame: CpuProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (functionName === '(idle)') return IDLE;
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (functionName === '(program)' || functionName === '(root)') return 'V8 / native (program)';
  if (/node_modules\/(typescript|ts-node|source-map-support)\//.test(url)) return STARTUP;
  // Packages first: ali-oss keeps its code under node_modules/ali-oss/lib/, which is not this project's lib/.
  if (url.includes('node_modules/ali-oss/')) return 'ali-oss';
  if (url.includes('node_modules/urllib/')) return 'urllib (ali-oss HTTP client)';
  if (url.includes('node_modules/')) return 'other packages';
  if (url.includes(`${PROJECT_LIB}crc64`)) return 'CRC-64 (lib/crc64.ts)';
  if (url.includes(PROJECT_LIB)) return 'lib/ (meter, transfer, oss-store, run, ...)';
  if (url.includes('/bench/')) return 'benchmark child';
  if (url.startsWith('node:')) return "Node core (streams, http, net)";
  if (url === '') return 'native built-ins (buffers, syscalls)';
  return 'other';
}

/** Self time per group and per function, of the samples taken from `fromUs` on (the job, not the start-up). */
export function selfTimeByGroup(profile: CpuProfile, fromUs = 0): { groups: Map<string, number>; functions: Map<string, number> } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  // Every sample weighs one sampling interval: weighing by the time since the previous sample charges to the
  // running function all the time another process held the CPU, which on a shared machine is a lot.
  const intervalUs = median(profile.timeDeltas.filter((d) => d > 0));
  let atUs = profile.startTime;
  profile.samples.forEach((id, i) => {
    atUs += profile.timeDeltas[i] ?? 0;
    if (atUs < fromUs) return;
    const deltaUs = intervalUs;
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    const group = groupOf(frame);
    groups.set(group, (groups.get(group) ?? 0) + deltaUs);
    if (group !== IDLE && group !== STARTUP) {
      const name = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
      functions.set(name, (functions.get(name) ?? 0) + deltaUs);
    }
  });
  return { groups, functions };
}

export interface ProfileWorkload {
  name: string;
  /** The files of the one hour the profiled run archives. */
  sizesBytes: number[];
  env: Record<string, string>;
}

export async function benchProfile(ctx: BenchContext, workload: ProfileWorkload): Promise<{ section: Section; details: unknown }> {
  const domain = 'profile.example.com';
  const profileDir = path.join(ctx.workDir, `cpu-profile-${workload.name}`);
  await mkdir(profileDir, { recursive: true });
  const bench = await startBenchCloud(ctx, `profile-${workload.name}`, [domain]);
  const totalBytes = workload.sizesBytes.reduce((a, b) => a + b, 0);
  let run;
  try {
    const hour = bench.nextHourMs();
    bench.cloud.live.seedLogs(
      domain,
      hour,
      workload.sizesBytes.map((size, i) => ({ name: logName(domain, hour, i), source: { size, seed: `profile-${i}` } })),
    );
    run = await runArchiverFromSource(ctx, bench, hour, workload.env, ['--cpu-prof', '--cpu-prof-dir', profileDir]);
    if (!run.report?.ok || run.report.totals.bytesArchived !== totalBytes) throw new Error(`profiled run failed: ${JSON.stringify(run.report)}`);
  } finally {
    await bench.close();
  }
  const [file] = (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile'));
  const profile = JSON.parse(await readFile(path.join(profileDir, file), 'utf8')) as CpuProfile;
  // Samples before the job (loading and compiling modules) say nothing about archiving: only the job's count,
  // when the job's start falls inside the profile (both clocks are the monotonic clock).
  const jobInProfile = run.jobStartedUs > profile.startTime && run.jobStartedUs < profile.endTime;
  const { groups, functions } = selfTimeByGroup(profile, jobInProfile ? run.jobStartedUs : 0);
  const jobUs = [...groups].filter(([g]) => g !== STARTUP).reduce((sum, [, us]) => sum + us, 0);
  const busyUs = jobUs - (groups.get(IDLE) ?? 0);
  const ranked = [...groups].filter(([g]) => g !== STARTUP).sort((a, b) => b[1] - a[1]);
  const files = workload.sizesBytes.length;
  const figures: Figure[] = [
    figure({
      id: `profile.${workload.name}.elapsed`,
      label: `profiled run (${workload.name}), under --cpu-prof`,
      unit: files === 1 ? 'MB/s' : 'files/s',
      value: files === 1 ? totalBytes / MB / (run.elapsedMs / 1000) : files / (run.elapsedMs / 1000),
      note: jobInProfile
        ? 'slowed by the profiler; the shares below are of the samples taken during the job'
        : 'slowed by the profiler; the job start could not be placed in the profile: the shares include start-up',
    }),
    ...ranked.map(([group, us]) =>
      figure({ id: `profile.${workload.name}.share.${group}`, label: `  ${group}`, unit: '%', value: (100 * us) / jobUs }),
    ),
  ];
  const topFunctions = [...functions].sort((a, b) => b[1] - a[1]).slice(0, 10);
  return {
    section: {
      title: `Where the time goes (CPU profile of the archiver process, ${workload.name})`,
      figures,
      notes: [
        `busy ${(busyUs / 1000).toFixed(0)} ms of ${(jobUs / 1000).toFixed(0)} ms; top functions by self time: ` +
          topFunctions.map(([name, us]) => `${name} ${(us / 1000).toFixed(0)} ms`).join('; '),
      ],
    },
    details: {
      workload: { name: workload.name, files, totalBytes, env: workload.env },
      elapsedMs: run.elapsedMs,
      requests: run.requests,
      jobInProfile,
      groupsMs: Object.fromEntries(ranked.map(([g, us]) => [g, us / 1000])),
      topFunctionsMs: Object.fromEntries(topFunctions.map(([name, us]) => [name, us / 1000])),
    },
  };
}
