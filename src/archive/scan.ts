/**
 * One streaming pass over an archive: sha256 and size of the file, every entry
 * read back whole and checked against the manifest, and the safety rules a
 * restore needs. Verification (backup, maintenance, `backups verify`) and the
 * restore's pre-flight both use this one implementation.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { Transform } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import { pickDecompressor } from './compress.js';
import { parserSink } from './parser-sink.js';
import { readInto } from './read-into.js';
import { isWithin, normalizeArchivePath, normalizeType, resolveThroughLinks, rootOf, RootTally } from './listing.js';
import type { BackupManifest, ManifestRoot } from './manifest.js';

export interface ScanOptions {
  archivePath: string;
  /** Without a manifest only "does it read back whole" and the path rules can be checked. */
  manifest?: BackupManifest;
  /** Write each database dump found to this folder (for `pg_restore`). */
  extractDumpsTo?: string;
  signal?: AbortSignal;
  /** Compressed bytes read so far, and the file's size. */
  onProgress?: (bytesRead: number, total: number) => void;
}

export interface ScanResult {
  sha256: string;
  bytes: number;
  entries: number;
  fileBytes: number;
  /** Mismatches with the manifest (checksum, counts, bytes, listing): the archive is not the one described. */
  problems: string[];
  /** Entries a restore must refuse (absolute paths, `..`, escaping links, devices, FIFOs, entries outside the roots). */
  unsafe: string[];
  /** Dump files written to `extractDumpsTo`, by root archive path. */
  dumps: Record<string, string>;
}

const MAX_LISTED = 20;

