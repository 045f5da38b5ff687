/**
 * Disaster recovery activities. Nothing changes a service or a target folder
 * until {@link inspectRestore} has checked the name, checksum, manifest, every
 * entry and the free space. Folders are restored by extracting beside each
 * target and swapping by rename, so a folder is always wholly old or wholly
 * restored; the previous folder is kept until the post-recovery checks pass.
 */
import { databaseAnswers, memoryServiceAnswers } from './service-checks.js';
import { createHash } from 'node:crypto';
import { access, lstat, mkdir, readFile, readdir, rename, rm, rmdir, stat, statfs } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { archiveNameProblem } from '../common/archive-names.js';
import { errorMessage } from '../common/errors.js';
import { finding, type Finding } from '../common/report.js';
import type { Config } from '../config/config.js';
import { extractRoots, type ExtractTarget, type InspectedArchive } from '../archive/extract.js';
import { dumpedDatabaseBytes, manifestPath, readManifest, syncDir, writeFileDurably, type BackupManifest } from '../archive/manifest.js';
import { NotRegularFileError } from '../archive/read-into.js';
import { scanArchive, scanRefusal, type ScanResult } from '../archive/scan.js';
import { pgDump, pgRestore } from '../postgres/tools.js';
import { databaseExists, databaseRestoreNeeds, databaseSize, dropOurs, openPrevious, stageDatabase, swapInDatabase, swapNames, swapProblem, undoDatabaseSwap, type SwapNames } from '../postgres/swap.js';
import type { ServiceManager } from '../services/index.js';
import { runArgv } from '../services/run-argv.js';
import { createBackupActivities, freshArchiveName, writeDumpSize, type ArchiveResult, type BackupPlan } from './backup.js';
import { activitySignal, trackStep } from './context.js';
import { NO_FAULTS, type Faults } from './faults.js';
import { createServiceActivities } from './services.js';
import { exists } from '../system/fs.js';

/** The host is in a state a recovery must not guess about; retrying cannot help, an operator must look. */
export class RecoveryStateError extends Error {
  override readonly name = 'RecoveryStateError';
}

/** Thrown when an archive must not be restored; it names every reason, and nothing has been changed. Never retried. */
export class RestoreRefusedError extends Error {
  override readonly name = 'RestoreRefusedError';
  readonly reasons: string[];
  constructor(archive: string, reasons: string[]) {
    super(`refusing to restore ${archive}: ${reasons.join('; ')}`);
    this.reasons = reasons;
  }
}

export interface RestoreRoot {
  archivePath: string;
  /** The folder restored (the backup's original path). */
  target: string;
  /** Where the archive's copy is extracted, beside the target. */
  staging: string;
  /** Where the current folder is kept during the recovery. */
  previous: string;
  /** Whether the target existed when the recovery was planned. */
  existedBefore: boolean;
  bytes: number;
  files: number;
}

export interface RestorePlan {
  archive: string;
  sha256: string;
  backupCreatedAt: string;
  backupHost: string;
  /** The archive was made on another host. */
  fromOtherHost: boolean;
  roots: RestoreRoot[];
  dump?: {
    archivePath: string;
    database: string;
    file: string;
    emergencyFile: string;
    /**
     * Restored into `staging` while the services run and swapped in by rename while they are stopped; the
     * live database is kept as `previous` until the recovery is done. Absent: restored in place (see `inPlace`).
     */
    swap?: SwapNames;
    /** Why the database is restored in place (an emergency `pg_dump` and a `pg_restore` while the services are stopped). */
    inPlace?: string;
    /**
     * Why room for the database on PostgreSQL's disk was not checked (a server elsewhere, a role that may not see where it
     * keeps its data), or that it may not fit at the size it was dumped at (see planRestore): a warning, not a refusal.
     */
    spaceWarning?: string;
  };
  /** Holds the extracted and emergency dumps. */
  recoveryDir: string;
  services: string[];
  space: Array<{ path: string; neededBytes: number; availableBytes: number }>;
  totals: { files: number; bytes: number };
  /**
   * The archive exactly as inspected (sha256, size, entries, bytes): extraction copies the
   * archive privately, refuses a copy that differs and stops at these counts. Absent only in
   * plans made before this field existed, which extraction refuses (inspect again).
   */
  inspected?: InspectedArchive;
  /** Where the archive is read from when it was fetched from a backup target. @default the backups folder */
  archiveDir?: string;
  /** What the archive holds that this recovery leaves as it is, and why (a selective recovery, the reports folder). */
  kept?: Array<{ target: string; why: string }>;
  /** Checked and extracted into staging in one pass (stageRestore): nothing is left to extract. */
  staged?: boolean;
}

