/**
 * The environment-variable contract, validated once at start. Every variable is checked and every problem is
 * reported at once in one ConfigError (variable, what is wrong, how to fix it), so one redeploy fixes them all.
 *
 * `CONFIG_REFERENCE` is the contract as data (name, default, description): the parser takes its defaults from it,
 * and the README table and s.yaml can be checked against it.
 *
 * An empty value counts as unset (s.yaml often writes `VAR: ''`), except ARCHIVE_PREFIX, where empty means
 * "archive at the bucket root". Values are trimmed.
 */
import { z } from 'zod';
import type { Credentials } from './types';
import { ConfigError, type ConfigIssue } from './errors';
import { validateKeyTemplate } from './keys';
import { LOG_LEVELS, type LogLevel } from './log';
import { registerSecret } from './redact';

export interface ConfigVariable {
  name: string;
  /** The literal value used when the variable is unset; null when there is none (required, optional or derived). */
  default: string | null;
  /** The default as documented: the literal, or "(required)", "(none)", "(derived ...)". */
  defaultText: string;
  description: string;
}

export const CONFIG_REFERENCE = [
  variable('ARCHIVER_DOMAINS', null, '(required)', 'ingest domains, comma- or whitespace-separated, each a valid hostname'),
  variable('LIVE_REGION', 'cn-shanghai', null, 'region for the Live API (RegionId parameter)'),
  variable('LIVE_ENDPOINT', 'https://live.aliyuncs.com', null, 'Live API endpoint URL'),
  variable('OSS_BUCKET', null, '(required)', 'archive bucket name (3-63 chars, lowercase letters, digits, hyphens)'),
  variable('OSS_REGION', null, '(required unless OSS_ENDPOINT is set)', 'e.g. oss-cn-shanghai'),
  variable('OSS_ENDPOINT', null, '(derived from region)', 'explicit endpoint URL, e.g. https://oss-cn-shanghai-internal.aliyuncs.com'),
  variable('OSS_INTERNAL', 'false', null, "use the region's -internal endpoint (free traffic inside the region)"),
  variable('OSS_PATH_STYLE', 'false', null, 'address the bucket path-style (/bucket/key) instead of virtual-host'),
  variable('ARCHIVE_PREFIX', 'live-logs/', null, 'prefix of archived objects (must end with / or be empty)'),
  variable('STATE_PREFIX', 'live-logs-state/', null, 'prefix of manifests and leases (must end with /, must differ from ARCHIVE_PREFIX)'),
  variable(
    'KEY_TEMPLATE',
    '{domain}/{yyyy}/{MM}/{dd}/{HH}/{name}',
    null,
    'archive key under ARCHIVE_PREFIX; placeholders {domain} {yyyy} {MM} {dd} {HH} {name}; must contain {name} and {domain} and the date parts; Hive-style example: {domain}/dt={yyyy}-{MM}-{dd}/hour={HH}/{name}',
  ),
  variable('STORAGE_CLASS', 'Standard', null, 'Standard, IA, Archive, ColdArchive, DeepColdArchive'),
  variable('SERVER_SIDE_ENCRYPTION', null, '(none)', 'AES256 or KMS'),
  variable('SSE_KMS_KEY_ID', null, '(none)', 'KMS key id, only with SERVER_SIDE_ENCRYPTION=KMS'),
  variable('CONCURRENCY', '8', null, 'files transferred at once per invocation, 1..64'),
  variable(
    'LAG_HOURS',
    '1',
    null,
    "which hour the timer archives: the hour starting LAG_HOURS before triggerTime's hour (1 = previous hour), 0..48",
  ),
  variable('LOOKBACK_HOURS', '24', null, 'hours before that also re-listed each timer run for late logs, 0..720'),
  variable('MAX_ATTEMPTS', '3', null, 'attempts per file per run, 1..10'),
  variable('MULTIPART_THRESHOLD_MB', '64', null, 'files larger than this go multipart, 1..5120'),
  variable('PART_SIZE_MB', '16', null, 'multipart part size, 1..1024'),
  variable('DOWNLOAD_TIMEOUT_SEC', '30', null, 'a download that receives no byte for this long is aborted, 1..600'),
  variable('LOG_URL_SCHEME', 'https', null, 'scheme given to LogPath values that have none (http only for the sandbox)'),
  variable(
    'LOG_HOST_ALLOWLIST',
    '*.aliyuncs.com',
    null,
    'comma-separated host patterns (`*.` prefix = any subdomain, host:port allowed) downloads may go to',
  ),
  variable(
    'LIVE_MAX_QPS',
    '10',
    null,
    "Live API calls per second per instance (x function max concurrency must stay under the account's 100)",
  ),
  variable('DEADLINE_MARGIN_SEC', '30', null, "stop starting transfers this long before the invocation's deadline"),
  variable('LOG_LEVEL', 'info', null, 'debug, info, warn, error'),
  variable('FANOUT_API', 'fc3', null, 'fan-out invoker API: fc3 (Function Compute 3.0) or fc2 (2.0)'),
  variable('FANOUT_ENDPOINT', null, '(derived: https://{accountId}.{region}.fc.aliyuncs.com)', 'Function Compute endpoint for fan-out'),
  variable('FANOUT_FUNCTION_NAME', null, '(from context.function.name)', 'function to invoke for fan-out'),
  variable('FANOUT_SERVICE_NAME', null, '(from context.service.name)', 'FC 2.0 only'),
  variable(
    'MAX_HOURS_PER_INVOCATION',
    '48',
    null,
    '(domain, hour) units one invocation takes before fanning the rest out, 1..744',
  ),
] as const satisfies readonly ConfigVariable[];

