/**
 * Secrets never leave the process: runs that hit every error path (Live API errors, pop-core's own errors,
 * downloads from signed URLs, OSS errors, configuration errors, a lost lease, conflicts), with everything they
 * produce captured — every log line, the returned reports, every manifest and lease body written, the errors'
 * messages and serialized forms — and searched for the AccessKeySecret, the SecurityToken, the origin's signing
 * secret, and signed query strings (Signature=, OSSAccessKeyId=, Expires=, SecurityToken=).
 */
import { inspect } from 'node:util';
import RPCClient from '@alicloud/pop-core';
import { createArchiver, type FcContext } from '../../lib/archiver';
import { ClientCache, buildClients } from '../../lib/clients';
import { ApiError, StoreError } from '../../lib/errors';
import { leaseKey } from '../../lib/keys';
import { LIVE_API_VERSION, toApiError } from '../../lib/live-client';
import { createLogger } from '../../lib/log';
import { createOssStore } from '../../lib/oss-store';
import { clearRegisteredSecrets, redactError, serializeError } from '../../lib/redact';
import { HOUR_MS, isoHour } from '../../lib/time';
import type { RunReport } from '../../lib/types';
import { startSandboxCloud, type SandboxCloud } from '../../sandbox/cloud';
import { SANDBOX_STS } from '../../sandbox/contracts';
import { logPath } from '../../sandbox/live-emulator';
import { logName } from '../../sandbox/logdata';
import { DEFAULT_SIGNING_SECRET, startOriginEmulator } from '../../sandbox/origin-emulator';
import { silenceUrllibWarnings } from '../support/urllib-warnings';

const DOMAIN = 'secrets.example.com';
const HOUR = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS;
const WRONG_SECRET = 'wrong-secret-value-DO-NOT-LEAK-91d2';
const WRONG_TOKEN = 'wrong-security-token-DO-NOT-LEAK-3a7f';

