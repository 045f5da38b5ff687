/**
 * Builds one `.tar.gz` from several roots with node-tar. Every entry's path in
 * the archive is its original absolute path without the leading `/`
 * (`etc/kilocode/mcp/...`), wherever it is read from (a staging copy or the live
 * folder), so the archive lists, and restores, to the right place. The file is
 * written as `<name>.partial`, fsynced and renamed; a failure removes the partial.
 */
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { Pack, Parser, type ReadEntry, type WriteEntry } from 'tar';
import { normalizeArchivePath, normalizeType, rootOf, RootTally } from './listing.js';
import { syncDir } from './manifest.js';
import type { Compressor } from './compress.js';

export interface ArchiveSource {
  /** Path prefix in the archive (no leading or trailing `/`). */
  archivePath: string;
  /** Absolute path to read the root from: a staging copy or the live folder/file. */
  sourcePath: string;
}

export interface RootResult {
  archivePath: string;
  tally: RootTally;
}

export interface WriteArchiveResult {
  /** Size of the .tar.gz. */
  bytes: number;
  sha256: string;
  /** Uncompressed tar bytes. */
  tarBytes: number;
  roots: RootResult[];
}

/** Thrown when the disk fills while writing an archive; the partial file has been removed. */
export class DiskFullError extends Error {
  override readonly name = 'DiskFullError';
  readonly path: string;
  constructor(path: string, options?: { cause?: unknown }) {
    super(`no space left on the device holding ${dirname(path)} while writing ${path}; the partial archive was removed`, options);
    this.path = path;
  }
}

export interface WriteArchiveOptions {
  sources: readonly ArchiveSource[];
  /** Final path of the archive. */
  outFile: string;
  compressor: Compressor;
  signal: AbortSignal;
  /** Uncompressed bytes packed so far. */
  onProgress?: (tarBytes: number) => void;
  /** Runs after the data is written and fsynced, before the rename makes the archive visible (e.g. write its manifest). */
  beforeCommit?: (result: WriteArchiveResult) => Promise<void>;
  /** Hash each file for the manifest (see {@link packTar}). @default true */
  digests?: boolean;
}

/** A tar stream of several roots, as {@link writeArchive} and restic targets store it. */
export interface PackedTar {
  /** The uncompressed tar bytes; read it once. */
  stream: Readable;
  /** Uncompressed tar bytes produced so far. */
  tarBytes(): number;
  /** Each root's tally (with each file's sha256); complete once the stream has ended. */
  roots(): RootResult[];
  /** Stops packing (after a failure downstream). */
  stop(): void;
}

/**
 * The stat a header is written from, without what changes when nothing in the
 * file did: atime and ctime (a stop-mode root is read from a fresh staging copy
 * every night, so every ctime is new), dev, ino and nlink (written in PAX
 * headers). With them, the header of every small file changed each night and
 * restic's chunker, whose chunks span many small files, stored half the data
 * set again after a 1 % change (bench/offsite.ts). Mode, owner, size and mtime
 * stay: the restore sets them. Hard links were found from dev/ino before this runs.
 */
function stableStat(st: Stats): Stats {
  const copy = Object.assign(Object.create(Object.getPrototypeOf(st) as object) as Stats, st);
  copy.atime = st.mtime;
  copy.ctime = st.mtime;
  copy.atimeMs = st.mtimeMs;
  copy.ctimeMs = st.mtimeMs;
  copy.dev = 0;
  copy.ino = 0;
  copy.nlink = 1;
  return copy;
}

/**
 * Packs the roots into one tar stream whose entry paths are each root's
 * archive path (its original absolute path without `/`), wherever it is read
 * from; tallies each root's entries for the manifest as they pass.
 */
