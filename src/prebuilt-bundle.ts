/**
 * The workflow bundle built with the package. Without it every worker start runs
 * webpack over the workflow code first (5-10 s of CPU on a small machine, more
 * under load); `npm run build` writes it once into `dist/workflows-bundle.js` beside a hash of the
 * compiled code it was built from, and a worker uses it only while that hash
 * still matches (a `tsc` run that changed any compiled file makes it stale, and
 * the worker bundles afresh, as before).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled package folder (`dist/`) when running from it; undefined under a TypeScript loader. */
const DIST = import.meta.url.endsWith('.js') ? fileURLToPath(new URL('.', import.meta.url)) : undefined;
const BUNDLE = 'workflows-bundle.js';
const STAMP = 'workflows-bundle.json';

interface Stamp {
  /** sha256 over every compiled `.js` file of the package but the bundle, with their paths. */
  sources: string;
  /** sha256 of the bundle itself: one that is missing, cut short or changed is not used. */
  bundle: string;
  builtAt: string;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

async function jsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await jsFiles(path)));
    else if (e.isFile() && e.name.endsWith('.js') && e.name !== BUNDLE) out.push(path);
  }
  return out;
}

/** The hash a bundle of `dist` must have been built from. */
export async function compiledSourcesHash(dist: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of (await jsFiles(dist)).sort()) {
    hash.update(relative(dist, file)).update('\0').update(await readFile(file)).update('\0');
  }
  return hash.digest('hex');
}

/**
 * The bundle to hand `Worker.create` (`workflowBundle`), when one built from the
 * compiled code as it is now lies in `dist/`; undefined otherwise (the worker then
 * bundles `workflowsPath` itself).
 */
export async function prebuiltWorkflowBundle(dist: string | undefined = DIST): Promise<{ codePath: string } | undefined> {
  if (!dist) return undefined;
  try {
    const stamp = JSON.parse(await readFile(join(dist, STAMP), 'utf8')) as Partial<Stamp>;
    if (stamp.sources !== (await compiledSourcesHash(dist))) return undefined;
    if (stamp.bundle !== sha256(await readFile(join(dist, BUNDLE)))) return undefined;
    return { codePath: join(dist, BUNDLE) };
  } catch {
    return undefined;
  }
}

/**
 * Writes `dist/workflow-bundle.js` and its stamp, unless the one there is still
 * current. Returns whether it bundled.
 */
export async function writeWorkflowBundle(dist: string, workflowsPath: string): Promise<boolean> {
  if (await prebuiltWorkflowBundle(dist)) return false;
  const sources = await compiledSourcesHash(dist);
  // Loaded here only: the worker package (webpack and all) is not needed to read a stamp.
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const noop = () => undefined;
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop } });
  // The bundle first, the stamp last: a build killed in between leaves a stamp that does not match, never a wrong bundle.
  await writeFile(join(dist, `${BUNDLE}.tmp`), code);
  await rename(join(dist, `${BUNDLE}.tmp`), join(dist, BUNDLE));
  const stamp: Stamp = { sources, bundle: sha256(code), builtAt: new Date().toISOString() };
  await writeFile(join(dist, `${STAMP}.tmp`), `${JSON.stringify(stamp)}\n`);
  await rename(join(dist, `${STAMP}.tmp`), join(dist, STAMP));
  return true;
}
