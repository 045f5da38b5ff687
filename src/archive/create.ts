/**
 * Builds one `.tar.gz` from several roots with GNU tar where it can
 * ({@link packWithGnuTar}), else node-tar ({@link packTar}). Every entry's path in
 * the archive is its original absolute path without the leading `/`
 * (`etc/kilocode/mcp/...`), wherever it is read from (a staging copy or the live
 * folder), so the archive lists, and restores, to the right place. The file is
 * written as `<name>.partial`, fsynced and renamed; a failure removes the partial.
 */
import { createHash } from 'node:crypto';
import { writevSync, type Stats } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { execa } from 'execa';
import { Pack, Parser, type ReadEntry, type WriteEntry } from 'tar';
import { childEnv } from '../config/secret.js';
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
  /** What packed it: GNU tar where asked and able (see {@link canPackWithGnuTar}), else node-tar. */
  packer: 'node-tar' | 'gnu-tar';
  /** Files of online folders that changed while they were read: each archived as it was read, possibly part old, part new. */
  changedWhileRead: string[];
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
  /**
   * `gnu-tar`: pack with GNU tar in its own process where it can (see {@link packWithGnuTar}), about twice as fast as node-tar
   * on many small files; falls back to node-tar. Every archive a backup or a recovery writes asks for it.
   * @default 'node-tar'
   */
  packer?: 'node-tar' | 'gnu-tar';
}

/** A tar stream of several roots, as {@link writeArchive} and restic targets store it. */
export interface PackedTar {
  /** The uncompressed tar bytes; read it once, and pipe it on at once (a failure is an 'error' event on it). */
  stream: Readable;
  /** Uncompressed tar bytes produced so far. */
  tarBytes(): number;
  /** Each root's tally (with each file's sha256); complete once the stream has ended. */
  roots(): RootResult[];
  /** Files that changed while they were read (GNU tar's "file changed as we read it"), by path; complete once the stream has ended. */
  changedWhileRead?(): string[];
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

  const byArchivePath = tallies.map((t) => ({ archivePath: normalizeArchivePath(t.source.archivePath), tally: t.tally }));
  const counter = tallyingStream(byArchivePath, { hashFiles, count: false, ...(onProgress ? { onProgress } : {}) });
  // Relative to cwd "/": node-tar resolves each entry's absolute path, which onWriteEntry maps to its archive path.
  for (const s of opts.sources) pack.add(s.sourcePath.replace(/^\/+/, ''));
  pack.end();
  return {
    stream: Readable.from(pack, { objectMode: false }).pipe(counter.stream),
    tarBytes: counter.tarBytes,
    roots: () => byArchivePath,
    stop: () => pack.removeAllListeners('data'),
  };
}

type RootTallies = Array<{ archivePath: string; tally: RootTally }>;

/**
 * The tar stream passed through as it is, read by a tar parser on the way: each
 * file's sha256 for the manifest (`hashFiles`: the one read of the data), and,
 * with `count`, each entry tallied into its root (a packer that does not tally
 * as it writes). An entry outside every root or of a type no restore takes fails the stream.
 */
function tallyingStream(roots: RootTallies, opts: { hashFiles: boolean; count: boolean; onProgress?: (tarBytes: number) => void; beforeEnd?: () => Promise<void> }): { stream: Transform; tarBytes: () => number } {
  let parseError: Error | undefined;
  const fail = (err: Error) => {
    parseError ??= err;
  };
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      const type = normalizeType(entry.type);
      const path = normalizeArchivePath(entry.path);
      if (opts.count) {
        const root = rootOf(roots, path);
        // A name that is not UTF-8 reads back changed (U+FFFD for each bad byte): restored under another name, or
        // two of them as one. The JavaScript packer refuses such names; so does this.
        if (`${entry.path}\0${entry.linkpath ?? ''}`.includes('\uFFFD')) fail(new Error(`cannot archive ${JSON.stringify(path)}: its name (or its link's target) is not UTF-8`));
        else if (!type) fail(new Error(`cannot archive ${path}: unsupported type ${entry.type}`));
        else if (!root) fail(new Error(`entry ${path} is outside every archive root`));
        else root.tally.add(type, entry.path, type === 'File' ? entry.size : 0);
      }
      if (!opts.hashFiles || type !== 'File') {
        entry.resume();
        return;
      }
      const hash = createHash('sha256');
      entry.on('data', (b: Buffer) => hash.update(b));
      entry.on('end', () => rootOf(roots, path)?.tally.fileDigest(path, hash.digest('hex')));
    },
  });
  parser.on('error', fail);
  const parse = opts.hashFiles || opts.count;
  let tarBytes = 0;
  let lastReport = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      tarBytes += chunk.length;
      if (parse) parser.write(chunk);
      if (opts.onProgress && tarBytes - lastReport >= 4 * 1024 * 1024) {
        lastReport = tarBytes;
        opts.onProgress(tarBytes);
      }
      cb(parseError ?? null, chunk);
    },
    flush(cb) {
      if (parse) parser.end();
      (opts.beforeEnd ?? (async () => undefined))().then(
        () => cb(parseError ?? null),
        (err: Error) => cb(err),
      );
    },
  });
  return { stream, tarBytes: () => tarBytes };
}

