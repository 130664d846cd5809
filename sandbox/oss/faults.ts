/**
 * Faults on demand: fail the next N matching requests with 500/503, cut the connection of the next N matching
 * requests part-way through their body, and delay every answer.
 */

export interface RequestInfo {
  /** Operation name, e.g. PutObject, UploadPart, CompleteMultipartUpload, GetObject (see OssOperation). */
  op: string;
  method: string;
  bucket: string | null;
  key: string;
  query: URLSearchParams;
}

export type RequestMatcher = (request: RequestInfo) => boolean;

export type InjectedFault = { kind: 'fail'; status: 500 | 503 } | { kind: 'reset'; afterBytes: number };

interface FaultRule {
  remaining: number;
  fault: InjectedFault;
  match: RequestMatcher;
}

/** Bytes of a request body received before an injected reset cuts the connection. */
export const DEFAULT_RESET_AFTER_BYTES = 64 * 1024;

const matchAll: RequestMatcher = () => true;

export class FaultInjector {
  private rules: FaultRule[] = [];
  private delay = 0;

  /** The next `count` matching requests are answered 500 InternalError or 503 ServiceUnavailable (body discarded). */
  failNext(count: number, status: 500 | 503, match: RequestMatcher = matchAll): void {
    this.rules.push({ remaining: count, fault: { kind: 'fail', status }, match });
  }

  /**
   * The connection of the next `count` matching requests is destroyed after `afterBytes` bytes of the request
   * body (at its end if shorter; at once for requests without a body). Nothing is stored; the client sees a
   * network error.
   */
  resetNext(count: number, match: RequestMatcher = matchAll, afterBytes = DEFAULT_RESET_AFTER_BYTES): void {
    this.rules.push({ remaining: count, fault: { kind: 'reset', afterBytes }, match });
  }

  /** Every answer waits this long first. */
  setDelayMs(delayMs: number): void {
    this.delay = Math.max(0, delayMs);
  }

  get delayMs(): number {
    return this.delay;
  }

  /** Clears every pending fault and the delay. */
  reset(): void {
    this.rules = [];
    this.delay = 0;
  }

  /** The fault to apply to this request, if any; consumes one use of the first matching rule. */
  take(request: RequestInfo): InjectedFault | null {
    const rule = this.rules.find((candidate) => candidate.remaining > 0 && candidate.match(request));
    if (!rule) return null;
    rule.remaining -= 1;
    this.rules = this.rules.filter((candidate) => candidate.remaining > 0);
    return rule.fault;
  }
}
