import { main, type CliIo } from '../../bin/cli';
import { createArchiver } from '../../lib/archiver';
import { isoHour } from '../../lib/time';
import { startSandboxCloud, type SandboxCloud } from '../../sandbox/cloud';
import { SANDBOX_STS } from '../../sandbox/contracts';
import { startFcEmulator, type FcEmulator } from '../../sandbox/fc-emulator';
import { logName } from '../../sandbox/logdata';

const HOUR_MS = 3_600_000;
const A = 'a.example.com';
const B = 'b.example.com';
const BUCKET = 'live-log-archive';

/** Hour starts built by hand: the three completed hours before the current one, and one before them. */
const currentHourMs = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
const H0 = currentHourMs - 4 * HOUR_MS;
const H1 = currentHourMs - 3 * HOUR_MS;
const H2 = currentHourMs - 2 * HOUR_MS;
const H3 = currentHourMs - HOUR_MS;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

function keyPath(prefix: string, domain: string, hourMs: number): string {
  const [date, time] = iso(hourMs).split('T');
  return `${prefix}${domain}/${date.replace(/-/g, '/')}/${time.slice(0, 2)}`;
}
const archiveKeyFor = (domain: string, hourMs: number, name: string) => `${keyPath('live-logs/', domain, hourMs)}/${name}`;
const manifestKeyFor = (domain: string, hourMs: number) => `${keyPath('live-logs-state/manifests/', domain, hourMs)}.json`;

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function runCli(argv: string[], env: Record<string, string | undefined>, isTTY = false): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env,
    isTTY,
  };
  const code = await main(argv, io);
  // Whatever the command printed, the credentials it was given never appear in it.
  for (const secret of [SANDBOX_STS.accessKeySecret, SANDBOX_STS.securityToken]) expect(stdout + stderr).not.toContain(secret);
  return { code, stdout, stderr };
}

function credentialsEnv(): Record<string, string> {
  return {
    ALIBABA_CLOUD_ACCESS_KEY_ID: SANDBOX_STS.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: SANDBOX_STS.accessKeySecret,
    ALIBABA_CLOUD_SECURITY_TOKEN: SANDBOX_STS.securityToken,
  };
}

