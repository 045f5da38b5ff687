/**
 * One pass over an archive that writes each root into its own destination (a
 * staging folder beside the restore target) and each dump to its own file.
 * Only files, folders and links are written; callers inspect the archive with
 * {@link scanArchive} first, and entries this pass finds unsafe anyway (absolute,
 * `..`, outside a root, through a symlink, links leaving their root) are refused
 * rather than written.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, lchown, link, lutimes, mkdir, symlink, utimes } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { Transform } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import { pickDecompressor } from './compress.js';
import { parserSink } from './parser-sink.js';
import { readInto } from './read-into.js';
import { normalizeArchivePath, normalizeType, rootOf } from './listing.js';

export interface ExtractTarget {
  /** Root prefix in the archive. */
  archivePath: string;
  /** Folder roots: the folder the root's contents go into (created; must not exist). Dumps: the file to write. */
  destination: string;
  kind: 'folder' | 'file';
}

export interface ExtractResult {
  files: number;
  bytes: number;
  /** Entries not written, and why. */
  refused: string[];
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export async function extractRoots(opts: {
  archivePath: string;
  targets: readonly ExtractTarget[];
  signal?: AbortSignal;
  onProgress?: (bytesRead: number) => void;
  /** The archive's sha256 when it was inspected: a different file is refused after the pass (callers drop what was written). */
  expectSha256?: string;
}): Promise<ExtractResult> {
  const result: ExtractResult = { files: 0, bytes: 0, refused: [] };
  const symlinks = new Set<string>();
  const dirs: Array<{ path: string; mode: number; mtime?: Date; uid?: number; gid?: number }> = [];
  // Entries are written one at a time, in archive order, so a hard link always finds its target.
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  // A file's mode, times and owner are set beside the next entries' writes (its bytes are on disk
  // by then); at most this many at once, all finished before folders get theirs.
  const MAX_PENDING = 64;
  const pending = new Set<Promise<void>>();
  const defer = async (step: () => Promise<void>) => {
    const p: Promise<void> = step()
      .catch((err: unknown) => void (failure ??= err))
      .finally(() => pending.delete(p));
    pending.add(p);
    if (pending.size >= MAX_PENDING) await Promise.race(pending);
  };
  // Folders this pass made (or found made), so each file does not ask again.
  const made = new Set<string>();
  const ensureDir = async (path: string) => {
    if (made.has(path)) return;
    await mkdir(path, { recursive: true, mode: 0o700 });
    made.add(path);
  };

  for (const t of opts.targets) {
    if (t.kind === 'folder') await mkdir(t.destination, { mode: 0o700 });
    else await mkdir(dirname(t.destination), { recursive: true, mode: 0o700 });
  }

  const destinationOf = (target: ExtractTarget, archivePath: string) => {
    const rest = normalizeArchivePath(archivePath).slice(target.archivePath.length);
    return target.kind === 'file' ? target.destination : join(target.destination, rest);
  };

  const write = async (entry: ReadEntry): Promise<void> => {
    const path = normalizeArchivePath(entry.path);
    const type = normalizeType(entry.type);
    const target = rootOf(opts.targets, path);
    const refuse = (why: string) => {
      result.refused.push(`"${entry.path}": ${why}`);
      entry.resume();
    };
    if (!target) return void entry.resume();
    if (!type) return refuse(`${entry.type} entries are not restored`);
    if (path.startsWith('/') || path.split('/').includes('..')) return refuse('unsafe path');
    for (const s of symlinks) if (path.startsWith(`${s}/`)) return refuse(`lies under the symlink ${s}`);
    const dest = destinationOf(target, path);
    if (target.kind === 'file') {
      if (type !== 'File') return refuse('a dump must be a plain file');
      await writeFileEntry(entry, dest);
      return;
    }
    switch (type) {
      case 'Directory':
        await ensureDir(dest);
        dirs.push({ path: dest, mode: entry.mode ?? 0o755, ...(entry.mtime ? { mtime: entry.mtime } : {}), ...owner(entry) });
        entry.resume();
        return;
      case 'File':
        await ensureDir(dirname(dest));
        await writeFileEntry(entry, dest);
        return;
      case 'SymbolicLink': {
        const linkTarget = entry.linkpath ?? '';
        const resolved = posix.normalize(posix.join(posix.dirname(path), linkTarget));
        if (linkTarget.startsWith('/') || !(resolved === target.archivePath || resolved.startsWith(`${target.archivePath}/`))) {
          return refuse(`symlink to "${linkTarget}" leaves its root`);
        }
        await ensureDir(dirname(dest));
        await symlink(linkTarget, dest);
        if (entry.mtime) await lutimes(dest, entry.mtime, entry.mtime);
        if (isRoot && entry.uid !== undefined && entry.gid !== undefined) await lchown(dest, entry.uid, entry.gid);
        symlinks.add(path);
        entry.resume();
        return;
      }
      case 'Link': {
        const linkTarget = normalizeArchivePath(entry.linkpath ?? '');
        if (rootOf(opts.targets, linkTarget) !== target || linkTarget.split('/').includes('..')) return refuse('hard link leaves its root');
        for (const s of symlinks) if (linkTarget.startsWith(`${s}/`)) return refuse(`hard link goes through the symlink ${s}`);
        await ensureDir(dirname(dest));
        await link(destinationOf(target, linkTarget), dest);
        result.files += 1;
        entry.resume();
        return;
      }
    }
  };

  const writeFileEntry = async (entry: ReadEntry, dest: string) => {
    await new Promise<void>((resolve, reject) => {
      const ws = createWriteStream(dest, { flags: 'wx', mode: (entry.mode ?? 0o644) & 0o7777 });
      ws.once('close', () => resolve());
      ws.once('error', reject);
      entry.pipe(ws);
    });
    result.files += 1;
    result.bytes += entry.size ?? 0;
    const { mode, mtime, uid, gid } = entry;
    await defer(async () => {
      await chmod(dest, (mode ?? 0o644) & 0o7777);
      if (mtime) await utimes(dest, mtime, mtime);
      if (isRoot && uid !== undefined && gid !== undefined) await lchown(dest, uid, gid);
    });
  };

  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      entry.pause();
      chain = chain.then(async () => {
        if (failure) return void entry.resume();
        try {
          await write(entry);
        } catch (err) {
          failure ??= err;
          entry.resume();
        }
      });
    },
  });
  let read = 0;
  const hash = createHash('sha256');
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      read += chunk.length;
      hash.update(chunk);
      opts.onProgress?.(read);
      cb(null, chunk);
    },
  });
  const sink = parserSink(parser);
  const gunzip = await pickDecompressor();
  await gunzip.run(readInto(opts.archivePath, counter), sink, opts.signal ?? new AbortController().signal);
  await chain;
  await Promise.all(pending);
  if (failure) throw failure;
  const sha256 = hash.digest('hex');
  if (opts.expectSha256 && sha256 !== opts.expectSha256) {
    result.refused.push(`the archive changed since it was inspected: sha256 is now ${sha256}, it was ${opts.expectSha256}`);
    return result;
  }
  // Folder modes and times last, deepest first: writing their contents changed the times.
  for (const d of dirs.reverse()) {
    await chmod(d.path, d.mode & 0o7777);
    if (isRoot && d.uid !== undefined && d.gid !== undefined) await lchown(d.path, d.uid, d.gid);
    if (d.mtime) await utimes(d.path, d.mtime, d.mtime);
  }
  return result;
}

function owner(entry: ReadEntry): { uid?: number; gid?: number } {
  return entry.uid !== undefined && entry.gid !== undefined ? { uid: entry.uid, gid: entry.gid } : {};
}