export type ConfigVariableName = (typeof CONFIG_REFERENCE)[number]['name'];

function variable<N extends string>(name: N, defaultValue: string | null, defaultText: string | null, description: string) {
  return { name, default: defaultValue, defaultText: defaultText ?? defaultValue ?? '(none)', description };
}

export const STORAGE_CLASSES = ['Standard', 'IA', 'Archive', 'ColdArchive', 'DeepColdArchive'] as const;
export type StorageClass = (typeof STORAGE_CLASSES)[number];
export const SSE_ALGORITHMS = ['AES256', 'KMS'] as const;
export type SseAlgorithm = (typeof SSE_ALGORITHMS)[number];
export type FcApi = 'fc3' | 'fc2';

export interface Config {
  /** Lowercased, de-duplicated, in the order given. */
  domains: string[];
  liveRegion: string;
  /** Origin only (no trailing slash), as pop-core wants it. */
  liveEndpoint: string;
  ossBucket: string;
  /** Always `oss-`-prefixed; undefined only when OSS_ENDPOINT is given without OSS_REGION. */
  ossRegion?: string;
  /** OSS_ENDPOINT as given (origin only), else https://{ossRegion}[-internal].aliyuncs.com. */
  ossEndpoint: string;
  ossInternal: boolean;
  ossPathStyle: boolean;
  archivePrefix: string;
  statePrefix: string;
  keyTemplate: string;
  storageClass: StorageClass;
  serverSideEncryption?: SseAlgorithm;
  sseKmsKeyId?: string;
  concurrency: number;
  lagHours: number;
  lookbackHours: number;
  maxAttempts: number;
  multipartThresholdBytes: number;
  partSizeBytes: number;
  downloadTimeoutMs: number;
  logUrlScheme: 'https' | 'http';
  /** Lowercased patterns; matched by `hostAllowlist` in lib/listing.ts. */
  logHostAllowlist: string[];
  liveMaxQps: number;
  deadlineMarginMs: number;
  logLevel: LogLevel;
  fcApi: FcApi;
  fcEndpoint?: string;
  fcFunctionName?: string;
  fcServiceName?: string;
  maxHoursPerInvocation: number;
}

/** The Live API keeps logs 31 days; a timer's oldest re-listed hour must stay inside with an hour to spare. */
export const MAX_HOURS_BACK = 31 * 24 - 2;
const MIB = 1024 * 1024;