describe('the operator CLI against the sandbox cloud', () => {
  let cloud: SandboxCloud;
  let env: Record<string, string>;

  const cli = (argv: string[], extraEnv: Record<string, string | undefined> = {}, isTTY = false) => runCli(argv, { ...env, ...extraEnv }, isTTY);

  beforeAll(async () => {
    cloud = await startSandboxCloud({ domains: [A, B] });
    env = { ...cloud.env, LOOKBACK_HOURS: '0', ...credentialsEnv() };
    const file = (domain: string, hourMs: number, i: number) => ({
      name: logName(domain, hourMs, i),
      source: { content: Buffer.from(`${domain} ${iso(hourMs)} log ${i}\n`.repeat(50 + i)) },
    });
    cloud.live.seedLogs(A, H1, [file(A, H1, 0), file(A, H1, 1)]);
    cloud.live.seedLogs(A, H2, [file(A, H2, 0)]);
    cloud.live.seedLogs(A, H3, [file(A, H3, 0)]);
    cloud.live.seedLogs(B, H1, [file(B, H1, 0)]);
    cloud.live.seedLogs(B, H3, [file(B, H3, 0)]);
  });
  afterAll(async () => {
    await cloud?.close();
  });

  it('backfills a range in place, printing a summary and plain progress lines, and exits 0', async () => {
    const run = await cli(['backfill', '--from', iso(H1), '--to', iso(H3 + HOUR_MS)]);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^backfill run cli-backfill-\S+: ok/);
    expect(run.stdout).toContain('Files: 6 listed, 6 archived now');
    expect(run.stderr).toMatch(/backfill units \(domain x day\): 0\/\d+/);
    expect(cloud.oss.head(BUCKET, archiveKeyFor(A, H1, logName(A, H1, 1)))).not.toBeNull();
    expect(cloud.oss.head(BUCKET, manifestKeyFor(B, H3))).not.toBeNull();
  });

  it('runs one archive run now as the timer would (the previous hour), printing the RunReport as JSON', async () => {
    const run = await cli(['run', '--json']);

    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ ok: true, action: 'timer' });
    expect(report.hours.map((h: { domain: string; hour: string }) => `${h.domain} ${h.hour}`).sort()).toEqual([
      `${A} ${isoHour(H3)}`,
      `${B} ${isoHour(H3)}`,
    ]);
    expect(report.totals).toMatchObject({ listed: 2, alreadyArchived: 2, archivedNow: 0 });
    expect(run.stderr).toBe('');
  });

  it('shows a clean range as archived and no-data cells, exits 0, and prints parseable --json', async () => {
    const range = ['--from', iso(H1), '--to', iso(H3 + HOUR_MS)];
    const plain = await cli(['status', ...range]);
    const json = await cli(['status', ...range, '--json']);

    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(new RegExp(`^${A.replace(/\./g, '\\.')}  ###\\s*$`, 'm'));
    expect(plain.stdout).toMatch(new RegExp(`^${B.replace(/\./g, '\\.')}  #\\.#\\s*$`, 'm'));
    expect(plain.stdout).toContain('Legend: # archived');
    expect(plain.stdout).not.toContain('\x1b[');
    expect(plain.stdout).not.toContain('Needs attention');
    expect(json.code).toBe(0);
    const grid = JSON.parse(json.stdout);
    expect(grid.rows.map((r: { cells: Array<{ state: string }> }) => r.cells.map((c) => c.state))).toEqual([
      ['archived', 'archived', 'archived'],
      ['archived', 'no-data', 'archived'],
    ]);
    expect(grid.totals.files).toMatchObject({ listed: 6, archived: 6, unrecorded: 0 });
  });

  it('colours the grid when stdout is a terminal, and not with NO_COLOR or --no-color', async () => {
    const range = ['--from', iso(H1), '--to', iso(H3 + HOUR_MS)];

    expect((await cli(['status', ...range], {}, true)).stdout).toContain('\x1b[32m#\x1b[0m');
    expect((await cli(['status', ...range], { NO_COLOR: '1' }, true)).stdout).not.toContain('\x1b[');
    expect((await cli(['--no-color', 'status', ...range], {}, true)).stdout).not.toContain('\x1b[');
  });

  it('verifies a clean range: every archived object matches its manifest, exit 0', async () => {
    const run = await cli(['verify', '--from', iso(H1), '--to', iso(H3 + HOUR_MS)]);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Objects: 6 checked, 6 verified (size + CRC-64)');
    expect(run.stdout).toContain('OK: every archived object matches its manifest');
    expect(run.stderr).toContain('objects checked: 6/6');
  });

  it('reports a failed backfill with exit 1, and status shows the failed hour and a missing manifest as gaps', async () => {
    cloud.live.seedLogs(B, H0, [{ name: logName(B, H0, 0), source: { content: Buffer.from('unreachable log') } }]);
    cloud.origin.faults.notFound({ times: 5 });
    const failedRun = await cli(['backfill', '--from', iso(H0), '--to', iso(H0 + HOUR_MS), '--domain', B, '--json'], { MAX_ATTEMPTS: '1' });
    cloud.origin.faults.reset();
    // A gap: files are listed for the hour but its manifest is gone.
    await cloud.oss.deleteObject(BUCKET, manifestKeyFor(B, H3));

    const status = await cli(['status', '--from', iso(H0), '--to', iso(H3 + HOUR_MS)]);
    const json = await cli(['status', '--from', iso(H0), '--to', iso(H3 + HOUR_MS), '--json']);

    expect(failedRun.code).toBe(1);
    expect(JSON.parse(failedRun.stdout)).toMatchObject({ ok: false, totals: { failed: 1 } });
    expect(failedRun.stderr).toBe('');
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(new RegExp(`^${B.replace(/\./g, '\\.')}  .*x#\\.\\?`, 'm'));
    expect(status.stdout).toContain(`x ${B} ${isoHour(H0)} 0 archived, 1 failed, 0 conflict`);
    expect(status.stdout).toContain(`? ${B} ${isoHour(H3)} no manifest, 1 file listed by the Live API: not archived yet`);
    const grid = JSON.parse(json.stdout);
    expect(json.code).toBe(1);
    expect(grid.rows[1].cells.map((c: { state: string }) => c.state)).toEqual(['failed', 'archived', 'no-data', 'missing-manifest']);
    expect(grid.rows[1].cells[0].issues[0]).toMatchObject({ name: logName(B, H0, 0), status: 'failed' });
  });

  it('reports a changed object and a deleted object with a non-zero exit code, and --json lists both', async () => {
    await cloud.oss.plantObject(BUCKET, archiveKeyFor(A, H1, logName(A, H1, 0)), Buffer.from('not the archived bytes'));
    await cloud.oss.deleteObject(BUCKET, archiveKeyFor(A, H2, logName(A, H2, 0)));
    const range = ['--from', iso(H1), '--to', iso(H3 + HOUR_MS), '--domain', A];

    const plain = await cli(['verify', ...range]);
    const json = await cli(['verify', ...range, '--json']);

    expect(plain.code).toBe(1);
    expect(plain.stdout).toContain('PROBLEMS: 2');
    expect(plain.stdout).toContain(`size-mismatch ${A} ${isoHour(H1)} ${archiveKeyFor(A, H1, logName(A, H1, 0))}: manifest `);
    expect(plain.stdout).toContain(`missing ${A} ${isoHour(H2)} ${archiveKeyFor(A, H2, logName(A, H2, 0))}: no object`);
    expect(json.code).toBe(1);
    const result = JSON.parse(json.stdout);
    expect(result.ok).toBe(false);
    expect(result.problems.map((p: { kind: string; name: string }) => [p.kind, p.name])).toEqual([
      ['size-mismatch', logName(A, H1, 0)],
      ['missing', logName(A, H2, 0)],
    ]);
    expect(result.problems[0].actual.size).toBe(Buffer.byteLength('not the archived bytes'));
    expect(json.stderr).toBe('');
  });

  it('reports a same-size object with other bytes as a CRC-64 mismatch', async () => {
    const key = archiveKeyFor(B, H1, logName(B, H1, 0));
    const original = await cloud.oss.readObject(BUCKET, key);
    const tampered = Buffer.from(original);
    tampered[0] ^= 0xff;
    await cloud.oss.plantObject(BUCKET, key, tampered);

    const run = await cli(['verify', '--from', iso(H1), '--to', iso(H1 + HOUR_MS), '--domain', B, '--json']);

    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout).problems).toEqual([
      expect.objectContaining({ kind: 'crc64-mismatch', key, expected: expect.objectContaining({ size: original.length }) }),
    ]);
  });

  describe('usage and configuration errors exit 2 with a message naming the flag or variable', () => {
    it('names a missing configuration variable', async () => {
      const run = await cli(['status'], { ARCHIVER_DOMAINS: undefined });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/ARCHIVER_DOMAINS: is not set; set it to the ingest domains/);
    });

    it('names missing credentials', async () => {
      const run = await cli(['verify'], { ALIBABA_CLOUD_ACCESS_KEY_ID: undefined, ALIBABA_CLOUD_ACCESS_KEY_SECRET: undefined, ALIBABA_CLOUD_SECURITY_TOKEN: undefined });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('ALIBABA_CLOUD_ACCESS_KEY_ID');
      expect(run.stderr).not.toContain(SANDBOX_STS.accessKeySecret);
    });

    it('names a malformed time or number flag', async () => {
      const time = await cli(['status', '--from', 'yesterday']);
      const number = await cli(['verify', '--concurrency', '0']);
      expect(time.code).toBe(2);
      expect(time.stderr).toContain("option '--from <time>' argument 'yesterday' is invalid");
      expect(number.code).toBe(2);
      expect(number.stderr).toContain("option '--concurrency <n>' argument '0' is invalid. give a whole number from 1 to 128");
    });

    it('names a missing required flag', async () => {
      const run = await cli(['backfill', '--from', iso(H1)]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("required option '--to <time>' not specified");
    });

    it('names --domain when it is not a configured domain, and --to when it precedes --from', async () => {
      const unknown = await cli(['backfill', '--from', iso(H1), '--to', iso(H2), '--domain', 'c.example.com']);
      const reversed = await cli(['status', '--from', iso(H2), '--to', iso(H1)]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/--domain: 'c\.example\.com' is not a configured domain; use one of a\.example\.com, b\.example\.com/);
      expect(reversed.code).toBe(2);
      expect(reversed.stderr).toMatch(/--to .* is not after --from/);
    });

    it('rejects an unknown command and prints help with exit 0 on --help', async () => {
      const unknown = await cli(['archive-everything']);
      const help = await cli(['--help']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain("unknown command 'archive-everything'");
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/status \[options\]/);
    });
  });
});