export async function scanArchive(opts: ScanOptions): Promise<ScanResult> {
  const { manifest } = opts;
  const problems: string[] = [];
  const unsafe: string[] = [];
  const roots = manifest?.roots ?? [];
  const tallies = new Map<ManifestRoot, RootTally>(roots.map((r) => [r, new RootTally()]));
  const dumps: Record<string, string> = {};
  const unrooted = new RootTally();
  const pendingWrites: Promise<void>[] = [];
  const refuse = (why: string) => {
    if (unsafe.length < MAX_LISTED) unsafe.push(why);
    else if (unsafe.length === MAX_LISTED) unsafe.push('... more unsafe entries not listed');
  };

  const size = (await stat(opts.archivePath)).size;
  if (manifest && size !== manifest.bytes) problems.push(`size is ${size} bytes, the manifest says ${manifest.bytes}`);

  // Every symlink, and every hard link with its root, for the checks that need the whole archive (below).
  const symlinks = new Map<string, string>();
  const symlinkRoots = new Map<string, ManifestRoot>();
  const hardlinks: Array<{ path: string; target: string }> = [];

  const onEntry = (entry: ReadEntry) => {
    const path = entry.path;
    const type = normalizeType(entry.type);
    const where = `"${path}"`;
    if (path.startsWith('/')) refuse(`absolute path ${where}`);
    const segments = path.split('/');
    if (segments.includes('..')) refuse(`path with ".." ${where}`);
    const root = rootOf(roots, path);
    if (!root && manifest) refuse(`entry ${where} is outside every root in the manifest`);
    if (!type) refuse(`${entry.type} entry ${where}: only files, folders and links are restored`);
    const parent = posix
      .dirname(normalizeArchivePath(path))
      .split('/')
      .filter((p) => p && p !== '.')
      .join('/');
    if (!segments.includes('..') && resolveThroughLinks(parent, symlinks) !== parent) refuse(`entry ${where} lies under a symlink`);
    if (type === 'SymbolicLink' && root) {
      symlinks.set(normalizeArchivePath(path), entry.linkpath ?? '');
      symlinkRoots.set(normalizeArchivePath(path), root);
    }
    if (type === 'Link' && root && entry.linkpath) hardlinks.push({ path, target: normalizeArchivePath(entry.linkpath) });
    if (type === 'SymbolicLink') {
      const target = entry.linkpath ?? '';
      if (target.startsWith('/')) refuse(`symlink ${where} points to the absolute path "${target}"`);
      else if (root) {
        const resolved = posix.normalize(posix.join(posix.dirname(normalizeArchivePath(path)), target));
        if (!(resolved === root.archivePath || resolved.startsWith(`${root.archivePath}/`))) {
          refuse(`symlink ${where} -> "${target}" leaves its root ${root.archivePath}`);
        }
      }
    }
    if (type === 'Link') {
      const target = entry.linkpath ?? '';
      const linkRoot = rootOf(roots, target);
      if (target.startsWith('/') || target.split('/').includes('..') || !root || linkRoot !== root) {
        refuse(`hard link ${where} -> "${target}" leaves its root`);
      }
    }
    if (type) (root ? tallies.get(root)! : unrooted).add(type, path, type === 'File' ? (entry.size ?? 0) : 0);
    if (root?.kind === 'pg_dump' && type === 'File' && opts.extractDumpsTo) {
      const out = join(opts.extractDumpsTo, basename(root.archivePath));
      dumps[root.archivePath] = out;
      const ws = createWriteStream(out, { mode: 0o600 });
      pendingWrites.push(
        new Promise<void>((resolve, reject) => {
          ws.once('close', () => resolve());
          ws.once('error', reject);
        }),
      );
      entry.pipe(ws);
      return;
    }
    entry.resume();
  };

  if (opts.extractDumpsTo) await mkdir(opts.extractDumpsTo, { recursive: true, mode: 0o700 });
  const hash = createHash('sha256');
  let read = 0;
  let lastReport = 0;
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      read += chunk.length;
      if (opts.onProgress && read - lastReport >= 8 * 1024 * 1024) {
        lastReport = read;
        opts.onProgress(read, size);
      }
      cb(null, chunk);
    },
  });
  const parser = new Parser({
    strict: false,
    onReadEntry: onEntry,
    onwarn: (code: string, message: string) => {
      problems.push(`tar: ${code} ${message}`);
    },
  });
  const sinkToParser = parserSink(parser);
  try {
    const gunzip = await pickDecompressor();
    await gunzip.run(readInto(opts.archivePath, hasher), sinkToParser, opts.signal ?? new AbortController().signal);
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    problems.push(`the archive does not read back whole: ${(err as Error).message}`);
  }
  await Promise.allSettled(pendingWrites);
  opts.onProgress?.(read, size);

  // Links judged by where they really lead, with every symlink of the archive in place:
  // a chain such as `sub/a -> ..` then `esc -> sub/a/..` is spelled inside its root but is not.
  for (const [path, target] of symlinks) {
    const root = symlinkRoots.get(path)!;
    const resolved = resolveThroughLinks(path, symlinks);
    if (!target.startsWith('/') && (resolved === undefined || !isWithin(root.archivePath, resolved))) {
      refuse(`symlink "${path}" -> "${target}" leads outside its root ${root.archivePath} through the archive's other symlinks`);
    }
  }
  for (const h of hardlinks) {
    const dir = posix.dirname(h.target);
    if (!h.target.split('/').includes('..') && resolveThroughLinks(dir, symlinks) !== dir) refuse(`hard link "${h.path}" -> "${h.target}" goes through a symlink`);
  }

  const sha256 = hash.digest('hex');
  if (manifest && read === size && sha256 !== manifest.sha256) problems.unshift(`sha256 is ${sha256}, the manifest says ${manifest.sha256}`);
  const readable = !problems.some((p) => p.startsWith('the archive does not read back whole') || p.startsWith('tar: '));

  let entries = unrooted.count;
  let fileBytes = unrooted.bytes;
  for (const root of roots) {
    const t = tallies.get(root)!;
    entries += t.count;
    fileBytes += t.bytes;
    // An archive that does not read back has no meaningful per-root counts.
    if (!readable) continue;
    const want = root.entries;
    const got = t.entries;
    if (got.files !== want.files || got.directories !== want.directories || got.symlinks !== want.symlinks || got.hardlinks !== want.hardlinks) {
      problems.push(
        `${root.archivePath}: ${got.files} files, ${got.directories} folders, ${got.symlinks} symlinks, ${got.hardlinks} hard links; the manifest says ${want.files}, ${want.directories}, ${want.symlinks}, ${want.hardlinks}`,
      );
    }
    if (t.bytes !== root.bytes) problems.push(`${root.archivePath}: ${t.bytes} bytes of files, the manifest says ${root.bytes}`);
    const digest = t.digest();
    if (digest !== root.listingSha256 && t.count === root.entries.files + root.entries.directories + root.entries.symlinks + root.entries.hardlinks) {
      problems.push(`${root.archivePath}: the entries differ from the manifest's listing`);
    }
  }
  return { sha256, bytes: size, entries, fileBytes, problems: collapse(problems), unsafe, dumps };
}

/** Repeated problems once, with a count: a corrupt stream repeats the same tar warning for every header. */
function collapse(problems: string[]): string[] {
  const counts = new Map<string, number>();
  for (const p of problems) counts.set(p, (counts.get(p) ?? 0) + 1);
  return [...counts].map(([p, n]) => (n > 1 ? `${p} (${n} times)` : p));
}
