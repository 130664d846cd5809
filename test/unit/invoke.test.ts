import type { FcContext } from '../../lib/archiver';
import { CONFIG_REFERENCE, loadConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { describeFc2Failure } from '../../lib/invoke-fc2';
import { describeFc3Failure } from '../../lib/invoke-fc3';
import { FANOUT_VARIABLES, createInvoker, invokerTargetFrom, isRetryableInvokeFailure, type InvokerTarget } from '../../lib/invoke';
import type { Credentials } from '../../lib/types';

const MINIMAL = { ARCHIVER_DOMAINS: 'live.example.com', OSS_BUCKET: 'my-archive', OSS_REGION: 'oss-cn-shanghai' };
const CREDENTIALS: Credentials = { accessKeyId: 'STS.unitTestKeyId', accessKeySecret: 'unit-test-secret-value-1234', securityToken: 'unit-test-token-value-5678' };
const FC_CONTEXT: FcContext = {
  requestId: 'req-1',
  region: 'cn-hangzhou',
  accountId: '1122334455667788',
  function: { name: 'live-log-archiver', timeout: 900 },
  service: { name: 'archiver-service' },
};

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('invokerTargetFrom', () => {
  it('targets this very function in its own account and region when nothing is configured (fc3)', () => {
    expect(invokerTargetFrom(loadConfig(MINIMAL), FC_CONTEXT, CREDENTIALS)).toEqual({
      api: 'fc3',
      endpoint: 'https://1122334455667788.cn-hangzhou.fc.aliyuncs.com',
      functionName: 'live-log-archiver',
      region: 'cn-hangzhou',
      accountId: '1122334455667788',
      credentials: CREDENTIALS,
    });
  });

  it('takes the FC 2.0 service from the context, and configured names over the context', () => {
    const fromContext = invokerTargetFrom(loadConfig({ ...MINIMAL, FANOUT_API: 'fc2' }), FC_CONTEXT, CREDENTIALS);
    const configured = invokerTargetFrom(
      loadConfig({ ...MINIMAL, FANOUT_API: 'fc2', FANOUT_SERVICE_NAME: 'other-service', FANOUT_FUNCTION_NAME: 'worker' }),
      FC_CONTEXT,
      CREDENTIALS,
    );
    expect(fromContext).toMatchObject({ api: 'fc2', serviceName: 'archiver-service', functionName: 'live-log-archiver' });
    expect(configured).toMatchObject({ api: 'fc2', serviceName: 'other-service', functionName: 'worker' });
  });

  it('reads account and region from a configured endpoint when the context has neither (outside FC)', () => {
    const target = invokerTargetFrom(
      loadConfig({ ...MINIMAL, FANOUT_API: 'fc2', FANOUT_ENDPOINT: 'https://998877.ap-southeast-1-internal.fc.aliyuncs.com', FANOUT_FUNCTION_NAME: 'f', FANOUT_SERVICE_NAME: 's' }),
      {},
      CREDENTIALS,
    );
    expect(target).toMatchObject({ endpoint: 'https://998877.ap-southeast-1-internal.fc.aliyuncs.com', accountId: '998877', region: 'ap-southeast-1' });
  });

  it('names every missing piece in one ConfigError: function, service and endpoint', () => {
    const err = configError(() => invokerTargetFrom(loadConfig({ ...MINIMAL, FANOUT_API: 'fc2' }), {}, CREDENTIALS));
    expect(err.issues.map((issue) => issue.variable)).toEqual(['FANOUT_FUNCTION_NAME', 'FANOUT_SERVICE_NAME', 'FANOUT_ENDPOINT']);
    expect(err.message).toContain('account ID and region');
  });

  it('refuses an endpoint from which no region can be told when the context has none', () => {
    const err = configError(() => invokerTargetFrom(loadConfig({ ...MINIMAL, FANOUT_ENDPOINT: 'http://127.0.0.1:9000' }), { function: { name: 'f' } }, CREDENTIALS));
    expect(err.issues).toEqual([expect.objectContaining({ variable: 'FANOUT_ENDPOINT', problem: expect.stringContaining('does not name a region') })]);
  });

  it('names only variables that the configuration contract defines', () => {
    const names = CONFIG_REFERENCE.map((variable) => variable.name as string);
    for (const name of Object.values(FANOUT_VARIABLES)) expect(names).toContain(name);
  });
});

describe('createInvoker', () => {
  const base: InvokerTarget = { api: 'fc2', endpoint: 'https://1.cn-shanghai.fc.aliyuncs.com', functionName: 'f', serviceName: 's', accountId: '1', region: 'cn-shanghai', credentials: CREDENTIALS };

  it('refuses an FC 2.0 target without service or account before loading any SDK', async () => {
    const err = await createInvoker({ ...base, serviceName: undefined, accountId: undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((issue) => issue.variable)).toEqual(['FANOUT_SERVICE_NAME', 'FANOUT_ENDPOINT']);
  });

  it('refuses an endpoint with a path or credentials in it, without echoing them', async () => {
    const err = await createInvoker({ ...base, api: 'fc3', endpoint: 'https://user:pa55word@1.cn-shanghai.fc.aliyuncs.com/x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues[0].variable).toBe('FANOUT_ENDPOINT');
  });

  it('refuses a malformed unit event without sending it', async () => {
    const invoker = await createInvoker({ ...base, endpoint: 'http://127.0.0.1:9' }, { attempts: 1 });
    await expect(invoker.invokeAsync({ action: 'archive', domain: 'live.example.com', hours: ['2026-11-27T09:30:00Z'] })).rejects.toMatchObject({
      name: 'InvokeError',
      code: 'InvalidEvent',
      retryable: false,
    });
    await expect(invoker.invokeAsync({ action: 'archive', domain: 'live.example.com', hours: [] })).rejects.toMatchObject({ code: 'InvalidEvent' });
  });
});

describe('isRetryableInvokeFailure', () => {
  it.each([
    [{ status: 429, code: 'ResourceThrottled' }, true],
    [{ status: 503, code: 'ResourceExhausted' }, true],
    [{ status: 500, code: 'InternalServerError' }, true],
    [{ status: 502, code: 'HTTP502' }, true],
    [{ status: 400, code: 'Throttling.User' }, true],
    [{ code: 'ECONNRESET' }, true],
    [{ code: 'RequestTimeout' }, true],
    [{ code: 'UnparseableAnswer' }, true],
    [{ status: 403, code: 'SignatureNotMatch' }, false],
    [{ status: 404, code: 'FunctionNotFound' }, false],
    [{ status: 400, code: 'EntityTooLarge' }, false],
    [{ code: 'TypeError' }, false],
  ])('%j -> %s', (failure, expected) => {
    expect(isRetryableInvokeFailure(failure)).toBe(expected);
  });
});

describe('describeFc2Failure (errors shaped as @alicloud/fc2 2.6 throws them)', () => {
  function fc2Error(message: string, code?: string): Error {
    const err = new Error(message);
    err.name = `FC${code}Error`;
    (err as Error & { code?: string }).code = code;
    return err;
  }

  it('reads the status, request id and service message out of the SDK message', () => {
    const err = fc2Error('POST /services/s/functions/f/invocations failed with 429. requestid: 4f1c, message: Reserve resource exceeded limit.', 'ResourceThrottled');
    expect(describeFc2Failure(err)).toEqual({ status: 429, code: 'ResourceThrottled', requestId: '4f1c', message: 'Reserve resource exceeded limit' });
  });

  it('falls back to the status as code when the error body was not JSON', () => {
    const err = fc2Error('POST /services/s/functions/f/invocations failed with 502. requestid: undefined, message: undefined.');
    expect(describeFc2Failure(err)).toEqual({ status: 502, code: 'HTTP502', requestId: undefined, message: 'the service gave no error message' });
  });

  it('keeps transport codes of failures that got no answer', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const timeout = Object.assign(new Error('ReadTimeout(10000)'), { name: 'RequestTimeoutError' });
    expect(describeFc2Failure(reset)).toMatchObject({ code: 'ECONNRESET' });
    expect(describeFc2Failure(reset).status).toBeUndefined();
    expect(describeFc2Failure(timeout)).toMatchObject({ code: 'RequestTimeout' });
  });
});

describe('describeFc3Failure (errors shaped as @alicloud/openapi-core 1.x throws them)', () => {
  it('takes status, code, request id and the service message from a ClientError/ServerError', () => {
    const err = Object.assign(new Error('ResourceThrottled: code: 429, Reserve resource exceeded limit request id: 9a'), {
      name: 'ClientError',
      statusCode: 429,
      code: 'ResourceThrottled',
      requestId: '9a',
      data: { Code: 'ResourceThrottled', Message: 'Reserve resource exceeded limit', RequestId: '9a' },
    });
    expect(describeFc3Failure(err)).toEqual({ status: 429, code: 'ResourceThrottled', requestId: '9a', message: 'Reserve resource exceeded limit' });
  });

  it("treats the SDK's literal 'undefined' code and request id as absent", () => {
    const err = Object.assign(new Error('undefined: code: 503, undefined request id: undefined'), { name: 'ServerError', statusCode: 503, code: 'undefined', requestId: 'undefined', data: {} });
    expect(describeFc3Failure(err)).toMatchObject({ status: 503, code: 'HTTP503', requestId: undefined });
  });

  it('reports a non-JSON error page (a SyntaxError from the SDK) as a retryable unparseable answer', () => {
    const described = describeFc3Failure(new SyntaxError('Unexpected token < in JSON at position 0'));
    expect(described.code).toBe('UnparseableAnswer');
    expect(isRetryableInvokeFailure(described)).toBe(true);
  });
});
