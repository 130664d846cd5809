import { clearRegisteredSecrets, REDACTED, redact, redactError, redactValue, registerSecret } from '../../lib/redact';

const STS_SECRET = 'sts-secret-Xy9/+abc=';
const STS_TOKEN = 'CAIS+token/with=specials!(x)*';

/** The URL pop-core builds for a GET, and repeats in its error message (`${Message}, URL: ${url}`). */
const POP_CORE_URL =
  'https://live.aliyuncs.com/?AccessKeyId=STS.abc&Action=DescribeLivePushProxyLog&DomainName=live.example.com' +
  `&SecurityToken=${encodeURIComponent(STS_TOKEN)}&Signature=q9%2Fx%2BY%3D&SignatureMethod=HMAC-SHA1`;
const LOG_PATH =
  'cdn-logs.oss-cn-shanghai.aliyuncs.com/push_proxy/1/live.example.com/2026_11_27/0900/a.gz?OSSAccessKeyId=LTAI5t&Expires=1795000000&Signature=abc%2Bdef%3D';

afterEach(() => clearRegisteredSecrets());

describe('redact', () => {
  it('replaces the whole query string of a pop-core request URL and keeps scheme, host and path', () => {
    const message = `Specified StartTime is malformed., URL: ${POP_CORE_URL}`;

    const out = redact(message);

    expect(out).toBe(`Specified StartTime is malformed., URL: https://live.aliyuncs.com/?${REDACTED}`);
  });

  it('redacts the signed query of a scheme-less LogPath', () => {
    expect(redact(`GET ${LOG_PATH} failed`)).toBe(
      `GET cdn-logs.oss-cn-shanghai.aliyuncs.com/push_proxy/1/live.example.com/2026_11_27/0900/a.gz?${REDACTED} failed`,
    );
  });

  it('leaves a query without sensitive parameters and a plain question mark alone', () => {
    const text = 'is https://example.com/x?page=2&size=10 reachable? yes';
    expect(redact(text)).toBe(text);
  });

  it('redacts sensitive parameters in a form-encoded body that has no question mark', () => {
    const out = redact('body: Action=X&SecurityToken=abc123&Signature=zzz&Version=1');
    expect(out).toBe(`body: Action=X&SecurityToken=${REDACTED}&Signature=${REDACTED}&Version=1`);
  });

  it('redacts a signed URL inside a JSON string and keeps the JSON valid', () => {
    const json = JSON.stringify({ url: `https://${LOG_PATH}`, n: 1 });
    const parsed = JSON.parse(redact(json)) as { url: string; n: number };
    expect(parsed.url).toBe(`https://cdn-logs.oss-cn-shanghai.aliyuncs.com/push_proxy/1/live.example.com/2026_11_27/0900/a.gz?${REDACTED}`);
    expect(parsed.n).toBe(1);
  });

  it('redacts Authorization and x-oss-security-token header values', () => {
    expect(redact('Authorization: OSS LTAI5t:k9Jf+/a=\nnext line')).toBe(`Authorization: ${REDACTED}\nnext line`);
    expect(redact('{"authorization":"OSS id:sig","x-oss-security-token":"tok","ok":1}')).toBe(
      `{"authorization":"${REDACTED}","x-oss-security-token":"${REDACTED}","ok":1}`,
    );
  });

  it('redacts a bare OSS V1 authorization value', () => {
    expect(redact('sent OSS LTAI5tAbc:Zm9vYmFy+/= to host')).toBe(`sent OSS ${REDACTED} to host`);
  });

  it('removes registered secrets in raw and URL-encoded form', () => {
    registerSecret(STS_SECRET);
    registerSecret(STS_TOKEN);

    const out = redact(`secret=${STS_SECRET} token=${encodeURIComponent(STS_TOKEN)} raw ${STS_TOKEN}`);

    expect(out).not.toContain(STS_SECRET);
    expect(out).not.toContain(encodeURIComponent(STS_TOKEN));
    expect(out).not.toContain(STS_TOKEN);
    expect(out).toBe(`secret=${REDACTED} token=${REDACTED} raw ${REDACTED}`);
  });

  it('removes secrets passed explicitly without registering them', () => {
    expect(redact('value abcdefgh123 here', ['abcdefgh123'])).toBe(`value ${REDACTED} here`);
    expect(redact('value abcdefgh123 here')).toBe('value abcdefgh123 here');
  });

  it('ignores secrets too short to be real, which would otherwise shred every message', () => {
    registerSecret('ab');
    registerSecret(undefined);
    registerSecret('');
    expect(redact('a cab ab')).toBe('a cab ab');
  });
});

