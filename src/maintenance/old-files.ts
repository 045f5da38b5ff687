/**
 * Deleting old files without following links: old logs under the log folder
 * (daily, above the disk threshold) and old `mcp_*` temp files (weekly).
 */
import { lstat, readdir, realpath, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../common/errors.js';

export interface RemovedEntry {
  path: string;
  /** Size of a regular file; 0 for links and other entries. */
  bytes: number;
  modifiedAt: string;
}

export interface CleanupResult {
  removed: RemovedEntry[];
  /** Bytes of the regular files removed. */
  bytes: number;
  /** Matching entries that are not old enough. */
  kept: number;
  /** Matching entries left in place, and why (e.g. a folder that is not empty). */
  left: Array<{ path: string; why: string }>;
  errors: Array<{ path: string; error: string }>;
}

export interface CleanupOptions {
  /** Entries last modified before this are removed. */
  olderThan: Date;
  /** Which names to consider. */
  match: (name: string) => boolean;
  /**
   * Files never to remove, by path (e.g. the services' live logs). Compared
   * with the file's real path, so a configured path through a link still counts.
   */
  keep?: readonly string[];
  signal?: AbortSignal;
  /** Called with the number of entries looked at so far. */
  onProgress?: (seen: number) => void;
}

const emptyResult = (): CleanupResult => ({ removed: [], bytes: 0, kept: 0, left: [], errors: [] });

/** A folder as it was when listed: its real path and identity. */
interface ListedDir {
  path: string;
  real: string;
  dev: number;
  ino: number;
}

/**
 * Whether `dir` is still the folder that was listed: same real path (no
 * component swapped for a link since) and same device and inode. Returns why
 * not, or undefined when it is.
 */
async function changedSince(dir: ListedDir): Promise<string | undefined> {
  try {
    const [real, st] = await Promise.all([realpath(dir.path), lstat(dir.path)]);
    if (real !== dir.real) return `its folder now resolves to ${real}, not ${dir.real}`;
    if (!st.isDirectory() || st.dev !== dir.dev || st.ino !== dir.ino) return 'its folder was replaced after it was listed';
    return undefined;
  } catch (err) {
    return `its folder cannot be checked: ${errorMessage(err)}`;
  }
}

/**
 * Removes matching regular files under `root`, in every subfolder, never
 * descending into or deleting through a symbolic link (links are not files).
 * Meant for a folder only root and the services write to, like the log folder.
 *
 * Deletion is by path, so a subfolder swapped for a link between listing and
 * deleting would redirect it outside `root`. Each folder's real path and
 * inode are recorded when it is listed (and must lie inside `root`'s), and
 * checked again right before every unlink in it; a file whose folder changed
 * is left in place and reported in `left`. (Node has no unlinkat, so a window
 * of one system call remains; `find -delete` closes it with openat.)
 */
export async function removeOldFilesUnder(root: string, opts: CleanupOptions): Promise<CleanupResult> {
  const result = emptyResult();
  const rootReal = await realpath(root);
  const keep = new Set<string>();
  for (const k of opts.keep ?? []) keep.add(await realpath(k).catch(() => k));
  const pending = [{ path: root, expectedReal: rootReal }];
  let seen = 0;
  while (pending.length > 0) {
    opts.signal?.throwIfAborted();
    const { path: dirPath, expectedReal } = pending.pop()!;
    let entries;
    let dir: ListedDir;
    try {
      const st = await lstat(dirPath);
      if (!st.isDirectory()) {
        if (dirPath === root) throw Object.assign(new Error(`${root} is not a folder`), { code: 'ENOTDIR' });
        result.left.push({ path: dirPath, why: 'listed as a folder, but it is no longer one (not followed)' });
        continue;
      }
      dir = { path: dirPath, real: await realpath(dirPath), dev: st.dev, ino: st.ino };
      if (dir.real !== expectedReal) {
        result.left.push({ path: dirPath, why: `resolves to ${dir.real}, outside the folder being cleaned (not followed)` });
        continue;
      }
      entries = await readdir(dirPath, { withFileTypes: true });
    } catch (err) {
      if (dirPath === root) throw err;
      result.errors.push({ path: dirPath, error: errorMessage(err) });
      continue;
    }
    for (const e of entries) {
      const path = join(dirPath, e.name);
      seen += 1;
      if (seen % 200 === 0) opts.onProgress?.(seen);
      // Dirent types come from readdir without following links: a link to a folder is not descended.
      if (e.isDirectory()) {
        pending.push({ path, expectedReal: join(dir.real, e.name) });
        continue;
      }
      if (!e.isFile() || !opts.match(e.name)) continue;
      if (keep.has(join(dir.real, e.name))) {
        result.left.push({ path, why: 'a configured service log file' });
        continue;
      }
      await removeIfOld(path, opts.olderThan, result, (st) => st.isFile(), () => changedSince(dir));
    }
  }
  opts.onProgress?.(seen);
  return result;
}

/**
 * Removes old matching entries at the top level of `dir` only: files, links
 * (the link itself, never its target) and empty folders. Folders that are not
 * empty are left and reported: deleting a tree inside a world-writable folder
 * as root is open to link-swap races, which `find -delete` avoids with openat
 * and Node cannot.
 */
export async function removeOldEntriesIn(dir: string, opts: CleanupOptions): Promise<CleanupResult> {
  const result = emptyResult();
  const entries = await readdir(dir, { withFileTypes: true });
  let seen = 0;
  for (const e of entries) {
    opts.signal?.throwIfAborted();
    seen += 1;
    if (!opts.match(e.name)) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      let st;
      try {
        st = await lstat(path);
      } catch (err) {
        result.errors.push({ path, error: errorMessage(err) });
        continue;
      }
      if (st.mtime >= opts.olderThan) {
        result.kept += 1;
        continue;
      }
      try {
        await rmdir(path);
        result.removed.push({ path, bytes: 0, modifiedAt: st.mtime.toISOString() });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') result.left.push({ path, why: 'a folder that is not empty' });
        else result.errors.push({ path, error: errorMessage(err) });
      }
      continue;
    }
    await removeIfOld(path, opts.olderThan, result, (st) => !st.isDirectory());
  }
  opts.onProgress?.(seen);
  return result;
}

async function removeIfOld(
  path: string,
  olderThan: Date,
  result: CleanupResult,
  acceptable: (st: Awaited<ReturnType<typeof lstat>>) => boolean,
  /** Checked right before the unlink: why the file must be left, if it must. */
  stillSafe?: () => Promise<string | undefined>,
): Promise<void> {
  try {
    const st = await lstat(path);
    if (!acceptable(st)) return;
    if (st.mtime >= olderThan) {
      result.kept += 1;
      return;
    }
    const unsafe = await stillSafe?.();
    if (unsafe) {
      result.left.push({ path, why: `not removed: ${unsafe}` });
      return;
    }
    // unlink removes the name itself; a link is never followed.
    await unlink(path);
    const bytes = st.isFile() ? Number(st.size) : 0;
    result.removed.push({ path, bytes, modifiedAt: st.mtime.toISOString() });
    result.bytes += bytes;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    result.errors.push({ path, error: errorMessage(err) });
  }
}
