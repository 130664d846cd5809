import { Readable } from 'node:stream';
import { AlreadyExistsError, StoreError } from '../../lib/errors';
import { MemoryStore } from '../../lib/memory-store';

const put = (store: MemoryStore, key: string, content: string, extra: { forbidOverwrite?: boolean; headers?: Record<string, string>; size?: number } = {}) =>
  store.putStream(key, Readable.from([Buffer.from(content)]), {
    size: extra.size ?? Buffer.byteLength(content),
    forbidOverwrite: extra.forbidOverwrite ?? false,
    headers: extra.headers,
  });

async function listAll(store: MemoryStore, prefix: string) {
  const out: Array<{ key: string; size: number }> = [];
  for await (const item of store.list(prefix)) out.push(item);
  return out;
}

describe('MemoryStore', () => {
  it('returns the OSS ETag (upper-case MD5) and CRC-64 of a stored stream, and HEAD agrees', async () => {
    const store = new MemoryStore();
    // Published values: MD5("123456789") and the CRC-64/XZ check value.
    const result = await put(store, 'a/1', '123456789');
    expect(result).toEqual({ etag: '25F9E794323B453885F5181F1B624D0B', crc64: '11051210869376104954' });
    expect(await store.head('a/1')).toEqual({ size: 9, etag: '25F9E794323B453885F5181F1B624D0B', crc64: '11051210869376104954', meta: {} });
  });

  it('keeps x-oss-meta-* headers as metadata without the prefix, lower-cased', async () => {
    const store = new MemoryStore();
    await put(store, 'k', 'x', { headers: { 'X-OSS-Meta-Source-Size': '1', 'x-oss-storage-class': 'IA' } });
    expect((await store.head('k'))?.meta).toEqual({ 'source-size': '1' });
  });

  it('refuses a create-only PUT on an existing key with AlreadyExistsError and keeps the first bytes', async () => {
    const store = new MemoryStore();
    await put(store, 'k', 'first', { forbidOverwrite: true });
    const second = put(store, 'k', 'second', { forbidOverwrite: true });
    await expect(second).rejects.toBeInstanceOf(AlreadyExistsError);
    await expect(second).rejects.toMatchObject({ code: 'FileAlreadyExists', status: 409 });
    expect(store.bytes('k')?.toString()).toBe('first');
  });

  it('overwrites when overwriting is allowed', async () => {
    const store = new MemoryStore();
    await store.putText('m.json', '{"v":1}');
    await store.putText('m.json', '{"v":2}');
    expect(await store.getText('m.json')).toBe('{"v":2}');
  });

  it('lets exactly one of two racing create-only writers win, even when both pass the early check', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let waiting = 0;
    const store = new MemoryStore({
      beforeOperation: async (op) => {
        if (op !== 'putText') return;
        waiting++;
        if (waiting === 2) release();
        await gate;
      },
    });
    const results = await Promise.allSettled([
      store.putText('lease/000001', 'A', { forbidOverwrite: true }),
      store.putText('lease/000001', 'B', { forbidOverwrite: true }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const winner = results[0].status === 'fulfilled' ? 'A' : 'B';
    expect(await store.getText('lease/000001')).toBe(winner);
  });

  it('rejects a body shorter than the announced size as retryable, a longer one as not, storing nothing', async () => {
    const store = new MemoryStore();
    const short = put(store, 'short', 'abc', { size: 4 });
    await expect(short).rejects.toBeInstanceOf(StoreError);
    await expect(short).rejects.toMatchObject({ code: 'BodySizeMismatch', retryable: true });
    await expect(put(store, 'long', 'abcde', { size: 4 })).rejects.toMatchObject({ code: 'BodySizeMismatch', retryable: false });
    expect(store.keys()).toEqual([]);
  });

  it('passes on the error of a failing body and stores nothing', async () => {
    const store = new MemoryStore();
    const boom = new Error('source reset');
    const body = new Readable({
      read() {
        this.destroy(boom);
      },
    });
    await expect(store.putStream('k', body, { size: 10, forbidOverwrite: false })).rejects.toBe(boom);
    expect(await store.head('k')).toBeNull();
  });

  it('stops with the abort reason when the signal aborts mid-body', async () => {
    const store = new MemoryStore();
    const controller = new AbortController();
    const reason = new Error('deadline');
    const body = new Readable({ read() {} });
    body.push(Buffer.from('part'));
    const promise = store.putStream('k', body, { size: 100, forbidOverwrite: false, signal: controller.signal });
    setTimeout(() => controller.abort(reason), 5);
    await expect(promise).rejects.toBe(reason);
    expect(store.keys()).toEqual([]);
  });

  it('answers null for a missing key and deletes idempotently', async () => {
    const store = new MemoryStore();
    expect(await store.head('nope')).toBeNull();
    expect(await store.getText('nope')).toBeNull();
    await store.putText('k', 'v');
    await store.delete('k');
    await store.delete('k');
    expect(await store.head('k')).toBeNull();
  });

  it('lists keys under a prefix in UTF-8 byte order with their sizes', async () => {
    const store = new MemoryStore();
    // U+1F600 is a surrogate pair (0xD83D...) and so sorts BEFORE U+FF5E in JS's default UTF-16 order, but
    // after it in UTF-8 bytes (F0.. > EF..), which is the order OSS lists in.
    await store.putText('p/\u{1F600}', 'x');
    await store.putText('p/\uFF5E', 'yy');
    await store.putText('p/b', 'zzz');
    await store.putText('q/a', '');
    expect(await listAll(store, 'p/')).toEqual([
      { key: 'p/b', size: 3 },
      { key: 'p/\uFF5E', size: 2 },
      { key: 'p/\u{1F600}', size: 1 },
    ]);
  });

  it('counts calls and lets a hook inject a failure', async () => {
    const failure = new StoreError('injected', { code: 'InternalError', status: 500 });
    const store = new MemoryStore({
      beforeOperation: (op) => {
        if (op === 'getText') throw failure;
      },
    });
    await store.putText('k', 'v');
    await expect(store.getText('k')).rejects.toBe(failure);
    expect(store.calls).toMatchObject({ putText: 1, getText: 1, head: 0 });
  });
});
