/**
 * One pass over an archive that writes each root into its own destination (a
 * staging folder beside the restore target) and each dump to its own file.
 *
 * Callers inspect the archive with {@link scanArchive} first; this pass does not
 * rely on that. It judges every entry again with the same {@link entryProblem},
 * and it confines every write on disk by itself: each folder is made one
 * component at a time and kept only if its real path is where the archive says
 * inside the destination, files are opened `O_CREAT | O_EXCL | O_NOFOLLOW`, and a
 * hard link is made only to a regular file that this pass wrote inside the root.
 * So whatever the archive holds, nothing is written outside a destination.
 *
 * With {@link ExtractOptions.check} nothing was inspected before: the pass is
 * the inspection. Every entry is judged and counted as {@link scanArchive} does
 * (one {@link ArchiveChecker}) while it is written; once anything is wrong the
 * pass writes nothing more but reads on to name every problem, and at the end
 * the file's sha256 and size and each root's counts, bytes and listing must be
 * the manifest's, or everything written is removed and the archive refused.
 * What it writes never exceeds the manifest's totals (the space the caller
 * checked). The bytes hashed are the bytes extracted, so no private copy is needed.
 *
 * With {@link ExtractOptions.inspected} the archive is first copied into a
 * private, already unlinked file while it is hashed, and only that copy is
 * extracted, once its sha256 is the one inspected: an archive swapped (renamed
 * over, or rewritten in place) after inspection is refused before any byte is
 * extracted, and it cannot change while it is extracted. The pass also stops at
 * the inspected entry count and byte totals. On a refusal or a failure, what the
 * pass wrote is removed.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fchmodSync, fchownSync, futimesSync, openSync, writeSync } from 'node:fs';
import { link, lstat, lutimes, lchown, mkdir, open, realpath, rm, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Transform } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import { pickReader } from './compress.js';
import { ArchiveModel, entryProblem, symlinkChainProblems } from './entry-rules.js';
import { normalizeArchivePath, normalizeType, rootOf } from './listing.js';
import type { BackupManifest } from './manifest.js';
import { ArchiveChecker, scanRefusal, type ScanLimits, type ScanResult } from './scan.js';
import { parserSink } from './parser-sink.js';
import { NotRegularFileError, openRegularFile, readInto } from './read-into.js';

export interface ExtractTarget {
  /** Root prefix in the archive. */
  archivePath: string;
  /** Folder roots: the folder the root's contents go into (created; must not exist). Dumps: the file to write (must not exist). */
  destination: string;
  kind: 'folder' | 'file';
}

/** What the inspection read: extraction refuses any other file and stops at these counts. */
export interface InspectedArchive {
  /** sha256 of the compressed file. */
  sha256: string;
  /** Size of the compressed file. */
  bytes: number;
  /** Entries in the archive. */
  entries: number;
  /** Bytes of file content. */
  fileBytes: number;
  /** Bytes of the uncompressed tar stream. */
  tarBytes: number;
  /** The manifest's compressor; `none` for a tar stored as it is. @default gzip */
  compressor?: string;
}

export interface ExtractOptions {
  archivePath: string;
  targets: readonly ExtractTarget[];
  /** The archive as inspected; with it, only a private copy that hashes to `inspected.sha256` is extracted, within its counts. */
  inspected?: InspectedArchive;
  /** A folder only this worker writes (mode 0700) to hold that copy while it is extracted; required with `inspected`. */
  workDir?: string;
  /** Inspect in this same pass instead (see the module comment); not with `inspected`. */
  check?: { manifest: BackupManifest; limits?: ScanLimits };
  signal?: AbortSignal;
  /** Compressed bytes read so far (the copy, then the extraction: up to twice the size with `inspected`). */
  onProgress?: (bytesRead: number) => void;
}