export function packTar(sources: readonly ArchiveSource[], onProgress?: (tarBytes: number) => void, opts2: { digests?: boolean } = {}): PackedTar {
  const hashFiles = opts2.digests ?? true;
  const opts = { sources, onProgress };
  const tallies = opts.sources.map((s) => ({ source: s, tally: new RootTally() }));
  const bySource = [...tallies].sort((a, b) => b.source.sourcePath.length - a.source.sourcePath.length);

  const pack = new Pack({
    cwd: '/',
    portable: false,
    strict: false,
    onwarn: (code, message) => {
      pack.emit('error', new Error(`${code}: ${message}`));
    },
    onWriteEntry: (entry: WriteEntry) => {
      if (entry.stat) entry.stat = stableStat(entry.stat);
      const absolute = entry.absolute;
      const match = bySource.find(({ source }) => absolute === source.sourcePath || absolute.startsWith(`${source.sourcePath}/`));
      if (!match) throw new Error(`entry ${absolute} is outside every archive root`);
      const rest = absolute.slice(match.source.sourcePath.length);
      const isDir = entry.type === 'Directory';
      entry.path = `${match.source.archivePath}${rest}${isDir ? '/' : ''}`;
      if (entry.type === 'Link' && entry.linkpath) {
        const target = `/${entry.linkpath}`;
        const linkRoot = bySource.find(({ source }) => target.startsWith(`${source.sourcePath}/`));
        if (!linkRoot) throw new Error(`hard link ${absolute} points outside every archive root`);
        entry.linkpath = `${linkRoot.source.archivePath}${target.slice(linkRoot.source.sourcePath.length)}`;
      }
      const type = normalizeType(entry.type ?? '');
      if (!type) throw new Error(`cannot archive ${absolute}: unsupported type ${String(entry.type)}`);
      match.tally.add(type, entry.path, type === 'File' ? (entry.stat?.size ?? 0) : 0);
    },
  });

  // Each file's sha256, for the manifest: hashed from the tar stream as it passes, the one read of the data.
  const byArchivePath = tallies.map((t) => ({ archivePath: normalizeArchivePath(t.source.archivePath), tally: t.tally }));
  const digests = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      if (normalizeType(entry.type) !== 'File') {
        entry.resume();
        return;
      }
      const path = normalizeArchivePath(entry.path);
      const hash = createHash('sha256');
      entry.on('data', (b: Buffer) => hash.update(b));
      entry.on('end', () => rootOf(byArchivePath, path)?.tally.fileDigest(path, hash.digest('hex')));
    },
  });
  let digestError: Error | undefined;
  digests.on('error', (err: Error) => {
    digestError ??= err;
  });

  let tarBytes = 0;
  let lastReport = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      tarBytes += chunk.length;
      if (hashFiles) digests.write(chunk);
      if (opts.onProgress && tarBytes - lastReport >= 4 * 1024 * 1024) {
        lastReport = tarBytes;
        opts.onProgress(tarBytes);
      }
      cb(digestError ?? null, chunk);
    },
    flush(cb) {
      if (hashFiles) digests.end();
      cb(digestError ?? null);
    },
  });
  // Relative to cwd "/": node-tar resolves each entry's absolute path, which onWriteEntry maps to its archive path.
  for (const s of opts.sources) pack.add(s.sourcePath.replace(/^\/+/, ''));
  pack.end();
  return {
    stream: Readable.from(pack, { objectMode: false }).pipe(counter),
    tarBytes: () => tarBytes,
    roots: () => tallies.map((t) => ({ archivePath: normalizeArchivePath(t.source.archivePath), tally: t.tally })),
    stop: () => pack.removeAllListeners('data'),
  };
}

export async function writeArchive(opts: WriteArchiveOptions): Promise<WriteArchiveResult> {
  const partial = `${opts.outFile}.partial`;
  await rm(partial, { force: true });
  const packed = packTar(opts.sources, opts.onProgress, { digests: opts.digests ?? true });
  const hash = createHash('sha256');
  let bytes = 0;
  const fh = await open(partial, 'wx', 0o600);
  // Hash what is written, as it is written: no second pass over the archive.
  const sink = new Writable({
    writev(chunks, cb) {
      const buffers = chunks.map((c) => c.chunk as Buffer);
      for (const b of buffers) {
        hash.update(b);
        bytes += b.length;
      }
      fh.writev(buffers).then(() => cb(), cb);
    },
    final(cb) {
      fh.sync().then(() => cb(), cb);
    },
  });

  const result = (): WriteArchiveResult => ({ bytes, sha256: hash.copy().digest('hex'), tarBytes: packed.tarBytes(), roots: packed.roots() });
  try {
    await opts.compressor.run(packed.stream, sink, opts.signal);
    await fh.close();
    await opts.beforeCommit?.(result());
    await rename(partial, opts.outFile);
    await syncDir(dirname(opts.outFile));
  } catch (err) {
    packed.stop();
    await fh.close().catch(() => undefined);
    await rm(partial, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new DiskFullError(opts.outFile, { cause: err });
    throw err;
  }
  opts.onProgress?.(packed.tarBytes());
  return result();
}
