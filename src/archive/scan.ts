/**
 * One streaming pass over an archive: sha256 and size of the file, every entry
 * read back whole and checked against the manifest, and the safety rules a
 * restore needs. Verification (backup, maintenance, `backups verify`), the
 * restore's pre-flight and the one-pass staging of a recovery
 * (`extractRoots` with `check`) all judge entries with one {@link ArchiveChecker}.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Transform } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import { pickReader } from './compress.js';
import { ArchiveModel, entryProblem, symlinkChainProblems, type EntryHeader, type EntryRoot } from './entry-rules.js';
import { parserSink } from './parser-sink.js';
import { openRegularFile, readInto } from './read-into.js';
import { normalizeArchivePath, normalizeType, rootOf, RootTally } from './listing.js';
import type { BackupManifest, ManifestRoot } from './manifest.js';

/** Bounds a scan stops at; a restore's inspection sets them, so a bomb is refused before it is extracted anywhere. */
export interface ScanLimits {
  /** Refuse once the tar stream is more than this many times the compressed file (an honest manifest can describe a bomb). */
  maxCompressionRatio?: number;
  /** Refuse once the archive holds more entries than this. */
  maxEntries?: number;
}

export interface ScanOptions {
  archivePath: string;
  /** Without a manifest only "does it read back whole" and the path rules can be checked (each top-level folder counts as a root). */
  manifest?: BackupManifest;
  /** Write each database dump found to this folder (for `pg_restore`). */
  extractDumpsTo?: string;
  limits?: ScanLimits;
  signal?: AbortSignal;
  /** Compressed bytes read so far, and the file's size. */
  onProgress?: (bytesRead: number, total: number) => void;
}

export interface ScanResult {
  sha256: string;
  bytes: number;
  entries: number;
  fileBytes: number;
  /** Bytes of the uncompressed tar stream (as far as read). */
  tarBytes: number;
  /** Mismatches with the manifest (checksum, counts, bytes, listing): the archive is not the one described. */
  problems: string[];
  /** Entries a restore must refuse (absolute paths, `..`, escaping links, devices, FIFOs, entries outside the roots). */
  unsafe: string[];
  /** A limit of {@link ScanOptions.limits} was reached; the scan stopped there, so counts and sha256 are partial. */
  limitExceeded?: { limit: keyof ScanLimits; message: string };
  /** Dump files written to `extractDumpsTo`, by root archive path. */
  dumps: Record<string, string>;
}

const MAX_LISTED = 20;

/**
 * The checks of one pass over an archive, fed entry by entry and chunk by
 * chunk by whoever reads it (a scan, or an extraction that writes as it
 * checks): entry and size limits, the path and link rules for every entry, and
 * each root's counts, bytes and listing against the manifest; {@link finish}
 * adds the file's sha256 and size.
 */
export class ArchiveChecker {
  readonly problems: string[] = [];
  readonly unsafe: string[] = [];
  limitExceeded: ScanResult['limitExceeded'];
  readonly #roots: EntryRoot[];
  readonly #tallies: Map<EntryRoot, RootTally>;
  readonly #unrooted = new RootTally();
  readonly #model = new ArchiveModel();
  readonly #maxTarBytes: number;
  #seen = 0;
  tarBytes = 0;

  constructor(
    readonly size: number,
    readonly manifest: BackupManifest | undefined,
    readonly limits: ScanLimits = {},
  ) {
    this.#roots = manifest?.roots ?? [];
    this.#tallies = new Map(this.#roots.map((r) => [r, new RootTally()]));
    this.#maxTarBytes = limits.maxCompressionRatio === undefined ? Infinity : limits.maxCompressionRatio * size;
    if (manifest && size !== manifest.bytes) this.problems.push(`size is ${size} bytes, the manifest says ${manifest.bytes}`);
  }

  /** Whether the archive already cannot be restored: a limit, an unsafe entry or a mismatch seen so far. */
  get failed(): boolean {
    return this.limitExceeded !== undefined || this.unsafe.length > 0 || this.problems.length > 0;
  }

