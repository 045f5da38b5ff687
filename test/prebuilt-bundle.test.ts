/**
 * The workflow bundle `npm run build` writes (global setup ran it): used while it
 * matches the compiled code, refused as stale once any compiled file changes.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prebuiltWorkflowBundle } from '../src/prebuilt-bundle.js';
import { PACKAGE_ROOT } from '../src/dev/sandbox/layout.js';

let dist: string;
beforeAll(async () => {
  dist = join(await mkdtemp(join(tmpdir(), 'mcp-bundle-')), 'dist');
  await cp(join(PACKAGE_ROOT, 'dist'), dist, { recursive: true });
});
afterAll(() => rm(join(dist, '..'), { recursive: true, force: true }));

describe('prebuilt workflow bundle', () => {
  it('is used while it was built from the compiled code as it is', async () => {
    expect(await prebuiltWorkflowBundle(dist)).toEqual({ codePath: join(dist, 'workflows-bundle.js') });
  });

  it('is stale once a compiled file changes, once the bundle is cut short or gone, and once its stamp is gone', async () => {
    const file = join(dist, 'workflows', 'backup.js');
    const original = await readFile(file);
    await writeFile(file, `${original.toString()}\n// edited after the build\n`);
    expect(await prebuiltWorkflowBundle(dist)).toBeUndefined();
    await writeFile(file, original);
    expect(await prebuiltWorkflowBundle(dist)).toBeDefined();
    const bundle = join(dist, 'workflows-bundle.js');
    const code = await readFile(bundle);
    await writeFile(bundle, code.subarray(0, code.length - 100));
    expect(await prebuiltWorkflowBundle(dist)).toBeUndefined();
    await rm(bundle);
    expect(await prebuiltWorkflowBundle(dist)).toBeUndefined();
    await writeFile(bundle, code);
    expect(await prebuiltWorkflowBundle(dist)).toBeDefined();
    await rm(join(dist, 'workflows-bundle.json'));
    expect(await prebuiltWorkflowBundle(dist)).toBeUndefined();
  });

  it('is not looked for when running from the TypeScript sources', async () => {
    expect(await prebuiltWorkflowBundle(undefined)).toBeUndefined();
  });
});
