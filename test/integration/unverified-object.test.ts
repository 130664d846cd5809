/**
 * An object the create-only PUT committed but that failed verification (its CRC-64 is not the origin's: bytes
 * changed between the origin and the function) is a conflict, and must stay one when the run that found out never
 * got its manifest written: the next run finds no manifest and rebuilds it from the archive, which must not count
 * that object as archived by its size. Through the real handler, ali-oss and the emulators; only the download is
 * wrapped (one byte changed on the way) and the store (to fail manifest writes, or to stop answering, as a killed
 * instance does).
 */
import { createArchiver } from '../../lib/archiver';
import { buildClients, ClientCache } from '../../lib/clients';
import type { DownloadResponse } from '../../lib/download';
import { isoHour } from '../../lib/time';
import type { ObjectStore } from '../../lib/types';
import { startSandboxCloud, type SandboxCloud } from '../../sandbox/cloud';
import { expectedDigest, logName } from '../../sandbox/logdata';
import { withFirstByteChanged } from '../support/change-first-byte';
import { currentHourMs, previousHourMs } from '../support/harness';
import { silenceUrllibWarnings } from '../support/urllib-warnings';

const DOMAIN = 'crc.example.com';
const hour = previousHourMs();

function keyFor(name: string): string {
  const [date, time] = isoHour(hour).split('T');
  return `live-logs/${DOMAIN}/${date.replace(/-/g, '/')}/${time.slice(0, 2)}/${name}`;
}

function manifestKey(): string {
  const [date, time] = isoHour(hour).split('T');
  return `live-logs-state/manifests/${DOMAIN}/${date.replace(/-/g, '/')}/${time.slice(0, 2)}.json`;
}

/** The real download with the first byte of its body changed: the origin's CRC-64 header still names the file. */
function changedOnTheWay(real: DownloadResponse): DownloadResponse {
  return { ...real, body: withFirstByteChanged(real.body) };
}

/** What the wrappers do; reset before each test. */
const control = {
  /** Names whose next download is changed on the way (once each). */
  changeNext: new Set<string>(),
  /** Names whose download waits this long first. */
  delayMs: new Map<string, number>(),
  failManifestWrites: false,
  /** The instance is gone: nothing it does reaches OSS any more. */
  dead: false,
  /** Called with every key a HEAD was answered for. */
  onHead: (_key: string) => undefined as void,
};

function wrapStore(store: ObjectStore): ObjectStore {
  const alive = () => {
    if (control.dead) throw new Error('the instance was killed');
  };
  return {
    ...store,
    async putStream(key, body, opts) {
      alive();
      return store.putStream(key, body, opts);
    },
    async head(key) {
      alive();
      const head = await store.head(key);
      control.onHead(key);
      return head;
    },
    async getText(key) {
      alive();
      return store.getText(key);
    },
    async putText(key, body, opts) {
      alive();
      if (control.failManifestWrites && key.includes('/manifests/')) throw new Error('manifest write refused (test)');
      return store.putText(key, body, opts);
    },
    async delete(key) {
      alive();
      return store.delete(key);
    },
    async *list(prefix) {
      alive();
      yield* store.list(prefix);
    },
  };
}

let cloud: SandboxCloud;
let archive: ReturnType<typeof createArchiver>;
let restoreWarnings: () => void;

beforeAll(() => {
  restoreWarnings = silenceUrllibWarnings();
});
afterAll(() => {
  restoreWarnings();
});

beforeEach(async () => {
  control.changeNext.clear();
  control.delayMs.clear();
  control.failManifestWrites = false;
  control.dead = false;
  control.onHead = () => undefined;
  cloud = await startSandboxCloud({ domains: [DOMAIN] });
  const clientCache = new ClientCache((config, credentials) => {
    const real = buildClients(config, credentials);
    return {
      ...real,
      store: wrapStore(real.store),
      openDownload: async (url, signal) => {
        const path = decodeURIComponent(new URL(url).pathname);
        const name = [...control.changeNext, ...control.delayMs.keys()].find((n) => path.endsWith(`/${n}`));
        const delay = name === undefined ? undefined : control.delayMs.get(name);
        if (delay !== undefined) await new Promise((resolve) => setTimeout(resolve, delay));
        if (control.dead) throw new Error('the instance was killed');
        const opened = await real.openDownload(url, signal);
        if (name !== undefined && control.changeNext.delete(name)) return changedOnTheWay(opened);
        return opened;
      },
    };
  });
  // Past 1 MiB a file goes multipart, so both upload paths are reachable.
  const env = { LOOKBACK_HOURS: '0', ...cloud.env, MULTIPART_THRESHOLD_MB: '1', PART_SIZE_MB: '1' };
  archive = createArchiver({ env, logSink: () => undefined, clientCache });
});