export function loadConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined>): Config {
  const r = new EnvReader(env);

  const domains = r.required('ARCHIVER_DOMAINS', domainListSchema, 'set it to the ingest domains separated by commas, e.g. live.example.com,push.example.com');
  const liveRegion = r.read('LIVE_REGION', regionIdSchema, 'set it to a region ID such as cn-shanghai');
  const liveEndpoint = r.read('LIVE_ENDPOINT', endpointSchema, 'set it to an http(s) URL without path or query, e.g. https://live.aliyuncs.com');
  const ossBucket = r.required('OSS_BUCKET', bucketSchema, 'set it to the archive bucket name: 3-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen');
  const ossRegion = r.read('OSS_REGION', ossRegionSchema, 'set it to an OSS region such as oss-cn-shanghai');
  const explicitOssEndpoint = r.read('OSS_ENDPOINT', endpointSchema, 'set it to an http(s) URL without path or query, e.g. https://oss-cn-shanghai-internal.aliyuncs.com');
  const ossInternal = r.read('OSS_INTERNAL', booleanSchema, 'set it to true or false');
  const ossPathStyle = r.read('OSS_PATH_STYLE', booleanSchema, 'set it to true or false');
  const archivePrefix = r.read('ARCHIVE_PREFIX', prefixSchema({ mayBeEmpty: true }), "set it to a path ending with '/', e.g. live-logs/, or to an empty value for the bucket root");
  const statePrefix = r.read('STATE_PREFIX', prefixSchema({ mayBeEmpty: false }), "set it to a path ending with '/', e.g. live-logs-state/");
  const keyTemplate = r.read('KEY_TEMPLATE', keyTemplateSchema, 'use the placeholders {domain} {yyyy} {MM} {dd} {HH} {name}, e.g. {domain}/{yyyy}/{MM}/{dd}/{HH}/{name}');
  const storageClass = r.read('STORAGE_CLASS', enumSchema(STORAGE_CLASSES), `set it to one of ${STORAGE_CLASSES.join(', ')}`);
  const serverSideEncryption = r.read('SERVER_SIDE_ENCRYPTION', enumSchema(SSE_ALGORITHMS), 'set it to AES256 or KMS, or leave it unset');
  const sseKmsKeyId = r.read('SSE_KMS_KEY_ID', kmsKeyIdSchema, 'set it to the KMS key ID (letters, digits, hyphens), or leave it unset');
  const concurrency = r.read('CONCURRENCY', integerSchema(1, 64), wholeNumberFix(1, 64, 8));
  const lagHours = r.read('LAG_HOURS', integerSchema(0, 48), wholeNumberFix(0, 48, 1));
  const lookbackHours = r.read('LOOKBACK_HOURS', integerSchema(0, 720), wholeNumberFix(0, 720, 24));
  const maxAttempts = r.read('MAX_ATTEMPTS', integerSchema(1, 10), wholeNumberFix(1, 10, 3));
  const multipartThresholdMb = r.read('MULTIPART_THRESHOLD_MB', integerSchema(1, 5120), wholeNumberFix(1, 5120, 64));
  const partSizeMb = r.read('PART_SIZE_MB', integerSchema(1, 1024), wholeNumberFix(1, 1024, 16));
  const downloadTimeoutSec = r.read('DOWNLOAD_TIMEOUT_SEC', integerSchema(1, 600), wholeNumberFix(1, 600, 30));
  const logUrlScheme = r.read('LOG_URL_SCHEME', enumSchema(['https', 'http'] as const), 'set it to https (http only for the sandbox)');
  const logHostAllowlist = r.read('LOG_HOST_ALLOWLIST', hostAllowlistSchema, 'list host patterns separated by commas, e.g. *.aliyuncs.com or 127.0.0.1:8080');
  const liveMaxQps = r.read('LIVE_MAX_QPS', positiveNumberSchema(100), 'set it to a number above 0 and at most 100, e.g. 10');
  const deadlineMarginSec = r.read('DEADLINE_MARGIN_SEC', integerSchema(0, 3600), wholeNumberFix(0, 3600, 30));
  const logLevel = r.read('LOG_LEVEL', enumSchema(LOG_LEVELS), `set it to one of ${LOG_LEVELS.join(', ')}`);
  const fcApi = r.read('FANOUT_API', enumSchema(['fc3', 'fc2'] as const), 'set it to fc3 (Function Compute 3.0) or fc2 (2.0)');
  const fcEndpoint = r.read('FANOUT_ENDPOINT', endpointSchema, 'set it to an http(s) URL without path or query, e.g. https://123456789.cn-shanghai.fc.aliyuncs.com, or leave it unset');
  const fcFunctionName = r.read('FANOUT_FUNCTION_NAME', fcNameSchema, 'set it to a function name (letters, digits, _ and -, starting with a letter or _), or leave it unset');
  const fcServiceName = r.read('FANOUT_SERVICE_NAME', fcNameSchema, 'set it to a service name (letters, digits, _ and -, starting with a letter or _), or leave it unset');
  const maxHoursPerInvocation = r.read('MAX_HOURS_PER_INVOCATION', integerSchema(1, 744), wholeNumberFix(1, 744, 48));

  // Rules that involve more than one variable; each runs only when its inputs are valid, to avoid echo issues.
  if (ossRegion === undefined && explicitOssEndpoint === undefined && !r.isInvalid('OSS_REGION') && !r.isInvalid('OSS_ENDPOINT')) {
    r.problem('OSS_REGION', 'is not set, and neither is OSS_ENDPOINT', 'set OSS_REGION to the bucket region, e.g. oss-cn-shanghai, or set OSS_ENDPOINT');
  }
  if (explicitOssEndpoint !== undefined && ossInternal === true) {
    r.problem('OSS_INTERNAL', 'is true but OSS_ENDPOINT is set explicitly, so it would have no effect', 'use an -internal host in OSS_ENDPOINT and unset OSS_INTERNAL');
  }
  if (archivePrefix !== undefined && statePrefix !== undefined && prefixesOverlap(archivePrefix, statePrefix)) {
    r.problem(
      'STATE_PREFIX',
      `'${statePrefix}' overlaps ARCHIVE_PREFIX '${archivePrefix}'`,
      'choose prefixes where neither is the other or starts with it, e.g. ARCHIVE_PREFIX=live-logs/ and STATE_PREFIX=live-logs-state/',
    );
  }
  if (sseKmsKeyId !== undefined && serverSideEncryption !== 'KMS' && !r.isInvalid('SERVER_SIDE_ENCRYPTION')) {
    r.problem('SSE_KMS_KEY_ID', `is set but SERVER_SIDE_ENCRYPTION is ${serverSideEncryption ?? 'unset'}`, 'set SERVER_SIDE_ENCRYPTION=KMS or unset SSE_KMS_KEY_ID');
  }
  if (lagHours !== undefined && lookbackHours !== undefined && lagHours + lookbackHours > MAX_HOURS_BACK) {
    r.problem(
      'LOOKBACK_HOURS',
      `${lookbackHours} with LAG_HOURS ${lagHours} reaches ${lagHours + lookbackHours} hours back, beyond the ${MAX_HOURS_BACK} the Live API can still serve (31 days)`,
      `lower LOOKBACK_HOURS to at most ${MAX_HOURS_BACK - lagHours}`,
    );
  }
  if (fcServiceName !== undefined && fcApi === 'fc3') {
    r.problem('FANOUT_SERVICE_NAME', 'is set but FANOUT_API is fc3, which has no services', 'unset FANOUT_SERVICE_NAME, or set FANOUT_API=fc2');
  }
  if (r.issues.length > 0) throw new ConfigError(r.issues);

  const region = ossRegion === undefined ? undefined : normalizeOssRegion(ossRegion);
  return {
    domains: present(domains),
    liveRegion: present(liveRegion),
    liveEndpoint: present(liveEndpoint),
    ossBucket: present(ossBucket),
    ossRegion: region,
    ossEndpoint: explicitOssEndpoint ?? `https://${present(region)}${ossInternal ? '-internal' : ''}.aliyuncs.com`,
    ossInternal: present(ossInternal),
    ossPathStyle: present(ossPathStyle),
    archivePrefix: present(archivePrefix),
    statePrefix: present(statePrefix),
    keyTemplate: present(keyTemplate),
    storageClass: present(storageClass),
    serverSideEncryption,
    sseKmsKeyId,
    concurrency: present(concurrency),
    lagHours: present(lagHours),
    lookbackHours: present(lookbackHours),
    maxAttempts: present(maxAttempts),
    multipartThresholdBytes: present(multipartThresholdMb) * MIB,
    partSizeBytes: present(partSizeMb) * MIB,
    downloadTimeoutMs: present(downloadTimeoutSec) * 1000,
    logUrlScheme: present(logUrlScheme),
    logHostAllowlist: present(logHostAllowlist),
    liveMaxQps: present(liveMaxQps),
    deadlineMarginMs: present(deadlineMarginSec) * 1000,
    logLevel: present(logLevel),
    fcApi: present(fcApi),
    fcEndpoint,
    fcFunctionName,
    fcServiceName,
    maxHoursPerInvocation: present(maxHoursPerInvocation),
  };
}

