/**
 * The code package s.yaml deploys, built by scripts/bundle.mjs into a temporary folder: the benchmarks run the
 * archiver from it, as Function Compute does, and measure its size.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT, runNode } from './child-process';

export interface FunctionPackage {
  dir: string;
  index: string;
  /** Vendor files that must never load on the hourly path (relative to dir). */
  fanOutOnlyFiles: string[];
  files: { file: string; bytes: number }[];
  totalBytes: number;
}

interface Layout {
  outdir: string;
  mainFile: string;
  fanOutOnlyFiles: string[];
}

const BUNDLE_SCRIPT = path.join(PROJECT_ROOT, 'scripts/bundle.mjs');

export async function buildFunctionPackage(workDir: string): Promise<FunctionPackage> {
  const outdir = path.join(workDir, 'archiver');
  const env = { PATH: process.env.PATH ?? '' };
  const layout = JSON.parse(await runNode([BUNDLE_SCRIPT, '--outdir', outdir, '--print-layout'], { cwd: PROJECT_ROOT, env })) as Layout;
  await runNode([BUNDLE_SCRIPT, '--outdir', outdir], { cwd: PROJECT_ROOT, env });
  const entries = await readdir(layout.outdir, { recursive: true, withFileTypes: true });
  const files = await Promise.all(
    entries
      .filter((entry) => entry.isFile())
      .map(async (entry) => {
        const full = path.join(entry.parentPath, entry.name);
        return { file: path.relative(layout.outdir, full).split(path.sep).join('/'), bytes: (await stat(full)).size };
      }),
  );
  files.sort((a, b) => a.file.localeCompare(b.file));
  return {
    dir: layout.outdir,
    index: path.join(layout.outdir, layout.mainFile),
    fanOutOnlyFiles: layout.fanOutOnlyFiles,
    files,
    totalBytes: files.reduce((sum, f) => sum + f.bytes, 0),
  };
}
