/**
 * Deleting old files without following links: old logs under the log folder
 * (daily, above the disk threshold) and old `mcp_*` temp files (weekly).
 */
import { lstat, readdir, rmdir, unlink } from 'node:fs/promises';
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
  signal?: AbortSignal;
  /** Called with the number of entries looked at so far. */
  onProgress?: (seen: number) => void;
}

const emptyResult = (): CleanupResult => ({ removed: [], bytes: 0, kept: 0, left: [], errors: [] });

/**
 * Removes matching regular files under `root`, in every subfolder, never
 * descending into or deleting through a symbolic link (links are not files).
 * Meant for a folder only root and the services write to, like the log folder.
 */
export async function removeOldFilesUnder(root: string, opts: CleanupOptions): Promise<CleanupResult> {
  const result = emptyResult();
  const pending = [root];
  let seen = 0;
  while (pending.length > 0) {
    opts.signal?.throwIfAborted();
    const dir = pending.pop()!;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (dir === root) throw err;
      result.errors.push({ path: dir, error: errorMessage(err) });
      continue;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      seen += 1;
      if (seen % 200 === 0) opts.onProgress?.(seen);
      // Dirent types come from readdir without following links: a link to a folder is not descended.
      if (e.isDirectory()) {
        pending.push(path);
        continue;
      }
      if (!e.isFile() || !opts.match(e.name)) continue;
      await removeIfOld(path, opts.olderThan, result, (st) => st.isFile());
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
): Promise<void> {
  try {
    const st = await lstat(path);
    if (!acceptable(st)) return;
    if (st.mtime >= olderThan) {
      result.kept += 1;
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
