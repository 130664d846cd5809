/**
 * The FC emulator driven by the real SDKs through lib/invoke.ts: @alicloud/fc20230330 (ACS3 signature) and
 * @alicloud/fc2 (FC signature). Where an SDK cannot produce a bad request (tampered header, replayed nonce), raw
 * requests are signed by hand with sandbox/fc/signature.ts.
 */
import { request as httpRequest } from 'node:http';
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';

import type { FcContext } from '../../lib/archiver';
import { createInvoker, InvokeError, MAX_ASYNC_PAYLOAD_BYTES, type Invoker, type InvokerOptions, type InvokerTarget, type UnitEvent } from '../../lib/invoke';
import { redactError } from '../../lib/redact';
import type { Credentials } from '../../lib/types';
import { SANDBOX_AK, SANDBOX_STS } from '../../sandbox/contracts';
import { startFcEmulator, type FcEmulator, type FcEmulatorOptions } from '../../sandbox/fc-emulator';
import { acs3Signature, fc2Authorization, fc2ContentMd5, fc2StringToSign, sha256Hex } from '../../sandbox/fc/signature';

const FUNCTION_NAME = 'live-log-archiver';
const SERVICE_NAME = 'archiver-service';
const ACCOUNT_ID = '1234567890123456';
const FAST_RETRY: InvokerOptions = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 };
const SECRETS = [SANDBOX_STS.accessKeySecret, SANDBOX_STS.securityToken, SANDBOX_AK.accessKeySecret];

const unit = (domain: string, hours = ['2026-11-27T09:00:00Z'], extra: Partial<UnitEvent> = {}): UnitEvent => ({ action: 'archive', domain, hours, ...extra });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let emulators: FcEmulator[] = [];
afterEach(async () => {
  await Promise.all(emulators.map((emulator) => emulator.close()));
  emulators = [];
});

async function emulator(overrides: Partial<FcEmulatorOptions> = {}): Promise<FcEmulator> {
  const started = await startFcEmulator({
    functionName: FUNCTION_NAME,
    serviceName: SERVICE_NAME,
    accountId: ACCOUNT_ID,
    retryDelayMs: 1,
    handler: async () => 'ok',
    ...overrides,
  });
  emulators.push(started);
  return started;
}

function target(fc: FcEmulator, api: 'fc3' | 'fc2', credentials: Credentials = SANDBOX_STS): InvokerTarget {
  return {
    api,
    endpoint: fc.endpoint,
    functionName: FUNCTION_NAME,
    ...(api === 'fc2' ? { serviceName: SERVICE_NAME } : {}),
    region: 'cn-shanghai',
    accountId: ACCOUNT_ID,
    credentials,
  };
}

async function invoker(fc: FcEmulator, api: 'fc3' | 'fc2', credentials?: Credentials, options: InvokerOptions = FAST_RETRY): Promise<Invoker> {
  return createInvoker(target(fc, api, credentials), options);
}

async function invokeError(promise: Promise<unknown>): Promise<InvokeError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof InvokeError) return err;
    throw err;
  }
  throw new Error('expected an InvokeError');
}

function expectNoSecret(err: unknown): void {
  const forms = [String(err), (err as Error).message, JSON.stringify(err), inspect(err, { depth: 5 }), redactError(err)];
  for (const secret of SECRETS) for (const form of forms) expect(form).not.toContain(secret);
}

