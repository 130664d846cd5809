/**
 * Objects and multipart uploads on disk. Layout under `rootDir`:
 *   tmp/<uuid>                          bodies being received, metadata being written
 *   objects/<bucket>/<id>.data          a PutObject's bytes
 *   objects/<bucket>/<id>.<n>.data      part n (1, 2, ... in object order) of a completed multipart upload: the
 *                                       part files are moved here at Complete, never copied, so that Complete
 *                                       costs O(parts) as on OSS; GET streams across them
 *   objects/<bucket>/<id>.json          the object's metadata (key, size, ETag, CRC-64, headers, its data files in
 *                                       order): inspectable, and reloaded when an emulator is started again on the
 *                                       same dataDir. Written last, by rename: an object exists on disk only whole
 *   uploads/<uploadId>/<part>-<uuid>    multipart parts (open uploads are not kept across restarts)
 * An object becomes visible only by that rename plus a synchronous map swap, so a failed or cut upload never leaves
 * an object and two create-only writers cannot both win. Metadata is served from memory.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ossErrors } from './errors';
import { compareKeys } from './key-order';
import type { UploadedPart } from './multipart';
import { openSegmentRange, type Segment } from './segment-stream';
import { searchFrom } from './listing';

const DATA_SUFFIX = '.data';
const META_SUFFIX = '.json';

async function removeVersion(object: StoredObject): Promise<void> {
  // Metadata first: a run stopped half-way leaves only unreferenced data files, which a reload removes.
  await rm(object.metaPath, { force: true });
  for (const segment of object.segments) await rm(segment.filePath, { force: true });
}

/** The data files of object `id`, by kind: one file, or one per part. */
function segmentNames(id: string, objectType: ObjectType, count: number): string[] {
  if (objectType === 'Normal') return [id + DATA_SUFFIX];
  return Array.from({ length: count }, (_, index) => `${id}.${index + 1}${DATA_SUFFIX}`);
}

export type ObjectType = 'Normal' | 'Multipart';

export interface StoredObject {
  bucket: string;
  key: string;
  /** The files holding the bytes, in order: one for a Normal object, one per part for a Multipart one. */
  segments: readonly Segment[];
  /** The metadata file; its presence on disk is what makes the object exist after a restart. */
  metaPath: string;
  size: number;
  /** Quoted, as sent in the ETag header. */
  etag: string;
  /** Decimal CRC-64/XZ, as x-oss-hash-crc64ecma. */
  crc64: string;
  /** Base64 MD5 of the content; OSS returns it for Normal objects only. */
  contentMd5?: string;
  lastModifiedMs: number;
  objectType: ObjectType;
  /** Lower-case headers kept with the object: content-type, cache-control..., x-oss-meta-*, storage class, SSE, tagging. */
  headers: Readonly<Record<string, string>>;
}

export type NewObject = Omit<StoredObject, 'segments' | 'metaPath' | 'lastModifiedMs'>;

/** The metadata file's content: the object less what is derived from where the file lies. */
type Sidecar = Omit<StoredObject, 'segments' | 'metaPath'> & {
  /** File names (in the bucket's directory) and sizes, in object order. Absent in files written before parts were kept. */
  segments?: { file: string; size: number }[];
};

/** A file that is to become one segment of an object. */
interface SegmentSource {
  sourcePath: string;
  size: number;
}

export interface MultipartUpload {
  uploadId: string;
  bucket: string;
  key: string;
  initiatedMs: number;
  /** Headers given at initiation; they become the object's headers. */
  headers: Readonly<Record<string, string>>;
  parts: Map<number, UploadedPart>;
  completing: boolean;
}

export class OssStorage {
  private readonly objects = new Map<string, Map<string, StoredObject>>();
  private readonly sortedKeyCache = new Map<string, string[]>();
  /** Keys added since the bucket's sorted index was last read, unsorted. */
  private readonly pendingKeys = new Map<string, string[]>();
  private readonly uploads = new Map<string, MultipartUpload>();

