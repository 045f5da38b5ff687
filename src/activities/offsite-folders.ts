/**
 * Restic targets with layout `folders`: restic reads the snapshot copies
 * itself, each seen at its original path, so a night stores (and reads) only
 * what changed since the last backup, by restic's own change detection against
 * the previous snapshot.
 *
 * One snapshot per backup (`part=folders`), tagged like the `tar` layout's:
 * - each folder root at its original absolute path: a private mount namespace
 *   ({@link withPrivateMounts}) shows restic the root's copy in the snapshot
 *   copy kept between backups (`<staging>/mcp_mirror_<host>/root/<path>`,
 *   stop-mode roots copied while their owners were stopped, online roots
 *   brought up to date with the services running) read-only at that path;
 * - the database dump, and the manifest (`mcp-runbooks-manifest.json`), at
 *   their paths inside that copy.
 * The manifest is made from the copies restic reads: each root tallied by
 * walking it as GNU tar would pack it ({@link tallyTree}), each file's sha256
 * (kept between nights for files whose inode, size, mtime and ctime are the
 * same), and `stored.paths`: where each root is in the snapshot.
 *
 * Restoring: `restic restore` of the snapshot into a private folder, then the
 * roots packed from there into a tar (GNU tar, as every archive), which must
 * match the manifest entry for entry (listing digest, counts, bytes, each file's
 * sha256) before it goes on to the same inspection and extraction as any
 * archive. Nothing restic returns is trusted before that.
 */
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { link, lstat, mkdir, readFile, rename, rm, statfs, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config/config.js';
import { pickReader, UNCOMPRESSED } from '../archive/compress.js';
import { canPackWithGnuTar, writeArchive } from '../archive/create.js';
import { isWithin, type RootTally } from '../archive/listing.js';
import { writeFileDurably, type BackupManifest } from '../archive/manifest.js';
import { mirrorDir } from '../archive/staging.js';
import { tallyTree } from '../archive/walk-tally.js';
import type { Bind } from '../targets/private-mounts.js';
import { buildManifest, copyIntoMirror, readDumpFacts, type BackupPlan } from './backup.js';

/** The manifest's name inside a `folders` snapshot. */
export const FOLDERS_MANIFEST = 'mcp-runbooks-manifest.json';

/** What a `folders` manifest adds: where each root is in the snapshot. */
export interface FoldersStored {
  target: string;
  layout: 'folders';
  /** Each root's absolute path in the snapshot, by archive path. */
  paths: Record<string, string>;
}

export type FoldersManifest = BackupManifest & { stored: FoldersStored };

type DigestCache = Record<string, [string, number, number, number, string]>;

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * Everything a `folders` backup stores, ready in the snapshot copy: the online roots brought up to
 * date, the dump linked in, each root tallied, the manifest written. Returns the manifest, the bind
 * mounts that show each folder root at its original path, and the paths to give restic.
 */
export async function prepareFolders(
  config: Config,
  req: { plan: BackupPlan; target: string; workflowId: string; reason?: string | undefined; downtime: BackupManifest['downtime'] },
  opts: { signal?: AbortSignal | undefined; onProgress?: (done: number) => void },
): Promise<{ manifest: FoldersManifest; binds: Bind[]; paths: string[]; skipped: string[] }> {
  const { plan } = req;
  const mirror = mirrorDir(config.backup.stagingDir, config.hostId);
  const inMirror = (ap: string) => join(mirror, 'root', ap);
  let copied = 0;
  const skipped: string[] = [];
  for (const s of plan.sources) {
    if (s.mode === 'online') {
      // Copied with the services running, as the archive reads them live: only what changed since the last copy.
      const c = await copyIntoMirror(config, { archivePath: s.archivePath, originalPath: s.originalPath }, { signal: opts.signal, onProgress: (b) => opts.onProgress?.(copied + b) });
      copied += c.bytes;
      skipped.push(...c.skipped);
    } else if (s.archiveFrom !== inMirror(s.archivePath)) {
      throw new Error(`${s.originalPath} was copied to ${s.archiveFrom}, not into the snapshot copy kept between backups`);
    }
  }
  const roots: Array<{ archivePath: string; path: string }> = plan.sources.map((s) => ({ archivePath: s.archivePath, path: inMirror(s.archivePath) }));
  if (plan.dump) {
    // Beside the folders, under the same name every night (restic finds the previous snapshot by its paths).
    const at = inMirror(plan.dump.archivePath);
    await mkdir(dirname(at), { recursive: true, mode: 0o700 });
    await rm(at, { force: true });
    await link(plan.dump.stagingPath, at);
    roots.push({ archivePath: plan.dump.archivePath, path: at });
  }
  const cacheFile = join(mirror, 'restic', 'digests.json');
  await mkdir(dirname(cacheFile), { recursive: true, mode: 0o700 });
  const cache = await readFile(cacheFile, 'utf8').then((t) => JSON.parse(t) as DigestCache, () => ({}) as DigestCache);
  const next: DigestCache = {};
  let entries = 0;
  const digest = async (path: string, _name: string, st: Stats) => {
    const key: [string, number, number, number] = [`${st.dev}:${st.ino}`, st.size, st.mtimeMs, st.ctimeMs];
    const known = cache[path];
    const sha = known && known[0] === key[0] && known[1] === key[1] && known[2] === key[2] && known[3] === key[3] ? known[4] : await sha256File(path);
    next[path] = [...key, sha];
    return sha;
  };
  const tallies: Array<{ archivePath: string; tally: RootTally }> = [];
  for (const r of roots) {
    const base = entries;
    tallies.push({ archivePath: r.archivePath, tally: await tallyTree(r.path, r.archivePath, { signal: opts.signal, digest, onProgress: (n) => opts.onProgress?.(copied + base + n) }) });
    entries += tallies.at(-1)!.tally.count;
  }
  await writeFile(`${cacheFile}.tmp`, JSON.stringify(next), { mode: 0o600 });
  await rename(`${cacheFile}.tmp`, cacheFile);
  const paths = Object.fromEntries(roots.map((r) => [r.archivePath, plan.sources.find((s) => s.archivePath === r.archivePath)?.originalPath ?? r.path]));
  const totals = tallies.reduce((n, r) => n + r.tally.bytes, 0);
  const manifest: FoldersManifest = {
    ...buildManifest({ config, plan, roots: tallies, sha256: '', bytes: totals, compressor: UNCOMPRESSED, workflowId: req.workflowId, reason: req.reason, downtime: req.downtime, ...(await readDumpFacts(plan)) }),
    stored: { target: req.target, layout: 'folders', paths },
  };
  const manifestFile = join(mirror, 'restic', FOLDERS_MANIFEST);
  await writeFileDurably(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`, 0o600);
  const binds = plan.sources.map((s) => ({ from: inMirror(s.archivePath), to: s.originalPath }));
  return { manifest, binds, paths: [...Object.values(paths), manifestFile], skipped };
}

/** The manifest's path in a `folders` snapshot: the one path of the snapshot named {@link FOLDERS_MANIFEST}. */
export function foldersManifestPath(snapshotPaths: readonly string[]): string | undefined {
  const found = snapshotPaths.filter((p) => p.endsWith(`/${FOLDERS_MANIFEST}`));
  return found.length === 1 ? found[0] : undefined;
}

/** Why a `folders` manifest read from a repository cannot be used (its stored paths), or undefined. */
export function foldersManifestProblem(m: BackupManifest): string | undefined {
  const stored = (m as Partial<FoldersManifest>).stored;
  if (stored?.layout !== 'folders' || typeof stored.paths !== 'object' || stored.paths === null) return 'it does not say where its roots are in the snapshot';
  const paths: string[] = [];
  const names = new Set<string>();
  for (const r of m.roots) {
    if (typeof r?.archivePath !== 'string' || names.has(r.archivePath)) return `a root without a name of its own (${JSON.stringify(r?.archivePath)})`;
    names.add(r.archivePath);
    const e = r.entries as unknown as Record<string, unknown> | undefined;
    if (!e || !['files', 'directories', 'symlinks', 'hardlinks'].every((k) => Number.isSafeInteger(e[k])) || !Number.isSafeInteger(r.bytes) || typeof r.listingSha256 !== 'string') return `root ${r.archivePath} has no counts, bytes or listing digest`;
    // Every folders backup this tool writes hashes each file: a manifest without them would skip that check.
    if (r.entries.files > 0 && (typeof r.files !== 'object' || r.files === null)) return `root ${r.archivePath} lists no file sha256s`;
    const p = stored.paths[r.archivePath];
    if (typeof p !== 'string' || !p.startsWith('/') || p.split('/').slice(1).some((c) => c === '' || c === '.' || c === '..')) return `root ${r.archivePath} has no plain absolute path in the snapshot (${JSON.stringify(p)})`;
    // A folder is stored at its original path, and restored to it: nowhere else.
    if (r.kind !== 'pg_dump' && p !== `/${r.archivePath}`) return `root ${r.archivePath} is said to be at ${p} in the snapshot, not at its own path`;
    paths.push(p);
  }
  for (const a of paths) for (const b of paths) if (a !== b && isWithin(a, b)) return `root paths ${a} and ${b} lie inside each other`;
  return undefined;
}

/**
 * After `restic restore` of a `folders` snapshot into `tree`: packs each root from there into the tar
 * `outFile` and checks it against the manifest entry for entry; every path down to a root must be a
 * real folder (a link placed by the repository would make the pack read the host's own files).
 * Returns the manifest of that tar (the stored one, with the tar's size and sha256) or throws a refusal.
 */
export async function packRestoredFolders(m: FoldersManifest, tree: string, outFile: string, opts: { signal: AbortSignal; onProgress?: (bytes: number) => void; refuse: (why: string) => never }): Promise<BackupManifest> {
  const sources: Array<{ archivePath: string; sourcePath: string }> = [];
  for (const r of m.roots) {
    const inSnapshot = m.stored.paths[r.archivePath]!;
    let at = tree;
    const parts = inSnapshot.split('/').slice(1);
    for (const [i, part] of parts.entries()) {
      at = join(at, part);
      const st = await lstat(at).catch(() => undefined);
      const last = i === parts.length - 1;
      if (!st) opts.refuse(`root ${r.archivePath} (${inSnapshot}) is not in the snapshot`);
      if (st.isSymbolicLink()) opts.refuse(`${join(...parts.slice(0, i + 1))} on the way to root ${r.archivePath} is a symbolic link in the snapshot`);
      const want = last && r.kind === 'pg_dump' ? 'file' : 'folder';
      if (!last && !st.isDirectory()) opts.refuse(`${join(...parts.slice(0, i + 1))} on the way to root ${r.archivePath} is not a folder in the snapshot`);
      if (last && (want === 'file' ? !st.isFile() : !st.isDirectory())) opts.refuse(`root ${r.archivePath} is not a ${want} in the snapshot`);
    }
    sources.push({ archivePath: r.archivePath, sourcePath: at });
  }
  // GNU tar's order is the one the manifest counted in (which name of a hard-linked file is the file).
  if (!(await canPackWithGnuTar(sources))) opts.refuse('restoring a folders backup needs GNU tar 1.28 or later on PATH');
  const written = await writeArchive({ sources, outFile, compressor: await pickReader(UNCOMPRESSED), signal: opts.signal, packer: 'gnu-tar', digests: true, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) }).catch((err: unknown) =>
    // What the snapshot holds is the attacker's: a FIFO, a device, a name that is not UTF-8 is a refusal, not a retry.
    opts.signal.aborted ? Promise.reject(err) : opts.refuse(`packing what the snapshot holds failed: ${err instanceof Error ? err.message : String(err)}`),
  );
  for (const r of m.roots) {
    const got = written.roots.find((x) => x.archivePath === r.archivePath)?.tally;
    if (!got) opts.refuse(`root ${r.archivePath} was not packed`);
    const e = got.entries;
    const w = r.entries;
    if (e.files !== w.files || e.directories !== w.directories || e.symlinks !== w.symlinks || e.hardlinks !== w.hardlinks) {
      opts.refuse(`root ${r.archivePath} holds ${e.files} files, ${e.directories} folders, ${e.symlinks} symlinks, ${e.hardlinks} hard links in the snapshot; its manifest says ${w.files}, ${w.directories}, ${w.symlinks}, ${w.hardlinks}`);
    }
    if (got.bytes !== r.bytes) opts.refuse(`root ${r.archivePath} holds ${got.bytes} bytes of files in the snapshot; its manifest says ${r.bytes}`);
    if (got.digest() !== r.listingSha256) opts.refuse(`root ${r.archivePath} lists other entries in the snapshot than its manifest (same counts, other names, types or sizes)`);
    for (const [path, sha] of Object.entries(r.files ?? {})) {
      if (got.files.get(path) !== sha) opts.refuse(`${path} in the snapshot does not match its manifest's sha256`);
    }
    if (r.files && got.files.size !== Object.keys(r.files).length) opts.refuse(`root ${r.archivePath} holds files its manifest has no sha256 for`);
  }
  return { ...m, sha256: written.sha256, bytes: written.bytes, compressor: UNCOMPRESSED };
}

/** Bytes written to the file system holding `dir` since `from` (what a restic restore has written so far, roughly). */
export async function bytesWrittenSince(dir: string, from: { free: bigint }): Promise<number> {
  const s = await statfs(dir, { bigint: true }).catch(() => undefined);
  if (!s) return 0;
  const used = from.free - s.bfree * s.bsize;
  return used > 0n ? Number(used) : 0;
}

export async function freeBytes(dir: string): Promise<{ free: bigint }> {
  const s = await statfs(dir, { bigint: true });
  return { free: s.bfree * s.bsize };
}
