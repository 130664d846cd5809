/**
 * Function Compute entry point. Thin on purpose: the work is in lib/archiver.ts, shared with the CLI.
 * Module scope lives as long as the instance, so configuration and SDK clients are reused by warm invocations.
 */
import { createArchiver, type FcContext } from '../../lib/archiver';
import { tuneHeapGrowth } from '../../lib/heap-tuning';
import type { RunReport } from '../../lib/types';

// Before any work: see lib/heap-tuning.ts (one mark-compact per 512 MiB instead of ~40).
tuneHeapGrowth();
const archive = createArchiver();

/** `event` is a Buffer: the timer's {"triggerTime","triggerName","payload"}, or a manual/fan-out JSON event. */
export async function handler(event: unknown, context: FcContext): Promise<RunReport> {
  return archive(event, context);
}
