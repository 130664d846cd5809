/**
 * Test harness: the loopback cloud plus an archiver pointed at it, invoked the way Function Compute does
 * (a Buffer event, a context carrying STS credentials).
 */
import { createArchiver } from '../../lib/archiver';
import { HOUR_MS } from '../../lib/time';
import type { RunReport } from '../../lib/types';
import { startSandboxCloud, type SandboxCloud, type SandboxCloudOptions } from '../../sandbox/cloud';

export interface Harness {
  cloud: SandboxCloud;
  logs: string[];
  /** Invoke the archiver with an FC timer event for `triggerTimeMs` (default: 5 minutes past the current hour). */
  timer(opts?: { triggerTimeMs?: number; payload?: string; timeoutSec?: number }): Promise<RunReport>;
  invoke(event: unknown, opts?: { timeoutSec?: number }): Promise<RunReport>;
  close(): Promise<void>;
}

export const currentHourMs = (): number => Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
export const previousHourMs = (): number => currentHourMs() - HOUR_MS;

export async function startHarness(
  opts: SandboxCloudOptions & { env?: Record<string, string> },
): Promise<Harness> {
  const cloud = await startSandboxCloud(opts);
  const logs: string[] = [];
  const env = { LOOKBACK_HOURS: '0', ...cloud.env, ...opts.env };
  const archive = createArchiver({ env, logSink: (line) => logs.push(line) });
  const invoke = (event: unknown, o: { timeoutSec?: number } = {}) =>
    archive(Buffer.from(typeof event === 'string' ? event : JSON.stringify(event)), cloud.context({ timeoutSec: o.timeoutSec }));
  return {
    cloud,
    logs,
    invoke,
    timer: (o = {}) =>
      invoke(
        {
          triggerTime: new Date(o.triggerTimeMs ?? currentHourMs() + 5 * 60_000).toISOString().replace('.000Z', 'Z'),
          triggerName: 'hourly',
          payload: o.payload ?? '',
        },
        { timeoutSec: o.timeoutSec },
      ),
    close: () => cloud.close(),
  };
}