describe('backfill --remote through the FC emulator', () => {
  const FUNCTION = 'live-log-archiver';
  let cloud: SandboxCloud;
  let fc: FcEmulator;
  let env: Record<string, string>;

  beforeAll(async () => {
    cloud = await startSandboxCloud({ domains: [A, B] });
    const archive = createArchiver({ env: { ...cloud.env, LOOKBACK_HOURS: '0' }, logSink: () => undefined });
    fc = await startFcEmulator({
      functionName: FUNCTION,
      handler: (event, context) => archive(event, context),
      context: (requestId) => cloud.context({ requestId }),
    });
    env = { ...cloud.env, ...credentialsEnv(), FANOUT_ENDPOINT: fc.endpoint, FANOUT_FUNCTION_NAME: FUNCTION };
    for (const domain of [A, B]) {
      for (const hour of [H1, H2]) cloud.live.seedLogs(domain, hour, [{ name: logName(domain, hour, 0), source: { content: Buffer.from(`${domain} ${hour}`) } }]);
    }
  });
  afterAll(async () => {
    await fc?.close();
    await cloud?.close();
  });

  it('queues one asynchronous archive invocation per (domain, day) unit, which the function archives', async () => {
    const days = new Set([H1, H2].map((h) => iso(h).slice(0, 10))).size;

    const run = await runCli(['backfill', '--remote', '--fc-region', 'cn-shanghai', '--from', iso(H1), '--to', iso(H2 + HOUR_MS), '--json'], env);
    await fc.idle();

    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ ok: true, sent: 2 * days, failed: 0, functionName: FUNCTION, api: 'fc3' });
    expect(result.units.every((u: { requestId?: string }) => typeof u.requestId === 'string')).toBe(true);
    expect(fc.invocations).toHaveLength(2 * days);
    expect(fc.invocations.every((inv) => inv.status === 'succeeded' && (inv.event as { action: string }).action === 'archive')).toBe(true);
    for (const domain of [A, B]) {
      for (const hour of [H1, H2]) expect(cloud.oss.head(BUCKET, archiveKeyFor(domain, hour, logName(domain, hour, 0)))).not.toBeNull();
    }
    const status = await runCli(['status', '--from', iso(H1), '--to', iso(H2 + HOUR_MS), '--json'], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).totals.hours.archived).toBe(4);
  });

  it('names FANOUT_FUNCTION_NAME when the target function is not configured, with exit 2', async () => {
    const run = await runCli(['backfill', '--remote', '--fc-region', 'cn-shanghai', '--from', iso(H1), '--to', iso(H2)], { ...env, FANOUT_FUNCTION_NAME: undefined });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('FANOUT_FUNCTION_NAME: is not set');
    expect(fc.invocations).toHaveLength(new Set([H1, H2].map((h) => iso(h).slice(0, 10))).size * 2);
  });
});
