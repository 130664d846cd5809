/**
 * The loopback cloud: the Live API, OSS and log-origin emulators started together and wired to each other,
 * with the environment that points the archiver at them. Used by `npm start`, the CLI's sandbox and the tests.
 */
import { SANDBOX_STS } from './contracts';
import { startLiveEmulator, type LiveEmulator, type LiveEmulatorOptions } from './live-emulator';
import { startOriginEmulator, type OriginEmulator } from './origin-emulator';
import { startOssEmulator, type OssEmulator } from './oss-emulator';

export interface SandboxCloud {
  live: LiveEmulator;
  oss: OssEmulator;
  origin: OriginEmulator;
  bucket: string;
  /** Environment for lib/config.ts that targets the emulators (merge your own overrides on top). */
  env: Record<string, string>;
  /** An FC-style context whose credentials the emulators accept. */
  context(overrides?: { timeoutSec?: number; requestId?: string }): {
    requestId?: string;
    credentials: { accessKeyId: string; accessKeySecret: string; securityToken: string };
    function: { name: string; timeout: number };
    service: { name: string };
    region: string;
    accountId: string;
  };
  close(): Promise<void>;
}

export interface SandboxCloudOptions {
  domains: string[];
  bucket?: string;
  dataDir?: string;
  now?: () => number;
  live?: Partial<Omit<LiveEmulatorOptions, 'origin'>>;
}

export async function startSandboxCloud(opts: SandboxCloudOptions): Promise<SandboxCloud> {
  const bucket = opts.bucket ?? 'live-log-archive';
  const started: Array<{ close(): Promise<void> }> = [];
  try {
    const origin = await startOriginEmulator({ now: opts.now });
    started.push(origin);
    const live = await startLiveEmulator({ origin, now: opts.now, ...opts.live });
    started.push(live);
    const oss = await startOssEmulator({ buckets: [bucket], dataDir: opts.dataDir });
    started.push(oss);
    const env: Record<string, string> = {
      ARCHIVER_DOMAINS: opts.domains.join(','),
      LIVE_ENDPOINT: live.endpoint,
      LIVE_REGION: 'cn-shanghai',
      OSS_BUCKET: bucket,
      OSS_REGION: oss.region,
      OSS_ENDPOINT: oss.endpoint,
      // The origin emulator speaks plain HTTP on loopback; production LogPaths get https.
      LOG_URL_SCHEME: 'http',
      LOG_HOST_ALLOWLIST: origin.host,
      // Fan-out stays on this machine: without an FC emulator, an invocation is refused at once by a closed port
      // instead of looking up the account's real Function Compute endpoint.
      FANOUT_ENDPOINT: 'http://127.0.0.1:1',
    };
    return {
      live,
      oss,
      origin,
      bucket,
      env,
      context: (overrides = {}) => ({
        requestId: overrides.requestId,
        credentials: {
          accessKeyId: SANDBOX_STS.accessKeyId,
          accessKeySecret: SANDBOX_STS.accessKeySecret,
          securityToken: SANDBOX_STS.securityToken,
        },
        function: { name: 'live-log-archiver', timeout: overrides.timeoutSec ?? 900 },
        service: { name: 'live-log-archiver' },
        region: 'cn-shanghai',
        accountId: '1234567890123456',
      }),
      close: async () => {
        await Promise.all(started.map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.close().catch(() => undefined)));
    throw err;
  }
}
