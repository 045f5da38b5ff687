/**
 * Copies a folder tree to a staging folder, keeping modes, times, owners (when
 * root), symlinks as symlinks and hard links as hard links. Sockets, FIFOs and
 * devices are skipped and reported: a backup holds files, folders and links.
 *
 * With `resume`, a copy a killed or stalled attempt left behind is completed
 * rather than redone: a file whose copy already has the source's size and
 * modification time is kept (its time is set only after its data, owner and
 * mode, so a matching time means that copy finished), everything else is
 * copied again, and entries the source no longer has are removed. With
 * `unchangedSince` as well, the same brings last night's copy up to date.
 */
import { constants, type Stats } from 'node:fs';
import { chmod, copyFile, lchown, link, lstat, lutimes, mkdir, readdir, readlink, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';

export interface CopyStats {
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  bytes: number;
  /** Of `files`, those kept from an earlier attempt's copy (see `resume`); their bytes are in `bytes`. */
  reused: number;
  /** Paths not copied (special files, or entries that vanished while an online source was read). */
  skipped: string[];
}

export interface CopyOptions {
  signal?: AbortSignal;
  /** File bytes in the copy so far (kept ones included), and files. */
  onProgress?: (bytes: number, files: number) => void;
  /** `dest` may hold an earlier attempt's partial copy of `src`: keep what matches, redo the rest. @default false */
  resume?: boolean;
  /** Files copied at once. @default 8 */
  concurrency?: number;
  /**
   * With `resume`: `dest` is a copy made earlier (the last backup's), and a file there is kept only
   * if, beyond size, mode and modification time, the source's ctime is older than this (ms since the
   * epoch: when that copy started). The kernel sets ctime on every write, chmod, chown and rename and
   * no program can set it back, so a file changed since then is copied again even when its size and
   * mtime were kept. @default none (size, mode and mtime decide)
   */
  unchangedSince?: number;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export async function copyTree(src: string, dest: string, opts: CopyOptions = {}): Promise<CopyStats> {
  const stats: CopyStats = { files: 0, directories: 0, symlinks: 0, hardlinks: 0, bytes: 0, reused: 0, skipped: [] };
  const resume = opts.resume === true;
  /** Paths written or kept in `dest`, when resuming: anything else there is stale. */
  const wanted = new Set<string>();
  /** First copy of each multiply-linked file, and when its copy (run on the pool) is done: a link to it waits for that. */
  const links = new Map<string, { to: string; done: Promise<void> }>();
  const dirs: Array<{ path: string; st: Stats }> = [];
  const limit = opts.concurrency ?? 8;
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const check = () => {
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (failure) throw failure.error;
  };

  const schedule = async (task: () => Promise<void>) => {
    while (running.size >= limit) await Promise.race(running);
    check();
    const p: Promise<void> = task()
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => running.delete(p));
    running.add(p);
  };

  const owner = async (path: string, st: Stats) => {
    if (isRoot) await lchown(path, st.uid, st.gid);
  };

  const visit = async (from: string, to: string): Promise<void> => {
    check();
    let st: Stats;
    try {
      st = await lstat(from);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        stats.skipped.push(`${from} (vanished while copying)`);
        return;
      }
      throw err;
    }
    if (resume) {
      wanted.add(to);
      const there = await lstat(to).catch(() => undefined);
      // Only a folder or a lone regular file can be kept; anything else (a hard-linked copy among them:
      // writing into it would change its other names too) is removed first.
      if (there && !(st.isDirectory() && there.isDirectory()) && !(st.isFile() && there.isFile() && st.nlink === 1 && there.nlink === 1)) await rm(to, { recursive: true, force: true });
    }
    if (st.isDirectory()) {
      await mkdir(to, { mode: 0o700, recursive: resume });
      stats.directories += 1;
      dirs.push({ path: to, st });
      const names = await readdir(from);
      for (const name of names) await visit(join(from, name), join(to, name));
      return;
    }
    if (st.isSymbolicLink()) {
      await symlink(await readlink(from), to);
      await owner(to, st);
      await lutimes(to, st.atime, st.mtime);
      stats.symlinks += 1;
      return;
    }
    if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? links.get(key) : undefined;
      if (first) {
        await first.done;
        check();
        await link(first.to, to);
        stats.hardlinks += 1;
        return;
      }
      const copyOne = async (): Promise<void> => {
        if (resume) {
          const there = await lstat(to).catch(() => undefined);
          if (
            there?.isFile() &&
            there.size === st.size &&
            sameTime(there.mtimeMs, st.mtimeMs) &&
            (there.mode & 0o7777) === (st.mode & 0o7777) &&
            (opts.unchangedSince === undefined || st.ctimeMs < opts.unchangedSince)
          ) {
            stats.files += 1;
            stats.reused += 1;
            stats.bytes += st.size;
            opts.onProgress?.(stats.bytes, stats.files);
            return;
          }
          // Not kept: a new file, never the old one written over.
          if (there) await rm(to, { force: true });
        }
        try {
          await copyFile(from, to, constants.COPYFILE_FICLONE);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
            stats.skipped.push(`${from} (vanished while copying)`);
            // Gone from the source: an earlier copy of it must not stay behind as if it were current.
            wanted.delete(to);
            await rm(to, { force: true });
            return;
          }
          throw err;
        }
        await owner(to, st);
        await chmod(to, st.mode & 0o7777);
        await utimes(to, st.atime, st.mtime);
        stats.files += 1;
        stats.bytes += st.size;
        opts.onProgress?.(stats.bytes, stats.files);
      };
      let copiedFirst: () => void = () => undefined;
      if (st.nlink > 1) links.set(key, { to, done: new Promise<void>((resolve) => (copiedFirst = resolve)) });
      await schedule(async () => {
        try {
          await copyOne();
        } finally {
          copiedFirst();
        }
      });
      return;
    }
    stats.skipped.push(`${from} (${describeSpecial(st)})`);
  };

  try {
    await visit(src, dest);
  } finally {
    await Promise.all(running);
  }
  check();
  if (resume) await removeUnwanted(dest, wanted);
  // Folder modes and times last: creating their contents changed the times.
  for (const d of dirs.reverse()) {
    await owner(d.path, d.st);
    await chmod(d.path, d.st.mode & 0o7777);
    await utimes(d.path, d.st.atime, d.st.mtime);
  }
  return stats;
}

/**
 * Whether a copy's modification time is the one `utimes` gave it from the source:
 * times are set through a Date (milliseconds) and stored in nanoseconds, so they
 * come back within a millisecond or two; a copy cut short carries the time it was
 * written, long after the (stopped) source's.
 */
function sameTime(copyMs: number, sourceMs: number): boolean {
  return Math.abs(copyMs - sourceMs) < 2;
}

/** Removes what an earlier attempt copied that the source no longer has. */
async function removeUnwanted(dest: string, wanted: ReadonlySet<string>): Promise<void> {
  const st = await lstat(dest).catch(() => undefined);
  if (!st?.isDirectory()) return;
  for (const name of await readdir(dest)) {
    const path = join(dest, name);
    if (!wanted.has(path)) await rm(path, { recursive: true, force: true });
    else await removeUnwanted(path, wanted);
  }
}

function describeSpecial(st: Stats): string {
  if (st.isSocket()) return 'socket, skipped';
  if (st.isFIFO()) return 'FIFO, skipped';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'device, skipped';
  return 'special file, skipped';
}
