import { ReportBuilder } from '../../lib/report';

// 2026-11-27T09:00:00Z and 10:00:00Z, computed outside the code under test.
const HOUR_09 = 1_795_770_000_000;
const HOUR_10 = 1_795_773_600_000;

function builder(extra: Partial<ConstructorParameters<typeof ReportBuilder>[0]> = {}) {
  return new ReportBuilder({ runId: 'run-1', action: 'timer', startedAtMs: HOUR_10 + 5 * 60_000, ...extra });
}

describe('ReportBuilder', () => {
  it('reports a run with nothing wrong as ok, with its times and duration', () => {
    const report = builder().build(HOUR_10 + 5 * 60_000 + 1234);
    expect(report).toEqual({
      runId: 'run-1',
      action: 'timer',
      startedAt: '2026-11-27T10:05:00.000Z',
      finishedAt: '2026-11-27T10:05:01.234Z',
      durationMs: 1234,
      ok: true,
      totals: { listed: 0, archivedNow: 0, alreadyArchived: 0, failed: 0, conflicts: 0, bytesArchived: 0, remaining: 0 },
      hours: [],
      failures: [],
      failuresOmitted: 0,
      errors: [],
      warnings: [],
    });
  });

  it('returns the same counters for the same (domain, hour) and sums all hours into the totals', () => {
    const b = builder();
    const h1 = b.hour('a.com', HOUR_09);
    h1.listed = 3;
    h1.archivedNow += 2;
    h1.bytesArchived += 2048;
    b.hour('a.com', HOUR_09 + 59 * 60_000).alreadyArchived++;
    const h2 = b.hour('b.com', HOUR_09);
    h2.listed = 1;
    h2.remaining = 1;
    const report = b.build(HOUR_10 + 6 * 60_000);
    expect(report.totals).toEqual({ listed: 4, archivedNow: 2, alreadyArchived: 1, failed: 0, conflicts: 0, bytesArchived: 2048, remaining: 1 });
    expect(report.hours).toHaveLength(2);
    expect(report.ok).toBe(true);
  });

  it('orders hours by time, then domain', () => {
    const b = builder();
    b.hour('b.com', HOUR_10);
    b.hour('b.com', HOUR_09);
    b.hour('a.com', HOUR_10);
    const hours = b.build(HOUR_10).hours.map((h) => `${h.hour} ${h.domain}`);
    expect(hours).toEqual(['2026-11-27T09:00:00Z b.com', '2026-11-27T10:00:00Z a.com', '2026-11-27T10:00:00Z b.com']);
  });

  it.each([
    ['a failed file count', (b: ReportBuilder) => b.hour('a.com', HOUR_09).failed++],
    ['a conflict count', (b: ReportBuilder) => b.hour('a.com', HOUR_09).conflicts++],
    ['a listed failure', (b: ReportBuilder) => b.failure({ domain: 'a.com', hour: '', name: 'x', reason: 'rejected' })],
    ['an error', (b: ReportBuilder) => b.error('listing a.com failed')],
  ])('is not ok with %s', (_label, act) => {
    const b = builder();
    act(b);
    expect(b.build(HOUR_10).ok).toBe(false);
  });

  it('stays ok with warnings only', () => {
    const b = builder();
    b.warning('manifest was unreadable: rebuilt');
    const report = b.build(HOUR_10);
    expect(report.ok).toBe(true);
    expect(report.warnings).toEqual(['manifest was unreadable: rebuilt']);
  });

  it('keeps the first 100 failures and counts the rest', () => {
    const b = builder();
    for (let i = 0; i < 130; i++) b.failure({ domain: 'a.com', hour: '2026-11-27T09:00:00Z', name: `f${i}.gz`, reason: 'timeout' });
    const report = b.build(HOUR_10);
    expect(report.failures).toHaveLength(100);
    expect(report.failures[0].name).toBe('f0.gz');
    expect(report.failures[99].name).toBe('f99.gz');
    expect(report.failuresOmitted).toBe(30);
  });

  it('truncates a reason to 300 characters and strips signed query strings from it', () => {
    const b = builder();
    b.failure({
      domain: 'a.com',
      hour: '2026-11-27T09:00:00Z',
      name: 'x.gz',
      reason: `GET https://b.aliyuncs.com/x.gz?OSSAccessKeyId=LTAIabc&Expires=1&Signature=SIGSECRET: ${'y'.repeat(400)}`,
    });
    const reason = b.build(HOUR_10).failures[0].reason;
    expect(reason).toHaveLength(300);
    expect(reason.endsWith('…')).toBe(true);
    expect(reason).not.toMatch(/SIGSECRET|LTAIabc/);
  });

  it('caps errors and says how many were omitted', () => {
    const b = builder({ maxMessages: 2 });
    for (let i = 0; i < 5; i++) b.error(`error ${i}`);
    expect(b.build(HOUR_10).errors).toEqual(['error 0', 'error 1', '(3 more errors omitted)']);
  });

  it('builds a snapshot that later updates do not change', () => {
    const b = builder();
    b.hour('a.com', HOUR_09).listed = 1;
    const first = b.build(HOUR_10);
    b.hour('a.com', HOUR_09).listed = 5;
    b.error('later');
    expect(first.hours[0].listed).toBe(1);
    expect(first.errors).toEqual([]);
  });
});
