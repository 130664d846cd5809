#!/usr/bin/env node
/**
 * Builds the Function Compute code package (the folder s.yaml's `code` points at):
 *
 *   dist/archiver/index.js          the handler, with lib/ and the hourly-path SDKs (pop-core) inlined
 *   dist/archiver/vendor/<pkg>.js   one file per VENDOR_PACKAGES entry that the package requires, loaded by a
 *                                   plain `require` at run time
 *   dist/archiver.maps/             source maps (not deployed; see docs/DEPLOY.md to read a stack trace)
 *   dist/archiver.meta.json         esbuild metafile of every file above (not deployed)
 *
 * Why vendor files: esbuild cannot split CommonJS output, and Function Compute loads the handler as CommonJS.
 * A package bundled into index.js is evaluated on every cold start; the FC SDKs (~1.4 MB) are needed only when
 * an invocation fans out. So every bundle that imports a vendor package gets `require("./vendor/<pkg>.js")`
 * instead of the package's code, and that file is evaluated only when the `require` runs. Lib code keeps the
 * ordinary package name (so ts-node and jest load it from node_modules); what keeps a package off the hourly
 * path is WHERE lib code loads it: inside the function that needs it, never at module top level.
 * Packages needed by several files (ali-oss by the handler and @alicloud/fc2, for one) are vendor files too,
 * so each is shipped once.
 *
 * Usage: node scripts/bundle.mjs [--outdir DIR] [--entry FILE] [--print-layout]
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_ENTRY = 'functions/archiver/index.ts';
const DEFAULT_OUTDIR = 'dist/archiver';
const MAIN_FILE = 'index.js';
const VENDOR_DIR = 'vendor';

/** Packages that must stay off the hourly path: lib code may load them only from inside a function. */
export const FAN_OUT_ONLY_PACKAGES = [
  '@alicloud/fc20230330',
  '@alicloud/openapi-core',
  '@darabonba/typescript',
  '@alicloud/fc2',
];
/**
 * Packages that two or more files of the package would otherwise each inline (measured from the metafile;
 * the bundle test fails when a package of more than 10 KiB is inlined twice). ali-oss serves the handler and
 * @alicloud/fc2; xmlbuilder and sax serve pop-core's, ali-oss's and @darabonba's xml2js copies; httpx serves
 * pop-core and the FC SDKs; ws serves both FC SDKs.
 */
const SHARED_PACKAGES = ['ali-oss', 'xmlbuilder', 'sax', 'httpx', 'ws'];
/** Every package emitted as its own file under vendor/ (and therefore never inlined twice). */
export const VENDOR_PACKAGES = [...SHARED_PACKAGES, ...FAN_OUT_ONLY_PACKAGES];
/**
 * Optional peer of urllib (ali-oss's HTTP client), required only when URLLIB_ENABLE_PROXY is set; it is not
 * installed, so it stays an unresolved `require` exactly as it is without bundling.
 */
const UNINSTALLED_OPTIONAL_PACKAGES = ['proxy-agent'];

export function vendorFileName(packageName) {
  return `${VENDOR_DIR}/${packageName.replace(/^@/, '').replace(/\//g, '-')}.js`;
}

/** Where each piece goes for a given code folder; `--print-layout` prints this for tests and tooling. */
export function layoutFor(outdirArg = DEFAULT_OUTDIR, entryArg = DEFAULT_ENTRY) {
  const outdir = path.resolve(PROJECT_ROOT, outdirArg);
  return {
    entry: path.resolve(PROJECT_ROOT, entryArg),
    outdir,
    mainFile: MAIN_FILE,
    vendorFiles: Object.fromEntries(VENDOR_PACKAGES.map((name) => [name, vendorFileName(name)])),
    fanOutOnlyFiles: FAN_OUT_ONLY_PACKAGES.map(vendorFileName),
    mapsDir: `${outdir}.maps`,
    metafile: `${outdir}.meta.json`,
  };
}

