import { ConfigError } from '../../lib/errors';
import { CONFIG_REFERENCE, credentialsFromEnv, loadConfig, normalizeHostname } from '../../lib/config';
import { hostAllowlist } from '../../lib/listing';
import { clearRegisteredSecrets, redact } from '../../lib/redact';

const MINIMAL = { ARCHIVER_DOMAINS: 'live.example.com', OSS_BUCKET: 'my-archive', OSS_REGION: 'oss-cn-shanghai' };

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies every documented default to a minimal environment', () => {
    expect(loadConfig(MINIMAL)).toEqual({
      domains: ['live.example.com'],
      liveRegion: 'cn-shanghai',
      liveEndpoint: 'https://live.aliyuncs.com',
      ossBucket: 'my-archive',
      ossRegion: 'oss-cn-shanghai',
      ossEndpoint: 'https://oss-cn-shanghai.aliyuncs.com',
      ossInternal: false,
      ossPathStyle: false,
      archivePrefix: 'live-logs/',
      statePrefix: 'live-logs-state/',
      keyTemplate: '{domain}/{yyyy}/{MM}/{dd}/{HH}/{name}',
      storageClass: 'Standard',
      serverSideEncryption: undefined,
      sseKmsKeyId: undefined,
      concurrency: 8,
      lagHours: 1,
      lookbackHours: 24,
      maxAttempts: 3,
      multipartThresholdBytes: 64 * 1024 * 1024,
      partSizeBytes: 16 * 1024 * 1024,
      downloadTimeoutMs: 30_000,
      logUrlScheme: 'https',
      logHostAllowlist: ['*.aliyuncs.com'],
      liveMaxQps: 10,
      deadlineMarginMs: 30_000,
      logLevel: 'info',
      fcApi: 'fc3',
      fcEndpoint: undefined,
      fcFunctionName: undefined,
      fcServiceName: undefined,
      maxHoursPerInvocation: 48,
    });
  });

  it('converts sizes to bytes and times to milliseconds', () => {
    const config = loadConfig({ ...MINIMAL, MULTIPART_THRESHOLD_MB: '100', PART_SIZE_MB: '8', DOWNLOAD_TIMEOUT_SEC: '5', DEADLINE_MARGIN_SEC: '0' });

    expect(config.multipartThresholdBytes).toBe(104_857_600);
    expect(config.partSizeBytes).toBe(8_388_608);
    expect(config.downloadTimeoutMs).toBe(5000);
    expect(config.deadlineMarginMs).toBe(0);
  });

  it('splits domains on commas and whitespace, lowercases and de-duplicates them in order', () => {
    const config = loadConfig({ ...MINIMAL, ARCHIVER_DOMAINS: ' Push.Example.com, live.example.com\n push.example.com.  b.example.org,' });
    expect(config.domains).toEqual(['push.example.com', 'live.example.com', 'b.example.org']);
  });

  it('derives the internal OSS endpoint and accepts a region without the oss- prefix', () => {
    const config = loadConfig({ ...MINIMAL, OSS_REGION: 'cn-beijing', OSS_INTERNAL: 'TRUE' });
    expect(config.ossRegion).toBe('oss-cn-beijing');
    expect(config.ossEndpoint).toBe('https://oss-cn-beijing-internal.aliyuncs.com');
  });

  it('uses an explicit OSS endpoint without a region, reduced to its origin', () => {
    const config = loadConfig({ ARCHIVER_DOMAINS: 'live.example.com', OSS_BUCKET: 'my-archive', OSS_ENDPOINT: 'http://127.0.0.1:40123/', OSS_PATH_STYLE: '1' });
    expect(config.ossEndpoint).toBe('http://127.0.0.1:40123');
    expect(config.ossRegion).toBeUndefined();
    expect(config.ossPathStyle).toBe(true);
  });

  it('treats empty values as unset, except ARCHIVE_PREFIX where empty means the bucket root', () => {
    const config = loadConfig({ ...MINIMAL, CONCURRENCY: '', STATE_PREFIX: '  ', ARCHIVE_PREFIX: '' });
    expect(config.concurrency).toBe(8);
    expect(config.statePrefix).toBe('live-logs-state/');
    expect(config.archivePrefix).toBe('');
  });

  it('accepts the Hive-style key template, KMS encryption and FC 2.0 settings', () => {
    const config = loadConfig({
      ...MINIMAL,
      KEY_TEMPLATE: '{domain}/dt={yyyy}-{MM}-{dd}/hour={HH}/{name}',
      SERVER_SIDE_ENCRYPTION: 'KMS',
      SSE_KMS_KEY_ID: '0e478f0a-7f1c-4c6b-9e8a-0a5c1d2f3b4e',
      STORAGE_CLASS: 'ColdArchive',
      FANOUT_API: 'fc2',
      FANOUT_SERVICE_NAME: 'live_archiver',
      FANOUT_FUNCTION_NAME: 'archiver',
      FANOUT_ENDPOINT: 'https://123456789.cn-shanghai.fc.aliyuncs.com',
      LOG_HOST_ALLOWLIST: '*.aliyuncs.com, 127.0.0.1:8080,*.aliyuncs.com',
      LIVE_MAX_QPS: '2.5',
    });
    expect(config).toMatchObject({
      keyTemplate: '{domain}/dt={yyyy}-{MM}-{dd}/hour={HH}/{name}',
      serverSideEncryption: 'KMS',
      storageClass: 'ColdArchive',
      fcApi: 'fc2',
      fcServiceName: 'live_archiver',
      logHostAllowlist: ['*.aliyuncs.com', '127.0.0.1:8080'],
      liveMaxQps: 2.5,
    });
  });

  it('reports the exact problem and fix for a non-integer', () => {
    const err = configError({ ...MINIMAL, CONCURRENCY: 'abc' });
    expect(err.issues).toEqual([{ variable: 'CONCURRENCY', problem: "'abc' is not an integer", fix: 'set it to a whole number from 1 to 64, e.g. 8' }]);
    expect(err.message).toContain("CONCURRENCY: 'abc' is not an integer; set it to a whole number from 1 to 64, e.g. 8");
  });

  it('reports all problems at once, required variables included', () => {
    const err = configError({
      CONCURRENCY: '65',
      LAG_HOURS: '-1',
      OSS_INTERNAL: 'yes',
      STORAGE_CLASS: 'standard',
      LOG_LEVEL: 'verbose',
      LIVE_ENDPOINT: 'live.aliyuncs.com',
    });

    expect(err.issues.map((i) => `${i.variable}: ${i.problem}`)).toEqual([
      'ARCHIVER_DOMAINS: is not set',
      "LIVE_ENDPOINT: 'live.aliyuncs.com' is not a URL",
      'OSS_BUCKET: is not set',
      "OSS_INTERNAL: 'yes' is not a boolean",
      "STORAGE_CLASS: 'standard' is not spelled exactly; did you mean Standard?",
      "CONCURRENCY: '65' is above the maximum 64",
      "LAG_HOURS: '-1' is below the minimum 0",
      "LOG_LEVEL: 'verbose' is not a known value",
      'OSS_REGION: is not set, and neither is OSS_ENDPOINT',
    ]);
    expect(err.message).toMatch(/^Invalid configuration \(9 problems\):/);
  });

  it.each([
    ['ARCHIVER_DOMAINS', 'live.example.com, bad_host', "'live.example.com, bad_host' contains 'bad_host', which is not a valid hostname"],
    ['ARCHIVER_DOMAINS', ' , ', "',' names no domain"],
    ['OSS_BUCKET', 'My_Bucket', "'My_Bucket' is not a valid bucket name"],
    ['OSS_REGION', 'oss-cn-shanghai-internal', "'oss-cn-shanghai-internal' ends with '-internal' (set OSS_INTERNAL=true for the internal endpoint instead)"],
    ['OSS_ENDPOINT', 'https://oss-cn-shanghai.aliyuncs.com/bucket', "'https://oss-cn-shanghai.aliyuncs.com/bucket' has a path, query or fragment"],
    ['ARCHIVE_PREFIX', 'logs', "'logs' does not end with '/'"],
    ['STATE_PREFIX', '/state/', "'/state/' starts with '/'"],
    ['KEY_TEMPLATE', '{domain}/{yyyy}/{name}', "'{domain}/{yyyy}/{name}' is not a valid key template (invalid key template \"{domain}/{yyyy}/{name}\": missing {MM}; missing {dd}; missing {HH})"],
    ['MULTIPART_THRESHOLD_MB', '5121', "'5121' is above the maximum 5120"],
    ['PART_SIZE_MB', '1.5', "'1.5' is not an integer"],
    ['LOG_URL_SCHEME', 'ftp', "'ftp' is not a known value"],
    ['LOG_HOST_ALLOWLIST', '*', "'*' contains '*', which is not a host pattern"],
    ['LIVE_MAX_QPS', '0', "'0' is not above 0"],
    ['FANOUT_API', 'fc4', "'fc4' is not a known value"],
    ['FANOUT_FUNCTION_NAME', '1bad', "'1bad' is not a valid Function Compute name"],
    ['MAX_HOURS_PER_INVOCATION', '745', "'745' is above the maximum 744"],
  ])('rejects %s=%j', (variable, value, problem) => {
    const err = configError({ ...MINIMAL, [variable]: value });
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0].variable).toBe(variable);
    expect(err.issues[0].problem).toBe(problem);
    expect(err.issues[0].fix.length).toBeGreaterThan(10);
  });

  it('refuses STATE_PREFIX equal to or nested with ARCHIVE_PREFIX', () => {
    expect(configError({ ...MINIMAL, STATE_PREFIX: 'live-logs/' }).issues[0]).toMatchObject({ variable: 'STATE_PREFIX', problem: "'live-logs/' overlaps ARCHIVE_PREFIX 'live-logs/'" });
    expect(configError({ ...MINIMAL, STATE_PREFIX: 'live-logs/state/' }).issues[0].variable).toBe('STATE_PREFIX');
    expect(loadConfig({ ...MINIMAL, ARCHIVE_PREFIX: '', STATE_PREFIX: 'state/' }).statePrefix).toBe('state/');
  });

  it('refuses SSE_KMS_KEY_ID without KMS encryption', () => {
    expect(configError({ ...MINIMAL, SERVER_SIDE_ENCRYPTION: 'AES256', SSE_KMS_KEY_ID: 'key-1' }).issues).toEqual([
      { variable: 'SSE_KMS_KEY_ID', problem: 'is set but SERVER_SIDE_ENCRYPTION is AES256', fix: 'set SERVER_SIDE_ENCRYPTION=KMS or unset SSE_KMS_KEY_ID' },
    ]);
  });

  it('refuses OSS_INTERNAL with an explicit endpoint, where it would silently do nothing', () => {
    expect(configError({ ...MINIMAL, OSS_ENDPOINT: 'https://oss-cn-shanghai.aliyuncs.com', OSS_INTERNAL: 'true' }).issues[0].variable).toBe('OSS_INTERNAL');
  });

  it('refuses a lag plus lookback that reaches past the 31 days the Live API keeps', () => {
    const err = configError({ ...MINIMAL, LAG_HOURS: '48', LOOKBACK_HOURS: '720' });
    expect(err.issues).toEqual([
      {
        variable: 'LOOKBACK_HOURS',
        problem: '720 with LAG_HOURS 48 reaches 768 hours back, beyond the 742 the Live API can still serve (31 days)',
        fix: 'lower LOOKBACK_HOURS to at most 694',
      },
    ]);
  });

  it('refuses FANOUT_SERVICE_NAME with FC 3.0', () => {
    expect(configError({ ...MINIMAL, FANOUT_SERVICE_NAME: 'svc' }).issues[0]).toMatchObject({ variable: 'FANOUT_SERVICE_NAME' });
  });

  it('shortens very long values in messages', () => {
    const err = configError({ ...MINIMAL, OSS_BUCKET: 'x'.repeat(300) });
    expect(err.issues[0].problem).toBe(`'${'x'.repeat(77)}...' is not a valid bucket name`);
  });
});