/** What a recovery restores (`disasterRecovery`'s `only`, `skipDatabase`, `includeReports`). @default every root but the reports folder, and the database */
export interface RestoreSelection {
  /** Roots by original path or its last segments (`memory_db`, `etc/kilocode/mcp`), and `database` for the dump. */
  only?: string[];
  skipDatabase?: boolean;
  /** Restore the reports folder too in a whole-host recovery (it holds the monthly reports written since). */
  includeReports?: boolean;
}

/** Whether a selector (`memory_db`, `/etc/kilocode/mcp`, `kilocode/mcp`) names this root: its whole path or its last segments. */
export function selectsRoot(selector: string, target: string): boolean {
  const s = selector.replace(/^\/+|\/+$/g, '');
  return s.length > 0 && (target === `/${s}` || target.endsWith(`/${s}`));
}

/** The services a restore of these roots (and the database) stops: a stop-mode folder's owners; anything else is used by every service. */
export function owningServices(config: Config, targets: readonly string[], database: boolean, all: readonly string[]): string[] {
  const owners = new Set<string>();
  for (const t of targets) {
    if (t === config.paths.reportsDir) continue; // our own reports: no service reads them
    const src = config.backup.sources.find((x) => x.mode !== 'pg_dump' && x.path === t);
    for (const svc of src?.mode === 'stop' ? src.services : all) owners.add(svc);
  }
  if (database) for (const svc of all) owners.add(svc);
  return all.filter((svc) => owners.has(svc));
}


/** What a recovery is asked to restore: the archive (from the backups folder, or a folder a target's copy was fetched into) and a selection. */
export interface RestoreRequest {
  archive: string;
  workflowId: string;
  runId?: string;
  fromDir?: string;
  select?: RestoreSelection;
}

/** One tag per run: a second run with the same workflow id (a fixed id, a reset) never meets the first one's folders. */
function runTag(req: { workflowId: string; runId?: string }): string {
  return createHash('sha256').update(req.runId ?? req.workflowId).digest('hex').slice(0, 8);
}

/** What a pass over the archive read, as extraction bounds itself by it. */
function inspectedOf(scan: ScanResult, manifest: BackupManifest): InspectedArchive {
  return { sha256: scan.sha256, bytes: scan.bytes, entries: scan.entries, fileBytes: scan.fileBytes, tarBytes: scan.tarBytes, compressor: manifest.compressor };
}

export interface RestoreActivityDeps {
  config: Config;
  services: ServiceManager;
  /** @default {@link NO_FAULTS} */
  faults?: Faults;
}

/**
 * The checks every restore starts with, a recovery's and a drill's: a fetched
 * folder is one fetchFromTarget made, the name is a plain archive name, neither
 * the archive nor its manifest is a link, the manifest describes it, and one
 * pass over the archive matches the manifest (checksum, entries, bytes) with
 * every entry safe and within the limits. Throws {@link RestoreRefusedError}
 * with the reasons; reads only.
 */
export async function checkedArchive(config: Config, req: { archive: string; fromDir?: string }): Promise<{ manifest: BackupManifest; scan: ScanResult }> {
  const { archive, archivePath, manifest } = await checkedManifest(config, req);
  const signal = activitySignal();
  const report = trackStep(`inspect ${archive}`, 'bytes');
  const limits = { maxCompressionRatio: config.recovery.maxCompressionRatio, maxEntries: config.recovery.maxEntries };
  let scan: ScanResult;
  try {
    scan = await scanArchive({ archivePath, manifest, limits, ...(signal ? { signal } : {}), onProgress: (d, t) => report(d, t) });
  } catch (err) {
    // Swapped for a link (or something else) after the lstat in checkedManifest.
    if (err instanceof NotRegularFileError) throw new RestoreRefusedError(archive, [err.message]);
    throw err;
  }
  const refusal = scanRefusal(scan);
  if (refusal) throw new RestoreRefusedError(archive, [refusal]);
  return { manifest, scan };
}

/**
 * The checks before any byte of an archive is read ({@link checkedArchive} without the pass):
 * a fetched folder is one fetchFromTarget made, the name is a plain archive name, neither the
 * archive nor its manifest is a link, and the manifest describes it.
 */