const SECRET_VALUES = [SANDBOX_STS.accessKeySecret, SANDBOX_STS.securityToken!, DEFAULT_SIGNING_SECRET, WRONG_SECRET, WRONG_TOKEN];
/** A signed query parameter with its value; `<redacted>` in its place is fine. */
const SIGNED_QUERY = /(Signature|OSSAccessKeyId|Expires|SecurityToken|security-token)=(?!<redacted>)[^&\s"'<>\\]+/i;

/** Everything a scenario produced that an operator (or an attacker with log access) could read. */
interface Outputs {
  logs: string[];
  reports: RunReport[];
  /** Bodies of every manifest and lease written, in order. */
  stateWrites: string[];
  /** Messages, serialized and inspected forms of errors handled directly in the test. */
  errors: string[];
}

function expectNoSecrets(outputs: Outputs): void {
  const texts: Array<[string, string]> = [
    ...outputs.logs.map((t, i): [string, string] => [`log line ${i}`, t]),
    ...outputs.reports.map((r, i): [string, string] => [`report ${i}`, JSON.stringify(r)]),
    ...outputs.stateWrites.map((t, i): [string, string] => [`state write ${i}`, t]),
    ...outputs.errors.map((t, i): [string, string] => [`error ${i}`, t]),
  ];
  const leaks: string[] = [];
  for (const [where, text] of texts) {
    for (const secret of SECRET_VALUES) if (text.includes(secret)) leaks.push(`${where} contains ${secret}`);
    const signed = SIGNED_QUERY.exec(text);
    if (signed) leaks.push(`${where} contains ${signed[0]}`);
  }
  expect(leaks).toEqual([]);
}

interface Scenario {
  cloud: SandboxCloud;
  outputs: Outputs;
  invoke(event: unknown, context?: FcContext): Promise<RunReport>;
  /** The hourly timer's event for HOUR (a timer run never fans out, so no Function Compute is needed). */
  timerEvent(): Record<string, unknown>;
  seed(count: number): string[];
}

/** A fresh cloud and archiver whose store records every manifest and lease body it writes. */
async function withScenario(env: Record<string, string | undefined>, body: (s: Scenario) => Promise<void>): Promise<Outputs> {
  const cloud = await startSandboxCloud({ domains: [DOMAIN] });
  const outputs: Outputs = { logs: [], reports: [], stateWrites: [], errors: [] };
  const clientCache = new ClientCache((config, credentials) => {
    const clients = buildClients(config, credentials);
    const store = clients.store;
    return {
      ...clients,
      store: {
        ...store,
        putText: (key: string, text: string, opts?: { forbidOverwrite?: boolean }) => {
          outputs.stateWrites.push(text);
          return store.putText(key, text, opts);
        },
      },
    };
  });
  const archive = createArchiver({
    // Debug level: whatever the archiver would log for an operator chasing a problem is searched too.
    // A fan-out, should one happen, fails on loopback instead of reaching for a real Function Compute.
    env: { ...cloud.env, LOOKBACK_HOURS: '0', MAX_ATTEMPTS: '2', LOG_LEVEL: 'debug', FANOUT_ENDPOINT: 'http://127.0.0.1:9', ...env },
    logSink: (line) => outputs.logs.push(line),
    clientCache,
  });
  try {
    await body({
      cloud,
      outputs,
      async invoke(event, context = cloud.context()) {
        const report = await archive(Buffer.from(JSON.stringify(event)), context);
        outputs.reports.push(report);
        return report;
      },
      timerEvent: () => ({ triggerTime: isoHour(HOUR + HOUR_MS).replace(':00:00Z', ':05:00Z'), triggerName: 'hourly', payload: '' }),
      seed(count) {
        const names = Array.from({ length: count }, (_, i) => logName(DOMAIN, HOUR, i));
        cloud.live.seedLogs(DOMAIN, HOUR, names.map((name, i) => ({ name, source: { content: Buffer.from(`log ${i}\n`.repeat(200)) } })));
        return names;
      },
    });
  } finally {
    await cloud.close();
  }
  return outputs;
}

let restoreWarnings: () => void;
beforeAll(() => {
  restoreWarnings = silenceUrllibWarnings();
});
afterAll(() => restoreWarnings());

describe('no secret in any output, whatever fails', () => {
  it('Live API errors: 500s and HTML 503s until the listing gives up', async () => {
    const outputs = await withScenario({}, async (s) => {
      s.seed(2);
      s.cloud.live.faults.failNext(3, 'internal-500');
      s.cloud.live.faults.failNext(3, 'unavailable-503-html');
      const report = await s.invoke(s.timerEvent());
      expect(report.errors).toEqual([expect.stringMatching(/listing secrets.example.com failed: ApiError \[NonJsonResponse\]/)]);
    });
    expectNoSecrets(outputs);
  });

  it.each([
    ['a wrong AccessKeySecret (SignatureDoesNotMatch)', { accessKeySecret: WRONG_SECRET }, /SignatureDoesNotMatch/],
    ['a wrong SecurityToken (InvalidSecurityToken.Mismatch)', { securityToken: WRONG_TOKEN }, /InvalidSecurityToken\.Mismatch/],
  ])('pop-core errors from the handler: %s', async (_case, credentials, code) => {
    const outputs = await withScenario({}, async (s) => {
      s.seed(1);
      const context = s.cloud.context();
      const report = await s.invoke(s.timerEvent(), { ...context, credentials: { ...context.credentials, ...credentials } });
      expect(report.errors).toEqual([expect.stringMatching(code)]);
    });
    expectNoSecrets(outputs);
  });

  it('pop-core in GET mode, whose error message carries the whole signed URL, through lib/live-client and lib/log', async () => {
    // Unregistered: the structural redaction (query strings, parameter names) must hold without knowing the values.
    clearRegisteredSecrets();
    const outputs = await withScenario({}, async (s) => {
      const client = new RPCClient({ ...SANDBOX_STS, endpoint: s.cloud.live.endpoint, apiVersion: LIVE_API_VERSION });
      const raw = await client
        .request('DescribeLivePushProxyLog', { RegionId: 'cn-shanghai', DomainName: DOMAIN, StartTime: 'yesterday' }, { method: 'GET', timeout: 5000 })
        .then(
          () => null,
          (err: unknown) => err as Error & { url?: string },
        );
      // The leak this guards against is real: pop-core puts the token and the signature into its message.
      expect(raw?.message).toContain(SANDBOX_STS.securityToken);
      expect(raw?.message).toMatch(/Signature=/);

      const mapped = toApiError(raw, DOMAIN);
      expect(mapped).toBeInstanceOf(ApiError);
      expect(mapped.code).toBe('InvalidStartTime.Malformed');
      const wrapped = new ApiError(`listing failed: ${raw!.message}`, { code: mapped.code, retryable: false, cause: raw });
      s.outputs.errors.push(
        mapped.message,
        JSON.stringify(mapped),
        inspect(mapped),
        redactError(raw),
        JSON.stringify(serializeError(raw!, { stack: true })),
        wrapped.message,
        JSON.stringify(wrapped),
        inspect(wrapped),
      );
      const logger = createLogger({ level: 'debug', sink: (line) => s.outputs.logs.push(line) });
      logger.error('raw pop-core error', { error: raw, url: raw!.url, nested: { cause: raw } });
      logger.warn(raw!.message);
    });
    expectNoSecrets(outputs);
  });

  it('download errors from signed URLs: 404, resets, a stall, a redirect to a signed URL off the allowlist', async () => {
    const evil = await startOriginEmulator();
    try {
      evil.addFile('/elsewhere.gz', { content: Buffer.from('elsewhere\n') });
      const outputs = await withScenario({ DOWNLOAD_TIMEOUT_SEC: '1' }, async (s) => {
        const [notFound, reset, stalled, redirected] = s.seed(4);
        const at = (name: string) => logPath(DOMAIN, HOUR, name);
        s.cloud.origin.faults.notFound({ path: at(notFound), times: 10 });
        s.cloud.origin.faults.resetAfter(100, { path: at(reset), times: 10 });
        s.cloud.origin.faults.stall(3000, { path: at(stalled), times: 10 });
        s.cloud.origin.faults.redirect(evil.signedUrl('/elsewhere.gz', Math.floor(Date.now() / 1000) + 600), { path: at(redirected), times: 10 });

        const report = await s.invoke(s.timerEvent());

        expect(report.totals.failed).toBe(4);
        const reasons = report.failures.map((f) => f.reason).join('\n');
        expect(reasons).toMatch(/origin answered HTTP 404 for http:\/\/[^?\s]+\.gz$/m);
        expect(reasons).toMatch(/download host .* is not on the allowlist/);
        expect(reasons).toMatch(/download broke off/);
        expect(evil.stats.requests).toBe(0);
      });
      expectNoSecrets(outputs);
    } finally {
      await evil.close();
    }
  });

  it('download errors: every signed URL expired, even after re-listing', async () => {
    const outputs = await withScenario({}, async (s) => {
      s.seed(2);
      // Every answer's URLs are dead on arrival: the re-list for a fresh URL does not help either.
      s.cloud.live.faults.setAnswerTransform((answer) => {
        s.cloud.origin.faults.expireAll();
        return answer;
      });
      const report = await s.invoke(s.timerEvent());
      expect(report.failures).toHaveLength(2);
      expect(report.failures[0].reason).toMatch(/HTTP 403/);
    });
    expectNoSecrets(outputs);
  });

  it('OSS errors: 5xx and resets on archive PUTs, 5xx on every manifest write', async () => {
    const outputs = await withScenario({}, async (s) => {
      s.seed(3);
      s.cloud.oss.faults.failNext(4, 500, (r) => r.op === 'PutObject' && r.key.startsWith('live-logs/'));
      s.cloud.oss.faults.resetNext(10, (r) => r.op === 'PutObject' && r.key.startsWith('live-logs/'), 100);
      s.cloud.oss.faults.failNext(20, 503, (r) => r.op === 'PutObject' && r.key.includes('/manifests/'));
      const report = await s.invoke(s.timerEvent());
      expect(report.totals.failed).toBe(3);
      expect(report.errors.join('\n')).toMatch(/manifest .* could not be written: StoreError/);
    });
    expectNoSecrets(outputs);
  });

  it('OSS errors straight from ali-oss: a refused signature, through the store port and the logger', async () => {
    clearRegisteredSecrets();
    const outputs = await withScenario({}, async (s) => {
      const store = createOssStore({
        bucket: s.cloud.bucket,
        endpoint: s.cloud.oss.endpoint,
        region: s.cloud.oss.region,
        pathStyle: false,
        credentials: { ...SANDBOX_STS, accessKeySecret: WRONG_SECRET },
        multipartThresholdBytes: 1024 * 1024,
        partSizeBytes: 1024 * 1024,
      });
      const err = await store.putText('live-logs-state/x.json', '{}').then(
        () => null,
        (e: unknown) => e as StoreError,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect(err!.code).toBe('SignatureDoesNotMatch');
      s.outputs.errors.push(err!.message, JSON.stringify(err), inspect(err), redactError(err));
      createLogger({ sink: (line) => s.outputs.logs.push(line) }).error('store failed', { error: err, cause: (err as { cause?: unknown }).cause });
    });
    expectNoSecrets(outputs);
  });

  it('configuration errors, including a credential pasted into an endpoint URL', async () => {
    clearRegisteredSecrets();
    const outputs = await withScenario(
      {
        OSS_ENDPOINT: `https://${SANDBOX_STS.accessKeyId}:${SANDBOX_STS.accessKeySecret}@oss-cn-shanghai.aliyuncs.com`,
        LIVE_ENDPOINT: `https://live.aliyuncs.com/?SecurityToken=${SANDBOX_STS.securityToken}`,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: WRONG_SECRET,
      },
      async (s) => {
        const report = await s.invoke({});
        expect(report.errors.join('\n')).toMatch(/OSS_ENDPOINT: .*carries credentials/);
        expect(report.errors.join('\n')).toMatch(/LIVE_ENDPOINT: .*has a path, query or fragment/);
      },
    );
    expectNoSecrets(outputs);
  });

  it('a lease taken over mid-run, and a conflict with a planted object', async () => {
    const outputs = await withScenario({}, async (s) => {
      const names = s.seed(3);
      await s.cloud.oss.plantObject(s.cloud.bucket, `live-logs/${DOMAIN}/${isoHour(HOUR).slice(0, 10).replace(/-/g, '/')}/${isoHour(HOUR).slice(11, 13)}/${names[0]}`, Buffer.from('foreign\n'));
      s.cloud.origin.faults.stall(600, { times: 3 });
      const running = s.invoke(s.timerEvent());
      // Once the run holds generation 1, a newer holder takes the hour over (as after an expiry).
      const ownLease = leaseKey('live-logs-state/', DOMAIN, HOUR, 1);
      while (!s.cloud.oss.head(s.cloud.bucket, ownLease)) await new Promise((resolve) => setTimeout(resolve, 10));
      const untilMs = Date.now() + 600_000;
      await s.cloud.oss.plantObject(
        s.cloud.bucket,
        leaseKey('live-logs-state/', DOMAIN, HOUR, 2),
        Buffer.from(JSON.stringify({ holder: 'usurper', acquiredAt: new Date().toISOString(), expiresAt: new Date(untilMs).toISOString(), expiresAtMs: untilMs })),
      );
      const report = await running;
      expect(report.totals.conflicts).toBe(1);
      expect(report.errors.join('\n')).toMatch(/was taken over/);
    });
    expectNoSecrets(outputs);
  });
});
