// Before `npm pack` (prepack): removes from dist/ every compiled file whose
// source in src/ is gone. The build is incremental and tsc never deletes
// outputs, so a module renamed or removed since the last clean build would
// otherwise ship in the package (and the worker's workflow bundle could pick it
// up). Removing only orphans keeps a concurrent `node dist/cli.js` working,
// which cleaning dist/ wholesale would not. Plain JavaScript: it runs before
// anything is built.
import { readdirSync, rmdirSync, rmSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const src = join(root, 'src');
const OUTPUT = /\.(js|js\.map|d\.ts|d\.ts\.map)$/;
const GENERATED = /^workflows-bundle\.(js|js\.map|json)$/;

/** Removes orphans under `dir`; returns whether `dir` is empty afterwards. */
function prune(dir) {
  let empty = true;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (prune(path)) rmdirSync(path);
      else empty = false;
      continue;
    }
    const rel = relative(dist, path);
    // The workflow bundle is built from dist/, not compiled from a source of its own (src/prebuilt-bundle.ts).
    if (GENERATED.test(rel)) {
      empty = false;
      continue;
    }
    if (OUTPUT.test(rel) && !existsSync(join(src, rel.replace(OUTPUT, '.ts')))) {
      rmSync(path);
      console.log(`prune-dist: removed ${relative(root, path)} (no ${relative(root, join(src, rel.replace(OUTPUT, '.ts')))})`);
      continue;
    }
    empty = false;
  }
  return empty;
}

if (existsSync(dist)) prune(dist);
