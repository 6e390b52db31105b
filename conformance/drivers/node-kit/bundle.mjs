// Build step shared by the Node drivers: bundles a driver's entry with the
// original client's files from $PEEK_ORIGINAL_DIR (never copied into git)
// into an output directory, and records what was built in source.json
// (commit, sha256 of the original files in a fixed order, their paths).
//
//   node bundle.mjs --original DIR --entry driver.mjs --out OUTDIR \
//     --require backend/electron/ipc.ts ... [--alias electron=./stubs/electron.mjs ...]
//     [--external better-sqlite3]
//
// `@original/<path>` in the driver's imports names <path> under DIR.

import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, symlinkSync, rmSync, lstatSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const o = { require: [], alias: {}, external: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--original') o.original = resolve(v());
    else if (a === '--entry') o.entry = resolve(v());
    else if (a === '--out') o.out = resolve(v());
    else if (a === '--require') o.require.push(v());
    else if (a === '--external') o.external.push(v());
    else if (a === '--alias') {
      const [k, p] = v().split('=');
      o.alias[k] = resolve(p);
    } else throw new Error(`bundle.mjs: unknown argument ${a}`);
  }
  return o;
}

const o = parseArgs(process.argv.slice(2));
if (!o.original || !o.entry || !o.out) {
  console.error('bundle.mjs: --original, --entry and --out are required');
  process.exit(2);
}
const missing = o.require.filter((p) => !existsSync(join(o.original, p)));
if (missing.length) {
  for (const p of missing) console.error(`missing original file: ${join(o.original, p)}`);
  console.error('Point PEEK_ORIGINAL_DIR at a checkout of autonome/peek (main).');
  process.exit(2);
}
mkdirSync(o.out, { recursive: true });

// `@original/...` -> the checkout; aliased modules -> our stubs.
const resolver = {
  name: 'peek-original',
  setup(b) {
    b.onResolve({ filter: /^@original\// }, (args) => ({
      path: join(o.original, args.path.slice('@original/'.length)),
    }));
    for (const [name, path] of Object.entries(o.alias)) {
      const re = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
      b.onResolve({ filter: re }, () => ({ path }));
    }
  },
};

const outfile = join(o.out, 'driver.mjs');
const result = await build({
  entryPoints: [o.entry],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile,
  external: o.external,
  plugins: [resolver],
  // The drivers' packages (fake-indexeddb) come from the kit's node_modules.
  nodePaths: [join(here, 'node_modules')],
  metafile: true,
  logLevel: 'warning',
  // CommonJS dependencies bundled into ESM need `require`.
  banner: { js: "import { createRequire as __kitCreateRequire } from 'node:module'; const require = __kitCreateRequire(import.meta.url);" },
});

// The original files that went into the bundle, in path order.
const root = o.original + sep;
const paths = Object.keys(result.metafile.inputs)
  .map((p) => resolve(p))
  .filter((p) => p.startsWith(root))
  .map((p) => relative(o.original, p).split(sep).join('/'))
  .sort();
const h = createHash('sha256');
for (const p of paths) h.update(readFileSync(join(o.original, p)));

let commit = null;
const stamp = join(o.original, '.peek-commit');
if (existsSync(stamp)) commit = readFileSync(stamp, 'utf8').trim() || null;
else {
  try {
    commit = execFileSync('git', ['-C', o.original, 'rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    commit = null;
  }
}
writeFileSync(join(o.out, 'source.json'), JSON.stringify({ commit, files: `sha256:${h.digest('hex')}`, paths }, null, 2) + '\n');

// Externals (native better-sqlite3) resolve from the kit's node_modules.
if (o.external.length) {
  const link = join(o.out, 'node_modules');
  try {
    if (lstatSync(link)) rmSync(link, { recursive: true, force: true });
  } catch {
    /* absent */
  }
  symlinkSync(join(here, 'node_modules'), link, 'dir');
}
console.error(`bundled ${paths.length} original files into ${outfile}`);