  private constructor(private readonly rootDir: string, buckets: readonly string[]) {
    buckets.forEach((bucket) => this.objects.set(bucket, new Map()));
  }

  static async open(rootDir: string, buckets: readonly string[]): Promise<OssStorage> {
    const storage = new OssStorage(rootDir, buckets);
    // Bodies and parts of a previous run are unfinished work: nothing refers to them any more.
    await rm(path.join(rootDir, 'tmp'), { recursive: true, force: true });
    await rm(path.join(rootDir, 'uploads'), { recursive: true, force: true });
    await mkdir(path.join(rootDir, 'tmp'), { recursive: true });
    await mkdir(path.join(rootDir, 'uploads'), { recursive: true });
    for (const bucket of buckets) {
      await mkdir(storage.bucketDir(bucket), { recursive: true });
      await storage.reload(bucket);
    }
    return storage;
  }

  /** Loads the objects a previous emulator left in this bucket's directory; drops leftovers of interrupted writes. */
  private async reload(bucket: string): Promise<void> {
    const dir = this.bucketDir(bucket);
    const objects = this.bucketObjects(bucket);
    const names = await readdir(dir);
    for (const name of names.filter((candidate) => candidate.endsWith(META_SUFFIX))) {
      const metaPath = path.join(dir, name);
      const { segments: files, ...sidecar } = JSON.parse(await readFile(metaPath, 'utf8')) as Sidecar;
      const id = name.slice(0, -META_SUFFIX.length);
      const segments = (files ?? [{ file: id + DATA_SUFFIX, size: sidecar.size }]).map(({ file, size }) => ({
        filePath: path.join(dir, file),
        size,
      }));
      const loaded: StoredObject = { ...sidecar, bucket, segments, metaPath };
      if (!segments.every((segment) => existsSync(segment.filePath))) {
        await removeVersion(loaded);
        continue;
      }
      const rival = objects.get(loaded.key);
      // Two versions of one key: a run stopped between writing the new one and removing the old one.
      if (rival && rival.lastModifiedMs >= loaded.lastModifiedMs) {
        await removeVersion(loaded);
        continue;
      }
      if (rival) await removeVersion(rival);
      objects.set(loaded.key, loaded);
    }
    const referenced = new Set([...objects.values()].flatMap((object) => object.segments.map((s) => path.basename(s.filePath))));
    const orphans = names.filter((name) => name.endsWith(DATA_SUFFIX) && !referenced.has(name));
    for (const orphan of orphans) await rm(path.join(dir, orphan), { force: true });
  }

  private bucketDir(bucket: string): string {
    return path.join(this.rootDir, 'objects', bucket);
  }

  private bucketObjects(bucket: string): Map<string, StoredObject> {
    const objects = this.objects.get(bucket);
    if (!objects) throw ossErrors.noSuchBucket(bucket);
    return objects;
  }

  hasBucket(bucket: string): boolean {
    return this.objects.has(bucket);
  }

  /** A fresh path for a body being received; the caller removes it or hands it to a commit. */
  newTempPath(): string {
    return path.join(this.rootDir, 'tmp', randomUUID());
  }

  getObject(bucket: string, key: string): StoredObject | undefined {
    return this.objects.get(bucket)?.get(key);
  }

  // OSS lists from an index; so does the emulator. A new key joins a short unsorted list that the next LIST sorts
  // and merges in (a PUT costs O(1), a LIST O(keys)), a deleted one leaves the index at once. Re-sorting 20,000
  // keys for every LIST after a write cost 8-14 ms per LIST; inserting each key in place cost ~13 us per PUT.
  private insertSortedKey(bucket: string, key: string): void {
    if (!this.sortedKeyCache.has(bucket)) return;
    const pending = this.pendingKeys.get(bucket);
    if (pending) pending.push(key);
    else this.pendingKeys.set(bucket, [key]);
  }