let gnuTar: Promise<boolean> | undefined;

/**
 * GNU tar's environment: the worker's without secrets, in the C locale, and without what would
 * change what it archives behind the argv's back (TAR_OPTIONS can exclude files, follow links or
 * stay on one file system, and tar would still exit 0 with a manifest to match).
 */
function tarEnv(): Record<string, string> {
  const env = childEnv({ LC_ALL: 'C' });
  delete env.TAR_OPTIONS;
  delete env.POSIXLY_CORRECT;
  return env;
}

/**
 * Whether {@link packWithGnuTar} can pack these sources: GNU tar is on PATH
 * 1.28 or later (`--transform` is GNU's, `--sort` 1.28's), no path holds a
 * newline, and no source lies inside another or is renamed into, or above,
 * where another is read from (GNU tar applies the renames one after the other,
 * so each must leave the others' names alone).
 */
export async function canPackWithGnuTar(sources: readonly ArchiveSource[]): Promise<boolean> {
  const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);
  const rel = sources.map((s) => ({ from: s.sourcePath.replace(/^\/+/, ''), to: normalizeArchivePath(s.archivePath) }));
  if (rel.some((r) => !r.from || !r.to || /[\n\r]/.test(r.from + r.to))) return false;
  for (const a of rel) for (const b of rel) if (a !== b && (under(a.from, b.from) || under(a.to, b.from) || under(b.from, a.to))) return false;
  gnuTar ??= execa('tar', ['--version'], { env: tarEnv(), extendEnv: false, reject: false }).then(
    (r) => {
      // --sort=name is 1.28's.
      const v = /^tar \(GNU tar\) (\d+)\.(\d+)/.exec(String(r.stdout));
      return r.exitCode === 0 && !!v && Number(v[1]) * 1000 + Number(v[2]) >= 1028;
    },
    () => false,
  );
  return gnuTar;
}

/** `s` expression for GNU tar's --transform: `from` (exactly, or as a folder) renamed to `to`. */
function transformExpression(from: string, to: string): string {
  const bre = from.replace(/[\\.[\]*^$,]/g, '\\$&');
  const replacement = to.replace(/[\\&,]/g, '\\$&');
  // r: member names, h: hard link targets; S: never symbolic link targets (they are restored as written).
  return `s,^${bre}\\(/\\|$\\),${replacement}\\1,rhS`;
}

const CHANGED = /^tar: (.*): file changed as we read it$/;

/**
 * Whether GNU tar's exit means the archive is whole: 0, or 1 when every message is "file changed
 * as we read it" (a file or folder of an online root written to while tar read it: archived as
 * read, at the size it had when tar began it; listed by {@link changedFiles}). Anything else (a file
 * removed before it was opened, one that shrank, one it cannot read, a fatal error, a signal) fails.
 */
export function tarSucceeded(exitCode: number | undefined, stderr: string): boolean {
  if (exitCode === 0) return true;
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  return exitCode === 1 && lines.length > 0 && lines.every((l) => CHANGED.test(l));
}

/** The paths GNU tar reported as changed while it read them (absolute, as read). */
export function changedFiles(stderr: string): string[] {
  return stderr.split('\n').flatMap((l) => {
    const m = CHANGED.exec(l);
    return m ? [`/${m[1]!}`] : [];
  });
}