function toPosixRelative(fromDir, toFile) {
  const relative = path.relative(fromDir, toFile).split(path.sep).join('/');
  return relative.startsWith('.') ? relative : `./${relative}`;
}

/**
 * Replaces every import of a vendor package with a require of its vendor file, relative to the file being
 * built. A copy installed at another version (nested node_modules) is not the vendor file's code, so it is
 * inlined instead of being silently swapped for the wrong version.
 */
function vendorRedirectPlugin({ outdir, outputFile, ownPackage }) {
  const escaped = VENDOR_PACKAGES.map((name) => name.replace(/[/\\^$*+?.()|[\]{}]/g, '\\$&'));
  const filter = new RegExp(`^(${escaped.join('|')})$`);
  const skipRedirect = { skipVendorRedirect: true };
  return {
    name: 'vendor-redirect',
    setup(build) {
      const canonicalPaths = new Map();
      const canonicalPathOf = async (name) => {
        if (!canonicalPaths.has(name)) {
          const result = await build.resolve(name, {
            kind: 'require-call',
            resolveDir: PROJECT_ROOT,
            pluginData: skipRedirect,
          });
          canonicalPaths.set(name, result.errors.length === 0 ? result.path : undefined);
        }
        return canonicalPaths.get(name);
      };
      build.onResolve({ filter }, async (args) => {
        if (args.pluginData?.skipVendorRedirect || args.path === ownPackage) return undefined;
        const resolved = await build.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          pluginData: skipRedirect,
        });
        const canonical = await canonicalPathOf(args.path);
        if (resolved.errors.length > 0 || canonical === undefined || resolved.path !== canonical) {
          return undefined;
        }
        const vendorFile = path.join(outdir, vendorFileName(args.path));
        return { path: toPosixRelative(path.dirname(outputFile), vendorFile), external: true };
      });
    },
  };
}

function buildOptions({ outdir, outputFile, ownPackage }) {
  return {
    absWorkingDir: PROJECT_ROOT,
    // Lets an entry outside the tree (a test fixture) resolve the project's packages.
    nodePaths: [path.join(PROJECT_ROOT, 'node_modules')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Node's own import() of a CommonJS file exposes only `default` (named exports of a minified bundle are
    // invisible to its lexer). Lowering import() to require() gives lib code the same module shape that tsc's
    // CommonJS output gives it under ts-node and jest.
    supported: { 'dynamic-import': false },
    minify: true,
    // keepNames wraps every function and class the bundle creates in a name-setting helper, closures made per
    // request by the SDKs included: on the hourly path that cost ~0.03 ms of CPU per archived small file, and
    // nothing there reads a minified name (lib/errors.ts names every error class explicitly, as ali-oss, urllib
    // and pop-core do). The FC SDKs, off the hourly path, keep their names: their models are classes.
    keepNames: FAN_OUT_ONLY_PACKAGES.includes(ownPackage),
    legalComments: 'none',
    // Maps go next to the package, not into it: Node ignores them unless started with --enable-source-maps.
    sourcemap: 'external',
    metafile: true,
    write: false,
    logLevel: 'warning',
    external: UNINSTALLED_OPTIONAL_PACKAGES,
    outfile: outputFile,
    plugins: [vendorRedirectPlugin({ outdir, outputFile, ownPackage })],
  };
}

async function buildMain(layout) {
  const outputFile = path.join(layout.outdir, layout.mainFile);
  return esbuild.build({ ...buildOptions({ outdir: layout.outdir, outputFile }), entryPoints: [layout.entry] });
}

async function buildVendor(layout, packageName) {
  const outputFile = path.join(layout.outdir, layout.vendorFiles[packageName]);
  return esbuild.build({
    ...buildOptions({ outdir: layout.outdir, outputFile, ownPackage: packageName }),
    stdin: {
      contents: `module.exports = require(${JSON.stringify(packageName)});`,
      resolveDir: PROJECT_ROOT,
      sourcefile: `vendor-entry:${packageName}`,
      loader: 'js',
    },
  });
}

function mergeMetafiles(metafiles) {
  const merged = { inputs: {}, outputs: {} };
  for (const metafile of metafiles) {
    Object.assign(merged.inputs, metafile.inputs);
    Object.assign(merged.outputs, metafile.outputs);
  }
  return merged;
}

async function writeOutputs(layout, results) {
  const containsProject = !path.relative(layout.outdir, PROJECT_ROOT).startsWith('..');
  if (containsProject) {
    // The folder is emptied first; a typo such as `--outdir .` must not take the project with it.
    throw new Error(`refusing to replace ${layout.outdir}: it contains the project`);
  }
  await rm(layout.outdir, { recursive: true, force: true });
  await rm(layout.mapsDir, { recursive: true, force: true });
  const written = [];
  for (const file of results.flatMap((result) => result.outputFiles)) {
    const isMap = file.path.endsWith('.map');
    const relative = path.relative(layout.outdir, file.path);
    const target = isMap ? path.join(layout.mapsDir, relative) : file.path;
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, file.contents);
    if (!isMap) written.push({ file: relative.split(path.sep).join('/'), bytes: file.contents.length });
  }
  await writeFile(layout.metafile, JSON.stringify(mergeMetafiles(results.map((result) => result.metafile))));
  return written;
}

