/**
 * Keeps credentials and signed URLs out of everything the archiver writes: log lines, error messages, manifests
 * and run reports. Pure string/object transformation, no I/O.
 *
 * Two kinds of leak are covered:
 *  - signed query strings: pop-core puts AccessKeyId, SecurityToken and Signature in the URL of every GET and then
 *    repeats that URL in its error `message` and `url`; the API's LogPath carries an OSS signature. Any URL query
 *    holding a sensitive parameter is replaced whole by `?<redacted>` (scheme, host and path stay: operators need them).
 *  - known secret values (AccessKeySecret, SecurityToken) registered with `registerSecret`, replaced wherever they
 *    appear, also in URL-encoded form.
 */

export const REDACTED = '<redacted>';

/** Values shorter than this are not treated as secrets: replacing "ab" everywhere would shred every message. */
const MIN_SECRET_LENGTH = 8;

/** Bound for `redactError`: a reason stored in a manifest or report must stay small. */
export const REDACTED_ERROR_MAX_CHARS = 500;

/** Keys whose values are never written out, whatever they hold. */
const SENSITIVE_KEY = /secret|token|signature|password|authorization|credentials/i;

/**
 * Query parameters that make a URL a credential. `Expires` alone is harmless, but it only ever travels with a
 * signature, which already triggers redaction of the whole query.
 */
const SENSITIVE_PARAM_NAMES = [
  'signature',
  'ossaccesskeyid',
  'accesskeyid',
  'securitytoken',
  'security-token',
  'x-oss-security-token',
  'x-oss-signature',
  'x-oss-credential',
  'x-acs-security-token',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'auth_key',
  'accesskeysecret',
];
const PARAM_NAME_ALTERNATION = SENSITIVE_PARAM_NAMES.map(escapeRegExp).join('|');

