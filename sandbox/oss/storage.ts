/**
 * Objects and multipart uploads on disk. Layout under `rootDir`:
 *   tmp/<uuid>                          bodies being received
 *   objects/<bucket>/<id>.data          one object version's bytes
 *   objects/<bucket>/<id>.json          its metadata (key, size, ETag, CRC-64, headers): inspectable, and reloaded
 *                                       when an emulator is started again on the same dataDir
 *   uploads/<uploadId>/<part>-<uuid>    multipart parts (open uploads are not kept across restarts)
 * An object becomes visible only by a rename plus a synchronous map swap, so a failed or cut upload never leaves
 * an object and two create-only writers cannot both win. Metadata is served from memory.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { once } from 'node:events';
import { ossErrors } from './errors';
import { compareKeys } from './key-order';
import type { UploadedPart } from './multipart';

const DATA_SUFFIX = '.data';
const META_SUFFIX = '.json';

function metaPathOf(dataPath: string): string {
  return dataPath.slice(0, -DATA_SUFFIX.length) + META_SUFFIX;
}

async function removeVersion(object: StoredObject): Promise<void> {
  await rm(metaPathOf(object.filePath), { force: true });
  await rm(object.filePath, { force: true });
}

export type ObjectType = 'Normal' | 'Multipart';

export interface StoredObject {
  bucket: string;
  key: string;
  filePath: string;
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

export type NewObject = Omit<StoredObject, 'filePath' | 'lastModifiedMs'>;

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
    const referenced = new Set<string>();
    for (const name of names.filter((candidate) => candidate.endsWith(META_SUFFIX))) {
      const filePath = path.join(dir, name.slice(0, -META_SUFFIX.length) + DATA_SUFFIX);
      const sidecar = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as Omit<StoredObject, 'filePath'>;
      if (!existsSync(filePath)) {
        await rm(path.join(dir, name), { force: true });
        continue;
      }
      const loaded: StoredObject = { ...sidecar, bucket, filePath };
      const rival = objects.get(loaded.key);
      // Two versions of one key: a run stopped between writing the new one and removing the old one.
      if (rival && rival.lastModifiedMs >= loaded.lastModifiedMs) {
        await removeVersion(loaded);
        continue;
      }
      if (rival) {
        await removeVersion(rival);
        referenced.delete(path.basename(rival.filePath));
      }
      objects.set(loaded.key, loaded);
      referenced.add(path.basename(filePath));
    }
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

  sortedKeys(bucket: string): readonly string[] {
    let sorted = this.sortedKeyCache.get(bucket);
    if (!sorted) {
      sorted = [...this.bucketObjects(bucket).keys()].sort(compareKeys);
      this.sortedKeyCache.set(bucket, sorted);
    }
    return sorted;
  }

  /**
   * Makes the body at `tempPath` the object. With `forbidOverwrite` an existing key is FileAlreadyExists; the
   * check and the swap run without yielding, so concurrent create-only commits of one key have exactly one winner.
   */
  async commitObject(object: NewObject, tempPath: string, forbidOverwrite: boolean): Promise<StoredObject> {
    const objects = this.objects.get(object.bucket);
    const filePath = path.join(this.bucketDir(object.bucket), randomUUID() + DATA_SUFFIX);
    const stored: StoredObject = { ...object, filePath, lastModifiedMs: Date.now() };
    try {
      if (!objects) throw ossErrors.noSuchBucket(object.bucket);
      await rename(tempPath, filePath);
      const { filePath: _dataPath, ...sidecar } = stored;
      await writeFile(metaPathOf(filePath), JSON.stringify(sidecar, null, 2));
    } catch (error) {
      await rm(tempPath, { force: true });
      await removeVersion(stored);
      throw error;
    }
    // From here to the map update nothing yields: the existence check and the swap are one step.
    const previous = objects.get(object.key);
    if (previous && forbidOverwrite) {
      await removeVersion(stored);
      throw ossErrors.fileAlreadyExists(object.key);
    }
    objects.set(object.key, stored);
    this.sortedKeyCache.delete(object.bucket);
    // Readers of the previous version hold an open descriptor, so unlinking it does not cut them short.
    if (previous) await removeVersion(previous);
    return stored;
  }

  async deleteObject(bucket: string, key: string): Promise<boolean> {
    const objects = this.bucketObjects(bucket);
    const previous = objects.get(key);
    if (!previous) return false;
    objects.delete(key);
    this.sortedKeyCache.delete(bucket);
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

  /** Concatenates the parts into a new temp file (streamed, never buffered whole). */
  async concatenateParts(parts: readonly UploadedPart[]): Promise<string> {
    const tempPath = this.newTempPath();
    const output = createWriteStream(tempPath, { flags: 'wx' });
    try {
      for (const part of parts) {
        for await (const chunk of createReadStream(part.filePath)) {
          if (!output.write(chunk)) await once(output, 'drain');
        }
      }
      output.end();
      await finished(output);
      return tempPath;
    } catch (error) {
      output.destroy();
      await rm(tempPath, { force: true });
      throw error;
    }
  }

  /** Forgets the upload and removes its part files (after completion or on abort). */
  async discardUpload(upload: MultipartUpload): Promise<void> {
    this.uploads.delete(upload.uploadId);
    await rm(path.join(this.rootDir, 'uploads', upload.uploadId), { recursive: true, force: true });
  }
}