/**
 * Packs like {@link packTar}, with GNU tar reading the files in its own process
 * (node-tar's packer costs about a second per 500 MB of small files) and each
 * source renamed to its archive path by `--transform`; the stream is parsed on
 * its way to tally each root (and hash each file). GNU format (long names as
 * GNU long-name entries; no atime, ctime, device or inode: an unchanged file's
 * header is the same bytes every night, as restic's chunker needs; numeric
 * owners, so a renamed user does not change every header), names sorted,
 * sockets skipped without a word; symbolic link targets as they are. A file GNU
 * tar cannot read, or any exit but those {@link tarSucceeded} accepts, fails the stream.
 */
export function packWithGnuTar(sources: readonly ArchiveSource[], onProgress?: (tarBytes: number) => void, opts: { digests?: boolean } = {}): PackedTar {
  const roots: RootTallies = sources.map((s) => ({ archivePath: normalizeArchivePath(s.archivePath), tally: new RootTally() }));
  const transforms = sources.map((s) => `--transform=${transformExpression(s.sourcePath.replace(/^\/+/, ''), normalizeArchivePath(s.archivePath))}`);
  const argv = ['--create', '--file=-', '--format=gnu', '--sort=name', '--numeric-owner', '--no-unquote', '--warning=no-file-ignored', ...transforms, '-C', '/', '--', ...sources.map((s) => s.sourcePath.replace(/^\/+/, ''))];
  const child = execa('tar', argv, { env: tarEnv(), extendEnv: false, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true }, reject: false });
  let stopped = false;
  let changed: string[] = [];
  const counter = tallyingStream(roots, {
    hashFiles: opts.digests ?? true,
    count: true,
    ...(onProgress ? { onProgress } : {}),
    beforeEnd: async () => {
      const r = await child;
      changed = changedFiles(String(r.stderr));
      if (!stopped && !tarSucceeded(r.exitCode, String(r.stderr))) throw new Error(`tar failed (exit ${r.exitCode ?? r.signal}): ${String(r.stderr).trim().split('\n').slice(-3).join(' | ')}`);
    },
  });
  child.stdout.on('error', (err: Error) => counter.stream.destroy(err));
  return {
    stream: child.stdout.pipe(counter.stream),
    tarBytes: counter.tarBytes,
    roots: () => roots,
    changedWhileRead: () => changed,
    stop: () => {
      stopped = true;
      child.kill('SIGKILL');
      child.stdout.destroy();
    },
  };
}

/** Writes every byte of `buffers` at the descriptor's position (writev may write less than asked). */
function writeAllSync(fd: number, buffers: Buffer[]): void {
  const rest = buffers.filter((b) => b.length > 0);
  while (rest.length) {
    let n = writevSync(fd, rest);
    if (n === 0) throw new Error('write returned 0 bytes');
    while (rest.length && n >= rest[0]!.length) n -= rest.shift()!.length;
    if (n > 0) rest[0] = rest[0]!.subarray(n);
  }
}

export async function writeArchive(opts: WriteArchiveOptions): Promise<WriteArchiveResult> {
  const partial = `${opts.outFile}.partial`;
  await rm(partial, { force: true });
  const digests = opts.digests ?? true;
  const gnu = opts.packer === 'gnu-tar' && (await canPackWithGnuTar(opts.sources));
  const hash = createHash('sha256');
  let bytes = 0;
  const fh = await open(partial, 'wx', 0o600);
  // Packing starts here, with nothing awaited before its stream is piped on (a packer that fails at once must find a reader).
  const packed = gnu ? packWithGnuTar(opts.sources, opts.onProgress, { digests }) : packTar(opts.sources, opts.onProgress, { digests });
  // Hash what is written, as it is written: no second pass over the archive. Written with synchronous
  // calls (each a few hundred KiB at most): a thread-pool round trip per chunk made the write the slow part.
  const sink = new Writable({
    writev(chunks, cb) {
      const buffers = chunks.map((c) => c.chunk as Buffer);
      for (const b of buffers) {
        hash.update(b);
        bytes += b.length;
      }
      try {
        writeAllSync(fh.fd, buffers);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    final(cb) {
      fh.sync().then(() => cb(), cb);
    },
  });

  const result = (): WriteArchiveResult => ({ bytes, sha256: hash.copy().digest('hex'), tarBytes: packed.tarBytes(), roots: packed.roots(), packer: gnu ? 'gnu-tar' : 'node-tar', changedWhileRead: packed.changedWhileRead?.() ?? [] });
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