/** A query string: from `?` up to whitespace, a quote or an angle bracket (the usual ends of a URL in text/JSON). */
const QUERY = /\?([^\s"'<>`]*)/g;
const SENSITIVE_PARAM_IN_QUERY = new RegExp(`(?:^|[&;])(?:${PARAM_NAME_ALTERNATION})=`, 'i');
/** The same parameters outside a URL, e.g. a form-encoded POST body: only the value is replaced. */
const SENSITIVE_PARAM_ANYWHERE = new RegExp(`(^|[\\s&;,?"'(])(${PARAM_NAME_ALTERNATION})=[^\\s&;"'<>\`]*`, 'gi');
/** `Authorization: OSS id:sig`, `"authorization":"OSS4-HMAC-SHA256 Credential=..."`, `x-oss-security-token: ...`. */
const SENSITIVE_HEADER = /((?:authorization|x-oss-security-token|x-acs-security-token)["']?\s*[:=]\s*["']?)[^"'\r\n]+/gi;
/** An OSS V1 authorization value on its own: `OSS <AccessKeyId>:<base64 signature>`. */
const OSS_AUTH_VALUE = /\bOSS\s+[A-Za-z0-9._-]+:[A-Za-z0-9+/=]+/g;
/** Credentials inside a URL's authority, `https://id:secret@host` (pasted into an endpoint variable): all of it goes. */
const URL_USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>`]+@/gi;

const registeredSecrets = new Set<string>();

/**
 * Remember a secret so that every later `redact` call removes it. Safe to call with undefined or repeatedly
 * (warm starts re-register rotated STS credentials; old ones stay registered, which is what we want).
 */
export function registerSecret(secret: string | undefined | null): void {
  if (!secret || secret.length < MIN_SECRET_LENGTH) return;
  for (const form of secretForms(secret)) registeredSecrets.add(form);
}

/** For tests: forget every registered secret. */
export function clearRegisteredSecrets(): void {
  registeredSecrets.clear();
}

/** The forms a secret takes in text: raw, URL-encoded (query strings), and pop-core's stricter encoding. */
function secretForms(secret: string): string[] {
  const uriEncoded = encodeURIComponent(secret);
  const popCoreEncoded = uriEncoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return [...new Set([secret, uriEncoded, popCoreEncoded])];
}

/** Remove signed query strings, credential headers and registered (or given) secret values from `text`. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(QUERY, (whole, query: string) => (SENSITIVE_PARAM_IN_QUERY.test(query) ? `?${REDACTED}` : whole));
  out = out.replace(SENSITIVE_PARAM_ANYWHERE, (_whole, lead: string, name: string) => `${lead}${name}=${REDACTED}`);
  out = out.replace(SENSITIVE_HEADER, (_whole, lead: string) => `${lead}${REDACTED}`);
  out = out.replace(OSS_AUTH_VALUE, `OSS ${REDACTED}`);
  out = out.replace(URL_USER_INFO, `$1${REDACTED}@`);
  const explicit = secrets.filter((s) => s && s.length >= MIN_SECRET_LENGTH).flatMap(secretForms);
  // Longest first, so a secret that contains another is removed whole.
  const all = [...new Set([...registeredSecrets, ...explicit])].sort((a, b) => b.length - a.length);
  for (const secret of all) out = out.split(secret).join(REDACTED);
  return out;
}

/** What an error becomes in logs and JSON: plain data, redacted, with its cause chain. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string | number;
  stack?: string;
  cause?: SerializedError | unknown;
  [key: string]: unknown;
}

const MAX_CAUSE_DEPTH = 5;
const MAX_VALUE_DEPTH = 10;

/**
 * Serialize an error with its cause chain, redacted. Foreign errors (SDKs) contribute only their primitive own
 * properties (code, status, requestId, ...): ali-oss hangs the request params and the raw response on its errors,
 * which are large and may hold bodies or headers. Our own errors (lib/errors.ts) keep all own fields, since we
 * control what they carry.
 */
export function serializeError(err: Error, opts: { stack?: boolean } = {}, depth = 0, seen = new WeakSet<object>()): SerializedError {
  seen.add(err);
  const out: SerializedError = { name: errorName(err), message: redact(String(err.message ?? '')) };
  const ownFieldsTrusted = isArchiverLike(err);
  for (const [key, value] of Object.entries(err)) {
    if (value === undefined || key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue;
    if (SENSITIVE_KEY.test(key)) {
      out[key] = REDACTED;
    } else if (ownFieldsTrusted) {
      out[key] = redactValueInner(value, depth + 1, seen);
    } else if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
      out[key] = typeof value === 'string' ? redact(value) : value;
    }
  }
  if (opts.stack && typeof err.stack === 'string') out.stack = redact(err.stack);
  const cause = (err as { cause?: unknown }).cause;
  if (cause !== undefined) {
    if (depth >= MAX_CAUSE_DEPTH) out.cause = '[cause chain truncated]';
    else if (cause instanceof Error) out.cause = seen.has(cause) ? '[Circular]' : serializeError(cause, opts, depth + 1, seen);
    else out.cause = redactValueInner(cause, depth + 1, seen);
  }
  return out;
}

/** Our own errors mark themselves so that their structured fields (issues, expected/actual) survive serialization. */
function isArchiverLike(err: Error): boolean {
  return (err as { isArchiverError?: unknown }).isArchiverError === true;
}

function errorName(err: Error): string {
  return typeof err.name === 'string' && err.name ? err.name : 'Error';
}

/**
 * One line describing `err` safely, for manifests and run reports: `Name [code]: message <- cause: ...`,
 * at most `maxChars` characters.
 */
export function redactError(err: unknown, maxChars = REDACTED_ERROR_MAX_CHARS): string {
  const parts: string[] = [];
  let current: unknown = err;
  const seen = new Set<unknown>();
  for (let depth = 0; current !== undefined && depth <= MAX_CAUSE_DEPTH && !seen.has(current); depth++) {
    seen.add(current);
    parts.push(describeOne(current));
    current = current instanceof Error ? (current as { cause?: unknown }).cause : undefined;
  }
  const line = redact(parts.join(' <- cause: ')).replace(/\s+/g, ' ').trim();
  return line.length <= maxChars ? line : `${line.slice(0, Math.max(0, maxChars - 1))}…`;
}

function describeOne(value: unknown): string {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    const codePart = typeof code === 'string' || typeof code === 'number' ? ` [${code}]` : '';
    return `${errorName(value)}${codePart}: ${value.message}`;
  }
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(redactValue(value)) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Deep copy of `value` fit for output: values under sensitive keys become `<redacted>`, strings are passed through
 * `redact`, errors are serialized with their cause chain, cycles and excessive depth are cut, and non-JSON values
 * (bigint, Buffer, Map, Set, Date, URL) get a JSON-friendly form.
 */
export function redactValue(value: unknown): unknown {
  return redactValueInner(value, 0, new WeakSet<object>());
}

function redactValueInner(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (value === null || value === undefined) return value;
  switch (typeof value) {
    case 'string':
      return redact(value);
    case 'number':
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'function':
    case 'symbol':
      return undefined;
  }
  const obj = value as object;
  if (seen.has(obj)) return '[Circular]';
  if (depth >= MAX_VALUE_DEPTH) return '[Truncated]';
  if (obj instanceof Error) return serializeError(obj, { stack: true }, depth, seen);
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString();
  if (obj instanceof URL) return redact(obj.href);
  if (Buffer.isBuffer(obj) || ArrayBuffer.isView(obj)) return `[${obj.constructor.name} ${obj.byteLength} bytes]`;
  seen.add(obj);
  try {
    if (Array.isArray(obj)) return obj.map((item) => redactValueInner(item, depth + 1, seen));
    if (obj instanceof Set) return [...obj].map((item) => redactValueInner(item, depth + 1, seen));
    const entries = obj instanceof Map ? [...obj.entries()].map(([k, v]) => [String(k), v] as const) : Object.entries(obj);
    const out: Record<string, unknown> = {};
    for (const [key, item] of entries) {
      if (SENSITIVE_KEY.test(key)) {
        if (item !== undefined) out[key] = REDACTED;
        continue;
      }
      const redacted = redactValueInner(item, depth + 1, seen);
      if (redacted !== undefined) out[key] = redacted;
    }
    return out;
  } finally {
    // A value shared by two branches is not a cycle: only ancestors count.
    seen.delete(obj);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