export async function checkedManifest(config: Config, req: { archive: string; fromDir?: string }): Promise<{ archive: string; archivePath: string; bytes: number; manifest: BackupManifest }> {
  const { archive } = req;
  const backupDir = config.paths.backupDir;
  const refuse = (...reasons: string[]): never => {
    throw new RestoreRefusedError(archive, reasons);
  };
  // A backup fetched from a restic target (fetchFromTarget) is read from its private folder, and checked the same way.
  const offsite = join(backupDir, '.offsite');
  if (req.fromDir !== undefined && (dirname(req.fromDir) !== offsite || basename(req.fromDir).startsWith('.'))) refuse(`${req.fromDir} is not a folder fetched from a backup target`);
  const archiveDir = req.fromDir ?? backupDir;
  const nameProblem = archiveNameProblem(archive);
  if (nameProblem) refuse(nameProblem);
  const archivePath = join(archiveDir, archive);
  const st = await lstat(archivePath).catch(() => undefined);
  // Links are refused, not followed: a link planted in the backups folder could lead anywhere, and every pass reads with O_NOFOLLOW anyway.
  if (st?.isSymbolicLink()) refuse(`${archivePath} is a symbolic link; refusing to read an archive through a link`);
  if (!st?.isFile()) {
    const available = (await readdir(backupDir).catch(() => [] as string[])).filter((f) => f.endsWith('.tar.gz')).sort().reverse().slice(0, 5);
    refuse(`no archive "${archive}" in ${archiveDir}${available.length ? ` (newest: ${available.join(', ')})` : ''}`);
  }
  let manifest: BackupManifest;
  if ((await lstat(manifestPath(archiveDir, archive)).catch(() => undefined))?.isSymbolicLink()) {
    refuse(`its manifest ${manifestPath(archiveDir, archive)} is a symbolic link; refusing to read a manifest through a link`);
  }
  try {
    manifest = await readManifest(manifestPath(archiveDir, archive));
  } catch (err) {
    return refuse(`its manifest ${manifestPath(archiveDir, archive)} is missing or unreadable (${errorMessage(err)}); an archive is restored only against its manifest`);
  }
  if (manifest.archive !== archive) refuse(`the manifest describes "${manifest.archive}", not "${archive}"`);
  return { archive, archivePath, bytes: st!.size, manifest };
}