  private removeSortedKey(bucket: string, key: string): void {
    const pending = this.pendingKeys.get(bucket);
    const waiting = pending ? pending.indexOf(key) : -1;
    if (pending && waiting >= 0) {
      pending.splice(waiting, 1);
      return;
    }
    const sorted = this.sortedKeyCache.get(bucket);
    if (!sorted) return;
    const at = searchFrom(sorted, key, true);
    if (sorted[at] === key) sorted.splice(at, 1);
  }

  sortedKeys(bucket: string): readonly string[] {
    let sorted = this.sortedKeyCache.get(bucket);
    const pending = this.pendingKeys.get(bucket);
    this.pendingKeys.delete(bucket);
    if (!sorted) {
      sorted = [...this.bucketObjects(bucket).keys()].sort(compareKeys);
      this.sortedKeyCache.set(bucket, sorted);
    } else if (pending && pending.length > 0) {
      sorted = mergeSorted(sorted, pending.sort(compareKeys));
      this.sortedKeyCache.set(bucket, sorted);
    }
    return sorted;
  }

  /**
   * Makes the body at `tempPath` the object. With `forbidOverwrite` an existing key is FileAlreadyExists; the
   * check and the swap run without yielding, so concurrent create-only commits of one key have exactly one winner.
   * The temp file is removed when the commit fails.
   */
  async commitObject(object: NewObject, tempPath: string, forbidOverwrite: boolean): Promise<StoredObject> {
    const source = [{ sourcePath: tempPath, size: object.size }];
    return this.commit({ ...object, objectType: 'Normal' }, source, forbidOverwrite, () => rm(tempPath, { force: true }));
  }

  /**
   * Makes the parts, in this order, the object, by moving their files (no byte is copied), under the same rules
   * as commitObject. When the commit fails the part files are back in their upload, which stays usable: the client
   * may complete it again or abort it.
   */
  async commitParts(object: NewObject, parts: readonly UploadedPart[], forbidOverwrite: boolean): Promise<StoredObject> {
    const sources = parts.map((part) => ({ sourcePath: part.filePath, size: part.size }));
    return this.commit({ ...object, objectType: 'Multipart' }, sources, forbidOverwrite, async () => undefined);
  }

  private async commit(
    object: NewObject,
    sources: readonly SegmentSource[],
    forbidOverwrite: boolean,
    discardSources: () => Promise<void>,
  ): Promise<StoredObject> {
    const objects = this.objects.get(object.bucket);
    const dir = this.bucketDir(object.bucket);
    const id = randomUUID();
    const segments = segmentNames(id, object.objectType, sources.length).map((name, index) => ({
      filePath: path.join(dir, name),
      size: sources[index].size,
    }));
    const stored: StoredObject = { ...object, segments, metaPath: path.join(dir, id + META_SUFFIX), lastModifiedMs: Date.now() };
    let moved = 0;
    // Undoes the moves in reverse: each source file is where it was before the commit started.
    const giveBack = async () => {
      await rm(stored.metaPath, { force: true });
      while (moved > 0) {
        moved -= 1;
        await rename(segments[moved].filePath, sources[moved].sourcePath).catch(() => rm(segments[moved].filePath, { force: true }));
      }
      await discardSources();
    };
    try {
      if (!objects) throw ossErrors.noSuchBucket(object.bucket);
      for (; moved < sources.length; moved++) await rename(sources[moved].sourcePath, segments[moved].filePath);
      await this.writeSidecar(stored);
    } catch (error) {
      await giveBack();
      throw error;
    }
    // From here to the map update nothing yields: the existence check and the swap are one step.
    const previous = objects.get(object.key);
    if (previous && forbidOverwrite) {
      await giveBack();
      throw ossErrors.fileAlreadyExists(object.key);
    }
    objects.set(object.key, stored);
    if (!previous) this.insertSortedKey(object.bucket, object.key);
    // Readers of the previous version hold open descriptors, so unlinking its files does not cut them short.
    if (previous) await removeVersion(previous);
    return stored;
  }

