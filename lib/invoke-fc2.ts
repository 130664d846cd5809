/**
 * The FC 2.0 adapter of the invoker port: `invokeFunction(service, function, event, {'X-Fc-Invocation-Type':
 * 'Async'})` (API 2016-08-15) over @alicloud/fc2, which signs `Authorization: FC <ak>:<HMAC-SHA256>`.
 *
 * The SDK is required inside `createFc2Transport`, never at module top level: it pulls in ali-oss, axios and ws,
 * and must stay off the hourly path (scripts/bundle.mjs).
 *
 * SDK facts this relies on (@alicloud/fc2 2.6, lib/client.js):
 *  - It sends `x-fc-security-token` ONLY when the AccessKeyId starts with "STS" and ignores `securityToken`
 *    otherwise; a token that goes with some other key id is passed as a signed default header instead.
 *  - An error answer becomes a plain Error with `code` = FC's ErrorCode and the HTTP status only inside the message
 *    ("POST /services/s/functions/f/invocations failed with 429. requestid: ..., message: ..."); a non-JSON error
 *    body leaves `code` undefined. Transport failures come from httpx with the socket's `code` (ECONNRESET, ...)
 *    or the name RequestTimeoutError.
 *  - It has no retries of its own; lib/invoke.ts owns them.
 *  - The event must be a String or Buffer (an object is refused with a TypeError).
 */
import type { AsyncInvokeTransport, InvokeFailure, InvokerTarget, TransportSettings } from './invoke';

/** The part of @alicloud/fc2's Client this adapter uses (the package ships no types). */
interface Fc2Client {
  invokeFunction(
    serviceName: string,
    functionName: string,
    event: string | Buffer,
    headers?: Record<string, string>,
  ): Promise<{ headers: Record<string, string | string[] | undefined>; data: unknown }>;
}
type Fc2ClientConstructor = new (
  accountId: string,
  config: {
    accessKeyID: string;
    accessKeySecret: string;
    securityToken?: string;
    region: string;
    endpoint: string;
    timeout: number;
    headers?: Record<string, string>;
  },
) => Fc2Client;

export function createFc2Transport(target: InvokerTarget, settings: TransportSettings): AsyncInvokeTransport {
  // Loaded here, not at the top: keeps the SDK off the hourly path.
  const FC = require('@alicloud/fc2') as Fc2ClientConstructor;
  const { accessKeyId, accessKeySecret, securityToken } = target.credentials;
  const serviceName = target.serviceName;
  const accountId = target.accountId;
  // lib/invoke.ts validates the target first; this guards direct use.
  if (!serviceName || !accountId) throw new TypeError('FC 2.0 needs serviceName and accountId');
  const tokenIgnoredBySdk = securityToken !== undefined && !accessKeyId.startsWith('STS');
  const client = new FC(accountId, {
    accessKeyID: accessKeyId,
    accessKeySecret,
    ...(securityToken ? { securityToken } : {}),
    region: target.region,
    endpoint: target.endpoint,
    timeout: settings.requestTimeoutMs,
    ...(tokenIgnoredBySdk ? { headers: { 'x-fc-security-token': securityToken } } : {}),
  });

  return {
    async send(payload) {
      const response = await client.invokeFunction(serviceName, target.functionName, payload, { 'X-Fc-Invocation-Type': 'Async' });
      const requestId = response.headers['x-fc-request-id'];
      return typeof requestId === 'string' && requestId ? { requestId } : {};
    },
    describe: describeFc2Failure,
  };
}

const FC2_FAILURE_MESSAGE = /failed with (\d{3})\. requestid: ([^,]*), message: (.*)\.$/s;

export function describeFc2Failure(err: unknown): InvokeFailure {
  if (!(err instanceof Error)) return { code: 'Unknown', message: String(err) };
  const code = (err as { code?: unknown }).code;
  const answered = FC2_FAILURE_MESSAGE.exec(err.message);
  if (answered) {
    const status = Number(answered[1]);
    const requestId = answered[2] && answered[2] !== 'undefined' ? answered[2] : undefined;
    const serviceMessage = answered[3] !== 'undefined' ? answered[3] : 'the service gave no error message';
    return { status, code: typeof code === 'string' ? code : `HTTP${status}`, requestId, message: serviceMessage };
  }
  // The SDK parses any body labelled JSON; one that is not (a gateway's page) fails in JSON.parse.
  if (err.name === 'SyntaxError') return { code: 'UnparseableAnswer', message: 'the service answered something that is not JSON' };
  if (err.name === 'RequestTimeoutError') return { code: 'RequestTimeout', message: err.message };
  return { code: typeof code === 'string' ? code : err.name, message: err.message };
}