export function createRestoreActivities({ config, services, faults = NO_FAULTS }: RestoreActivityDeps) {
  const backupDir = config.paths.backupDir;
  const backup = createBackupActivities({ config, faults });
  const serviceOps = createServiceActivities({ services });
  const folderSources = config.backup.sources.flatMap((s) => (s.mode === 'pg_dump' ? [] : [s.path]));

  /** Where the extraction writes: each root into its staging folder (their parents made), the dump into the private recovery folder. */
  /** The extraction's targets; makes the folders above them that are missing (a bare host's), listed in `made`. */
  const extractTargets = async (plan: RestorePlan, made: string[] = []): Promise<ExtractTarget[]> => {
    await mkdir(plan.recoveryDir, { recursive: true, mode: 0o700 });
    for (const r of plan.roots) {
      const parent = dirname(r.staging);
      const first = await mkdir(parent, { recursive: true });
      // mkdir returns the uppermost folder it made: record each made, from the parent up to that one.
      for (let d = parent; first !== undefined; d = dirname(d)) {
        made.push(d);
        if (d === first || dirname(d) === d) break;
      }
    }
    const targets: ExtractTarget[] = plan.roots.map((r) => ({ archivePath: r.archivePath, destination: r.staging, kind: 'folder' }));
    if (plan.dump) targets.push({ archivePath: plan.dump.archivePath, destination: plan.dump.file, kind: 'file' });
    return targets;
  };

  /**
   * What a recovery from this manifest restores where, and whether it may: the selection, each
   * root's staging and previous folder, the folders an earlier recovery left, the free space
   * (with `copyBytes` for a private copy of the archive). A one-pass recovery's own leftovers
   * from an earlier attempt of this run (`removeOwnStaging`) are removed instead of refused.
   */
  const planRestore = async (
    manifest: BackupManifest,
    req: RestoreRequest,
    opts: { copyBytes: number; removeOwnStaging?: boolean },
  ): Promise<RestorePlan> => {
    const { archive } = req;
    const refuse = (...reasons: string[]): never => {
      throw new RestoreRefusedError(archive, reasons);
    };
    const archiveDir = req.fromDir ?? backupDir;

    // One tag per run: a second run with the same workflow id (a fixed id, a reset) never meets the first one's folders.
    const tag = runTag(req);
    const recoveryDir = join(backupDir, '.recovery', tag);
    const roots: RestoreRoot[] = [];
    let dump: RestorePlan['dump'];
    const reasons: string[] = [];
    const kept: NonNullable<RestorePlan['kept']> = [];
    const select = req.select ?? {};
    const only = select.only?.map((x) => x.trim()).filter((x) => x.length > 0);
    const archived = manifest.roots.filter((r) => r.kind !== 'pg_dump').map((r) => r.originalPath ?? '');
    const hasDump = manifest.roots.some((r) => r.kind === 'pg_dump');
    if (only) {
      if (only.length === 0) refuse('`only` names nothing to restore');
      for (const sel of only) {
        if (sel === 'database' ? !hasDump : !archived.some((t) => selectsRoot(sel, t))) {
          reasons.push(`"${sel}" names nothing in ${archive} (it holds ${[...archived, ...(hasDump ? ['database'] : [])].join(', ')})`);
        }
      }
      if (only.includes('database') && select.skipDatabase) reasons.push('`only` names the database and `skipDatabase` leaves it out');
      if (reasons.length) refuse(...reasons);
    }
    // The reports folder as it is now: kept when there is one (a bare host gets the backup's).
    const reportsHere = await exists(config.paths.reportsDir);
    const wanted = (target: string): string | undefined => {
      if (only) return only.some((sel) => sel !== 'database' && selectsRoot(sel, target)) ? undefined : 'not selected (only)';
      if (target === config.paths.reportsDir && reportsHere && !select.includeReports) return 'the reports folder keeps the reports written since the backup (includeReports restores it)';
      return undefined;
    };
    for (const root of manifest.roots) {
      if (root.kind === 'pg_dump') {
        const why = only ? (only.includes('database') ? undefined : 'not selected (only)') : select.skipDatabase ? 'skipDatabase' : undefined;
        if (why) {
          kept.push({ target: `database ${config.postgres?.database ?? root.database ?? ''}`, why });
          continue;
        }
        if (!config.postgres) reasons.push(`${root.archivePath} is a database dump but this host has no postgres section to restore it into`);
        else dump = { archivePath: root.archivePath, database: config.postgres.database, file: join(recoveryDir, 'restore.dump'), emergencyFile: join(recoveryDir, 'emergency.dump') };
        continue;
      }
      const target = root.originalPath ?? '';
      const notWanted = wanted(target);
      if (notWanted) {
        kept.push({ target, why: notWanted });
        continue;
      }
      if (!isAbsolute(target) || normalize(target) !== target || target.endsWith('/') || root.archivePath !== target.slice(1)) {
        reasons.push(`root ${root.archivePath} has an inconsistent original path "${target}"`);
        continue;
      }
      if (!folderSources.includes(target)) {
        reasons.push(`${target} is not a backup source on this host (config backup.sources), so it is not restored here`);
        continue;
      }
      if (target === backupDir || target.startsWith(`${backupDir}/`) || backupDir.startsWith(`${target}/`)) {
        reasons.push(`${target} holds or lies in the backups folder`);
        continue;
      }
      const parent = dirname(target);
      const base = basename(target);
      roots.push({
        archivePath: root.archivePath,
        target,
        staging: join(parent, `.${base}.mcp-restore-${tag}`),
        previous: join(parent, `.${base}.mcp-previous-${tag}`),
        existedBefore: await exists(target),
        bytes: root.bytes,
        files: root.entries.files + root.entries.hardlinks,
      });
    }
    if (roots.length === 0 && !dump) refuse(`nothing left to restore: ${kept.map((k) => `${k.target} (${k.why})`).join('; ')}`);
    // Folders an earlier, interrupted recovery kept (previous state, staging) are never overwritten or guessed about;
    // this run's own staging (its tag), from an attempt a killed worker left, is started over.
    if (opts.removeOwnStaging) for (const p of [...roots.map((r) => r.staging), recoveryDir]) await rm(p, { recursive: true, force: true });
    for (const p of [...roots.flatMap((r) => [r.staging, r.previous]), recoveryDir]) {
      if (await exists(p)) reasons.push(`${p} already exists (left by an earlier recovery?): check it, then move it away`);
    }
    if (reasons.length) refuse(...reasons);

    // Free space: each root is extracted beside its target; dumps go to the recovery folder.
    const margin = 1 + config.recovery.freeSpaceMarginPercent / 100;
    const needs = new Map<string, number>();
    for (const r of roots) {
      // The nearest folder that exists: inspection creates nothing.
      let parent = dirname(r.target);
      while (!(await exists(parent)) && dirname(parent) !== parent) parent = dirname(parent);
      needs.set(parent, (needs.get(parent) ?? 0) + r.bytes);
    }
    const dumpBytes = dump ? (manifest.roots.find((r) => r.kind === 'pg_dump')?.bytes ?? 0) : 0;
    // The dumps (extracted and emergency) and a private copy of the archive when extraction reads one.
    needs.set(backupDir, (needs.get(backupDir) ?? 0) + dumpBytes * 2 + opts.copyBytes);
    // PostgreSQL's disks: a second copy of the database and the WAL its restore writes. The copy is taken to be as large as
    // the database was when dumped (the manifest's databaseBytes; an older manifest: the dump's size), which counts the dead
    // rows it had then: the recovery is refused only when what it takes at least (as large as the dump) does not fit, and
    // warned about when the size as dumped does not. The recovery may be what frees that disk.
    const least = new Map(needs);
    const pgWhat = new Map<string, string>();
    if (dump && config.postgres) {
      const pg = await databaseRestoreNeeds(config.postgres, dumpedDatabaseBytes(manifest));
      if ('unchecked' in pg) dump = { ...dump, spaceWarning: `room for a second copy of database ${dump.database} on PostgreSQL's disk was not checked: ${pg.unchecked}` };
      else {
        for (const n of pg.needs) {
          needs.set(n.path, (needs.get(n.path) ?? 0) + n.bytes);
          least.set(n.path, (least.get(n.path) ?? 0) + Math.min(n.bytes, dumpBytes));
          pgWhat.set(n.path, n.what);
        }
      }
    }
    const space: RestorePlan['space'] = [];
    const byDevice = new Map<string, { path: string; needed: number; least: number; available: number; what: string[]; staging: boolean }>();
    for (const [path, bytes] of needs) {
      const s = await statfs(path);
      const key = String((await stat(path)).dev);
      const entry = byDevice.get(key) ?? { path, needed: 0, least: 0, available: s.bavail * s.bsize, what: [], staging: false };
      entry.needed += Math.ceil(bytes * margin);
      entry.least += Math.ceil((least.get(path) ?? 0) * margin);
      if (pgWhat.has(path)) entry.what.push(pgWhat.get(path)!);
      else entry.staging = true;
      byDevice.set(key, entry);
    }
    const tight: string[] = [];
    for (const e of byDevice.values()) {
      space.push({ path: e.path, neededBytes: e.needed, availableBytes: e.available });
      const what = `${e.staging ? ' for staging' : ''}${e.what.length ? ` (with ${e.what.join(' and ')})` : ''}`;
      if (e.least > e.available) reasons.push(`not enough free space on the filesystem of ${e.path}: ${e.least} bytes needed${what}, ${e.available} available`);
      else if (e.needed > e.available) tight.push(`${e.needed} bytes on the filesystem of ${e.path}${what}, ${e.available} available`);
    }
    if (tight.length && dump) {
      dump = { ...dump, spaceWarning: `database ${dump.database} as large as when it was dumped may not fit on PostgreSQL's disk: ${tight.join('; ')}; the recovery goes ahead, since what it takes at least (a copy as large as the dump) fits and a copy restored from a dump leaves out the dead rows that size counted` };
    }
    if (reasons.length) refuse(...reasons);

    return {
      archive,
      sha256: manifest.sha256,
      backupCreatedAt: manifest.createdAt,
      backupHost: manifest.host,
      fromOtherHost: manifest.host !== config.hostId,
      roots,
      ...(dump ? { dump } : {}),
      recoveryDir,
      services: owningServices(config, roots.map((r) => r.target), dump !== undefined, services.services),
      space,
      totals: { files: roots.reduce((n, r) => n + r.files, 0), bytes: roots.reduce((n, r) => n + r.bytes, 0) },
      ...(req.fromDir !== undefined ? { archiveDir } : {}),
      ...(kept.length ? { kept } : {}),
    };
  };


  /** The emergency dump's database size beside it, for the emergency archive's manifest (a recovery from it checks PostgreSQL's disk against it); best effort. */
  const recordDumpSize = async (file: string, database: string) => {
    const size = await databaseSize(config.postgres!, database).catch(() => undefined);
    if (size !== undefined) await writeDumpSize({ stagingPath: file }, size);
  };

  return {
    /** Every check a recovery needs before it touches anything (a read-only pass: a dry run); throws {@link RestoreRefusedError} with the reasons. */
    async inspectRestore(req: RestoreRequest): Promise<RestorePlan> {
      const { manifest, scan } = await checkedArchive(config, { archive: req.archive, ...(req.fromDir !== undefined ? { fromDir: req.fromDir } : {}) });
      const plan = await planRestore(manifest, req, { copyBytes: scan.bytes });
      return { ...plan, inspected: inspectedOf(scan, manifest) };
    },

    /**
     * A recovery's inspection and extraction in one pass: the manifest checked, the plan made
     * (selection, leftovers, free space), then every root extracted into its staging folder and
     * the dump into the recovery folder while the same pass checks the archive against its
     * manifest. A refusal removes everything the pass wrote, and nothing else was touched. When
     * the plan has a dump, also decides whether the database is swapped in by rename or restored in place.
     */
    async stageRestore(req: RestoreRequest): Promise<RestorePlan> {
      const { archive, archivePath, manifest } = await checkedManifest(config, { archive: req.archive, ...(req.fromDir !== undefined ? { fromDir: req.fromDir } : {}) });
      const plan = await planRestore(manifest, req, { copyBytes: 0, removeOwnStaging: true });
      // Decided before anything is written: a database that cannot be reached fails the step with nothing to remove.
      let dump = plan.dump;
      if (dump && config.postgres) {
        const why = await swapProblem(config.postgres);
        dump = why ? { ...dump, inPlace: why } : { ...dump, swap: { ...swapNames(config.postgres.database, basename(plan.recoveryDir)), liveExisted: await databaseExists(config.postgres) } };
      }
      const made: string[] = [];
      const removeStaging = async () => {
        for (const r of plan.roots) await rm(r.staging, { recursive: true, force: true });
        await rm(plan.recoveryDir, { recursive: true, force: true });
        // The folders made above the targets go too, deepest first, each only if nothing else was put in it meanwhile.
        for (const d of [...made].sort((a, b) => b.length - a.length)) await rmdir(d).catch(() => undefined);
      };
      const targets = await extractTargets(plan, made);
      const signal = activitySignal();
      const size = (await lstat(archivePath)).size;
      const report = trackStep(`check and extract ${archive}`, 'bytes', size);
      const limits = { maxCompressionRatio: config.recovery.maxCompressionRatio, maxEntries: config.recovery.maxEntries };
      let result: Awaited<ReturnType<typeof extractRoots>>;
      try {
        result = await extractRoots({ archivePath, targets, check: { manifest, limits }, ...(signal ? { signal } : {}), onProgress: (n) => report(n, size) });
      } catch (err) {
        await removeStaging();
        throw err;
      }
      if (result.refused.length || !result.scan) {
        await removeStaging();
        throw new RestoreRefusedError(archive, result.refused);
      }
      return { ...plan, ...(dump ? { dump } : {}), inspected: inspectedOf(result.scan, manifest), staged: true };
    },

    /**
     * Removes what a one pass of this run (by its tag) may have left when it failed or was cut short: the staging
     * folder beside each configured folder and the recovery folder. Nothing of another run, nothing live.
     */
    async discardStaged(req: { workflowId: string; runId?: string }): Promise<{ removed: string[] }> {
      const tag = runTag(req);
      const removed: string[] = [];
      for (const p of [...folderSources.map((t) => join(dirname(t), `.${basename(t)}.mcp-restore-${tag}`)), join(backupDir, '.recovery', tag)]) {
        if (!(await exists(p))) continue;
        await rm(p, { recursive: true, force: true });
        removed.push(p);
      }
      return { removed };
    },

    /** Restores the staged dump into the plan's staging database, beside the live one, while the services run. */
    async stageRestoreDatabase(req: { plan: RestorePlan }): Promise<{ database: string }> {
      const swap = req.plan.dump?.swap;
      if (!swap || !config.postgres) throw new Error('the plan restores no database by swap');
      const signal = activitySignal();
      await stageDatabase({ pg: config.postgres, staging: swap.staging, file: req.plan.dump!.file, ...(signal ? { signal } : {}), progress: trackStep(`pg_restore into ${swap.staging}`, 'bytes') });
      return { database: swap.staging };
    },

    /** Services stopped: the live database becomes the previous one and the staging database the live one, in one transaction. Idempotent. */
    async swapDatabase(req: { plan: RestorePlan }): Promise<'swapped' | 'already swapped'> {
      const swap = req.plan.dump?.swap;
      if (!swap || !config.postgres) throw new Error('the plan restores no database by swap');
      return swapInDatabase(config.postgres, swap);
    },

    /** Puts the previous database back in place. Idempotent. */
    async undoDatabaseSwap(req: { plan: RestorePlan }): Promise<'restored previous' | 'nothing to undo'> {
      const swap = req.plan.dump?.swap;
      if (!swap || !config.postgres) return 'nothing to undo';
      return undoDatabaseSwap(config.postgres, swap);
    },

    /**
     * Extracts every root into its staging folder and the dump into the recovery folder, while services still run.
     * Only a private copy of the archive whose sha256 is the inspected one is extracted, so an archive swapped
     * during the approval wait is refused before any byte is extracted; throws {@link RestoreRefusedError}
     * (having removed what it wrote) when the archive differs, exceeds the inspected counts or holds anything unsafe.
     */
    async extractForRestore(req: { plan: RestorePlan }): Promise<{ files: number; bytes: number; seconds: number }> {
      const { plan } = req;
      const t0 = Date.now();
      if (!plan.inspected) throw new RestoreRefusedError(plan.archive, ['the plan does not record what was inspected (it was made by an older version); start the recovery again']);
      for (const r of plan.roots) await rm(r.staging, { recursive: true, force: true });
      await rm(plan.recoveryDir, { recursive: true, force: true });
      const targets = await extractTargets(plan);
      const signal = activitySignal();
      const archiveDir = plan.archiveDir ?? backupDir;
      const report = trackStep(`extract ${plan.archive}`, 'bytes', (await lstat(join(archiveDir, plan.archive))).size);
      const result = await extractRoots({
        archivePath: join(archiveDir, plan.archive),
        targets,
        inspected: plan.inspected,
        workDir: plan.recoveryDir,
        ...(signal ? { signal } : {}),
        onProgress: (n) => report(n, plan.inspected!.bytes * 2),
      });
      if (result.refused.length) {
        // extractRoots removed what it wrote; the folders this activity made go too, so a refusal leaves nothing.
        for (const r of plan.roots) await rm(r.staging, { recursive: true, force: true });
        await rm(plan.recoveryDir, { recursive: true, force: true });
        throw new RestoreRefusedError(plan.archive, result.refused);
      }
      return { files: result.files, bytes: result.bytes, seconds: (Date.now() - t0) / 1000 };
    },

    /** Dumps the current database (services stopped) so a failed recovery can put it back. */
    async dumpCurrentDatabase(req: { plan: RestorePlan }): Promise<{ bytes: number }> {
      if (!req.plan.dump || !config.postgres) return { bytes: 0 };
      const signal = activitySignal();
      await mkdir(req.plan.recoveryDir, { recursive: true, mode: 0o700 });
      const bytes = await pgDump({ pg: config.postgres, outFile: req.plan.dump.emergencyFile, ...(signal ? { signal } : {}), progress: trackStep('pg_dump (emergency)', 'bytes') });
      await recordDumpSize(req.plan.dump.emergencyFile, config.postgres.database);
      return { bytes };
    },

    /**
     * Puts the staging folder in the target's place: target -> previous, staging
     * -> target. Idempotent from any point, so a retry after a killed worker finishes the swap.
     */
    async swapRoot(req: { root: RestoreRoot }): Promise<'swapped' | 'already swapped'> {
      const r = req.root;
      const [t, s, p] = await Promise.all([exists(r.target), exists(r.staging), exists(r.previous)]);
      const parent = dirname(r.target);
      if (!s) {
        if (t && (p || !r.existedBefore)) return 'already swapped';
        throw new RecoveryStateError(`cannot swap ${r.target}: its staging folder ${r.staging} is missing`);
      }
      if (t && !p) {
        await rename(r.target, r.previous);
        await syncDir(parent);
        await faults.reach('restore.swap', activitySignal());
      } else if (t && p) {
        throw new RecoveryStateError(`cannot swap ${r.target}: both it and ${r.previous} exist next to the staging folder`);
      }
      await rename(r.staging, r.target);
      await syncDir(parent);
      return 'swapped';
    },

    /** Puts the previous folder back (the restored one is removed). Idempotent. */
    async undoSwap(req: { root: RestoreRoot }): Promise<'restored previous' | 'nothing to undo'> {
      const r = req.root;
      const parent = dirname(r.target);
      const discard = join(parent, `.${basename(r.target)}.mcp-discard-${basename(r.previous).split('-').pop() ?? 'x'}`);
      let undone = false;
      if (await exists(r.previous)) {
        if (await exists(r.target)) await rename(r.target, discard);
        await rename(r.previous, r.target);
        undone = true;
      } else if (!r.existedBefore && (await exists(r.target)) && !(await exists(r.staging))) {
        await rename(r.target, discard);
        undone = true;
      }
      await syncDir(parent);
      await rm(discard, { recursive: true, force: true });
      await rm(r.staging, { recursive: true, force: true });
      return undone ? 'restored previous' : 'nothing to undo';
    },

    /** Restores a dump into the configured database in one transaction. */
    async restoreDatabase(req: { file: string }): Promise<void> {
      if (!config.postgres) throw new Error('no postgres section in the host config');
      const signal = activitySignal();
      await access(req.file);
      await pgRestore({ pg: config.postgres, file: req.file, ...(signal ? { signal } : {}), progress: trackStep('pg_restore', 'bytes') });
    },

    /** After a recovery: each service active, the memory service answers, the database answers, the configured validate command passes. */
    async postRecoveryChecks(): Promise<Finding[]> {
      const findings = await serviceOps.checkServices();
      findings.push(await memoryServiceAnswers(config), ...(await databaseAnswers(config)));
      if (config.recovery.validateCommand) {
        const argv = config.recovery.validateCommand;
        try {
          const r = await runArgv(argv, { service: 'recovery', action: 'validate', timeoutMs: 120_000, signal: activitySignal() });
          findings.push(
            r.exitCode === 0
              ? finding('config.validate', 'ok', `${argv[0] ?? ''} passed`, { argv })
              : finding('config.validate', 'fail', `${argv[0] ?? ''} failed (exit ${r.exitCode}): ${r.output.trim().split('\n').slice(-3).join(' | ')}`, { argv, exitCode: r.exitCode }),
          );
        } catch (err) {
          findings.push(finding('config.validate', 'fail', `validate command could not run: ${errorMessage(err)}`, { argv }));
        }
      }
      return findings;
    },

    /**
     * The emergency backup: a normal archive of the state before the recovery,
     * read from the preserved previous folders and the emergency dump, made after
     * the services are back so it adds no downtime.
     */
    async archivePreviousState(req: { plan: RestorePlan; workflowId: string }): Promise<ArchiveResult | undefined> {
      const sources = req.plan.roots.filter((r) => r.existedBefore);
      // A database swapped by rename: the previous one, kept closed, is dumped now (the services are back).
      const swap = req.plan.dump?.swap;
      if (swap && config.postgres && (await openPrevious(config.postgres, swap))) {
        await mkdir(req.plan.recoveryDir, { recursive: true, mode: 0o700 });
        const signal = activitySignal();
        await pgDump({ pg: { ...config.postgres, database: swap.previous }, outFile: req.plan.dump!.emergencyFile, ...(signal ? { signal } : {}), progress: trackStep(`pg_dump ${swap.previous} (the database before the recovery)`, 'bytes') });
        await recordDumpSize(req.plan.dump!.emergencyFile, swap.previous);
      }
      const dump = req.plan.dump && (await exists(req.plan.dump.emergencyFile)) ? req.plan.dump : undefined;
      if (!sources.length && !dump) return undefined;
      // The name is chosen once per run and kept in the run's recovery folder: a retry after a killed
      // worker writes the same archive again (over its own .partial) or finds it committed, never a second one.
      await mkdir(req.plan.recoveryDir, { recursive: true, mode: 0o700 });
      const nameFile = join(req.plan.recoveryDir, 'emergency-archive.json');
      let chosen = await readFile(nameFile, 'utf8')
        .then((t) => JSON.parse(t) as { name: string; createdAt: string })
        .catch(() => undefined);
      if (!chosen) {
        const { name, at } = await freshArchiveName(config, new Date());
        chosen = { name, createdAt: at.toISOString() };
        await writeFileDurably(nameFile, JSON.stringify(chosen), 0o600);
      }
      const plan: BackupPlan = {
        archive: chosen.name,
        createdAt: chosen.createdAt,
        stagingDir: req.plan.recoveryDir,
        sources: sources.map((r) => ({ archivePath: r.archivePath, originalPath: r.target, archiveFrom: r.previous, mode: 'stop', services: [] })),
        ...(dump ? { dump: { archivePath: dump.archivePath, stagingPath: dump.emergencyFile, database: dump.database } } : {}),
        stopGroups: [],
        missing: [],
        estimatedBytes: sources.reduce((n, r) => n + r.bytes, 0),
      };
      return backup.createArchive({ plan, workflowId: req.workflowId, reason: `state before recovery from ${req.plan.archive}`, downtime: [], kind: 'emergency', compressionLevel: config.recovery.emergencyCompressionLevel });
    },

    /** Removes the previous folders (and database), leftover staging (folders and database) and the recovery folder. */
    async cleanupRecovery(req: { plan: RestorePlan; keepPrevious?: boolean; databases?: boolean }): Promise<void> {
      for (const r of req.plan.roots) {
        if (!req.keepPrevious) await rm(r.previous, { recursive: true, force: true });
        await rm(r.staging, { recursive: true, force: true });
      }
      const swap = req.plan.dump?.swap;
      // Not before approval (no staging database yet): a rejection needs no PostgreSQL.
      if (swap && config.postgres && req.databases !== false) await dropOurs(config.postgres, req.keepPrevious ? [swap.staging] : [swap.staging, swap.previous]);
      await rm(req.plan.recoveryDir, { recursive: true, force: true });
    },
  };
}