  /**
   * Judges and counts one entry; returns its root and why it must not be restored (if so).
   * Past a limit nothing is judged any more (`limitExceeded` is set): stop reading.
   */
  entry(entry: EntryHeader & { size?: number }): { root: EntryRoot | undefined; problem: string | undefined } {
    this.#seen += 1;
    const { limits } = this;
    if (limits.maxEntries !== undefined && this.#seen > limits.maxEntries && !this.limitExceeded) {
      this.limitExceeded = { limit: 'maxEntries', message: `it holds more than ${limits.maxEntries} entries (entry limit ${limits.maxEntries})` };
    }
    if (this.limitExceeded) return { root: undefined, problem: this.limitExceeded.message };
    const path = entry.path;
    const type = normalizeType(entry.type);
    // Without a manifest, each top-level folder stands for a root, so the path and link rules still apply.
    if (!this.manifest && !path.startsWith('/')) {
      const top = normalizeArchivePath(path).split('/')[0] ?? '';
      if (top && !this.#roots.some((r) => r.archivePath === top)) this.#roots.push({ archivePath: top, kind: 'folder' });
    }
    const root = rootOf(this.#roots, path);
    const problem = entryProblem(entry, this.#roots, this.#model);
    this.#model.record(entry, problem !== undefined);
    if (problem) this.#refuse(problem);
    const tally = this.manifest && root ? this.#tallies.get(root) : undefined;
    if (type) (tally ?? this.#unrooted).add(type, path, type === 'File' ? (entry.size ?? 0) : 0);
    return { root, problem };
  }

  /** Counts decompressed bytes before the parser sees them; false once past the compression limit (a bomb): stop reading. */
  tar(chunkBytes: number): boolean {
    this.tarBytes += chunkBytes;
    if (this.tarBytes > this.#maxTarBytes && !this.limitExceeded) {
      const { maxCompressionRatio } = this.limits;
      this.limitExceeded = {
        limit: 'maxCompressionRatio',
        message: `it decompresses to more than ${maxCompressionRatio} times its ${this.size} compressed bytes (more than ${this.#maxTarBytes} bytes; ratio limit ${maxCompressionRatio}), as a decompression bomb does`,
      };
    }
    return !this.limitExceeded;
  }

  /** A tar warning or a stream that stopped early: the archive is not what its manifest describes. */
  problem(message: string): void {
    this.problems.push(message);
  }

  /** The verdict once the whole file was read (`read` bytes hashing to `sha256`). */
  finish(sha256: string, read: number, dumps: Record<string, string> = {}): ScanResult {
    const { manifest, problems, unsafe, size } = this;
    if (this.limitExceeded) return { sha256, bytes: size, entries: this.#seen, fileBytes: 0, tarBytes: this.tarBytes, problems: collapse(problems), unsafe, limitExceeded: this.limitExceeded, dumps };
    for (const p of symlinkChainProblems(this.#roots, this.#model)) this.#refuse(p);
    if (manifest && read === size && sha256 !== manifest.sha256) problems.unshift(`sha256 is ${sha256}, the manifest says ${manifest.sha256}`);
    // Written to while it was read (grown, or cut and rewritten shorter): what was read is not the file that was opened.
    const cutShort = problems.some((p) => p.startsWith('the archive does not read back whole'));
    if (read !== size && !cutShort) problems.unshift(`it changed while it was read (${read} bytes read, ${size} when it was opened)`);
    const readable = !problems.some((p) => p.startsWith('the archive does not read back whole') || p.startsWith('tar: '));
    let entries = this.#unrooted.count;
    let fileBytes = this.#unrooted.bytes;
    for (const root of manifest?.roots ?? []) {
      const t = this.#tallies.get(root)!;
      entries += t.count;
      fileBytes += t.bytes;
      // An archive that does not read back has no meaningful per-root counts.
      if (!readable) continue;
      checkRoot(root, t, problems);
    }
    return { sha256, bytes: size, entries, fileBytes, tarBytes: this.tarBytes, problems: collapse(problems), unsafe, dumps };
  }

  #refuse(why: string): void {
    const { unsafe } = this;
    if (unsafe.includes(why)) return;
    if (unsafe.length < MAX_LISTED) unsafe.push(why);
    else if (unsafe.length === MAX_LISTED) unsafe.push('... more unsafe entries not listed');
  }
}

/**
 * Reads the archive once, through a handle opened without following links: its
 * sha256 and size, every entry judged by {@link entryProblem} and counted against
 * the manifest.
 * @throws when the archive cannot be opened, or is a symbolic link or not a regular file.
 */
export async function scanArchive(opts: ScanOptions): Promise<ScanResult> {
  const { manifest } = opts;
  const dumps: Record<string, string> = {};
  const pendingWrites: Promise<void>[] = [];

  const { fh, size } = await openRegularFile(opts.archivePath, 'an archive');
  try {
    const check = new ArchiveChecker(size, manifest, opts.limits);
    const onEntry = (entry: ReadEntry) => {
      const { root, problem } = check.entry(entry);
      if (check.limitExceeded) return void entry.resume();
      if (!problem && root?.kind === 'pg_dump' && normalizeType(entry.type) === 'File' && opts.extractDumpsTo) {
        const out = join(opts.extractDumpsTo, basename(root.archivePath));
        dumps[root.archivePath] = out;
        // A private temporary folder, one file per dump root (the rules refuse a second entry): never an existing file.
        const ws = createWriteStream(out, { flags: 'wx', mode: 0o600 });
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
    const parser = new Parser({ strict: false, onReadEntry: onEntry, onwarn: (code: string, message: string) => check.problem(`tar: ${code} ${message}`) });
    const stopped = new Error('scan stopped at a limit');
    // The decompressed stream is counted before the parser sees it: a bomb stops here, whatever its entries say.
    const sinkToParser = parserSink(parser, (chunk) => {
      if (!check.tar(chunk.length)) throw stopped;
    });
    try {
      const gunzip = await pickReader(opts.manifest?.compressor);
      await gunzip.run(readInto(fh, hasher), sinkToParser, opts.signal ?? new AbortController().signal);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      if (!check.limitExceeded) check.problem(`the archive does not read back whole: ${(err as Error).message}`);
    }
    await Promise.allSettled(pendingWrites);
    opts.onProgress?.(read, size);
    return check.finish(hash.digest('hex'), read, dumps);
  } finally {
    await fh.close();
  }
}

function checkRoot(root: ManifestRoot, t: RootTally, problems: string[]): void {
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

/** Repeated problems once, with a count: a corrupt stream repeats the same tar warning for every header. */
function collapse(problems: string[]): string[] {
  const counts = new Map<string, number>();
  for (const p of problems) counts.set(p, (counts.get(p) ?? 0) + 1);
  return [...counts].map(([p, n]) => (n > 1 ? `${p} (${n} times)` : p));
}

/**
 * Why a scanned archive must not be restored, or undefined when it may: the
 * first of a limit reached (a bomb: the other counts are partial), a mismatch
 * with the manifest, unsafe entries.
 */
export function scanRefusal(scan: ScanResult): string | undefined {
  if (scan.limitExceeded) return `${scan.limitExceeded.message} (config recovery.${scan.limitExceeded.limit})`;
  if (scan.problems.length) return `the archive does not match its manifest: ${scan.problems.join('; ')}`;
  if (scan.unsafe.length) return `unsafe entries: ${scan.unsafe.join('; ')}`;
  return undefined;
}
