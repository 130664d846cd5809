/**
 * lib/manifest-writer.ts through lib/oss-store.ts and the real ali-oss client against the OSS emulator.
 */
import { ManifestWriter, WRITE_SPACING_FACTOR } from '../../lib/manifest-writer';
import { emptyManifest, recordArchived, serializeManifest } from '../../lib/manifest';
import { createOssStore, type OssStore } from '../../lib/oss-store';
import { SANDBOX_STS } from '../../sandbox/contracts';
import { startOssEmulator, type OssEmulator } from '../../sandbox/oss-emulator';
import type { Manifest } from '../../lib/types';

const BUCKET = 'state-bucket';
const KEY = 'state/manifests/a.example.com/2026/11/27/09.json';
const HOUR = Date.UTC(2026, 10, 27, 9);

let emulator: OssEmulator;
let store: OssStore;

beforeAll(async () => {
  emulator = await startOssEmulator({ buckets: [BUCKET] });
  store = createOssStore({
    bucket: BUCKET,
    region: emulator.region,
    endpoint: emulator.endpoint,
    pathStyle: false,
    credentials: SANDBOX_STS,
    multipartThresholdBytes: 64 * 1024 * 1024,
    partSizeBytes: 16 * 1024 * 1024,
    timeoutMs: 10_000,
  });
});

afterAll(async () => {
  await emulator.close();
});

afterEach(async () => {
  emulator.faults.reset();
  emulator.resetStats();
  await store.delete(KEY);
});

function archive(m: Manifest, i: number): void {
  const name = `a.example.com_${String(i).padStart(5, '0')}.log.gz`;
  recordArchived(m, { name, key: `live-logs/${name}`, size: 100 + i, sourceStart: '2026-11-27T09:00:00.000Z', sourceEnd: '2026-11-27T09:05:00.000Z', attempts: 1, at: '2026-11-27T10:05:00.000Z' });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ManifestWriter', () => {
  it('coalesces changes into a few writes, and the final flush stores the latest manifest', async () => {
    const manifest = emptyManifest('a.example.com', HOUR);
    const writer = new ManifestWriter(store, KEY, () => manifest, 200);

    for (let i = 0; i < 300; i++) {
      archive(manifest, i);
      writer.markDirty();
      if (i % 50 === 0) await sleep(10);
    }
    await writer.flush();

    expect(writer.writes).toBeLessThanOrEqual(3);
    expect(emulator.stats.byOp.PutObject).toBe(writer.writes);
    expect(await store.getText(KEY)).toBe(serializeManifest(manifest));
  });

  it('writes an hour done within the first interval once, at the final flush; a longer one as it goes', async () => {
    const quick = emptyManifest('a.example.com', HOUR);
    const quickWriter = new ManifestWriter(store, KEY, () => quick, 500);
    for (let i = 0; i < 20; i++) {
      archive(quick, i);
      quickWriter.markDirty();
      await sleep(5);
    }
    expect(quickWriter.writes).toBe(0);
    await quickWriter.flush();
    expect(quickWriter.writes).toBe(1);

    const slow = emptyManifest('a.example.com', HOUR + 3_600_000);
    const slowWriter = new ManifestWriter(store, `${KEY}.slow`, () => slow, 100);
    archive(slow, 0);
    slowWriter.markDirty();
    await sleep(250);
    expect(slowWriter.writes).toBe(1);
    expect(await store.getText(`${KEY}.slow`)).toBe(serializeManifest(slow));
  });

  it(`spaces writes by ${WRITE_SPACING_FACTOR}x the last write's duration when that is longer than the minimum`, async () => {
    const manifest = emptyManifest('a.example.com', HOUR);
    const writer = new ManifestWriter(store, KEY, () => manifest, 10);
    emulator.faults.setDelayMs(40); // every write now takes 40+ ms: the next may start 800+ ms after it

    const until = Date.now() + 1_200;
    for (let i = 0; Date.now() < until; i++) {
      archive(manifest, i);
      writer.markDirty();
      await sleep(5);
    }
    const duringRun = writer.writes;
    emulator.faults.setDelayMs(0);
    await writer.flush();

    // At the 10 ms minimum alone, 1.2 s of changes would have made ~20 writes of 50 ms each.
    expect(duringRun).toBeGreaterThanOrEqual(1);
    expect(duringRun).toBeLessThanOrEqual(2);
    expect(await store.getText(KEY)).toBe(serializeManifest(manifest));
  });

  it('keeps a change whose write failed pending, and the next write carries it', async () => {
    const manifest = emptyManifest('a.example.com', HOUR);
    const writer = new ManifestWriter(store, KEY, () => manifest, 10);
    emulator.faults.failNext(1, 503, (request) => request.op === 'PutObject');

    archive(manifest, 1);
    writer.markDirty();
    await writer.flush();

    expect(emulator.stats.byOp.PutObject).toBe(2);
    expect(await store.getText(KEY)).toBe(serializeManifest(manifest));
  });

  it('writes nothing once the lease check says the lease is lost', async () => {
    const manifest = emptyManifest('a.example.com', HOUR);
    const writer = new ManifestWriter(store, KEY, () => manifest, 10, Date.now, async () => false);

    archive(manifest, 1);
    writer.markDirty();
    await writer.flush();

    expect(writer.leaseLost).toBe(true);
    expect(emulator.stats.byOp.PutObject ?? 0).toBe(0);
    expect(await store.getText(KEY)).toBeNull();
  });
});
