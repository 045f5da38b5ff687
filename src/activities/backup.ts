/**
 * Backup activities: plan, snapshot each source into staging (stop-mode sources
 * while their owners are stopped), dump the database online, build and verify
 * the archive, apply retention. Each is idempotent, so a retry after a killed
 * worker redoes its step from the start, except the snapshot, which completes
 * the copy its previous attempt left (see {@link createBackupActivities}).
 *
 * Every long step heartbeats its real counter (`trackStep`): bytes copied,
 * dumped, packed or read back.
 */
import { chmod, lstat, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { ARCHIVE_SUFFIX, archiveName, archiveTime, manifestName } from '../common/archive-names.js';
import type { Config } from '../config/config.js';
import { pickCompressor } from '../archive/compress.js';
import { copyTree } from '../archive/copy-tree.js';
import { writeArchive, type ArchiveSource } from '../archive/create.js';
import type { RootTally } from '../archive/listing.js';
import {
  MANIFEST_FORMAT,
  manifestPath,
  readManifest,
  writeFileDurably,
  writeManifest,
  type BackupManifest,
  type Downtime,
  type ManifestRoot,
} from '../archive/manifest.js';
import { decideRetention, type VerificationState } from '../archive/retention.js';
import { claimMirror, claimStaging, mirrorDir, mirrorUnchangedSince, pruneMirror, recordMirrorSync, removeMirror, removeOwnedStaging, staleStaging } from '../archive/staging.js';
import { runProgram } from '../services/run-argv.js';
import { verifyBackup, type VerifyOutcome } from '../archive/verify.js';
import { pgDumpCounted } from '../postgres/tools.js';
import { VERSION } from '../version.js';
import { activitySignal, previousProgress, trackStep } from './context.js';
import { NO_FAULTS, type Faults } from './faults.js';
import { exists } from '../system/fs.js';
import { anyFoldersTarget } from '../targets/layout.js';

export interface PlannedSource {
  /** Path inside the archive: the original path without its leading `/`. */
  archivePath: string;
  originalPath: string;
  /**
   * Where the archive reads the source from: its staging copy (stop mode, copied
   * while the owners are stopped) or the live folder itself (online mode: a copy
   * would be just as live, and cost a pass over the data).
   */
  archiveFrom: string;
  mode: 'stop' | 'online';
  services: string[];
}

export interface PlannedDump {
  archivePath: string;
  stagingPath: string;
  database: string;
}

export interface StopGroup {
  /** Stopped together, only while their own sources are copied. */
  services: string[];
  /** archivePaths of the sources they own. */
  sources: string[];
}

export interface BackupPlan {
  archive: string;
  /** ISO time the plan was made on the host; the archive name is this time in UTC. */
  createdAt: string;
  stagingDir: string;
  sources: PlannedSource[];
  dump?: PlannedDump;
  stopGroups: StopGroup[];
  /** Configured folders that do not exist on the host; not archived. */
  missing: string[];
  /** Bytes of files in the sources right now (an estimate of the archive's input). */
  estimatedBytes: number;
}

export interface SnapshotResult {
  archivePath: string;
  files: number;
  /** Of `files`, those kept from an earlier copy (an earlier attempt's, or the last backup's with `backup.incrementalSnapshot`), not rewritten. */
  reused: number;
  bytes: number;
  skipped: string[];
  seconds: number;
}

export interface ArchiveResult {
  archive: string;
  path: string;
  bytes: number;
  sha256: string;
  tarBytes: number;
  compressor: string;
  seconds: number;
  entries: number;
  /** Files of online folders that changed while they were read (archived as read); absent when none did. */
  changedWhileRead?: string[];
}

export interface RetentionResult {
  removed: Array<{ archive: string; ageDays: number }>;
  kept: Array<{ archive: string; why: string[] }>;
  /** Staging folders and partial archives of killed runs that were removed. */
  leftovers: string[];
  manifestFile: string;
}

export interface BackupListing {
  archive: string;
  createdAt: string;
  ageSeconds: number;
  bytes: number;
  kind: BackupManifest['kind'] | 'unknown';
  hasManifest: boolean;
  verified?: { ok: boolean; at: string; problems: string[] };
}

/**
 * Whether an archive is a backup: anything but a recovery's emergency archive
 * (the state a recovery replaced, never verified by the backup runbook, not a
 * scheduled backup). An archive whose manifest is unreadable (`unknown`) counts,
 * and shows as not verified. The one rule for metrics, maintenance and reports.
 */
export function isBackup(listing: Pick<BackupListing, 'kind'>): boolean {
  return listing.kind !== 'emergency';
}

/** The newest backup in a {@link BackupListing} list sorted newest first (as `listBackups` returns it), emergency archives left out. */
export function newestBackup<T extends Pick<BackupListing, 'kind'>>(list: readonly T[]): T | undefined {
  return list.find(isBackup);
}

/** Where a database dump sits inside an archive. */
export function dumpArchivePath(database: string): string {
  return `mcp-runbooks/pg_dump/${database}.dump`;
}

/** Groups stop-mode sources so that services sharing a source are stopped together, and each only for its own sources. */
export function stopGroups(sources: readonly PlannedSource[]): StopGroup[] {
  const groups: StopGroup[] = [];
  for (const src of sources.filter((s) => s.mode === 'stop')) {
    const touching = groups.filter((g) => g.services.some((s) => src.services.includes(s)));
    const merged: StopGroup = {
      services: [...new Set([...touching.flatMap((g) => g.services), ...src.services])],
      sources: [...touching.flatMap((g) => g.sources), src.archivePath],
    };
    for (const g of touching) groups.splice(groups.indexOf(g), 1);
    groups.push(merged);
  }
  return groups;
}


async function treeBytes(path: string, onEntry?: () => void): Promise<number> {
  let total = 0;
  try {
    const st = await lstat(path);
    if (!st.isDirectory()) return st.isFile() ? st.size : 0;
    for (const e of await readdir(path, { withFileTypes: true, recursive: true })) {
      onEntry?.();
      if (e.isFile()) total += (await lstat(join(e.parentPath, e.name))).size;
    }
  } catch {
    // vanished: counts as nothing
  }
  return total;
}

/** A name no archive, manifest, partial file or staging folder uses yet, from `from` (UTC, to the second) on. */
export async function freshArchiveName(config: Config, from: Date): Promise<{ name: string; at: Date }> {
  const backupDir = config.paths.backupDir;
  for (let i = 0; ; i++) {
    const at = new Date(Math.floor(from.getTime() / 1000) * 1000 + i * 1000);
    const name = archiveName(at);
    const taken = await Promise.all(
      [...[name, manifestName(name), `${name}.partial`].map((f) => join(backupDir, f)), join(config.backup.stagingDir, name.slice(0, -ARCHIVE_SUFFIX.length))].map((f) => exists(f)),
    );
    if (!taken.some(Boolean)) return { name, at };
  }
}

const DAY_MS = 86_400_000;

/**
 * The manifest of one stored copy of a backup: each root's tally of what was
 * packed, the stored file's sha256 and size, where it came from. The archive
 * target stores it beside the `.tar.gz`; a restic target as a snapshot of its own.
 */
export function buildManifest(m: {
  config: Pick<Config, 'hostId'>;
  plan: Pick<BackupPlan, 'archive' | 'createdAt' | 'sources' | 'dump'>;
  roots: ReadonlyArray<{ archivePath: string; tally: RootTally }>;
  sha256: string;
  bytes: number;
  compressor: string;
  workflowId: string;
  reason?: string | undefined;
  downtime: Downtime[];
  kind?: BackupManifest['kind'] | undefined;
  /** The dump's tables and rows (see {@link readDumpFacts}). */
  tables?: Record<string, number> | undefined;
  /** The database's size when it was dumped (see {@link readDumpFacts}). */
  databaseBytes?: number | undefined;
}): BackupManifest {
  const { plan } = m;
  const roots: ManifestRoot[] = m.roots.map((root) => {
    const src = plan.sources.find((s) => s.archivePath === root.archivePath);
    const files = root.tally.files.size > 0 ? { files: Object.fromEntries([...root.tally.files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) } : {};
    return src
      ? { archivePath: root.archivePath, kind: 'folder', originalPath: src.originalPath, mode: src.mode, services: src.services, entries: root.tally.entries, bytes: root.tally.bytes, listingSha256: root.tally.digest(), ...files }
      : { archivePath: root.archivePath, kind: 'pg_dump', database: plan.dump?.database ?? '', mode: 'pg_dump', services: [], entries: root.tally.entries, bytes: root.tally.bytes, listingSha256: root.tally.digest(), ...files, ...(m.tables ? { tables: m.tables } : {}), ...(m.databaseBytes !== undefined ? { databaseBytes: m.databaseBytes } : {}) };
  });
  return {
    format: MANIFEST_FORMAT,
    archive: plan.archive,
    sha256: m.sha256,
    bytes: m.bytes,
    host: m.config.hostId,
    kind: m.kind ?? 'backup',
    ...(m.reason ? { reason: m.reason } : {}),
    workflowId: m.workflowId,
    createdAt: plan.createdAt,
    finishedAt: new Date().toISOString(),
    toolVersion: VERSION,
    compressor: m.compressor,
    roots,
    totals: { entries: roots.reduce((n, x) => n + x.entries.files + x.entries.directories + x.entries.symlinks + x.entries.hardlinks, 0), bytes: roots.reduce((n, x) => n + x.bytes, 0) },
    downtime: m.downtime,
  };
}

/** Where {@link createBackupActivities}' dumpDatabase leaves the dump's table counts. */
export function dumpTablesPath(dump: Pick<PlannedDump, 'stagingPath'>): string {
  return `${dump.stagingPath}.tables.json`;
}

/** Where the dump's database size is left beside it (a file of its own: a worker of an older version reads only the tables). */
export function dumpSizePath(dump: Pick<PlannedDump, 'stagingPath'>): string {
  return `${dump.stagingPath}.size.json`;
}

/** Records the database's size beside a dump of it, for the manifest (see {@link DumpFacts}). */
export async function writeDumpSize(dump: Pick<PlannedDump, 'stagingPath'>, databaseBytes: number): Promise<void> {
  await writeFileDurably(dumpSizePath(dump), JSON.stringify({ databaseBytes }), 0o600);
}

/** What was learned of a dump when it was made, for the manifest: each table's rows and the database's size on disk. */
export interface DumpFacts {
  tables?: Record<string, number>;
  databaseBytes?: number;
}

/** The dump's facts as recorded beside it; none without a dump or a record (a dump made by an older version has its tables only). */
export async function readDumpFacts(plan: Pick<BackupPlan, 'dump'>): Promise<DumpFacts> {
  if (!plan.dump) return {};
  const tables = await readFile(dumpTablesPath(plan.dump), 'utf8').then((t) => JSON.parse(t) as Record<string, number>, () => undefined);
  const size = await readFile(dumpSizePath(plan.dump), 'utf8').then((t) => (JSON.parse(t) as { databaseBytes?: unknown }).databaseBytes, () => undefined);
  return { ...(tables ? { tables } : {}), ...(typeof size === 'number' && Number.isSafeInteger(size) && size >= 0 ? { databaseBytes: size } : {}) };
}

/** What a backup packs, in order: each folder from where it is read (staging or live), then the dump. */
export function archiveSources(plan: Pick<BackupPlan, 'sources' | 'dump'>): ArchiveSource[] {
  const sources: ArchiveSource[] = plan.sources.map((s) => ({ archivePath: s.archivePath, sourcePath: s.archiveFrom }));
  if (plan.dump) sources.push({ archivePath: plan.dump.archivePath, sourcePath: plan.dump.stagingPath });
  return sources;
}

/**
 * Brings a source's copy in the snapshot copy kept between backups (`<mirror>/root/<archive path>`,
 * see {@link mirrorDir}) up to date: only what changed since the last complete update is copied (a
 * file is kept when its size, mode and modification time match and the source's ctime is older than
 * that update's start, see {@link copyTree}'s `unchangedSince`); entries gone from the source are
 * removed; flushed to disk before the update is recorded.
 */
export async function copyIntoMirror(
  config: Pick<Config, 'hostId' | 'backup'>,
  source: Pick<PlannedSource, 'archivePath' | 'originalPath'> & { archiveFrom?: string },
  opts: { signal?: AbortSignal | undefined; onProgress?: (bytes: number) => void; beforeRecord?: () => Promise<void>; resume?: boolean } = {},
): Promise<{ files: number; reused: number; bytes: number; skipped: string[]; into: string }> {
  const mirror = mirrorDir(config.backup.stagingDir, config.hostId);
  const into = source.archiveFrom ?? join(mirror, 'root', source.archivePath);
  await claimMirror(mirror, config.hostId);
  const unchangedSince = await mirrorUnchangedSince(mirror, source.archivePath);
  // A whole copy (the first, or the weekly one) starts empty, unless a retried step completes the copy its previous attempt began.
  const resume = unchangedSince !== undefined || Boolean(opts.resume);
  if (!resume) await rm(into, { recursive: true, force: true });
  await mkdir(dirname(into), { recursive: true, mode: 0o700 });
  // Taken before the first file is looked at (the bound derived from it allows for ctime's coarse clock).
  const startedAt = Date.now();
  const copied = await copyTree(source.originalPath, into, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    concurrency: 16,
    resume,
    ...(unchangedSince !== undefined ? { unchangedSince } : {}),
  });
  await opts.beforeRecord?.();
  // On disk before the record that vouches for it: after a power cut the record never names a copy that is not there.
  const synced = await runProgram(['sync', '--file-system', mirror], { timeoutMs: 300_000, ...(opts.signal ? { signal: opts.signal } : {}) });
  if (synced.exitCode !== 0) throw new Error(`sync --file-system ${mirror} failed (exit ${String(synced.exitCode)}): ${String(synced.all ?? '').trim()}`);
  await recordMirrorSync(mirror, source.archivePath, startedAt, unchangedSince === undefined);
  return { ...copied, into };
}

export interface BackupActivityDeps {
  config: Config;
  /** @default {@link NO_FAULTS} */
  faults?: Faults;
}

export function createBackupActivities({ config, faults = NO_FAULTS }: BackupActivityDeps) {
  const backupDir = config.paths.backupDir;

  const ensureBackupDir = async () => {
    await mkdir(backupDir, { recursive: true, mode: 0o700 });
    await chmod(backupDir, 0o700);
  };

  const freshName = (from: Date) => freshArchiveName(config, from);

  /** The run's staging folder a planned staging path lies in: `<backup.stagingDir>/<archive name without suffix>`. */
  const runStagingDir = (path: string): string => {
    const first = relative(config.backup.stagingDir, path).split(sep)[0] ?? '';
    if (!first || first === '..' || isAbsolute(first)) throw new Error(`${path} is not inside the staging folder ${config.backup.stagingDir}`);
    return join(config.backup.stagingDir, first);
  };

  const listArchives = async (): Promise<string[]> => {
    try {
      return (await readdir(backupDir)).filter((f) => archiveTime(f) !== undefined).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  };

  const listing = async (archive: string, now: number): Promise<BackupListing> => {
    const st = await stat(join(backupDir, archive));
    const created = archiveTime(archive) ?? st.mtime;
    let manifest: BackupManifest | undefined;
    try {
      manifest = await readManifest(manifestPath(backupDir, archive));
    } catch {
      manifest = undefined;
    }
    return {
      archive,
      createdAt: created.toISOString(),
      ageSeconds: Math.round((now - created.getTime()) / 1000),
      bytes: st.size,
      kind: manifest?.kind ?? 'unknown',
      hasManifest: Boolean(manifest),
      ...(manifest?.verification ? { verified: { ok: manifest.verification.ok, at: manifest.verification.verifiedAt, problems: manifest.verification.problems } } : {}),
    };
  };

  return {
    /**
     * What this backup will read, where it stages, and which services each stop covers. Changes
     * nothing but the backups folder's mode and the snapshot copy kept between backups (roots the
     * config no longer copies there are removed from it; all of it with `incrementalSnapshot: false`).
     */
    async planBackup(): Promise<BackupPlan> {
      await ensureBackupDir();
      const { name, at } = await freshName(new Date());
      const stagingDir = join(config.backup.stagingDir, name.slice(0, -ARCHIVE_SUFFIX.length));
      // Stop-mode folders are copied into the copy kept between backups, or into this run's own folder.
      const snapshotRoot = config.backup.incrementalSnapshot ? join(mirrorDir(config.backup.stagingDir, config.hostId), 'root') : join(stagingDir, 'root');
      const sources: PlannedSource[] = [];
      const missing: string[] = [];
      let dump: PlannedDump | undefined;
      let estimatedBytes = 0;
      let entries = 0;
      const report = trackStep('plan: size the sources', 'items');
      for (const src of config.backup.sources) {
        if (src.mode === 'pg_dump') {
          const archivePath = dumpArchivePath(src.database);
          dump = { archivePath, stagingPath: join(stagingDir, 'root', archivePath), database: src.database };
          continue;
        }
        if (!(await exists(src.path))) {
          missing.push(src.path);
          continue;
        }
        const archivePath = src.path.replace(/^\/+/, '');
        sources.push({
          archivePath,
          originalPath: src.path,
          archiveFrom: src.mode === 'stop' ? join(snapshotRoot, archivePath) : src.path,
          mode: src.mode,
          services: src.mode === 'stop' ? src.services : [],
        });
        estimatedBytes += await treeBytes(src.path, () => report(++entries));
      }
      // The copy kept between backups holds only what this config still copies there: a folder dropped
      // from the sources (or made online) loses its copy, and turning the option off removes it all.
      const mirror = mirrorDir(config.backup.stagingDir, config.hostId);
      // A restic target storing folders reads the online folders from there too.
      const online = await anyFoldersTarget(config);
      if (!config.backup.incrementalSnapshot) await removeMirror(mirror);
      else {
        await pruneMirror(mirror, sources.filter((s) => s.mode === 'stop' || online).map((s) => s.archivePath));
        // What only a folders target keeps there (the dump's link, the manifest and its digests) goes with the last such target.
        if (!online && (await lstat(mirror).catch(() => undefined))?.isDirectory()) {
          await rm(join(mirror, 'root', 'mcp-runbooks'), { recursive: true, force: true });
          await rm(join(mirror, 'restic'), { recursive: true, force: true });
        }
      }
      return {
        archive: name,
        createdAt: at.toISOString(),
        stagingDir,
        sources,
        ...(dump ? { dump } : {}),
        stopGroups: stopGroups(sources),
        missing,
        estimatedBytes,
      };
    },

    /**
     * Copies one stop-mode source into staging; heartbeats the bytes copied.
     * Safe only because the source's services are stopped for the whole step
     * (retries of an activity run without the workflow starting them).
     *
     * Into the copy kept between backups (`backup.incrementalSnapshot`): only what
     * changed since the last complete update is copied; a file is kept when its
     * size, mode and modification time match and the source's ctime is older than
     * that update's start (see {@link copyTree}'s `unchangedSince`); entries gone
     * from the source are removed. Into this run's own folder: a retry whose
     * previous attempt reported progress keeps the files it copied whole (same
     * size, mode and modification time); a first attempt starts from an empty folder.
     */
    async snapshotSource(req: { source: PlannedSource }): Promise<SnapshotResult> {
      const { source } = req;
      if (source.archiveFrom === source.originalPath) throw new Error(`${source.originalPath} is archived live; it has no staging copy`);
      const t0 = Date.now();
      const signal = activitySignal();
      const step = `snapshot ${source.originalPath}`;
      const mirror = mirrorDir(config.backup.stagingDir, config.hostId);
      const report = trackStep(step, 'bytes');
      if (source.archiveFrom.startsWith(`${mirror}${sep}`)) {
        const copied = await copyIntoMirror(config, source, { signal, onProgress: (bytes) => report(bytes), resume: previousProgress(step) !== undefined, beforeRecord: () => (source.mode === 'stop' ? faults.reach('backup.snapshot', signal) : Promise.resolve()) });
        return { archivePath: source.archivePath, files: copied.files, reused: copied.reused, bytes: copied.bytes, skipped: copied.skipped, seconds: (Date.now() - t0) / 1000 };
      }
      await claimStaging(runStagingDir(source.archiveFrom), { archive: `${basename(runStagingDir(source.archiveFrom))}${ARCHIVE_SUFFIX}`, host: config.hostId });
      const resume = previousProgress(step) !== undefined;
      if (!resume) await rm(source.archiveFrom, { recursive: true, force: true });
      await mkdir(dirname(source.archiveFrom), { recursive: true, mode: 0o700 });
      const copied = await copyTree(source.originalPath, source.archiveFrom, { ...(signal ? { signal } : {}), onProgress: (bytes) => report(bytes), concurrency: 16, resume });
      if (source.mode === 'stop') await faults.reach('backup.snapshot', signal);
      return { archivePath: source.archivePath, files: copied.files, reused: copied.reused, bytes: copied.bytes, skipped: copied.skipped, seconds: (Date.now() - t0) / 1000 };
    },

    /** `pg_dump -Fc` of the configured database into staging, while the services run. */
    async dumpDatabase(req: { dump: PlannedDump }): Promise<{ bytes: number; seconds: number; tables: number }> {
      if (!config.postgres) throw new Error('no postgres section in the host config');
      const t0 = Date.now();
      const signal = activitySignal();
      const runDir = runStagingDir(req.dump.stagingPath);
      await claimStaging(runDir, { archive: `${basename(runDir)}${ARCHIVE_SUFFIX}`, host: config.hostId });
      await mkdir(dirname(req.dump.stagingPath), { recursive: true, mode: 0o700 });
      await rm(dumpTablesPath(req.dump), { force: true });
      await rm(dumpSizePath(req.dump), { force: true });
      const { bytes, tables, databaseBytes } = await pgDumpCounted({
        pg: config.postgres,
        outFile: req.dump.stagingPath,
        ...(signal ? { signal } : {}),
        progress: trackStep(`pg_dump ${req.dump.database}`, 'bytes'),
      });
      // Beside the dump, for the manifest (createArchive, resticBackup): the workflow's history carries only the count.
      await writeFileDurably(dumpTablesPath(req.dump), JSON.stringify(tables), 0o600);
      await writeDumpSize(req.dump, databaseBytes);
      return { bytes, seconds: (Date.now() - t0) / 1000, tables: Object.keys(tables).length };
    },

    /**
     * Builds the archive from staging (`.partial`, fsync, manifest, rename), 0600
     * in a 0700 folder. A retry after the archive was committed returns it as is.
     */
    async createArchive(req: {
      plan: BackupPlan;
      workflowId: string;
      reason?: string;
      downtime: Downtime[];
      kind?: BackupManifest['kind'];
      /** @default backup.compression.level */
      compressionLevel?: number;
    }): Promise<ArchiveResult> {
      const { plan } = req;
      const t0 = Date.now();
      const out = join(backupDir, plan.archive);
      const mPath = manifestPath(backupDir, plan.archive);
      if (await exists(out)) {
        const existing = await readManifest(mPath).catch(() => undefined);
        if (existing?.workflowId === req.workflowId) {
          return {
            archive: plan.archive,
            path: out,
            bytes: existing.bytes,
            sha256: existing.sha256,
            tarBytes: 0,
            compressor: existing.compressor,
            seconds: 0,
            entries: existing.totals.entries,
          };
        }
        throw new Error(`${out} already exists and belongs to another run`);
      }
      await ensureBackupDir();
      const signal = activitySignal() ?? new AbortController().signal;
      const compressor = await pickCompressor(config.backup.compression.program, req.compressionLevel ?? config.backup.compression.level);
      const sources = archiveSources(plan);
      const report = trackStep('archive', 'bytes', plan.estimatedBytes);
      const result = await writeArchive({
        sources,
        outFile: out,
        compressor,
        signal,
        onProgress: (n) => report(n),
        // An emergency archive (a recovery's undo copy, written while the recovery runs) goes without per-file digests: a drill of one says so.
        digests: req.kind !== 'emergency',
        // GNU tar in its own process where it can (about twice as fast as node-tar; the same packer as a restic target's stream).
        packer: 'gnu-tar',
        beforeCommit: async (r) => {
          await faults.reach('backup.archive', signal);
          const facts = await readDumpFacts(plan);
          await writeManifest(mPath, buildManifest({ config, plan, roots: r.roots, sha256: r.sha256, bytes: r.bytes, compressor: compressor.name, workflowId: req.workflowId, reason: req.reason, downtime: req.downtime, kind: req.kind, ...facts }));
        },
      });
      const entries = result.roots.reduce((n, r) => n + r.tally.count, 0);
      const changed = result.changedWhileRead.length ? { changedWhileRead: result.changedWhileRead.slice(0, 100) } : {};
      return { archive: plan.archive, path: out, bytes: result.bytes, sha256: result.sha256, tarBytes: result.tarBytes, compressor: compressor.name, seconds: (Date.now() - t0) / 1000, entries, ...changed };
    },

    /** Reads the archive back whole and checks it against its manifest (and each dump with pg_restore --list); records the outcome in the manifest. */
    async verifyBackup(req: { archive: string }): Promise<VerifyOutcome> {
      const signal = activitySignal();
      const report = trackStep(`verify ${req.archive}`, 'bytes');
      return verifyBackup({ backupDir, archive: req.archive, ...(signal ? { signal } : {}), onProgress: (done, total) => report(done, total) });
    },

    /**
     * Removes a run's staging folder, if it is one this tool created in the
     * configured staging folder (see {@link claimStaging}); anything else stays.
     */
    async removeStaging(req: { stagingDir: string }): Promise<{ removed: boolean }> {
      return { removed: await removeOwnedStaging(config.backup.stagingDir, req.stagingDir) };
    },

    /**
     * Deletes archives retention does not keep (see {@link decideRetention}:
     * daily/weekly/monthly picks among verified backups, the newest verified
     * backup, recent and not-yet-verified ones, `protect`), leftovers of killed
     * runs, and rewrites `backup_manifest.txt` to list what is kept.
     */
    async applyRetention(req: { protect?: string[] } = {}): Promise<RetentionResult> {
      const now = new Date();
      const archives = await listArchives();
      const infos = await Promise.all(
        archives.map(async (archive) => {
          // The verification verifyBackup recorded in the manifest (written atomically): the one record of it.
          const m = await readManifest(manifestPath(backupDir, archive)).catch(() => undefined);
          const verification: VerificationState = !m?.verification ? 'none' : m.verification.ok ? 'ok' : 'failed';
          return { name: archive, createdAt: archiveTime(archive)!, verification, kind: m?.kind ?? 'backup' };
        }),
      );
      // A manifest that exists but cannot be read (EIO, too many open files, a half-written copy) says
      // nothing about verification: that archive is kept, never deleted as "never verified".
      const unreadable: string[] = [];
      for (const archive of archives) {
        const err = await readManifest(manifestPath(backupDir, archive)).then(
          () => undefined,
          (e: unknown) => e as NodeJS.ErrnoException,
        );
        if (err && err.code !== 'ENOENT') unreadable.push(archive);
      }
      const decision = decideRetention(infos, now, config.retention, [...(req.protect ?? []), ...unreadable]);
      for (const r of decision.remove) {
        await rm(join(backupDir, r.name), { force: true });
        await rm(manifestPath(backupDir, r.name), { force: true });
      }
      // Leftovers of runs that were killed and never cleaned up, a day on: only what this tool created.
      // The staging folder may be shared, so there only folders with our owner marker (see claimStaging).
      const leftovers = await staleStaging(config.backup.stagingDir, now, DAY_MS);
      for (const e of await readdir(backupDir).catch(() => [] as string[])) {
        if (!e.endsWith('.partial') || archiveTime(e.slice(0, -'.partial'.length)) === undefined) continue;
        const st = await lstat(join(backupDir, e)).catch(() => undefined);
        if (st?.isFile() && now.getTime() - st.mtime.getTime() > DAY_MS) leftovers.push(join(backupDir, e));
      }
      for (const l of leftovers) await rm(l, { recursive: true, force: true });
      const kept = await Promise.all(decision.keep.map((k) => listing(k.name, now.getTime())));
      const lines = kept.map(
        (k) => `${k.archive}\t${k.bytes}\t${k.createdAt}\t${k.kind}\t${k.verified ? (k.verified.ok ? `verified ${k.verified.at}` : 'verification FAILED') : 'not verified'}`,
      );
      const manifestFile = join(backupDir, 'backup_manifest.txt');
      await writeFileDurably(manifestFile, `# archive\tbytes\tcreated (UTC)\tkind\tverification\n${lines.join('\n')}${lines.length ? '\n' : ''}`, 0o600);
      return {
        removed: decision.remove.map((r) => ({ archive: r.name, ageDays: r.ageDays })),
        kept: decision.keep.map((k) => ({ archive: k.name, why: k.why })),
        leftovers,
        manifestFile,
      };
    },

    /** Archives in the backups folder, newest first, with age, size and verification. */
    async listBackups(): Promise<BackupListing[]> {
      const now = Date.now();
      const archives = await listArchives();
      const out = await Promise.all(archives.map((a) => listing(a, now)));
      return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    },
  };
}
