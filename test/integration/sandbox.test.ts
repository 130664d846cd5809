import { runSandbox } from '../../bin/sandbox';

describe('npm start (the sandbox run)', () => {
  const savedEnv = { ...process.env };
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  });

  it('archives the seeded hour through the real handler, then shows a second run archiving nothing', async () => {
    const lines: string[] = [];

    const reports = await runSandbox({ out: (line) => lines.push(line) });

    expect(reports).toHaveLength(2);
    expect(reports[0]).toMatchObject({ ok: true, totals: { listed: 12, archivedNow: 12, failed: 0 } });
    expect(reports[1]).toMatchObject({ ok: true, totals: { listed: 12, archivedNow: 0, alreadyArchived: 12 } });
    const output = lines.join('\n');
    expect(output).toMatch(/run 1: ok in \d+ ms, 12 downloads/);
    expect(output).toMatch(/run 2: ok in \d+ ms, 0 downloads/);
    expect(output).toMatch(/live-logs-state\/manifests\/push-a\.example\.com\/.*\.json/);
    expect(lines.filter((l) => /^ {2}live-logs\/push-[abc]\.example\.com\//.test(l))).toHaveLength(12);
  });
});
