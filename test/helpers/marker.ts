/** Looks for a file by its unique name wherever an escaping restore could have put it. */
import { readdir } from 'node:fs/promises';
import { execa } from 'execa';

/** Where a write that left its staging root would land on this machine (plus the test's own roots). */
export const MARKER_SEARCH_ROOTS = ['/tmp', '/work', '/root', '/etc', '/opt', '/srv', '/var/tmp'];

/**
 * Every path named `name` under the search roots (one filesystem each, as `find -xdev`), and
 * directly in `/` (where `..` repeated past the top leads). Empty when none.
 */
export async function findMarker(name: string, extraRoots: readonly string[] = []): Promise<string[]> {
  const roots: string[] = [];
  for (const r of [...MARKER_SEARCH_ROOTS, ...extraRoots]) {
    if (await readdir(r).then(() => true, () => false)) roots.push(r);
  }
  // Permission errors and files vanishing under other tests are not findings; the exit code is ignored for them.
  const r = await execa('find', [...roots, '-xdev', '-name', name, '-print'], { reject: false });
  const top = (await readdir('/')).filter((n) => n === name).map((n) => `/${n}`);
  return [...new Set([...r.stdout.split('\n').filter(Boolean), ...top])].sort();
}