function formatKiB(bytes) {
  return `${(bytes / 1024).toFixed(1).padStart(8)} KiB`;
}

function printSizes(layout, written) {
  const fanOutOnly = new Set(layout.fanOutOnlyFiles);
  const total = written.reduce((sum, entry) => sum + entry.bytes, 0);
  const lines = written
    .sort((a, b) => a.file.localeCompare(b.file))
    .map((entry) => `  ${formatKiB(entry.bytes)}  ${entry.file}${fanOutOnly.has(entry.file) ? '  (fan-out only)' : ''}`);
  const relative = path.relative(PROJECT_ROOT, layout.outdir);
  const packagePath = relative.startsWith('..') || path.isAbsolute(relative) ? layout.outdir : relative;
  console.log(`${packagePath}/\n${lines.join('\n')}\n  ${formatKiB(total)}  total`);
}

/** The vendor packages that a build's output requires (the redirected, external imports). */
function requiredVendorPackages(result) {
  const packageByFile = new Map(VENDOR_PACKAGES.map((name) => [path.posix.basename(vendorFileName(name)), name]));
  return Object.values(result.metafile.outputs)
    .flatMap((output) => output.imports)
    .filter((imported) => imported.external)
    .map((imported) => packageByFile.get(path.posix.basename(imported.path)))
    .filter((name) => name !== undefined);
}

/** Builds the handler, then the vendor files it requires, then theirs: a package ships only what is reachable. */
async function buildReachable(layout) {
  const results = [];
  const scheduled = new Set();
  let round = [buildMain(layout)];
  while (round.length > 0) {
    const finished = await Promise.all(round);
    results.push(...finished);
    const next = finished.flatMap(requiredVendorPackages).filter((name) => !scheduled.has(name));
    next.forEach((name) => scheduled.add(name));
    round = [...new Set(next)].map((name) => buildVendor(layout, name));
  }
  return results;
}

export async function bundle({ outdir = DEFAULT_OUTDIR, entry = DEFAULT_ENTRY } = {}) {
  const layout = layoutFor(outdir, entry);
  const results = await buildReachable(layout);
  const written = await writeOutputs(layout, results);
  printSizes(layout, written);
  return { layout, written };
}

async function main() {
  const { values } = parseArgs({
    options: {
      outdir: { type: 'string', default: DEFAULT_OUTDIR },
      entry: { type: 'string', default: DEFAULT_ENTRY },
      'print-layout': { type: 'boolean', default: false },
    },
  });
  if (values['print-layout']) {
    console.log(JSON.stringify(layoutFor(values.outdir, values.entry)));
    return;
  }
  await bundle({ outdir: values.outdir, entry: values.entry });
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error) => {
    // esbuild has already printed its diagnostics; the stack adds nothing for a failed build.
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
