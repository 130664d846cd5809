/**
 * How the emulators plug into each other: the Live API emulator lists files that the log-origin emulator serves.
 * Sandbox-only: never imported by the function bundle.
 */
import type { Credentials } from '../lib/types';

/** Bytes of one seeded log file: given outright (small gzip logs), or generated on the fly (large files). */
export type FileSource = { content: Buffer } | { size: number; seed: string };

export function sourceSize(source: FileSource): number {
  return 'content' in source ? source.content.length : source.size;
}

/** What the Live emulator needs from the log origin. */
export interface LogOriginLike {
  /** Make a file downloadable at `path` (starts with '/'). Re-adding a path replaces its bytes. */
  addFile(path: string, source: FileSource): void;
  /** `host:port/path?OSSAccessKeyId=..&Expires=..&Signature=..` with NO scheme, as the API's LogPath is. */
  signedLogPath(path: string, expiresAtSec: number): string;
}

/** One file to seed into the Live emulator for a (domain, hour). */
export interface SeedFile {
  /** LogName exactly as the API will return it (may carry the documented quirks: stray whitespace, a newline). */
  name: string;
  source: FileSource;
  /** StartTime later than EndTime in the answer, as in the documented example. */
  swapTimes?: boolean;
  /** The file is listed only once the emulator's clock reaches this (logs that appear late). */
  listedFromMs?: number;
  /** Defaults: the hour's start and end. */
  startMs?: number;
  endMs?: number;
  /** Override the LogSize the API reports (to model an API that lies about the size). */
  reportedSize?: number;
}

/** The STS-style identity the sandbox hands to the handler, and a plain AK pair for the CLI. */
export const SANDBOX_STS: Required<Credentials> = {
  accessKeyId: 'STS.sandboxAccessKeyId0001',
  accessKeySecret: 'sandbox-sts-secret-DO-NOT-LEAK-7f3a9c',
  securityToken: 'sandbox-security-token-DO-NOT-LEAK-c41e2b',
};

export const SANDBOX_AK: Credentials = {
  accessKeyId: 'LTAIsandboxKey0002',
  accessKeySecret: 'sandbox-ak-secret-DO-NOT-LEAK-0b8d61',
};
