/**
 * Lets V8's old generation grow to 5x what survived the last full GC (its own factor is 1.1-4, by mutator speed).
 *
 * Why: an archiving process holds a small heap (~8 MB of objects) next to tens of MB of buffers in flight (socket
 * chunks, two 16 MiB part buffers). With V8's own factor the old-generation limit sits 12-26 MB above that small
 * heap, and on the large-file path V8 kept starting incremental marking against it although almost nothing was
 * allocated between collections: ~40 mark-compacts per 512 MiB (--trace-gc; ~250 KB allocated between two), 0.5 s
 * of CPU on the main and marking threads. At 5x: one mark-compact per 512 MiB, CPU per file -34 %
 * (bench A/B, 1.61 -> 1.06 s per 512 MiB). Factors of 2 and 3 left the mark-compacts as they were.
 *
 * Cost: the old generation may hold more garbage between collections, bounded by V8's own maximum heap size;
 * peak RSS is measured by `npm run bench` (small files and a 2 GiB file). The flag only changes how far the next
 * limit is set, nothing else about collection. V8 reads it each time it sets a limit, so setting it after start-up
 * takes effect (Node warns that a flag changed after start-up may do nothing or behave unpredictably; this one is
 * checked by test/integration/bundle.test.ts, which reads the factor V8 reports once the handler is loaded).
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 400;

/** Applies the setting to this process; calling it again changes nothing. */
export function tuneHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
