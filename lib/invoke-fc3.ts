/**
 * The FC 3.0 adapter of the invoker port: `InvokeFunction` (API 2023-03-30) with `x-fc-invocation-type: Async`,
 * over @alicloud/fc20230330 (which signs with ACS3-HMAC-SHA256 through @alicloud/openapi-core).
 *
 * The SDK is required inside `createFc3Transport`, never at module top level: it must stay off the hourly path
 * (scripts/bundle.mjs turns the require into a vendor file that is evaluated only when this runs).
 *
 * SDK facts this relies on (openapi-core 1.x, darabonba 1.x):
 *  - `endpoint` is a HOST (with optional port), not a URL; the scheme comes from `protocol` ('http' | 'https').
 *  - Without `retryOptions` the SDK makes exactly one attempt; lib/invoke.ts owns retries.
 *  - Error answers become ThrottlingError (only when the code contains "Throttling"), ClientError (4xx) or
 *    ServerError (5xx) with `statusCode`, `code`, `requestId`; a non-JSON error body (a gateway's HTML page) surfaces
 *    as a bare SyntaxError from parsing it, with no status at all.
 *  - The InvokeFunction response body is the raw HTTP stream: it must be drained, or the keep-alive socket leaks.
 */
import { Readable } from 'node:stream';
import type { AsyncInvokeTransport, InvokeFailure, InvokerTarget, TransportSettings } from './invoke';

type Fc3Module = typeof import('@alicloud/fc20230330');
type OpenApiCoreModule = typeof import('@alicloud/openapi-core');
type DaraModule = typeof import('@darabonba/typescript');

export function createFc3Transport(target: InvokerTarget, settings: TransportSettings): AsyncInvokeTransport {
  // Loaded here, not at the top: keeps the SDK off the hourly path.
  const fc3 = require('@alicloud/fc20230330') as Fc3Module;
  const { $OpenApiUtil } = require('@alicloud/openapi-core') as OpenApiCoreModule;
  const { RuntimeOptions } = require('@darabonba/typescript') as DaraModule;

  const endpoint = new URL(target.endpoint);
  const { accessKeyId, accessKeySecret, securityToken } = target.credentials;
  const client = new fc3.default(
    new $OpenApiUtil.Config({
      accessKeyId,
      accessKeySecret,
      ...(securityToken ? { securityToken } : {}),
      endpoint: endpoint.host,
      protocol: endpoint.protocol === 'http:' ? 'http' : 'https',
      regionId: target.region,
      readTimeout: settings.requestTimeoutMs,
      connectTimeout: settings.requestTimeoutMs,
    }),
  );

  return {
    async send(payload) {
      const request = new fc3.InvokeFunctionRequest({ body: Readable.from([Buffer.from(payload, 'utf8')]) });
      const headers = new fc3.InvokeFunctionHeaders({ xFcInvocationType: 'Async' });
      const response = await client.invokeFunctionWithOptions(target.functionName, request, headers, new RuntimeOptions({}));
      response.body?.resume();
      const requestId = response.headers?.['x-fc-request-id'];
      return requestId ? { requestId } : {};
    },
    describe: describeFc3Failure,
  };
}

export function describeFc3Failure(err: unknown): InvokeFailure {
  if (!(err instanceof Error)) return { code: 'Unknown', message: String(err) };
  const e = err as Error & { statusCode?: unknown; code?: unknown; requestId?: unknown; data?: { Message?: unknown; message?: unknown } };
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const requestId = typeof e.requestId === 'string' && e.requestId !== 'undefined' ? e.requestId : undefined;
  if (status !== undefined) {
    const serviceMessage = e.data?.Message ?? e.data?.message;
    return {
      status,
      code: typeof e.code === 'string' && e.code !== 'undefined' ? e.code : `HTTP${status}`,
      requestId,
      message: typeof serviceMessage === 'string' ? serviceMessage : e.message,
    };
  }
  // Parsing an error body that is not JSON is the only way this SDK throws a SyntaxError: some gateway answered.
  if (err.name === 'SyntaxError') return { code: 'UnparseableAnswer', message: 'the service answered an error that is not JSON' };
  if (err.name === 'RequestTimeoutError') return { code: 'RequestTimeout', message: err.message };
  return { code: typeof e.code === 'string' ? e.code : err.name, message: err.message };
}