afterEach(async () => {
  await cloud.close();
});

const timer = (requestId: string) =>
  archive(
    Buffer.from(
      JSON.stringify({
        triggerTime: new Date(currentHourMs() + 5 * 60_000).toISOString().replace('.000Z', 'Z'),
        triggerName: 'hourly',
        payload: '',
      }),
    ),
    cloud.context({ requestId }),
  );

describe('an object that failed verification, when no manifest recorded it', () => {
  it.each([
    ['a simple PUT', 100_000],
    ['a multipart upload', 1_500_000],
  ])('stays a conflict after a run whose manifest writes all failed, the next run rebuilding the manifest (%s)', async (_path, size) => {
    const name = logName(DOMAIN, hour, 0);
    const source = { size, seed: `unverified-${size}` };
    cloud.live.seedLogs(DOMAIN, hour, [{ name, source }]);
    control.changeNext.add(name);
    control.failManifestWrites = true;

    const first = await timer('run-1');

    expect(first.totals).toMatchObject({ conflicts: 1, archivedNow: 0 });
    expect(first.errors.join(' ')).toMatch(/manifest .* could not be written/);
    const stored = cloud.oss.head(cloud.bucket, keyFor(name))!;
    const want = await expectedDigest(source);
    expect(stored.size).toBe(source.size);
    expect(stored.crc64).not.toBe(want.crc64);
    // The object says by itself that it is not the origin's file.
    expect(stored.headers['x-oss-meta-source-crc64']).toBe(want.crc64);

    control.failManifestWrites = false;
    const second = await timer('run-2');

    expect(second.totals).toMatchObject({ alreadyArchived: 0, archivedNow: 0, conflicts: 1 });
    expect(second.ok).toBe(false);
    const manifest = JSON.parse((await cloud.oss.readObject(cloud.bucket, manifestKey())).toString());
    expect(manifest.files[name].status).toBe('conflict');
    expect((await cloud.oss.readObject(cloud.bucket, keyFor(name))).length).toBe(size);
    expect(cloud.oss.head(cloud.bucket, keyFor(name))!.crc64).toBe(stored.crc64);
  });

  it('counts an object the origin vouched for as archived, with its CRC-64, when rebuilding a lost manifest', async () => {
    const name = logName(DOMAIN, hour, 0);
    const source = { size: 100_000, seed: 'vouched' };
    cloud.live.seedLogs(DOMAIN, hour, [{ name, source }]);
    await timer('run-1');
    await cloud.oss.deleteObject(cloud.bucket, manifestKey());
    const downloads = cloud.origin.stats.downloadsStarted;

    const second = await timer('run-2');

    expect(second.totals).toMatchObject({ alreadyArchived: 1, archivedNow: 0, conflicts: 0 });
    expect(cloud.origin.stats.downloadsStarted).toBe(downloads);
    const manifest = JSON.parse((await cloud.oss.readObject(cloud.bucket, manifestKey())).toString());
    expect(manifest.files[name]).toMatchObject({ status: 'archived', crc64: (await expectedDigest(source)).crc64 });
  });

  it('stays a conflict after an instance killed within the manifest writer\'s first interval', async () => {
    const changed = logName(DOMAIN, hour, 0);
    const slow = logName(DOMAIN, hour, 1);
    cloud.live.seedLogs(DOMAIN, hour, [
      { name: changed, source: { size: 100_000, seed: 'unverified-2' } },
      { name: slow, source: { size: 100_000, seed: 'unverified-3' } },
    ]);
    control.changeNext.add(changed);
    // The hour goes on for a while after the conflict: its other file's download is slow to start.
    control.delayMs.set(slow, 1_200);
    // Killed 300 ms after the conflict was found (its HEAD), well before the writer's 2 s first interval.
    control.onHead = (key) => {
      if (key === keyFor(changed)) setTimeout(() => (control.dead = true), 300);
    };

    await timer('killed');
    control.onHead = () => undefined;
    control.delayMs.clear();
    control.dead = false;

    // Function Compute's retry of the killed invocation (same request id: the lease is taken over at once).
    const retried = await timer('killed');

    expect(retried.totals).toMatchObject({ archivedNow: 1, alreadyArchived: 0, conflicts: 1 });
    const manifest = JSON.parse((await cloud.oss.readObject(cloud.bucket, manifestKey())).toString());
    expect(manifest.files[changed].status).toBe('conflict');
    expect(manifest.files[slow].status).toBe('archived');
  });
});