export interface ExtractResult {
  files: number;
  bytes: number;
  /** Why the archive was not extracted (empty when it was); what the pass wrote has been removed. */
  refused: string[];
  /** With `check`: what the pass found, as {@link scanArchive} reports it (its sha256, counts and tar bytes). */
  scan?: ScanResult;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const { O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_WRONLY, O_DIRECTORY } = constants;

/** A reason to stop and refuse, as opposed to a failure (I/O, cancellation) that is thrown. */
class Refusal extends Error {}

/** Extracts `targets` from the archive; see the module comment for what is refused and how writes are confined. */
export async function extractRoots(opts: ExtractOptions): Promise<ExtractResult> {
  const result: ExtractResult = { files: 0, bytes: 0, refused: [] };
  let source: FileHandle;
  try {
    ({ fh: source } = await openRegularFile(opts.archivePath, 'an archive'));
  } catch (err) {
    // A link or not a regular file: refused with nothing opened and nothing written.
    if (err instanceof NotRegularFileError) return { ...result, refused: [err.message] };
    throw err;
  }
  let archive: FileHandle = source;
  try {
    if (opts.inspected && opts.check) throw new Error('extractRoots: inspected and check exclude each other');
    if (opts.inspected) {
      if (!opts.workDir) throw new Error('extractRoots: workDir is required with inspected');
      const copy = await verifiedCopy(source, opts.archivePath, join(opts.workDir, `.inspected-copy-${process.pid}-${Date.now()}`), opts.inspected, opts);
      if ('refused' in copy) return { ...result, refused: [copy.refused] };
      archive = copy.fh;
    }
    return await extractFrom(archive, opts, result);
  } finally {
    if (archive !== source) await archive.close();
    await source.close();
  }
}

/**
 * Copies the archive into a private file while hashing it, and returns the copy
 * (open, its name already unlinked, so nothing can reach it by path and a crash
 * leaves nothing behind) only if it is byte for byte the inspected file. Never
 * copies more than the inspected size, so a larger file swapped in costs nothing.
 */
async function verifiedCopy(
  source: FileHandle,
  archivePath: string,
  copyPath: string,
  inspected: InspectedArchive,
  opts: Pick<ExtractOptions, 'signal' | 'onProgress'>,
): Promise<{ fh: FileHandle } | { refused: string }> {
  const changed = (what: string) => ({ refused: `the archive changed since it was inspected: ${what}; nothing was extracted` });
  const size = (await source.stat()).size;
  if (size !== inspected.bytes) return changed(`${archivePath} is now ${size} bytes, it was ${inspected.bytes}`);
  const copy = await open(copyPath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  await unlink(copyPath);
  try {
    const hash = createHash('sha256');
    // Two buffers: the next read runs while this chunk is hashed and written, so the check costs about one read.
    const bufs = [Buffer.allocUnsafe(4 * 1024 * 1024), Buffer.allocUnsafe(4 * 1024 * 1024)] as const;
    // One byte more than inspected is enough to know it grew.
    const readAt = (i: number, at: number) => source.read(bufs[i % 2]!, 0, Math.max(0, Math.min(bufs[0].length, inspected.bytes + 1 - at)), at);
    let pos = 0;
    let next = readAt(0, 0);
    for (let i = 0; ; i++) {
      opts.signal?.throwIfAborted();
      const { bytesRead } = await next;
      if (bytesRead === 0) break;
      if (pos + bytesRead > inspected.bytes) {
        await copy.close();
        return changed(`${archivePath} grew beyond the ${inspected.bytes} bytes inspected`);
      }
      next = readAt(i + 1, pos + bytesRead);
      const chunk = bufs[i % 2]!.subarray(0, bytesRead);
      const written = writeAll(copy, chunk, pos);
      hash.update(chunk);
      await written;
      pos += bytesRead;
      opts.onProgress?.(pos);
    }
    const sha256 = hash.digest('hex');
    if (pos !== inspected.bytes || sha256 !== inspected.sha256) {
      await copy.close();
      return changed(`sha256 is now ${sha256} (${pos} bytes), it was ${inspected.sha256}`);
    }
    return { fh: copy };
  } catch (err) {
    await copy.close().catch(() => undefined);
    throw err;
  }
}

async function writeAll(fh: FileHandle, chunk: Buffer, at: number): Promise<void> {
  let done = 0;
  while (done < chunk.length) done += (await fh.write(chunk, done, chunk.length - done, at + done)).bytesWritten;
}

async function extractFrom(archive: FileHandle, opts: ExtractOptions, result: ExtractResult): Promise<ExtractResult> {
  const { inspected } = opts;
  // Inspected in this pass: the checker judges every entry (every root's, restored or not) as a scan does.
  const check = opts.check && new ArchiveChecker((await archive.stat()).size, opts.check.manifest, opts.check.limits);
  const hash = check && createHash('sha256');
  // Checking, what is written stays within what the manifest lists for the roots restored (the space the caller checked).
  const listed = opts.check && manifestBounds(opts.check.manifest, opts.targets);
  let writtenEntries = 0;
  let writtenBytes = 0;
  const model = new ArchiveModel();
  const dirs: Array<{ path: string; mode: number; mtime?: Date; uid?: number; gid?: number }> = [];
  const created: ExtractTarget[] = [];
  // Entries are written one at a time, in archive order, so a hard link always finds its target.
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  // Rejected when the stream stops early (a limit, a refusal, an error), so a file waiting for its bytes does not wait forever.
  let stop: (err: unknown) => void = () => undefined;
  const stopped = new Promise<never>((_, reject) => {
    stop = reject;
  });
  stopped.catch(() => undefined);
  const real = new Map<ExtractTarget, string>();
  try {
    for (const t of opts.targets) {
      if (t.kind === 'folder') await mkdir(t.destination, { mode: 0o700 });
      else {
        // The caller's folder for the dump; the dump itself must not exist yet (O_EXCL below).
        await mkdir(dirname(t.destination), { recursive: true, mode: 0o700 });
      }
      created.push(t);
      real.set(t, await realpath(t.kind === 'folder' ? t.destination : dirname(t.destination)));
    }
  } catch (err) {
    await removeCreated(created);
    throw err;
  }

  // Folders known to be real folders at their expected real path. Nothing in this pass ever
  // removes or replaces a path (every create is exclusive), so a folder once checked stays so.
  const checked = new Set<string>();
  /** The real path `dir` must have, for the target it lies in. */
  const expectedReal = (t: ExtractTarget, dir: string) => {
    const base = t.kind === 'folder' ? t.destination : dirname(t.destination);
    const rel = relative(base, dir);
    if (rel.startsWith('..') || rel.startsWith(sep)) throw new Refusal(`"${dir}" is not inside ${base}`);
    return rel ? join(real.get(t)!, rel) : real.get(t)!;
  };
  const checkReal = async (t: ExtractTarget, dir: string, entry: string) => {
    if (checked.has(dir)) return;
    const want = expectedReal(t, dir);
    const got = await realpath(dir);
    if (got !== want) throw new Refusal(`"${entry}": its folder ${dir} really is ${got}, outside ${real.get(t)}; refusing to write there`);
    checked.add(dir);
  };
  /** Makes `dir` and the folders above it inside the target, one at a time, never through a link. */
  const ensureDir = async (t: ExtractTarget, dir: string, entry: string) => {
    if (checked.has(dir)) return;
    const base = t.kind === 'folder' ? t.destination : dirname(t.destination);
    let cur = base;
    for (const part of relative(base, dir).split(sep).filter(Boolean)) {
      cur = join(cur, part);
      if (checked.has(cur)) continue;
      try {
        await mkdir(cur, { mode: 0o700 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const st = await lstat(cur);
        if (!st.isDirectory()) throw new Refusal(`"${entry}": ${cur} exists and is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}; refusing to write through it`);
      }
      await checkReal(t, cur, entry);
    }
    await checkReal(t, dir, entry);
  };

  const destinationOf = (target: ExtractTarget, archivePath: string) => {
    const rest = normalizeArchivePath(archivePath).slice(target.archivePath.length);
    return target.kind === 'file' ? target.destination : join(target.destination, rest);
  };

  let entries = 0;
  let fileBytes = 0;

  const write = async (entry: ReadEntry): Promise<void> => {
    const path = normalizeArchivePath(entry.path);
    const type = normalizeType(entry.type);
    const target = rootOf(opts.targets, path);
    // Entries of roots not restored here are skipped (an absolute path matches no target either).
    if (!target) return void entry.resume();
    const problem = entryProblem(entry, opts.targets, model);
    model.record(entry, problem !== undefined);
    if (problem || !type) throw new Refusal(problem ?? `"${entry.path}": not restored`);
    const dest = destinationOf(target, path);
    switch (type) {
      case 'Directory':
        if (target.kind === 'folder') await ensureDir(target, dest, entry.path);
        dirs.push({ path: dest, mode: entry.mode ?? 0o755, ...(entry.mtime ? { mtime: entry.mtime } : {}), ...owner(entry) });
        entry.resume();
        return;
      case 'File':
        await ensureDir(target, dirname(dest), entry.path);
        await writeFileEntry(entry, dest);
        return;
      case 'SymbolicLink': {
        // Where it leads was judged by entryProblem (spelled and through the archive's other links), from its real folder.
        await ensureDir(target, dirname(dest), entry.path);
        await symlink(entry.linkpath ?? '', dest);
        if (entry.mtime) await lutimes(dest, entry.mtime, entry.mtime);
        if (isRoot && entry.uid !== undefined && entry.gid !== undefined) await lchown(dest, entry.uid, entry.gid);
        entry.resume();
        return;
      }
      case 'Link': {
        const linkTarget = normalizeArchivePath(entry.linkpath ?? '');
        const from = destinationOf(target, linkTarget);
        // On disk too: link() on a symlink would link the symlink itself, so only a regular file reached without a link.
        await checkReal(target, dirname(from), entry.path);
        const st = await lstat(from);
        if (!st.isFile()) throw new Refusal(`hard link "${entry.path}" -> "${linkTarget}": ${from} is not a regular file on disk; only regular files inside the root are hard-linked`);
        await ensureDir(target, dirname(dest), entry.path);
        await link(from, dest);
        result.files += 1;
        entry.resume();
        return;
      }
    }
  };

  const writeFileEntry = async (entry: ReadEntry, dest: string) => {
    // Exclusive and never through a link; private until its mode is set. Synchronous calls on one
    // descriptor: each is a page-cache copy or a metadata update of a few microseconds, and a round
    // trip through libuv's thread pool per call made extraction twice as slow as `tar -x`.
    const fd = openSync(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    // Once closed, a write still in the loop must not reach whatever file reuses the descriptor's number.
    let writable = true;
    try {
      const copy = (async () => {
        for await (const chunk of entry as AsyncIterable<Buffer>) {
          if (!writable) return;
          let done = 0;
          while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done);
        }
      })();
      copy.catch(() => undefined);
      await Promise.race([copy, stopped]);
      const { mode, mtime, uid, gid } = entry;
      fchmodSync(fd, (mode ?? 0o644) & 0o7777);
      if (mtime) futimesSync(fd, mtime, mtime);
      if (isRoot && uid !== undefined && gid !== undefined) fchownSync(fd, uid, gid);
    } finally {
      writable = false;
      closeSync(fd);
    }
    result.files += 1;
    result.bytes += entry.size ?? 0;
  };

  const refuse = (err: unknown) => {
    failure ??= err;
  };
  const parser = new Parser({
    // Checking: a bad header is a problem to report (as a scan does), not an error.
    strict: !check,
    ...(check ? { onwarn: (code: string, message: string) => check.problem(`tar: ${code} ${message}`) } : {}),
    onReadEntry: (entry: ReadEntry) => {
      entry.pause();
      const verdict = check?.entry(entry);
      // Counted before anything is written: an archive that holds more than was inspected (or than its manifest lists) stops here.
      entries += 1;
      if (normalizeType(entry.type) === 'File') fileBytes += entry.size ?? 0;
      let over: string | undefined;
      if (inspected && entries > inspected.entries) over = `the archive holds more than the ${inspected.entries} entries inspected`;
      else if (inspected && fileBytes > inspected.fileBytes) over = `the archive holds more than the ${inspected.fileBytes} bytes of files inspected`;
      // Only what will be written counts (an entry refused is reported as such, and never written).
      else if (listed && !verdict?.problem && normalizeType(entry.type) && rootOf(opts.targets, entry.path)) {
        writtenEntries += 1;
        if (normalizeType(entry.type) === 'File') writtenBytes += entry.size ?? 0;
        if (writtenEntries > listed.entries) over = `the roots restored hold more than the ${listed.entries} entries the manifest lists`;
        else if (writtenBytes > listed.fileBytes) over = `the roots restored hold more than the ${listed.fileBytes} bytes of files the manifest lists`;
        if (over) check!.problem(over);
      }
      if (over || check?.limitExceeded) refuse(new Refusal(over ?? check!.limitExceeded!.message));
      chain = chain.then(async () => {
        // Once the check failed nothing more is written; the pass reads on to name every problem.
        if (failure || check?.failed) return void entry.resume();
        try {
          await write(entry);
        } catch (err) {
          refuse(err);
          entry.resume();
        }
      });
    },
  });
  let read = 0;
  const offset = inspected ? inspected.bytes : 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash?.update(chunk);
      read += chunk.length;
      opts.onProgress?.(offset + read);
      cb(null, chunk);
    },
  });
  let tarBytes = 0;
  const sink = parserSink(parser, (chunk) => {
    tarBytes += chunk.length;
    if (inspected && tarBytes > inspected.tarBytes) refuse(new Refusal(`the archive decompresses to more than the ${inspected.tarBytes} bytes inspected`));
    if (check && !check.tar(chunk.length)) refuse(new Refusal(check.limitExceeded!.message));
    // Stop reading at the first refusal: nothing more is written, and a bomb is not decompressed further.
    if (failure) throw failure;
  });
  try {
    const gunzip = await pickReader(inspected?.compressor ?? opts.check?.manifest.compressor);
    await gunzip.run(readInto(archive, counter), sink, opts.signal ?? new AbortController().signal);
  } catch (err) {
    if (check && !failure && !opts.signal?.aborted) {
      // Checking, a stream that does not read to its end (corrupt, truncated) is the archive's problem, as in a
      // scan: refused below with the checker's verdict, and a file waiting for its bytes stops as refused too.
      check.problem(`the archive does not read back whole: ${(err as Error).message}`);
      stop(new Refusal('the archive stopped before its end'));
    } else {
      failure ??= err;
      stop(failure);
    }
  }
  await chain;
  if (failure !== undefined && !(failure instanceof Refusal)) {
    await removeCreated(created);
    throw failure;
  }
  const scan = check?.finish(hash!.digest('hex'), read);
  const verdict = scan && scanRefusal(scan);
  if (verdict) failure = new Refusal(verdict);
  if (!failure) {
    const chains = symlinkChainProblems(opts.targets, model);
    if (chains.length) failure = new Refusal(chains.join('; '));
  }
  if (failure) {
    await removeCreated(created);
    return { files: 0, bytes: 0, refused: [(failure as Refusal).message], ...(scan ? { scan } : {}) };
  }
  try {
    // Folder modes and times last, deepest first: writing their contents changed the times.
    for (const d of dirs.reverse()) {
      const fh = await open(d.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      try {
        await fh.chmod(d.mode & 0o7777);
        if (isRoot && d.uid !== undefined && d.gid !== undefined) await fh.chown(d.uid, d.gid);
        if (d.mtime) await fh.utimes(d.mtime, d.mtime);
      } finally {
        await fh.close();
      }
    }
  } catch (err) {
    await removeCreated(created);
    throw err;
  }
  return { ...result, ...(scan ? { scan } : {}) };
}

/** What a manifest lists for the roots extracted: a checking pass writes no more (the caller's free-space check used these). */
function manifestBounds(manifest: BackupManifest, targets: readonly ExtractTarget[]): { entries: number; fileBytes: number } {
  let entries = 0;
  let fileBytes = 0;
  for (const r of manifest.roots) {
    if (!targets.some((t) => t.archivePath === r.archivePath)) continue;
    entries += r.entries.files + r.entries.directories + r.entries.symlinks + r.entries.hardlinks;
    fileBytes += r.bytes;
  }
  return { entries, fileBytes };
}

/** Removes what the pass made (links inside are removed, never followed). */
async function removeCreated(created: readonly ExtractTarget[]): Promise<void> {
  for (const t of created) await rm(t.destination, { recursive: true, force: true });
}

function owner(entry: ReadEntry): { uid?: number; gid?: number } {
  return entry.uid !== undefined && entry.gid !== undefined ? { uid: entry.uid, gid: entry.gid } : {};
}
