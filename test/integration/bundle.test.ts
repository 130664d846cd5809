import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { DEFAULT_KEY_TEMPLATE, archiveKey } from '../../lib/keys';
import { HOUR_MS } from '../../lib/time';
import type { RunReport } from '../../lib/types';
import { startSandboxCloud, type SandboxCloud } from '../../sandbox/cloud';
import { expectedDigest, gzipLogFile, logName } from '../../sandbox/logdata';

/**
 * Builds the Function Compute package with scripts/bundle.mjs into a temporary folder and loads it with a
 * fresh `node` from a directory that has no node_modules above it, as Function Compute does.
 */

const execFileAsync = promisify(execFile);
const REPO_ROOT = path.resolve(__dirname, '../..');
const BUNDLE_SCRIPT = path.join(REPO_ROOT, 'scripts/bundle.mjs');
const HANDLER_ENTRY = path.join(REPO_ROOT, 'functions/archiver/index.ts');
const MAX_PACKAGE_BYTES = 2.5 * 1024 * 1024;
const MAX_DUPLICATED_PACKAGE_BYTES = 10 * 1024;
const FC_SDK_PACKAGES = ['@alicloud/fc2', '@alicloud/fc20230330'];

interface Layout {
  entry: string;
  outdir: string;
  mainFile: string;
  vendorFiles: Record<string, string>;
  fanOutOnlyFiles: string[];
  mapsDir: string;
  metafile: string;
}
interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

/** The code folder and `file.export` handler that s.yaml deploys. */
async function deployedFunction(): Promise<{ code: string; handlerFile: string; handlerExport: string }> {
  const props = (yaml.load(await readFile(path.join(REPO_ROOT, 's.yaml'), 'utf8')) as {
    resources: { archiver: { props: { code: string; handler: string } } };
  }).resources.archiver.props;
  const [handlerFile, handlerExport] = props.handler.split('.');
  return { code: props.code, handlerFile, handlerExport };
}

async function runBundler(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(process.execPath, [BUNDLE_SCRIPT, ...args], { cwd: REPO_ROOT });
  return stdout;
}

async function layoutOf(args: string[] = []): Promise<Layout> {
  return JSON.parse(await runBundler([...args, '--print-layout'])) as Layout;
}