/**
 * Credentials outside Function Compute (CLI, sandbox). Null when none are set; a half-set pair is a ConfigError.
 * The secret and token are registered with lib/redact.ts, so they can never appear in output afterwards.
 */
export function credentialsFromEnv(env: NodeJS.ProcessEnv | Record<string, string | undefined>): Credentials | null {
  const accessKeyId = nonEmpty(env.ALIBABA_CLOUD_ACCESS_KEY_ID);
  const accessKeySecret = nonEmpty(env.ALIBABA_CLOUD_ACCESS_KEY_SECRET);
  const securityToken = nonEmpty(env.ALIBABA_CLOUD_SECURITY_TOKEN);
  registerSecret(accessKeySecret);
  registerSecret(securityToken);
  const issues: ConfigIssue[] = [];
  if (accessKeyId !== undefined && accessKeySecret === undefined) {
    issues.push({ variable: 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', problem: 'is not set while ALIBABA_CLOUD_ACCESS_KEY_ID is', fix: 'set both, or neither' });
  }
  if (accessKeySecret !== undefined && accessKeyId === undefined) {
    issues.push({ variable: 'ALIBABA_CLOUD_ACCESS_KEY_ID', problem: 'is not set while ALIBABA_CLOUD_ACCESS_KEY_SECRET is', fix: 'set both, or neither' });
  }
  if (securityToken !== undefined && (accessKeyId === undefined || accessKeySecret === undefined)) {
    issues.push({
      variable: 'ALIBABA_CLOUD_SECURITY_TOKEN',
      problem: 'is set without an access key pair',
      fix: 'set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET to the STS key pair that goes with the token',
    });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  if (accessKeyId === undefined || accessKeySecret === undefined) return null;
  return securityToken === undefined ? { accessKeyId, accessKeySecret } : { accessKeyId, accessKeySecret, securityToken };
}

/**
 * Lowercased, trailing dot removed, or null when `input` is not a valid DNS hostname with at least two labels
 * (ingest domains always have one; a bare IP is refused because its last label is numeric).
 */
export function normalizeHostname(input: string): string | null {
  const host = input.trim().toLowerCase().replace(/\.$/, '');
  if (host.length === 0 || host.length > 253) return null;
  const labels = host.split('.');
  if (labels.length < 2) return null;
  if (!labels.every((label) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label))) return null;
  if (/^\d+$/.test(labels[labels.length - 1])) return null;
  return host;
}


function splitHostPort(value: string): { host: string; port?: string } {
  const match = /^(.*?)(?::(\d+))?$/.exec(value);
  return match && match[2] !== undefined ? { host: match[1], port: match[2] } : { host: value };
}

// ---------------------------------------------------------------------------------------------------------------
// Reading and schemas. A schema's messages are predicates ("is not an integer"); the reader puts the value first.

type Schema<T> = z.ZodType<T, z.ZodTypeDef, string>;

class EnvReader {
  readonly issues: ConfigIssue[] = [];
  private readonly invalidNames = new Set<string>();

  constructor(private readonly env: NodeJS.ProcessEnv | Record<string, string | undefined>) {}

  /** The value, else the documented default, else undefined (unset without default, or invalid: issue recorded). */
  read<T>(name: ConfigVariableName, schema: Schema<T>, fix: string): T | undefined {
    const raw = this.rawValue(name);
    if (raw === undefined) return undefined;
    const result = schema.safeParse(raw);
    if (result.success) return result.data;
    this.invalidNames.add(name);
    this.problem(name, `${quote(raw)} ${result.error.issues[0]?.message ?? 'is not valid'}`, fix);
    return undefined;
  }

  required<T>(name: ConfigVariableName, schema: Schema<T>, fix: string): T | undefined {
    const value = this.read(name, schema, fix);
    if (value === undefined && !this.invalidNames.has(name)) this.problem(name, 'is not set', fix);
    return value;
  }

  isInvalid(name: ConfigVariableName): boolean {
    return this.invalidNames.has(name);
  }

  problem(variable: string, problem: string, fix: string): void {
    this.issues.push({ variable, problem, fix });
  }

  private rawValue(name: ConfigVariableName): string | undefined {
    const given = this.env[name]?.trim();
    if (given !== undefined && (given !== '' || name === 'ARCHIVE_PREFIX')) return given;
    return CONFIG_REFERENCE.find((v) => v.name === name)?.default ?? undefined;
  }
}

function quote(raw: string): string {
  const shown = raw.length > 80 ? `${raw.slice(0, 77)}...` : raw;
  return `'${shown}'`;
}

function present<T>(value: T | undefined): T {
  // Unreachable: loadConfig throws before building the Config when any variable is missing or invalid.
  if (value === undefined) throw new Error('internal: config value missing after validation');
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function wholeNumberFix(min: number, max: number, example: number): string {
  return `set it to a whole number from ${min} to ${max}, e.g. ${example}`;
}

function integerSchema(min: number, max: number): Schema<number> {
  return z
    .string()
    .regex(/^[+-]?\d+$/, 'is not an integer')
    .transform(Number)
    .pipe(z.number().min(min, `is below the minimum ${min}`).max(max, `is above the maximum ${max}`));
}

function positiveNumberSchema(max: number): Schema<number> {
  return z
    .string()
    .regex(/^\d+(?:\.\d+)?$/, 'is not a number')
    .transform(Number)
    .pipe(z.number().gt(0, 'is not above 0').max(max, `is above the maximum ${max}`));
}

const booleanSchema: Schema<boolean> = z
  .string()
  .transform((raw) => raw.toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0'], { errorMap: () => ({ message: 'is not a boolean' }) }))
  .transform((raw) => raw === 'true' || raw === '1');

/** Exact spelling required (OSS header values are case-sensitive); a case-only slip gets a "did you mean". */
function enumSchema<const T extends readonly [string, ...string[]] | readonly string[]>(values: T): Schema<T[number]> {
  return z.string().superRefine((raw, ctx) => {
    if (values.includes(raw)) return;
    const near = values.find((v) => v.toLowerCase() === raw.toLowerCase());
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: near ? `is not spelled exactly; did you mean ${near}?` : 'is not a known value' });
  }) as unknown as Schema<T[number]>;
}

const domainListSchema: Schema<string[]> = z.string().transform((raw, ctx) => {
  const domains: string[] = [];
  for (const item of raw.split(/[\s,]+/).filter(Boolean)) {
    const host = normalizeHostname(item);
    if (host === null) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `contains '${item}', which is not a valid hostname` });
      return z.NEVER;
    }
    if (!domains.includes(host)) domains.push(host);
  }
  if (domains.length === 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'names no domain' });
    return z.NEVER;
  }
  return domains;
});

