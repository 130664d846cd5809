import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';

/**
 * deploy/ram-policy.json is a template: docs/DEPLOY.md renders it with envsubst (the ${VAR} placeholders) and
 * jq (one Live domain ARN per ingest domain). These tests render it the same way and then ask, for concrete
 * resources, which actions the policy allows, the way RAM evaluates Allow statements.
 */

const REPO_ROOT = path.resolve(__dirname, '../..');
const POLICY_PATH = path.join(REPO_ROOT, 'deploy/ram-policy.json');
const DEPLOY_DOC_PATH = path.join(REPO_ROOT, 'docs/DEPLOY.md');
const S_YAML_PATH = path.join(REPO_ROOT, 's.yaml');

interface Statement {
  Effect: string;
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string[]>>;
}
interface Policy {
  Version: string;
  Statement: Statement[];
}

const SAMPLE = {
  ACCOUNT_ID: '1234567890123456',
  REGION: 'cn-shanghai',
  OSS_BUCKET: 'example-live-log-archive',
  ARCHIVE_PREFIX: 'live-logs/',
  STATE_PREFIX: 'live-logs-state/',
  LOG_PROJECT: 'live-log-archiver-logs',
  LOGSTORE: 'function-logs',
  FAILURE_QUEUE: 'live-log-archiver-failures',
  LIVE_DOMAIN: '',
};
const SAMPLE_DOMAINS = ['push.example.com', 'push2.example.com'];
const BUCKET_ARN = `acs:oss:*:${SAMPLE.ACCOUNT_ID}:${SAMPLE.OSS_BUCKET}`;

function readTemplate(): string {
  return readFileSync(POLICY_PATH, 'utf8');
}

function placeholdersOf(template: string): string[] {
  return [...new Set([...template.matchAll(/\$\{([A-Z_]+)\}/g)].map((match) => match[1]))].sort();
}

/** What `envsubst` and the jq step in docs/DEPLOY.md produce. */
function renderPolicy(values: Record<string, string>, domains: string[]): Policy {
  const substituted = readTemplate().replace(/\$\{([A-Z_]+)\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`no sample value for placeholder ${name}`);
    return values[name];
  });
  const policy = JSON.parse(substituted) as Policy;
  for (const statement of policy.Statement) {
    if (statement.Action.includes('live:DescribeLivePushProxyLog')) {
      statement.Resource = domains.map((domain) => `acs:live:*:${values.ACCOUNT_ID}:domain/${domain}`);
    }
  }
  return policy;
}

function wildcardMatches(pattern: string, value: string): boolean {
  const source = pattern
    .split('')
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`).test(value);
}

function allowedActions(policy: Policy, resourceArn: string): string[] {
  const actions = policy.Statement.filter((statement) => statement.Effect === 'Allow')
    .filter((statement) => statement.Resource.some((pattern) => wildcardMatches(pattern, resourceArn)))
    .flatMap((statement) => statement.Action);
  return [...new Set(actions)].sort();
}

describe('deploy/ram-policy.json', () => {
  const policy = renderPolicy(SAMPLE, SAMPLE_DOMAINS);

  it('is a RAM policy document of version "1" that only allows', () => {
    const raw = JSON.parse(readTemplate()) as Policy;

    expect(raw.Version).toBe('1');
    expect(raw.Statement.length).toBeGreaterThan(0);
    expect(raw.Statement.every((statement) => statement.Effect === 'Allow')).toBe(true);
  });

  it('names every action explicitly: no wildcard action and no wildcard resource', () => {
    const actions = policy.Statement.flatMap((statement) => statement.Action);
    const resources = policy.Statement.flatMap((statement) => statement.Resource);

    expect(actions.filter((action) => action.includes('*'))).toEqual([]);
    expect(resources.filter((resource) => resource === '*' || /^acs:[^:]*:\*:\*:/.test(resource))).toEqual([]);
  });

  it('lets archived logs be written, read and cleaned of failed multipart uploads, but never deleted', () => {
    const archivedLog = `${BUCKET_ARN}/live-logs/push.example.com/2026/11/27/09/push.example.com_2026_11_27_09.log.gz`;

    expect(allowedActions(policy, archivedLog)).toEqual([
      'oss:AbortMultipartUpload',
      'oss:GetObject',
      'oss:ListParts',
      'oss:PutObject',
    ]);
  });

  it('allows DeleteObject only on lease objects under the state prefix', () => {
    const lease = `${BUCKET_ARN}/live-logs-state/leases/push.example.com/2026-11-27T09/3`;
    const manifest = `${BUCKET_ARN}/live-logs-state/manifests/push.example.com/2026/11/27/09.json`;
    const deletable = policy.Statement.filter((statement) => statement.Action.includes('oss:DeleteObject'));

    expect(allowedActions(policy, lease)).toEqual(['oss:DeleteObject', 'oss:GetObject', 'oss:PutObject']);
    expect(allowedActions(policy, manifest)).toEqual(['oss:GetObject', 'oss:PutObject']);
    expect(deletable.flatMap((statement) => statement.Resource)).toEqual([`${BUCKET_ARN}/live-logs-state/leases/*`]);
  });

  it('grants nothing on objects outside the two prefixes or in another bucket', () => {
    expect(allowedActions(policy, `${BUCKET_ARN}/unrelated/file.txt`)).toEqual([]);
    expect(allowedActions(policy, `acs:oss:*:${SAMPLE.ACCOUNT_ID}:other-bucket/live-logs/a.log`)).toEqual([]);
  });

  it('lists the bucket only under the archive and state prefixes', () => {
    const listing = policy.Statement.filter((statement) => statement.Action.includes('oss:ListObjects'));

    expect(listing).toHaveLength(1);
    expect(listing[0].Resource).toEqual([BUCKET_ARN]);
    expect(listing[0].Condition).toEqual({ StringLike: { 'oss:Prefix': ['live-logs-state/*', 'live-logs/*'] } });
  });

  it('reads relay logs of the configured ingest domains only', () => {
    const domainArn = (domain: string) => `acs:live:*:${SAMPLE.ACCOUNT_ID}:domain/${domain}`;

    expect(allowedActions(policy, domainArn('push2.example.com'))).toEqual(['live:DescribeLivePushProxyLog']);
    expect(allowedActions(policy, domainArn('other.example.com'))).toEqual([]);
  });

  it('invokes only the function that s.yaml deploys, any qualifier', () => {
    const sYaml = yaml.load(readFileSync(S_YAML_PATH, 'utf8')) as {
      resources: { archiver: { props: { functionName: string } } };
    };
    const functionArn = `acs:fc:${SAMPLE.REGION}:${SAMPLE.ACCOUNT_ID}:functions/${sYaml.resources.archiver.props.functionName}`;

    expect(allowedActions(policy, functionArn)).toEqual(['fc:InvokeFunction']);
    expect(allowedActions(policy, `${functionArn}/LATEST`)).toEqual(['fc:InvokeFunction']);
    expect(allowedActions(policy, `acs:fc:${SAMPLE.REGION}:${SAMPLE.ACCOUNT_ID}:functions/another`)).toEqual([]);
  });

  it('uses exactly the placeholders that docs/DEPLOY.md tells the operator to export', () => {
    const doc = readFileSync(DEPLOY_DOC_PATH, 'utf8');
    const placeholders = placeholdersOf(readTemplate());

    expect(placeholders).toEqual(Object.keys(SAMPLE).sort());
    expect(placeholders.filter((name) => name !== 'LIVE_DOMAIN' && !doc.includes(`${name}=`))).toEqual([]);
  });
});
