import { ApiError } from '../../lib/errors';
import { createLogger, type LoggerOptions } from '../../lib/log';

const FIXED_MS = Date.UTC(2026, 10, 27, 10, 5, 0);

function capture(options: Omit<LoggerOptions, 'sink' | 'nowMs'> = {}) {
  const lines: string[] = [];
  const logger = createLogger({ ...options, sink: (line) => lines.push(line), nowMs: () => FIXED_MS });
  const entries = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, entries };
}

describe('createLogger', () => {
  it('writes one JSON line per entry with time, level and message first, then the fields', () => {
    const { logger, lines } = capture();

    logger.info('run planned', { hours: 3 });

    expect(lines).toEqual(['{"time":"2026-11-27T10:05:00.000Z","level":"info","message":"run planned","hours":3}']);
  });

  it('drops entries below the minimum level', () => {
    const { logger, entries } = capture({ level: 'warn' });

    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');

    expect(entries().map((entry) => entry.level)).toEqual(['warn', 'error']);
    expect(logger.isLevelEnabled('info')).toBe(false);
    expect(logger.isLevelEnabled('error')).toBe(true);
  });

  it('keeps reserved keys from being overwritten by fields', () => {
    const { logger, entries } = capture();

    logger.warn('real message', { level: 'debug', message: 'fake', time: 'never', ok: true });

    expect(entries()[0]).toEqual({
      time: '2026-11-27T10:05:00.000Z',
      level: 'warn',
      message: 'real message',
      _level: 'debug',
      _message: 'fake',
      _time: 'never',
      ok: true,
    });
  });

  it('adds base and child fields, with per-entry fields winning', () => {
    const { logger, entries } = capture({ base: { fn: 'archiver' } });

    const child = logger.child({ runId: 'r1', domain: 'a.example.com' });
    child.info('hour done', { domain: 'b.example.com' });

    expect(entries()[0]).toMatchObject({ fn: 'archiver', runId: 'r1', domain: 'b.example.com' });
  });

  it('serializes an error with its cause chain and redacts it', () => {
    const { logger, entries } = capture();
    const popCoreError = Object.assign(new Error('Throttled, URL: https://live.aliyuncs.com/?AccessKeyId=a&Signature=s'), {
      code: 'Throttling',
    });

    logger.error('listing failed', { err: new ApiError('DescribeLivePushProxyLog failed', { code: 'Throttling', retryable: true, cause: popCoreError }) });

    const err = entries()[0].err as Record<string, unknown>;
    expect(err).toMatchObject({
      name: 'ApiError',
      message: 'DescribeLivePushProxyLog failed',
      code: 'Throttling',
      retryable: true,
      cause: { name: 'Error', message: 'Throttled, URL: https://live.aliyuncs.com/?<redacted>', code: 'Throttling' },
    });
    expect(JSON.stringify(entries())).not.toContain('Signature=s');
  });

  it('accepts an error in place of fields and logs it under "error"', () => {
    const { logger, entries } = capture();

    logger.error('boom', new Error('disk full'));

    expect(entries()[0].error).toMatchObject({ name: 'Error', message: 'disk full' });
  });

  it('redacts secrets by key and signed URLs in the message and fields', () => {
    const { logger, lines } = capture();

    logger.info('fetch https://b.oss-cn-shanghai.aliyuncs.com/a.gz?OSSAccessKeyId=x&Expires=1&Signature=y', {
      credentials: { accessKeyId: 'id', accessKeySecret: 'sss' },
      securityToken: 'ttt',
    });

    expect(JSON.parse(lines[0])).toEqual({
      time: '2026-11-27T10:05:00.000Z',
      level: 'info',
      message: 'fetch https://b.oss-cn-shanghai.aliyuncs.com/a.gz?<redacted>',
      credentials: '<redacted>',
      securityToken: '<redacted>',
    });
  });

  it('still writes a line when fields hold cycles or bigints', () => {
    const { logger, entries } = capture();
    const cyclic: Record<string, unknown> = { size: 10n };
    cyclic.self = cyclic;

    logger.info('odd fields', { cyclic });

    expect(entries()[0].cyclic).toEqual({ size: '10', self: '[Circular]' });
  });

  it('survives a sink that throws', () => {
    const logger = createLogger({
      sink: () => {
        throw new Error('EPIPE');
      },
    });
    expect(() => logger.info('x')).not.toThrow();
  });

  it('rejects an unknown level', () => {
    expect(() => createLogger({ level: 'loud' as never })).toThrow('log level must be one of debug, info, warn, error, got "loud"');
  });
});
