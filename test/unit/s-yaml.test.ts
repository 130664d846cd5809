import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import yaml from 'js-yaml';
import { CONFIG_REFERENCE, loadConfig } from '../../lib/config';

/**
 * s.yaml is only checked for real when an operator runs `s deploy`; these tests catch what would fail there
 * (or, worse, deploy and misbehave) without an Alibaba Cloud account.
 */

const REPO_ROOT = path.resolve(__dirname, '../..');
const S_YAML_PATH = path.join(REPO_ROOT, 's.yaml');
// The fc3 component's props schema is shared by the team beside the repository, not vendored into it.
const FC3_SCHEMA_PATH = path.resolve(__dirname, '../../../shared/schemas/fc3-props.schema.json');
// What Serverless Devs' ${config('AccountID')} resolves to: the account of the `s config` access in use.
const SAMPLE_ACCOUNT_ID = '1234567890123456';
const LIVE_API_QPS_PER_ACCOUNT = 100;

const CONFIG_VARIABLE_NAMES: readonly string[] = CONFIG_REFERENCE.map((variable) => variable.name);

type Yaml = unknown;
interface SYaml {
  edition: unknown;
  vars: Record<string, Yaml>;
  resources: Record<string, { component: string; actions?: Record<string, { run: string }[]>; props: Yaml }>;
}
interface ArchiverProps {
  region: string;
  functionName: string;
  runtime: string;
  code: string;
  handler: string;
  cpu: number;
  memorySize: number;
  timeout: number;
  instanceConcurrency: number;
  role: string;
  environmentVariables: Record<string, string>;
  concurrencyConfig: { reservedConcurrency: number };
  asyncInvokeConfig: {
    maxAsyncRetryAttempts: number;
    maxAsyncEventAgeInSeconds: number;
    destinationConfig?: { onFailure?: { destination: string } };
  };
  triggers: { triggerName: string; triggerType: string; triggerConfig: { cronExpression: string; enable: boolean } }[];
}

function loadSYaml(): SYaml {
  return yaml.load(readFileSync(S_YAML_PATH, 'utf8')) as SYaml;
}

function lookupPath(root: Record<string, Yaml>, dotted: string): Yaml {
  return dotted.split('.').reduce<Yaml>((node, key) => {
    if (node === null || typeof node !== 'object' || !(key in node)) {
      throw new Error(`s.yaml references \${vars.${dotted}}, which the vars block does not define`);
    }
    return (node as Record<string, Yaml>)[key];
  }, root);
}

/**
 * Resolves the Serverless Devs interpolations this file uses: ${vars.x}, ${env('X', 'default')} (always the
 * default: a deploy must not depend on the deployer's shell) and ${config('AccountID')}. A value that is one
 * whole expression keeps the type of what it resolves to, as in Serverless Devs; anything else is a string.
 */
function resolveExpression(expression: string, vars: Record<string, Yaml>): Yaml {
  const varsMatch = /^vars\.([\w.]+)$/.exec(expression);
  if (varsMatch) return lookupPath(vars, varsMatch[1]);
  const envMatch = /^env\(\s*'(\w+)'\s*(?:,\s*'([^']*)'\s*)?\)$/.exec(expression);
  if (envMatch) {
    if (envMatch[2] === undefined) throw new Error(`\${env('${envMatch[1]}')} has no default`);
    return envMatch[2];
  }
  if (/^config\(\s*'AccountID'\s*\)$/.test(expression)) return SAMPLE_ACCOUNT_ID;
  throw new Error(`unsupported interpolation \${${expression}}`);
}

function interpolate(node: Yaml, vars: Record<string, Yaml>): Yaml {
  if (typeof node === 'string') {
    const whole = /^\$\{([^}]+)\}$/.exec(node);
    if (whole) return resolveExpression(whole[1], vars);
    return node.replace(/\$\{([^}]+)\}/g, (_, expression: string) => String(resolveExpression(expression, vars)));
  }
  if (Array.isArray(node)) return node.map((item) => interpolate(item, vars));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, interpolate(value, vars)]));
  }
  return node;
}

function archiverProps(): ArchiverProps {
  const sYaml = loadSYaml();
  return interpolate(sYaml.resources.archiver.props, sYaml.vars) as ArchiverProps;
}

function loadFc3Schema(): object {
  if (!existsSync(FC3_SCHEMA_PATH)) {
    throw new Error(
      `The fc3 props schema is missing at ${FC3_SCHEMA_PATH}. It is the team's shared copy of the Serverless Devs ` +
        'fc3 component schema and must sit in shared/schemas/ beside this repository.',
    );
  }
  return JSON.parse(readFileSync(FC3_SCHEMA_PATH, 'utf8')) as object;
}