describe('redactError', () => {
  it('describes a pop-core error in one line with name, code and a redacted message', () => {
    const popCoreError = Object.assign(new Error(`Throttled, URL: ${POP_CORE_URL}`), { name: 'Throttling.UserError', code: 'Throttling.User' });

    expect(redactError(popCoreError)).toBe(`Throttling.UserError [Throttling.User]: Throttled, URL: https://live.aliyuncs.com/?${REDACTED}`);
  });

  it('follows the cause chain', () => {
    const root = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const top = new Error('listing failed', { cause: root });

    expect(redactError(top)).toBe('Error: listing failed <- cause: Error [ECONNRESET]: socket hang up');
  });

  it('is bounded in length and kept to one line', () => {
    const long = new Error(`line one\nline two ${'x'.repeat(2000)}`);

    const out = redactError(long);

    expect(out.length).toBe(500);
    expect(out).not.toContain('\n');
    expect(out.endsWith('…')).toBe(true);
  });

  it('describes non-Error values, redacting them too', () => {
    expect(redactError('plain text')).toBe('plain text');
    expect(redactError({ code: 'X', token: 'abc' })).toBe(`{"code":"X","token":"${REDACTED}"}`);
    expect(redactError(undefined)).toBe('');
  });

  it('stops at a cause cycle', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;

    expect(redactError(a)).toBe('Error: a <- cause: Error: b');
  });
});

describe('redactValue', () => {
  it('redacts values under sensitive keys at any depth, whatever their type', () => {
    const out = redactValue({
      credentials: { accessKeyId: 'id', accessKeySecret: 's' },
      nested: [{ securityToken: 't', Signature: 42, password: { a: 1 }, Authorization: 'OSS a:b' }],
      accessKeyId: 'LTAI5t',
    });

    expect(out).toEqual({
      credentials: REDACTED,
      nested: [{ securityToken: REDACTED, Signature: REDACTED, password: REDACTED, Authorization: REDACTED }],
      accessKeyId: 'LTAI5t',
    });
  });

  it('redacts signed URLs in string values', () => {
    expect(redactValue({ file: { url: `https://${LOG_PATH}` } })).toEqual({
      file: { url: `https://cdn-logs.oss-cn-shanghai.aliyuncs.com/push_proxy/1/live.example.com/2026_11_27/0900/a.gz?${REDACTED}` },
    });
  });

  it('serializes errors with their cause chain, keeping only primitive fields of foreign errors', () => {
    const ossError = Object.assign(new Error('Access denied'), {
      code: 'AccessDenied',
      status: 403,
      requestId: 'R-1',
      params: { stream: { huge: true } },
    });
    const wrapper = new Error('upload failed', { cause: ossError });

    const out = redactValue({ err: wrapper }) as { err: Record<string, unknown> };

    expect(out.err.name).toBe('Error');
    expect(out.err.message).toBe('upload failed');
    expect(typeof out.err.stack).toBe('string');
    expect(out.err.cause).toMatchObject({ name: 'Error', message: 'Access denied', code: 'AccessDenied', status: 403, requestId: 'R-1' });
    expect(out.err.cause).not.toHaveProperty('params');
  });

  it('replaces cycles but keeps values shared between branches', () => {
    const shared = { n: 1 };
    const cyclic: Record<string, unknown> = { shared, again: shared };
    cyclic.self = cyclic;

    expect(redactValue(cyclic)).toEqual({ shared: { n: 1 }, again: { n: 1 }, self: '[Circular]' });
  });

  it('gives non-JSON values a JSON-friendly form', () => {
    const out = redactValue({
      big: 2n ** 70n,
      when: new Date(Date.UTC(2026, 10, 27, 9)),
      bytes: Buffer.from('abc'),
      map: new Map([['token', 'x'], ['k', 'v']]),
      set: new Set([1, 2]),
      fn: () => 1,
      missing: undefined,
    });

    expect(out).toEqual({
      big: '1180591620717411303424',
      when: '2026-11-27T09:00:00.000Z',
      bytes: '[Buffer 3 bytes]',
      map: { token: REDACTED, k: 'v' },
      set: [1, 2],
    });
  });

  it('does not modify its input', () => {
    const input = { accessKeySecret: 'keep-me-here', list: ['a'] };
    redactValue(input);
    expect(input).toEqual({ accessKeySecret: 'keep-me-here', list: ['a'] });
  });
});