const regionIdSchema: Schema<string> = z.string().regex(/^[a-z]{2,}(?:-[a-z0-9]+)+$/, 'is not a region ID');

/** ali-oss wants `oss-cn-shanghai`; `cn-shanghai` is accepted and prefixed, since the meaning is unambiguous. */
const ossRegionSchema: Schema<string> = z
  .string()
  .regex(/^(?:oss-)?[a-z]{2,}(?:-[a-z0-9]+)+$/, 'is not an OSS region')
  .refine((raw) => !raw.endsWith('-internal'), "ends with '-internal' (set OSS_INTERNAL=true for the internal endpoint instead)");

function normalizeOssRegion(region: string): string {
  return region.startsWith('oss-') ? region : `oss-${region}`;
}

const endpointSchema: Schema<string> = z.string().transform((raw, ctx) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'is not a URL' });
    return z.NEVER;
  }
  const problem =
    url.protocol !== 'https:' && url.protocol !== 'http:'
      ? 'does not start with https:// or http://'
      : url.pathname !== '/' || url.search !== '' || url.hash !== ''
        ? 'has a path, query or fragment'
        : url.username || url.password
          ? 'carries credentials'
          : undefined;
  if (problem) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    return z.NEVER;
  }
  return url.origin;
});

const bucketSchema: Schema<string> = z.string().regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, 'is not a valid bucket name');

