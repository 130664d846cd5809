/**
 * A manifest rebuilt from the archive itself, when an hour has objects but no usable manifest (a killed run, a
 * lost or corrupt manifest). Pure reads of OSS: nothing is downloaded or written here.
 */
import { archiveKey } from './keys';
import { entryUpdate, recordArchived, recordConflict } from './manifest';
import { mapPool } from './pool';
import { SOURCE_CRC64_META } from './transfer';
import type { HeadResult, LogFile, Manifest, ObjectStore } from './types';

/** HEADs and listing pages at once. */
const IO_CONCURRENCY = 8;

/**
 * No usable manifest: the archive itself says what is done. An object exists only if a complete, size-checked
 * PUT committed it, but a committed object may still have failed verification (bytes changed between the origin
 * and here) and its conflict entry may never have been written (a killed run, a manifest write that failed). So
 * each object of the listed size is HEADed: one carrying the origin's CRC-64 (SOURCE_CRC64_META) counts as
 * archived only if its own CRC-64 is that one, and is a conflict otherwise; one without it (written while the
 * origin sent no CRC-64, or by an older version) counts by its size. One listing of the hour's prefix when the key
 * template puts the name last (the default); a HEAD per file otherwise. Nothing is downloaded.
 */
export async function rebuildFromArchive(
  files: readonly LogFile[],
  manifest: Manifest,
  store: ObjectStore,
  settings: { keyTemplate: string; archivePrefix: string },
  atMs: number,
): Promise<boolean> {
  let changed = false;
  // A file whose key cannot be built (over OSS's 1023 bytes) is left out here: the transfer pool reports it failed.
  const keyOf = (file: LogFile): string | undefined => {
    try {
      return archiveKey(settings.keyTemplate, settings.archivePrefix, file);
    } catch {
      return undefined;
    }
  };
  const sizes = new Map<string, number>();
  const heads = new Map<string, HeadResult>();
  if (settings.keyTemplate.endsWith('{name}')) {
    const probeFile = files.find((file) => keyOf(file) !== undefined);
    if (!probeFile) return false;
    const probe = keyOf(probeFile) as string;
    const prefix = probe.slice(0, probe.length - probeFile.name.length);
    for await (const obj of store.list(prefix)) sizes.set(obj.key, obj.size);
  } else {
    await mapPool(files, IO_CONCURRENCY, async (file) => {
      const key = keyOf(file);
      const head = key === undefined ? null : await store.head(key);
      if (head) {
        sizes.set(key as string, head.size);
        heads.set(key as string, head);
      }
    });
  }
  // Nothing under the hour yet (the first run of every hour): no need to work out each file's key here.
  if (sizes.size === 0) return false;
  const found: { file: LogFile; key: string; size: number }[] = [];
  for (const file of files) {
    const key = keyOf(file);
    const size = key === undefined ? undefined : sizes.get(key);
    if (key !== undefined && size !== undefined) found.push({ file, key, size });
  }
  // A HEAD that fails leaves its file out: the transfer then meets FileAlreadyExists and checks the CRC-64.
  await mapPool(found, IO_CONCURRENCY, async ({ file, key, size }) => {
    if (size !== file.size || heads.has(key)) return;
    const head = await store.head(key);
    if (head) heads.set(key, head);
  });
  for (const { file, key, size } of found) {
    // A listed size that is not the file's settles it; otherwise the HEAD does, and without one the transfer will.
    const head = size === file.size ? heads.get(key) : undefined;
    if (size === file.size && !head) continue;
    const storedSize = head?.size ?? size;
    const originCrc = head?.meta[SOURCE_CRC64_META];
    const problem =
      storedSize !== file.size
        ? `${storedSize} bytes, the source has ${file.size}`
        : originCrc !== undefined && head?.crc64 !== originCrc
          ? `other bytes (CRC-64 ${head?.crc64 ?? 'missing'} vs the origin's ${originCrc}, recorded on the object)`
          : undefined;
    if (problem) recordConflict(manifest, { ...entryUpdate(file, key, atMs), error: `archive key holds ${problem}` });
    else recordArchived(manifest, entryUpdate(file, key, atMs, { crc64: originCrc }));
    changed = true;
  }
  return changed;
}