describe('CONFIG_REFERENCE', () => {
  it('lists each variable once, with the defaults loadConfig applies', () => {
    const names = CONFIG_REFERENCE.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toHaveLength(31);
    const config = loadConfig(MINIMAL);
    const byName = Object.fromEntries(CONFIG_REFERENCE.map((v) => [v.name, v]));
    expect(byName.CONCURRENCY.default).toBe(String(config.concurrency));
    expect(byName.KEY_TEMPLATE.default).toBe(config.keyTemplate);
    expect(byName.ARCHIVER_DOMAINS).toMatchObject({ default: null, defaultText: '(required)' });
    expect(byName.SERVER_SIDE_ENCRYPTION.defaultText).toBe('(none)');
  });
});

describe('credentialsFromEnv', () => {
  afterEach(() => clearRegisteredSecrets());

  it('returns null when no credentials are set', () => {
    expect(credentialsFromEnv({})).toBeNull();
  });

  it('returns the key pair and token, and registers the secrets for redaction', () => {
    const creds = credentialsFromEnv({
      ALIBABA_CLOUD_ACCESS_KEY_ID: 'STS.id',
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'secret-value-123',
      ALIBABA_CLOUD_SECURITY_TOKEN: 'token-value-456',
    });

    expect(creds).toEqual({ accessKeyId: 'STS.id', accessKeySecret: 'secret-value-123', securityToken: 'token-value-456' });
    expect(redact('a secret-value-123 b token-value-456')).toBe('a <redacted> b <redacted>');
  });

  it('refuses a key id without its secret', () => {
    expect(() => credentialsFromEnv({ ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAI' })).toThrow(
      'ALIBABA_CLOUD_ACCESS_KEY_SECRET: is not set while ALIBABA_CLOUD_ACCESS_KEY_ID is; set both, or neither',
    );
  });

  it('refuses a secret or token without a key id, without printing the secret', () => {
    let message = '';
    try {
      credentialsFromEnv({ ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'lonely-secret-789', ALIBABA_CLOUD_SECURITY_TOKEN: 'lonely-token-000' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('ALIBABA_CLOUD_ACCESS_KEY_ID: is not set');
    expect(message).toContain('ALIBABA_CLOUD_SECURITY_TOKEN: is set without an access key pair');
    expect(message).not.toContain('lonely-secret-789');
  });
});

describe('normalizeHostname', () => {
  it.each([
    ['Live.Example.COM', 'live.example.com'],
    ['live.example.com.', 'live.example.com'],
    ['a-b.c1.example', 'a-b.c1.example'],
    ['localhost', null],
    ['1.2.3.4', null],
    ['-bad.example.com', null],
    ['bad_.example.com', null],
    ['a..example.com', null],
    [`${'a'.repeat(64)}.example.com`, null],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeHostname(input)).toBe(expected);
  });
});

describe('hostAllowlist over configured patterns', () => {
  const allowed = hostAllowlist(['*.aliyuncs.com', '127.0.0.1:8080', 'origin.example.com']);

  it.each([
    ['cdn.oss-cn-shanghai.aliyuncs.com', true],
    // URL.host never carries a default port, so a port in the host is a non-default one: not allowed by a plain pattern.
    ['a.b.aliyuncs.com:8443', false],
    ['aliyuncs.com', false],
    ['evilaliyuncs.com', false],
    ['aliyuncs.com.evil.net', false],
    ['127.0.0.1:8080', true],
    ['127.0.0.1:8081', false],
    ['127.0.0.1', false],
    ['ORIGIN.example.com', true],
    ['origin.example.com:9000', false],
    ['100.100.100.200', false],
  ])('%s allowed: %s', (host, expected) => {
    expect(allowed(host)).toBe(expected);
  });
});
