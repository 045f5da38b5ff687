/** Hash-compared snapshots of real folders. */
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Every entry under `root`: files by sha256 and mode, links by target, folders by mode. */
export async function treeHashes(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let entries;
  try {
    entries = await readdir(root, { recursive: true, withFileTypes: true });
  } catch {
    return { '(missing)': root };
  }
  for (const e of entries) {
    const p = join(e.parentPath, e.name);
    const st = await lstat(p);
    const rel = relative(root, p);
    if (st.isSymbolicLink()) out[rel] = `link ${await readlink(p)}`;
    else if (st.isDirectory()) out[rel] = `dir ${(st.mode & 0o777).toString(8)}`;
    else out[rel] = `file ${(st.mode & 0o777).toString(8)} ${createHash('sha256').update(await readFile(p)).digest('hex')}`;
  }
  return out;
}

export async function treesOf(paths: readonly string[]): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const p of paths) out[p] = await treeHashes(p);
  return out;
}

/** Sets a file's (or, with `link`, a symbolic link's own) modification time to `hours` ago. */
export async function makeOld(path: string, hours: number, opts: { link?: boolean } = {}): Promise<void> {
  const { lutimes, utimes } = await import('node:fs/promises');
  const t = new Date(Date.now() - hours * 3_600_000);
  await (opts.link ? lutimes(path, t, t) : utimes(path, t, t));
}

/**
 * Every entry under each of `paths`, byte for byte: files by mode and their whole content (base64),
 * links by target, folders by mode. For comparing a restored host with what was backed up.
 */
export async function treeContents(paths: readonly string[]): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const root of paths) {
    const tree: Record<string, string> = {};
    let entries;
    try {
      entries = await readdir(root, { recursive: true, withFileTypes: true });
    } catch {
      out[root] = { '(missing)': root };
      continue;
    }
    for (const e of entries) {
      const p = join(e.parentPath, e.name);
      const st = await lstat(p);
      const rel = relative(root, p);
      if (st.isSymbolicLink()) tree[rel] = `link ${await readlink(p)}`;
      else if (st.isDirectory()) tree[rel] = `dir ${(st.mode & 0o777).toString(8)}`;
      else tree[rel] = `file ${(st.mode & 0o777).toString(8)} ${(await readFile(p)).toString('base64')}`;
    }
    out[root] = tree;
  }
  return out;
}
