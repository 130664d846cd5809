import { compareKeys } from './key-order';

/**
 * One page of a bucket listing, shared by ListObjects (marker) and ListObjectsV2 (start-after / continuation token).
 * Keys and common prefixes both count toward max-keys; a common prefix is returned once, never again on later pages.
 */

export interface ListPageRequest {
  /** All keys of the bucket, sorted ascending by compareKeys (UTF-8 byte order). */
  sortedKeys: readonly string[];
  prefix: string;
  delimiter: string;
  /** Entries <= this are skipped (v1 marker, v2 start-after or decoded continuation token). */
  after: string;
  maxKeys: number;
}

export interface ListPage {
  keys: string[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last entry returned (key or common prefix): where the next page starts. Null when not truncated. */
  nextAfter: string | null;
}

/** Index of the first key that is > bound (strict) or >= bound (inclusive). */
export function searchFrom(sorted: readonly string[], bound: string, inclusive: boolean): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const order = compareKeys(sorted[mid], bound);
    if (order < 0 || (!inclusive && order === 0)) low = mid + 1;
    else high = mid;
  }
  return low;
}

export function listPage(request: ListPageRequest): ListPage {
  const { sortedKeys, prefix, delimiter, after, maxKeys } = request;
  const keys: string[] = [];
  const commonPrefixes: string[] = [];
  let lastEntry: string | null = null;
  let isTruncated = false;

  // Keys below the prefix cannot match; start at whichever bound is later.
  let index = compareKeys(after, prefix) >= 0 ? searchFrom(sortedKeys, after, false) : searchFrom(sortedKeys, prefix, true);

  for (; index < sortedKeys.length; index++) {
    const key = sortedKeys[index];
    if (!key.startsWith(prefix)) break; // sorted: past the prefix range
    let entry = key;
    let isPrefix = false;
    if (delimiter !== '') {
      const cut = key.indexOf(delimiter, prefix.length);
      if (cut >= 0) {
        entry = key.slice(0, cut + delimiter.length);
        isPrefix = true;
        if (compareKeys(entry, after) <= 0 || entry === lastEntry) continue;
      }
    }
    if (keys.length + commonPrefixes.length >= maxKeys) {
      isTruncated = true;
      break;
    }
    (isPrefix ? commonPrefixes : keys).push(entry);
    lastEntry = entry;
  }

  return { keys, commonPrefixes, isTruncated, nextAfter: isTruncated ? lastEntry : null };
}