/** Runs `script` in a child node whose working directory is `cwd`; the script prints one JSON line. */
async function runIsolatedNode<T>(cwd: string, script: string): Promise<T> {
  const { stdout } = await execFileAsync(process.execPath, ['-e', script], { cwd, env: { PATH: process.env.PATH } });
  return JSON.parse(stdout) as T;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

async function totalBytes(dir: string): Promise<number> {
  const sizes = await Promise.all((await filesUnder(dir)).map(async (file) => (await stat(file)).size));
  return sizes.reduce((sum, size) => sum + size, 0);
}

function packageOf(inputPath: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(inputPath);
  // The full path to the package folder, so two installed versions of one package count as two packages.
  return match ? inputPath.slice(0, match.index + match[0].length - 1) : '(project)';
}

/** Packages whose code is inlined into more than one file of the package, with the bytes spent twice. */
function duplicatedPackages(metafile: Metafile): Record<string, number> {
  const bytesByPackageAndFile = new Map<string, number[]>();
  for (const [outputPath, output] of Object.entries(metafile.outputs)) {
    if (outputPath.endsWith('.map')) continue;
    const bytesByPackage = new Map<string, number>();
    for (const [inputPath, input] of Object.entries(output.inputs)) {
      const name = packageOf(inputPath);
      bytesByPackage.set(name, (bytesByPackage.get(name) ?? 0) + input.bytesInOutput);
    }
    for (const [name, bytes] of bytesByPackage) {
      bytesByPackageAndFile.set(name, [...(bytesByPackageAndFile.get(name) ?? []), bytes]);
    }
  }
  const duplicated: Record<string, number> = {};
  for (const [name, perFile] of bytesByPackageAndFile) {
    const spentTwice = perFile.reduce((sum, bytes) => sum + bytes, 0) - Math.max(...perFile);
    if (name !== '(project)' && spentTwice > MAX_DUPLICATED_PACKAGE_BYTES) duplicated[name] = spentTwice;
  }
  return duplicated;
}

describe('scripts/bundle.mjs on the archiver handler', () => {
  let tempDir: string;
  let layout: Layout;

  beforeAll(async () => {
    if (!existsSync(HANDLER_ENTRY)) {
      throw new Error(`${path.relative(REPO_ROOT, HANDLER_ENTRY)} does not exist: there is no handler to bundle`);
    }
    tempDir = await mkdtemp(path.join(os.tmpdir(), 'archiver-bundle-'));
    const outdir = path.join(tempDir, 'archiver');
    layout = await layoutOf(['--outdir', outdir]);
    await runBundler(['--outdir', outdir]);
  });

  afterAll(async () => {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  });

  it('writes by default into the folder that s.yaml deploys, under the file its handler names', async () => {
    const { code, handlerFile } = await deployedFunction();
    const defaultLayout = await layoutOf();

    expect(defaultLayout.outdir).toBe(path.resolve(REPO_ROOT, code));
    expect(defaultLayout.entry).toBe(HANDLER_ENTRY);
    expect(`${handlerFile}.js`).toBe(layout.mainFile);
    expect(existsSync(path.join(layout.outdir, layout.mainFile))).toBe(true);
  });

  it('keeps the deployed folder under 2.5 MB, with source maps and metafile beside it instead of in it', async () => {
    const deployed = (await filesUnder(layout.outdir)).map((file) => path.relative(layout.outdir, file));

    expect(await totalBytes(layout.outdir)).toBeLessThan(MAX_PACKAGE_BYTES);
    expect(deployed.filter((file) => !file.endsWith('.js'))).toEqual([]);
    expect(existsSync(path.join(layout.mapsDir, `${layout.mainFile}.map`))).toBe(true);
    expect(existsSync(layout.metafile)).toBe(true);
  });

  it('exports the handler named in s.yaml when loaded by a fresh node, without loading the FC SDKs', async () => {
    const { handlerExport } = await deployedFunction();
    const loaded = await runIsolatedNode<{ handlerType: string; loadedFiles: string[] }>(
      tempDir,
      `const path = require('path');
       const dir = ${JSON.stringify(layout.outdir)};
       const handlerModule = require(path.join(dir, ${JSON.stringify(layout.mainFile)}));
       const loadedFiles = Object.keys(require.cache).filter((file) => file.startsWith(dir + path.sep))
         .map((file) => path.relative(dir, file).split(path.sep).join('/'));
       const handlerType = typeof handlerModule[${JSON.stringify(handlerExport)}];
       console.log(JSON.stringify({ handlerType, loadedFiles }));`,
    );

    expect(loaded.handlerType).toBe('function');
    expect(loaded.loadedFiles).toContain(layout.mainFile);
    expect(loaded.loadedFiles.filter((file) => layout.fanOutOnlyFiles.includes(file))).toEqual([]);
  });

  it('sets the old generation to grow 5x on load (lib/heap-tuning.ts): V8 says so when it sets the next limit', async () => {
    const limitFactors = async (loadHandler: boolean): Promise<string[]> => {
      const { stderr, stdout } = await execFileAsync(
        process.execPath,
        [
          '--trace-gc-verbose',
          '--expose-gc',
          '-e',
          `${loadHandler ? `require(${JSON.stringify(path.join(layout.outdir, layout.mainFile))});` : ''}
           const kept = Array.from({ length: 200000 }, (_, i) => ({ i }));
           globalThis.gc();
           console.error(kept.length);`,
        ],
        { cwd: tempDir, env: { PATH: process.env.PATH }, maxBuffer: 32 * 1024 * 1024 },
      );
      // "[HeapController] Limit: old size: 8432 KB, new limit: 42160 KB (5.0)"
      return [...`${stdout}${stderr}`.matchAll(/\[HeapController\] Limit: .*\((\d+\.\d)\)/g)].map((m) => m[1]);
    };

    const [tuned, untuned] = await Promise.all([limitFactors(true), limitFactors(false)]);

    expect(tuned.length).toBeGreaterThan(0);
    expect(new Set(tuned)).toEqual(new Set(['5.0']));
    expect(untuned.length).toBeGreaterThan(0);
    expect(untuned).not.toContain('5.0');
  });

  it('archives an hour end to end when Function Compute would call it: from the bundle, in a fresh node', async () => {
    const domain = 'push.example.com';
    const hourStartMs = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS;
    const cloud: SandboxCloud = await startSandboxCloud({ domains: [domain] });
    try {
      const files = [
        { name: logName(domain, hourStartMs, 0), source: { content: gzipLogFile({ domain, hourStartMs, lines: 50 }) } },
        // Over MULTIPART_THRESHOLD_MB below, so the multipart path runs from the bundle too.
        { name: logName(domain, hourStartMs, 1), source: { size: 2 * 1024 * 1024 + 17, seed: 'bundled' } },
      ];
      cloud.live.seedLogs(domain, hourStartMs, files);
      const triggerTime = new Date(hourStartMs + HOUR_MS + 5 * 60_000).toISOString().replace('.000Z', 'Z');
      const event = { triggerTime, triggerName: 'hourly', payload: '' };
      const reportPath = path.join(tempDir, 'report.json');

      await execFileAsync(
        process.execPath,
        [
          '-e',
          `const { handler } = require(${JSON.stringify(path.join(layout.outdir, layout.mainFile))});
           handler(Buffer.from(${JSON.stringify(JSON.stringify(event))}), ${JSON.stringify(cloud.context())})
             .then((report) => require('fs').writeFileSync(${JSON.stringify(reportPath)}, JSON.stringify(report)));`,
        ],
        {
          cwd: tempDir,
          env: { PATH: process.env.PATH, ...cloud.env, LOOKBACK_HOURS: '0', MULTIPART_THRESHOLD_MB: '1', PART_SIZE_MB: '1' },
        },
      );
      const report = JSON.parse(await readFile(reportPath, 'utf8')) as RunReport;

      expect(report.ok).toBe(true);
      expect(report.totals).toMatchObject({ listed: 2, archivedNow: 2, failed: 0 });
      for (const file of files) {
        const key = archiveKey(DEFAULT_KEY_TEMPLATE, 'live-logs/', { domain, hourStartMs, name: file.name });
        const expected = await expectedDigest(file.source);
        expect(cloud.oss.head(cloud.bucket, key)).toMatchObject({ size: expected.size, crc64: expected.crc64 });
      }
    } finally {
      await cloud.close();
    }
  });

  it('inlines no FC SDK module into the handler file', async () => {
    const metafile = JSON.parse(await readFile(layout.metafile, 'utf8')) as Metafile;
    const mainOutput = Object.entries(metafile.outputs).find(([outputPath]) =>
      path.resolve(REPO_ROOT, outputPath) === path.join(layout.outdir, layout.mainFile),
    );
    expect(mainOutput).toBeDefined();
    const inputs = Object.keys(mainOutput?.[1].inputs ?? {});

    expect(inputs.filter((input) => FC_SDK_PACKAGES.some((name) => input.includes(`node_modules/${name}/`)))).toEqual([]);
  });

  it('inlines no package of more than 10 KiB into two files', async () => {
    const metafile = JSON.parse(await readFile(layout.metafile, 'utf8')) as Metafile;

    expect(duplicatedPackages(metafile)).toEqual({});
  });
});

/**
 * A fixture handler that uses every SDK the way lib/ does: ali-oss and pop-core imported at the top, the FC
 * SDKs loaded inside functions. Each SDK makes one real request to a local server, from the bundle.
 */
const FIXTURE_HANDLER = `
import OSS from 'ali-oss';
import RPCClient from '@alicloud/pop-core';
import { Readable } from 'node:stream';

const credentials = { accessKeyId: 'fixture-id', accessKeySecret: 'fixture-secret' };

export async function handler(endpoint: string): Promise<void> {
  const live = new RPCClient({ ...credentials, endpoint, apiVersion: '2016-11-01' });
  await live.request('DescribeLivePushProxyLog', { DomainName: 'push.example.com' }, { method: 'POST' });
  const oss = new OSS({ ...credentials, bucket: 'archive', endpoint });
  await oss.put('live-logs/a.log', Buffer.from('log line'));
}

export async function invokeWithFc3(endpoint: string): Promise<string> {
  const [fc3, { $OpenApiUtil }] = await Promise.all([
    import('@alicloud/fc20230330'),
    import('@alicloud/openapi-core'),
  ]);
  const { host } = new URL(endpoint);
  const client = new fc3.default(new $OpenApiUtil.Config({ ...credentials, endpoint: host, protocol: 'http' }));
  await client.invokeFunction('live-log-archiver', new fc3.InvokeFunctionRequest({ body: Readable.from([Buffer.from('{}')]) }));
  return fc3.default.name;
}

export async function invokeWithFc2(endpoint: string): Promise<void> {
  const { default: FC2 } = await import('@alicloud/fc2');
  const client = new FC2('1234567890123456', { accessKeyID: credentials.accessKeyId,
    accessKeySecret: credentials.accessKeySecret, region: 'cn-shanghai', endpoint });
  await client.invokeFunction('archiver-service', 'live-log-archiver', '{}', { 'X-Fc-Invocation-Type': 'Async' });
}
`;

describe('scripts/bundle.mjs vendor files, on a fixture handler', () => {
  let tempDir: string;
  let layout: Layout;
  let server: http.Server;
  let endpoint: string;
  const requests: string[] = [];

  beforeAll(async () => {
    tempDir = await mkdtemp(path.join(os.tmpdir(), 'archiver-bundle-fixture-'));
    const entry = path.join(tempDir, 'fixture-handler.ts');
    const outdir = path.join(tempDir, 'archiver');
    await writeFile(entry, FIXTURE_HANDLER);
    layout = await layoutOf(['--outdir', outdir, '--entry', entry]);
    await runBundler(['--outdir', outdir, '--entry', entry]);
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests.push(`${req.method} ${new URL(req.url ?? '/', 'http://local').pathname}`);
        res.writeHead(200, {
          'content-type': 'application/json',
          etag: '"0"',
          'x-oss-request-id': 'r',
          // Keep-alive sockets would hold the child process open after it has printed its result.
          connection: 'close',
        });
        res.end('{"RequestId":"r"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    if (server) await new Promise((resolve) => server.close(resolve));
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  });

  it('loads the FC SDKs only when a function asks for them, and every bundled SDK completes a request', async () => {
    const result = await runIsolatedNode<{ atLoad: string[]; afterFanOut: string[]; fc3ClientName: string }>(
      tempDir,
      `const path = require('path');
       const dir = ${JSON.stringify(layout.outdir)};
       const loadedFiles = () => Object.keys(require.cache).filter((file) => file.startsWith(dir + path.sep))
         .map((file) => path.relative(dir, file).split(path.sep).join('/')).sort();
       const fixture = require(path.join(dir, ${JSON.stringify(layout.mainFile)}));
       const atLoad = loadedFiles();
       (async () => {
         await fixture.handler(${JSON.stringify(endpoint)});
         const fc3ClientName = await fixture.invokeWithFc3(${JSON.stringify(endpoint)});
         await fixture.invokeWithFc2(${JSON.stringify(endpoint)});
         console.log(JSON.stringify({ atLoad, afterFanOut: loadedFiles(), fc3ClientName }));
       })().catch((error) => { console.error(error); process.exit(1); });`,
    );

    expect(result.atLoad.filter((file) => layout.fanOutOnlyFiles.includes(file))).toEqual([]);
    expect(result.atLoad).toContain(layout.vendorFiles['ali-oss']);
    expect(result.afterFanOut).toEqual(expect.arrayContaining(layout.fanOutOnlyFiles));
    // The same module shape tsc's CommonJS output gives lib code under jest: the default export is the class.
    expect(result.fc3ClientName).toBe('Client');
    expect(requests).toEqual([
      'POST /',
      'PUT /live-logs/a.log',
      'POST /2023-03-30/functions/live-log-archiver/invocations',
      'POST /2016-08-15/services/archiver-service/functions/live-log-archiver/invocations',
    ]);
  });
});
