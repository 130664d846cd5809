/**
 * ObjectStore in memory, with the OSS semantics the archiver relies on: create-only writes
 * (`forbidOverwrite` -> AlreadyExistsError, decided atomically at commit), the body length checked against the
 * announced size, ETag = upper-case hex MD5 and CRC-64/XZ as OSS computes them for a simple upload, user metadata
 * from `x-oss-meta-*` headers, listing in OSS's byte order. For pure tests of manifest and lease logic; the
 * real adapter (lib/oss-store.ts) is tested against the OSS emulator.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Crc64 } from './crc64';
import { AlreadyExistsError, StoreError } from './errors';
import type { HeadResult, ObjectStore, PutResult, PutStreamOptions } from './types';

export type MemoryStoreOperation = 'putStream' | 'head' | 'getText' | 'putText' | 'delete' | 'list';

export interface MemoryStoreOptions {
  /**
   * Runs at the start of every operation, before anything is read or written. Throw to inject a failure; await to
   * interleave concurrent writers at a chosen point (the create-only check is made again at commit regardless).
   */
  beforeOperation?: (op: MemoryStoreOperation, key: string) => void | Promise<void>;
}

interface StoredObject {
  body: Buffer;
  etag: string;
  crc64: string;
  meta: Record<string, string>;
}

const META_PREFIX = 'x-oss-meta-';

export class MemoryStore implements ObjectStore {
  private readonly objects = new Map<string, StoredObject>();
  /** How many times each operation was called, for request-count assertions. */
  readonly calls: Record<MemoryStoreOperation, number> = { putStream: 0, head: 0, getText: 0, putText: 0, delete: 0, list: 0 };

  constructor(private readonly opts: MemoryStoreOptions = {}) {}

  private async enter(op: MemoryStoreOperation, key: string): Promise<void> {
    this.calls[op]++;
    await this.opts.beforeOperation?.(op, key);
  }

  private refuseIfExists(key: string, forbidOverwrite: boolean | undefined, operation: string): void {
    if (forbidOverwrite && this.objects.has(key)) {
      throw new AlreadyExistsError(`${operation} ${key}: the object already exists and overwriting is forbidden`, { key });
    }
  }

  private commit(key: string, body: Buffer, meta: Record<string, string>, forbidOverwrite: boolean | undefined, operation: string): StoredObject {
    // Checked again here, in the same synchronous step as the write: two create-only writers that both passed
    // the early check must still see exactly one winner.
    this.refuseIfExists(key, forbidOverwrite, operation);
    const stored: StoredObject = {
      body,
      etag: createHash('md5').update(body).digest('hex').toUpperCase(),
      crc64: new Crc64().update(body).digest(),
      meta,
    };
    this.objects.set(key, stored);
    return stored;
  }

  async putStream(key: string, body: Readable, opts: PutStreamOptions): Promise<PutResult> {
    await this.enter('putStream', key);
    opts.signal?.throwIfAborted();
    // Like OSS, a create-only PUT on an existing key is refused without reading the body.
    this.refuseIfExists(key, opts.forbidOverwrite, 'PutObject');
    const bytes = await readAll(body, opts.size, opts.signal);
    const stored = this.commit(key, bytes, metaFrom(opts.headers), opts.forbidOverwrite, 'PutObject');
    return { etag: stored.etag, crc64: stored.crc64 };
  }

  async head(key: string): Promise<HeadResult | null> {
    await this.enter('head', key);
    const stored = this.objects.get(key);
    if (stored === undefined) return null;
    return { size: stored.body.length, etag: stored.etag, crc64: stored.crc64, meta: { ...stored.meta } };
  }

  async getText(key: string): Promise<string | null> {
    await this.enter('getText', key);
    return this.objects.get(key)?.body.toString('utf8') ?? null;
  }

  async putText(key: string, body: string, opts: { forbidOverwrite?: boolean } = {}): Promise<void> {
    await this.enter('putText', key);
    this.commit(key, Buffer.from(body, 'utf8'), {}, opts.forbidOverwrite, 'PutObject');
  }

  /** Deleting a missing key succeeds, as in OSS. */
  async delete(key: string): Promise<void> {
    await this.enter('delete', key);
    this.objects.delete(key);
  }

  /** Keys under `prefix` in OSS order (UTF-8 bytes, ascending), as they stood when listing began. */
  async *list(prefix: string): AsyncGenerator<{ key: string; size: number }> {
    await this.enter('list', prefix);
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort(byUtf8Bytes);
    const sizes = keys.map((k) => this.objects.get(k)?.body.length ?? 0);
    for (let i = 0; i < keys.length; i++) yield { key: keys[i], size: sizes[i] };
  }

  /** Test helper: the stored bytes of `key`, or null. */
  bytes(key: string): Buffer | null {
    const stored = this.objects.get(key);
    return stored === undefined ? null : Buffer.from(stored.body);
  }

  /** Test helper: every key, in OSS order. */
  keys(): string[] {
    return [...this.objects.keys()].sort(byUtf8Bytes);
  }
}

function byUtf8Bytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function metaFrom(headers: Record<string, string> | undefined): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower.startsWith(META_PREFIX)) meta[lower.slice(META_PREFIX.length)] = value;
  }
  return meta;
}

/**
 * The whole body, checked against the announced size as OSS checks Content-Length. A short body is retryable
 * (a fresh source stream may be complete); a long one is not (the announced size itself is wrong).
 */
async function readAll(body: Readable, size: number, signal: AbortSignal | undefined): Promise<Buffer> {
  if (!Number.isSafeInteger(size) || size < 0) throw new TypeError(`putStream size must be a non-negative integer, got ${size}`);
  const onAbort = (): void => {
    body.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const chunks: Buffer[] = [];
  let received = 0;
  try {
    for await (const chunk of body) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk as Uint8Array);
      received += buf.length;
      if (received > size) {
        body.destroy();
        throw new StoreError(`Body is longer than the announced ${size} bytes (received ${received}+)`, {
          code: 'BodySizeMismatch',
          retryable: false,
        });
      }
      chunks.push(buf);
    }
  } catch (err) {
    signal?.throwIfAborted();
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (received < size) {
    throw new StoreError(`Body is shorter than the announced ${size} bytes (received ${received})`, {
      code: 'BodySizeMismatch',
      retryable: true,
    });
  }
  return Buffer.concat(chunks, received);
}