  /** The metadata file, complete or not at all: written aside, then renamed into place. */
  private async writeSidecar(object: StoredObject): Promise<void> {
    const { segments, metaPath, ...rest } = object;
    const sidecar: Sidecar = { ...rest, segments: segments.map((s) => ({ file: path.basename(s.filePath), size: s.size })) };
    const tempPath = this.newTempPath();
    try {
      await writeFile(tempPath, JSON.stringify(sidecar, null, 2));
      await rename(tempPath, metaPath);
    } catch (error) {
      await rm(tempPath, { force: true });
      throw error;
    }
  }

  /**
   * The object's bytes `start..endInclusive` (default: all of it), read across its files. The files are opened
   * before this returns, so an overwrite or delete that follows cannot cut the read short.
   */
  openObject(object: StoredObject, start = 0, endInclusive = object.size - 1): Readable {
    return openSegmentRange(object.segments, start, endInclusive);
  }

  async deleteObject(bucket: string, key: string): Promise<boolean> {
    const objects = this.bucketObjects(bucket);
    const previous = objects.get(key);
    if (!previous) return false;
    objects.delete(key);
    this.removeSortedKey(bucket, key);
    await removeVersion(previous);
    return true;
  }

  async createUpload(bucket: string, key: string, headers: Record<string, string>): Promise<MultipartUpload> {
    this.bucketObjects(bucket);
    const uploadId = randomBytes(16).toString('hex').toUpperCase();
    await mkdir(path.join(this.rootDir, 'uploads', uploadId));
    const upload: MultipartUpload = {
      uploadId,
      bucket,
      key,
      initiatedMs: Date.now(),
      headers,
      parts: new Map(),
      completing: false,
    };
    this.uploads.set(uploadId, upload);
    return upload;
  }

  /** The open upload with this id for this object, or NoSuchUpload. */
  getUpload(bucket: string, key: string, uploadId: string): MultipartUpload {
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.bucket !== bucket || upload.key !== key || upload.completing) {
      throw ossErrors.noSuchUpload(uploadId);
    }
    return upload;
  }

  listUploads(bucket?: string): MultipartUpload[] {
    return [...this.uploads.values()].filter((upload) => bucket === undefined || upload.bucket === bucket);
  }

  /** Moves a received part into its upload; a part number uploaded again replaces the earlier part. */
  async storePart(upload: MultipartUpload, part: Omit<UploadedPart, 'filePath'>, tempPath: string): Promise<UploadedPart> {
    const filePath = path.join(this.rootDir, 'uploads', upload.uploadId, `${part.partNumber}-${randomUUID()}`);
    try {
      await rename(tempPath, filePath);
    } catch {
      // The upload directory is gone: aborted or completed while the part was arriving.
      await rm(tempPath, { force: true });
      throw ossErrors.noSuchUpload(upload.uploadId);
    }
    if (this.uploads.get(upload.uploadId) !== upload || upload.completing) {
      await rm(filePath, { force: true });
      throw ossErrors.noSuchUpload(upload.uploadId);
    }
    const stored: UploadedPart = { ...part, filePath };
    const replaced = upload.parts.get(part.partNumber);
    upload.parts.set(part.partNumber, stored);
    if (replaced) await rm(replaced.filePath, { force: true });
    return stored;
  }

  /** Claims the upload for completion so that parts, aborts and other completions see NoSuchUpload meanwhile. */
  beginCompletion(upload: MultipartUpload): void {
    if (upload.completing) throw ossErrors.noSuchUpload(upload.uploadId);
    upload.completing = true;
  }

  /** Returns a completion claim after a refused completion, so the client may fix its part list and retry. */
  cancelCompletion(upload: MultipartUpload): void {
    upload.completing = false;
  }

  /** Forgets the upload and removes its part files (after completion or on abort). */
  async discardUpload(upload: MultipartUpload): Promise<void> {
    this.uploads.delete(upload.uploadId);
    await rm(path.join(this.rootDir, 'uploads', upload.uploadId), { recursive: true, force: true });
  }
}

/** One sorted array of two sorted arrays of distinct keys. */
function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = compareKeys(a[i], b[j]) <= 0 ? a[i++] : b[j++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}