describe.each(['fc3', 'fc2'] as const)('async invocation through the real %s SDK', (api) => {
  it('delivers the event, answered 202 with a request id, and runs it through the handler as a Buffer', async () => {
    const seen: Array<{ event: Buffer; context: FcContext }> = [];
    const fc = await emulator({
      handler: async (event, context) => {
        seen.push({ event, context });
        return { archived: 1 };
      },
      context: (requestId) => ({ requestId, function: { name: FUNCTION_NAME, timeout: 60 } }),
    });
    const event = unit('live.example.com', ['2026-11-27T09:00:00Z', '2026-11-27T10:00:00Z'], { parentRunId: 'run-1' });

    const { requestId } = await (await invoker(fc, api)).invokeAsync(event);
    await fc.idle();

    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen).toHaveLength(1);
    expect(Buffer.isBuffer(seen[0].event)).toBe(true);
    expect(seen[0].event.toString('utf8')).toBe(JSON.stringify(event));
    expect(seen[0].context.requestId).toBe(requestId);
    expect(fc.invocations).toEqual([
      expect.objectContaining({ requestId, api, event, attempts: 1, status: 'succeeded', result: { archived: 1 } }),
    ]);
    expect(fc.stats.accepted[api]).toBe(1);
  });

  it('works with a plain AccessKey pair (no STS token)', async () => {
    const fc = await emulator();
    await (await invoker(fc, api, SANDBOX_AK)).invokeAsync(unit('live.example.com'));
    await fc.idle();
    expect(fc.invocations.map((record) => record.status)).toEqual(['succeeded']);
  });

  it('refuses a wrong secret with 403 SignatureNotMatch, not retried, and no secret in the error', async () => {
    const fc = await emulator();
    const wrong = { ...SANDBOX_STS, accessKeySecret: 'not-the-right-secret-at-all-91c2' };

    const err = await invokeError((await invoker(fc, api, wrong)).invokeAsync(unit('live.example.com')));

    expect(err).toMatchObject({ code: 'SignatureNotMatch', status: 403, retryable: false, api });
    expect(fc.stats.requests).toBe(1);
    expect(fc.invocations).toHaveLength(0);
    expectNoSecret(err);
    expect(String(err)).not.toContain('not-the-right-secret-at-all-91c2');
  });

  it('refuses a wrong STS token with 403 InvalidSecurityToken', async () => {
    const fc = await emulator();
    const err = await invokeError((await invoker(fc, api, { ...SANDBOX_STS, securityToken: 'stolen-or-stale-token-0000' })).invokeAsync(unit('live.example.com')));
    expect(err).toMatchObject({ code: 'InvalidSecurityToken', status: 403, retryable: false });
    expectNoSecret(err);
    expect(String(err)).not.toContain('stolen-or-stale-token-0000');
  });

  it('retries throttled and 5xx platform answers with backoff until the invocation is accepted', async () => {
    const fc = await emulator();
    fc.failNextInvocations(2, 'throttled');
    fc.failNextInvocations(1, api === 'fc3' ? 'unavailable' : 'internal');
    const retries: unknown[] = [];

    const { requestId } = await (await invoker(fc, api, SANDBOX_STS, { ...FAST_RETRY, onRetry: (info) => retries.push(info.error) })).invokeAsync(unit('live.example.com'));
    await fc.idle();

    expect(retries).toHaveLength(3);
    expect(retries[0]).toMatchObject({ code: 'ResourceThrottled', status: 429, retryable: true });
    expect(retries[2]).toMatchObject({ status: api === 'fc3' ? 503 : 500, retryable: true });
    expect(fc.stats.refused).toEqual(api === 'fc3' ? { ResourceThrottled: 2, ServiceUnavailable: 1 } : { ResourceThrottled: 2, InternalServerError: 1 });
    expect(fc.invocations).toEqual([expect.objectContaining({ requestId, status: 'succeeded', attempts: 1 })]);
  });

  it('gives up after its attempts with a retryable InvokeError that names the code and status', async () => {
    const fc = await emulator();
    fc.failNextInvocations(10);

    const err = await invokeError((await invoker(fc, api, SANDBOX_STS, { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 })).invokeAsync(unit('live.example.com')));

    expect(err).toMatchObject({ code: 'ResourceThrottled', status: 429, retryable: true, functionName: FUNCTION_NAME });
    expect(err.message).toContain('ResourceThrottled');
    expect(fc.stats.requests).toBe(2);
    expectNoSecret(err);
  });

  it(`refuses an event whose JSON exceeds ${MAX_ASYNC_PAYLOAD_BYTES} bytes before sending anything`, async () => {
    const fc = await emulator();
    const hours = Array.from({ length: 6000 }, () => '2026-11-27T09:00:00Z');
    expect(Buffer.byteLength(JSON.stringify(unit('live.example.com', hours)))).toBeGreaterThan(MAX_ASYNC_PAYLOAD_BYTES);

    const err = await invokeError((await invoker(fc, api)).invokeAsync(unit('live.example.com', hours)));

    expect(err).toMatchObject({ code: 'EntityTooLarge', retryable: false });
    expect(err.message).toMatch(/over Function Compute's asynchronous limit of 131072 bytes/);
    expect(fc.stats.requests).toBe(0);
  });

  it('reports a function that does not exist as 404, not retried', async () => {
    const fc = await emulator();
    const err = await invokeError(createInvoker({ ...target(fc, api), functionName: 'another-function' }, FAST_RETRY).then((i) => i.invokeAsync(unit('live.example.com'))));
    expect(err).toMatchObject({ code: 'FunctionNotFound', status: 404, retryable: false });
    expect(fc.stats.requests).toBe(1);
  });
});