describe('s.yaml', () => {
  it('is a Serverless Devs 3 project whose archiver resource uses the fc3 component', () => {
    const sYaml = loadSYaml();

    expect(sYaml.edition).toBe('3.0.0');
    expect(sYaml.resources.archiver.component).toBe('fc3');
  });

  it('resolves every interpolation, leaving no ${...} behind', () => {
    expect(JSON.stringify(archiverProps())).not.toContain('${');
  });

  it('has props that satisfy the fc3 component schema once interpolated', () => {
    // The schema is a third-party draft-07 document with keywords ajv's strict mode would reject as unknown.
    const validate = new Ajv({ allErrors: true, strict: false }).compile(loadFc3Schema());

    const valid = validate(archiverProps());

    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('deploys the bundle as a Node.js 20 function with a file.export handler', () => {
    const props = archiverProps();

    expect(props.functionName).toBe('live-log-archiver');
    expect(props.runtime).toBe('nodejs20');
    expect(props.code).toBe('./dist/archiver');
    expect(props.handler).toMatch(/^[A-Za-z_$][\w$]*\.[A-Za-z_$][\w$]*$/);
  });

  it('rebuilds the bundle before every deploy', () => {
    const preDeploy = loadSYaml().resources.archiver.actions?.['pre-deploy'] ?? [];

    expect(preDeploy.map((action) => action.run)).toContain('npm run build');
  });

  it('assumes the function role by its RAM ARN', () => {
    expect(archiverProps().role).toBe(`acs:ram::${SAMPLE_ACCOUNT_ID}:role/live-log-archiver-role`);
  });

  it('asks for cpu and memory in a combination Function Compute 3.0 accepts', () => {
    const { cpu, memorySize } = archiverProps();
    const memoryGbPerVcpu = memorySize / 1024 / cpu;

    expect(Math.abs(cpu * 20 - Math.round(cpu * 20))).toBeLessThan(1e-9);
    expect(memoryGbPerVcpu).toBeGreaterThanOrEqual(1);
    expect(memoryGbPerVcpu).toBeLessThanOrEqual(4);
  });

  it('fires one enabled timer per hour, on second 0 of a minute after the hour has closed', () => {
    const timers = archiverProps().triggers.filter((trigger) => trigger.triggerType === 'timer');
    expect(timers).toHaveLength(1);
    const cron = timers[0].triggerConfig.cronExpression;
    const tzPrefix = /^CRON_TZ=(\S+)\s+/.exec(cron);
    const fields = cron.replace(/^CRON_TZ=\S+\s+/, '').split(/\s+/);

    expect(tzPrefix === null || tzPrefix[1] === 'UTC').toBe(true);
    expect(fields).toHaveLength(6);
    const [second, minute, hour, dayOfMonth, month, dayOfWeek] = fields;
    expect(second).toBe('0');
    expect(Number(minute)).toBeGreaterThan(0);
    expect(Number(minute)).toBeLessThan(60);
    expect([hour, dayOfMonth, month, dayOfWeek]).toEqual(['*', '*', '*', '*']);
    expect(timers[0].triggerConfig.enable).toBe(true);
  });

  it('retries failed asynchronous invocations a bounded number of times and reports the final failure', () => {
    const { asyncInvokeConfig } = archiverProps();

    expect(asyncInvokeConfig.maxAsyncRetryAttempts).toBeGreaterThanOrEqual(0);
    expect(asyncInvokeConfig.maxAsyncRetryAttempts).toBeLessThanOrEqual(8);
    expect(asyncInvokeConfig.destinationConfig?.onFailure?.destination).toMatch(
      /^acs:(mns:[\w-]+:\d+:\/queues\/[\w-]+\/messages|fc:[\w-]+:\d+:functions\/[\w-]+)$/,
    );
  });

  it('sets only known configuration variables, as strings, none of them reserved by Function Compute', () => {
    const environment = archiverProps().environmentVariables;
    const names = Object.keys(environment);

    expect(names.filter((name) => !CONFIG_VARIABLE_NAMES.includes(name))).toEqual([]);
    expect(names.filter((name) => name.startsWith('FC_'))).toEqual([]);
    expect(names.filter((name) => !/^[A-Za-z][A-Za-z0-9_]*$/.test(name))).toEqual([]);
    expect(Object.values(environment).filter((value) => typeof value !== 'string')).toEqual([]);
  });

  it('sets an environment that the function accepts as its configuration', () => {
    expect(() => loadConfig(archiverProps().environmentVariables)).not.toThrow();
  });

  it('stays within the 4 KB that Function Compute allows for all environment variables together', () => {
    const environment = archiverProps().environmentVariables;
    const sizeBytes = Object.entries(environment).reduce(
      (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value),
      0,
    );

    expect(sizeBytes).toBeLessThanOrEqual(4096);
  });

  it("uses OSS's internal endpoint only for a bucket in the function's own region", () => {
    const props = archiverProps();
    const config = loadConfig(props.environmentVariables);

    expect(config.ossInternal === false || config.ossRegion === `oss-${props.region}`).toBe(true);
  });

  it('keeps the Live API calls of all instances under the account-wide 100 QPS', () => {
    const props = archiverProps();
    const { liveMaxQps } = loadConfig(props.environmentVariables);
    const instancesAtOnce = props.concurrencyConfig.reservedConcurrency * props.instanceConcurrency;

    expect(props.instanceConcurrency).toBe(1);
    expect(liveMaxQps * instancesAtOnce).toBeLessThan(LIVE_API_QPS_PER_ACCOUNT);
  });
});