function prefixSchema(opts: { mayBeEmpty: boolean }): Schema<string> {
  return z.string().superRefine((raw, ctx) => {
    const problem =
      raw === ''
        ? opts.mayBeEmpty
          ? undefined
          : 'is empty'
        : !raw.endsWith('/')
          ? "does not end with '/'"
          : raw.startsWith('/')
            ? "starts with '/'"
            : raw.includes('//')
              ? "contains '//'"
              : raw.split('/').some((segment) => segment === '.' || segment === '..')
                ? "contains a '.' or '..' segment"
                : /[\s\p{C}\\]/u.test(raw)
                  ? 'contains whitespace, a backslash or a control character'
                  : Buffer.byteLength(raw) > 256
                    ? 'is longer than 256 bytes'
                    : undefined;
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });
}

function prefixesOverlap(archivePrefix: string, statePrefix: string): boolean {
  if (archivePrefix === statePrefix) return true;
  // An empty archive prefix is the bucket root: archive keys start with the key template, which starts with a
  // domain or a literal, never with the state prefix (domains contain a dot), so that nesting is allowed.
  if (archivePrefix === '') return false;
  return archivePrefix.startsWith(statePrefix) || statePrefix.startsWith(archivePrefix);
}

const keyTemplateSchema: Schema<string> = z.string().superRefine((raw, ctx) => {
  const checked = validateKeyTemplate(raw);
  if (!checked.ok) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `is not a valid key template (${checked.reason})` });
});

const kmsKeyIdSchema: Schema<string> = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_/:.-]{0,255}$/, 'is not a KMS key ID');

const fcNameSchema: Schema<string> = z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,127}$/, 'is not a valid Function Compute name');

const HOST_PATTERN = /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::(\d{1,5}))?$/;

const hostAllowlistSchema: Schema<string[]> = z.string().transform((raw, ctx) => {
  const patterns: string[] = [];
  for (const item of raw.toLowerCase().split(',').map((s) => s.trim()).filter(Boolean)) {
    const match = HOST_PATTERN.exec(item);
    const port = match?.[1] === undefined ? undefined : Number(match[1]);
    if (!match || (port !== undefined && (port < 1 || port > 65535))) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `contains '${item}', which is not a host pattern` });
      return z.NEVER;
    }
    if (!patterns.includes(item)) patterns.push(item);
  }
  if (patterns.length === 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'names no host' });
    return z.NEVER;
  }
  return patterns;
});