describe('@alicloud/fc2 quirks the adapter covers', () => {
  it('still sends the STS token when the AccessKeyId does not start with "STS" (the SDK alone would drop it)', async () => {
    const tokenAccount: Required<Credentials> = { accessKeyId: 'LTAItokenBoundKey03', accessKeySecret: 'token-bound-secret-DO-NOT-LEAK-5e1f', securityToken: 'token-bound-token-DO-NOT-LEAK-77aa' };
    const fc = await emulator({ accounts: [tokenAccount] });

    await (await invoker(fc, 'fc2', tokenAccount)).invokeAsync(unit('live.example.com'));
    await fc.idle();

    expect(fc.stats.refused).toEqual({});
    expect(fc.invocations.map((record) => record.status)).toEqual(['succeeded']);
  });
});

describe('the platform side of asynchronous invocations', () => {
  it('never runs more handlers at once than the concurrency limit, and runs them all', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const fc = await emulator({
      concurrency: 2,
      handler: async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep(30);
        inFlight--;
      },
    });
    const fc3 = await invoker(fc, 'fc3');

    await Promise.all(Array.from({ length: 7 }, (_, i) => fc3.invokeAsync(unit(`d${i}.example.com`))));
    await fc.idle();

    expect(maxInFlight).toBe(2);
    expect(fc.stats.maxRunning).toBe(2);
    expect(fc.invocations.filter((record) => record.status === 'succeeded')).toHaveLength(7);
  });

  it('retries a throwing handler exactly maxAsyncRetryAttempts times, then records it failed (redacted)', async () => {
    let runs = 0;
    const fc = await emulator({
      maxAsyncRetryAttempts: 3,
      handler: async () => {
        runs++;
        throw new Error(`listing failed, key secret ${SANDBOX_STS.accessKeySecret}`);
      },
    });

    await (await invoker(fc, 'fc2')).invokeAsync(unit('live.example.com'));
    await fc.idle();

    expect(runs).toBe(4);
    expect(fc.stats.retries).toBe(3);
    expect(fc.invocations).toEqual([expect.objectContaining({ attempts: 4, status: 'failed' })]);
    expect(fc.invocations[0].error).toContain('listing failed');
    expect(fc.invocations[0].error).not.toContain(SANDBOX_STS.accessKeySecret);
  });

  it('stops retrying once the handler succeeds, and gives each retry the same event bytes', async () => {
    const payloads: string[] = [];
    const fc = await emulator({
      maxAsyncRetryAttempts: 2,
      handler: async (event) => {
        payloads.push(event.toString('utf8'));
        event.fill(0);
        if (payloads.length === 1) throw new Error('transient');
        return 'done';
      },
    });
    const event = unit('live.example.com');

    await (await invoker(fc, 'fc3')).invokeAsync(event);
    await fc.idle();

    expect(payloads).toEqual([JSON.stringify(event), JSON.stringify(event)]);
    expect(fc.invocations).toEqual([expect.objectContaining({ attempts: 2, status: 'succeeded', result: 'done' })]);
  });

  it('idle() waits for invocations that invocations enqueue (a fan-out chain)', async () => {
    let chained: Invoker | undefined;
    const fc = await emulator({
      handler: async (payload) => {
        const event = JSON.parse(payload.toString('utf8')) as UnitEvent;
        const depth = Number(event.parentRunId ?? 0);
        await sleep(15);
        if (depth < 3) {
          // Two children per level: 1 + 2 + 4 + 8 invocations in all.
          await Promise.all([0, 1].map((i) => chained?.invokeAsync(unit(`${depth}-${i}.example.com`, undefined, { parentRunId: String(depth + 1) }))));
        }
        return depth;
      },
    });
    chained = await invoker(fc, 'fc2');

    await chained.invokeAsync(unit('root.example.com', undefined, { parentRunId: '0' }));
    await fc.idle();

    expect(fc.invocations).toHaveLength(15);
    expect(fc.invocations.every((record) => record.status === 'succeeded')).toBe(true);
    expect(fc.invocations.filter((record) => record.result === 3)).toHaveLength(8);
  });
});

