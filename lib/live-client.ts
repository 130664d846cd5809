/**
 * The Live listing port over @alicloud/pop-core: one paged DescribeLivePushProxyLog listing per (domain, window).
 * Always POST: in GET mode pop-core puts AccessKeyId, SecurityToken and Signature into the URL, and that URL
 * ends up in its error messages.
 */
import RPCClient from '@alicloud/pop-core';
import { ApiError } from './errors';
import { dedupe, normalizeEntry, parseListingPage } from './listing';
import { RateLimiter } from './rate-limit';
import { retry } from './retry';
import { apiTime } from './time';
import type { Credentials, LogFile, RejectedEntry } from './types';

export const LIVE_API_VERSION = '2016-11-01';
const ACTION = 'DescribeLivePushProxyLog';
const PAGE_SIZE = 1000;

export interface LiveListing {
  files: LogFile[];
  rejected: RejectedEntry[];
  apiCalls: number;
}

export interface LiveLister {
  list(domain: string, startMs: number, endMs: number, signal?: AbortSignal): Promise<LiveListing>;
}

export interface LiveClientOptions {
  endpoint: string;
  regionId: string;
  credentials: Credentials;
  scheme: 'https' | 'http';
  allowHost: (host: string) => boolean;
  maxQps: number;
  requestTimeoutMs?: number;
  /** Retries of throttled or failed calls: bounded by count and by the invocation's deadline. */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  deadlineMs?: () => number;
}

export function createLiveLister(opts: LiveClientOptions): LiveLister {
  const client = new RPCClient({
    accessKeyId: opts.credentials.accessKeyId,
    accessKeySecret: opts.credentials.accessKeySecret,
    ...(opts.credentials.securityToken ? { securityToken: opts.credentials.securityToken } : {}),
    endpoint: opts.endpoint,
    apiVersion: LIVE_API_VERSION,
  });
  const limiter = new RateLimiter(opts.maxQps);

  async function callPage(domain: string, startMs: number, endMs: number, pageNumber: number, signal?: AbortSignal) {
    const params = {
      RegionId: opts.regionId,
      DomainName: domain,
      StartTime: apiTime(startMs),
      EndTime: apiTime(endMs),
      PageSize: PAGE_SIZE,
      PageNumber: pageNumber,
    };
    return retry(
      async () => {
        const release = await limiter.acquire(signal);
        try {
          return await client.request(ACTION, params, { method: 'POST', timeout: opts.requestTimeoutMs ?? 10_000 });
        } catch (err) {
          throw toApiError(err, domain);
        } finally {
          release();
        }
      },
      {
        attempts: opts.attempts ?? 6,
        baseMs: opts.baseDelayMs ?? 200,
        maxMs: opts.maxDelayMs ?? 10_000,
        deadlineMs: opts.deadlineMs?.(),
        isRetryable: (err) => err instanceof ApiError && err.retryable,
        signal,
      },
    );
  }

  return {
    async list(domain, startMs, endMs, signal) {
      const files: LogFile[] = [];
      const rejected: RejectedEntry[] = [];
      let apiCalls = 0;
      let seen = 0;
      let nextPage: Promise<unknown> | null = callPage(domain, startMs, endMs, 1, signal);
      for (let pageNumber = 1; nextPage; pageNumber++) {
        const body = await nextPage;
        apiCalls++;
        const page = parseListingPage(body, { domain, pageNumber });
        seen += page.items.length;
        // Total is re-read on every page: a file that appears mid-paging raises it, and we follow.
        const more = page.items.length > 0 && seen < page.total;
        // The next page is asked for before this one is normalized: its round trip overlaps that work.
        nextPage = more ? callPage(domain, startMs, endMs, pageNumber + 1, signal) : null;
        try {
          for (const raw of page.items) {
            const result = normalizeEntry(raw, { domain, scheme: opts.scheme, allowHost: opts.allowHost });
            if ('file' in result) files.push(result.file);
            else rejected.push(result.rejected);
          }
        } catch (err) {
          // Nobody will await the page asked for: its failure must not surface as an unhandled rejection.
          nextPage?.catch(() => undefined);
          throw err;
        }
      }
      return { files: dedupe(files), rejected, apiCalls };
    },
  };
}

const RETRYABLE_CODES = /^(Throttling|ServiceUnavailable|InternalError|Internal Error|InternalFailure)/;

/** pop-core's errors carry the request URL: keep only the code, the service's message and the request id. */
export function toApiError(err: unknown, domain: string): ApiError {
  const e = err as { code?: unknown; data?: { Code?: string; Message?: string; RequestId?: string }; name?: string };
  if (typeof e?.data?.Code === 'string') {
    const code = e.data.Code;
    return new ApiError(`${ACTION} for ${domain} failed: ${code}: ${e.data.Message ?? ''}`.trim(), {
      code,
      requestId: e.data.RequestId,
      retryable: RETRYABLE_CODES.test(code),
    });
  }
  if (e?.name === 'SyntaxError') {
    // A gateway's HTML error page (503) instead of the API's JSON: transient by nature. json-bigint throws a
    // plain object named SyntaxError (not an Error), carrying the whole body in `text`: none of it is kept.
    return new ApiError(`${ACTION} for ${domain} failed: the endpoint answered with a non-JSON body`, {
      code: 'NonJsonResponse',
      retryable: true,
    });
  }
  const code = typeof e?.code === 'string' ? e.code : (e?.name ?? 'NetworkError');
  return new ApiError(`${ACTION} for ${domain} failed: ${code}`, { code, retryable: true });
}