describe('signature verification beyond what the SDKs can be made to send', () => {
  interface RawAnswer {
    status: number;
    body: string;
    requestId?: string;
  }

  function send(fc: FcEmulator, path: string, headers: Record<string, string>, body: Buffer): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${fc.endpoint}${path}`, { method: 'POST', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), requestId: res.headers['x-fc-request-id'] as string | undefined }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  function fc2Headers(path: string, body: Buffer, account: Credentials = SANDBOX_AK): Record<string, string> {
    const headers: Record<string, string> = {
      date: new Date().toUTCString(),
      'content-type': 'application/octet-stream',
      'content-md5': fc2ContentMd5(body),
      'x-fc-account-id': ACCOUNT_ID,
      'x-fc-invocation-type': 'Async',
    };
    headers.authorization = fc2Authorization(account.accessKeyId, account.accessKeySecret, fc2StringToSign('POST', path, headers));
    return headers;
  }

  function fc3Headers(fc: FcEmulator, path: string, body: Buffer, nonce = randomUUID()): Record<string, string> {
    const headers: Record<string, string> = {
      host: new URL(fc.endpoint).host,
      'content-type': 'application/octet-stream',
      'x-acs-action': 'InvokeFunction',
      'x-acs-version': '2023-03-30',
      'x-acs-date': new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      'x-acs-signature-nonce': nonce,
      'x-acs-content-sha256': sha256Hex(body),
      'x-fc-invocation-type': 'Async',
    };
    const signedHeaders = ['content-type', 'host', 'x-acs-action', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-version'];
    const signature = acs3Signature(
      { method: 'POST', path, query: new URLSearchParams(), headers, signedHeaders, payloadSha256: headers['x-acs-content-sha256'] },
      SANDBOX_AK.accessKeySecret,
    );
    headers.authorization = `ACS3-HMAC-SHA256 Credential=${SANDBOX_AK.accessKeyId},SignedHeaders=${signedHeaders.join(';')},Signature=${signature}`;
    return headers;
  }

  const FC2_PATH = `/2016-08-15/services/${SERVICE_NAME}/functions/${FUNCTION_NAME}/invocations`;
  const FC3_PATH = `/2023-03-30/functions/${FUNCTION_NAME}/invocations`;
  const BODY = Buffer.from(JSON.stringify(unit('live.example.com')));

  it('accepts a hand-signed FC 2.0 request and refuses it once an x-fc-* header is changed after signing', async () => {
    const fc = await emulator();

    const accepted = await send(fc, FC2_PATH, fc2Headers(FC2_PATH, BODY), BODY);
    const tampered = await send(fc, FC2_PATH, { ...fc2Headers(FC2_PATH, BODY), 'x-fc-invocation-type': 'Sync' }, BODY);

    expect(accepted.status).toBe(202);
    expect(accepted.requestId).toBe(fc.invocations[0]?.requestId);
    expect(tampered.status).toBe(403);
    expect(JSON.parse(tampered.body)).toEqual({ ErrorCode: 'SignatureNotMatch', ErrorMessage: expect.stringContaining('signature') });
  });

  it('refuses an FC 2.0 request whose body does not match its Content-MD5', async () => {
    const fc = await emulator();
    const other = Buffer.from(JSON.stringify(unit('other.example.com')));
    const answer = await send(fc, FC2_PATH, fc2Headers(FC2_PATH, BODY), other);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ ErrorCode: 'InvalidArgument' });
    expect(fc.invocations).toHaveLength(0);
  });

  it('verifies the full ACS3 signature: a swapped body or a replayed nonce is refused', async () => {
    const fc = await emulator();
    const headers = fc3Headers(fc, FC3_PATH, BODY);

    const accepted = await send(fc, FC3_PATH, headers, BODY);
    const replayed = await send(fc, FC3_PATH, headers, BODY);
    const forgedHash = { ...fc3Headers(fc, FC3_PATH, BODY), 'x-acs-content-sha256': sha256Hex(Buffer.from('{}')) };
    const swapped = await send(fc, FC3_PATH, forgedHash, Buffer.from('{}'));

    expect(accepted.status).toBe(202);
    expect(replayed.status).toBe(403);
    expect(JSON.parse(replayed.body)).toMatchObject({ Code: 'SignatureNonceUsed', RequestId: replayed.requestId });
    expect(swapped.status).toBe(403);
    expect(JSON.parse(swapped.body)).toMatchObject({ Code: 'SignatureNotMatch' });
    expect(fc.invocations).toHaveLength(1);
  });

  it('refuses a synchronous invocation: the emulator runs asynchronous ones only', async () => {
    const fc = await emulator();
    const headers = fc2Headers(FC2_PATH, BODY);
    delete headers['x-fc-invocation-type'];
    headers.authorization = fc2Authorization(SANDBOX_AK.accessKeyId, SANDBOX_AK.accessKeySecret, fc2StringToSign('POST', FC2_PATH, headers));

    const answer = await send(fc, FC2_PATH, headers, BODY);

    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).ErrorMessage).toContain('asynchronous invocations only');
  });
});
