/**
 * Disaster recovery activities. Nothing changes a service or a target folder
 * until {@link inspectRestore} has checked the name, checksum, manifest, every
 * entry and the free space. Folders are restored by extracting beside each
 * target and swapping by rename, so a folder is always wholly old or wholly
 * restored; the previous folder is kept until the post-recovery checks pass.
 */
import { databaseAnswers, memoryServiceAnswers } from './service-checks.js';
import { createHash } from 'node:crypto';
import { access, lstat, mkdir, readFile, readdir, rename, rm, statfs } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { archiveNameProblem } from '../common/archive-names.js';
import { errorMessage } from '../common/errors.js';
import { finding, type Finding } from '../common/report.js';
import type { Config } from '../config/config.js';
import { extractRoots, type ExtractTarget, type InspectedArchive } from '../archive/extract.js';
import { manifestPath, readManifest, syncDir, writeFileDurably, type BackupManifest } from '../archive/manifest.js';
import { NotRegularFileError } from '../archive/read-into.js';
import { scanArchive, type ScanResult } from '../archive/scan.js';
import { pgDump, pgRestore } from '../postgres/tools.js';
import type { ServiceManager } from '../services/index.js';
import { runArgv } from '../services/run-argv.js';
import { createBackupActivities, freshArchiveName, type ArchiveResult, type BackupPlan } from './backup.js';
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
  dump?: { archivePath: string; database: string; file: string; emergencyFile: string };
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
  // Links are refused, not followed: a link planted in the backups folder could lead anywhere, and the scan reads with O_NOFOLLOW anyway.
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

  const signal = activitySignal();
  const report = trackStep(`inspect ${archive}`, 'bytes');
  const limits = { maxCompressionRatio: config.recovery.maxCompressionRatio, maxEntries: config.recovery.maxEntries };
  let scan: ScanResult;
  try {
    scan = await scanArchive({ archivePath, manifest, limits, ...(signal ? { signal } : {}), onProgress: (d, t) => report(d, t) });
  } catch (err) {
    // Swapped for a link (or something else) after the lstat above.
    if (err instanceof NotRegularFileError) return refuse(err.message);
    throw err;
  }
  // A bomb first: the scan stopped there, so its other counts are partial.
  if (scan.limitExceeded) refuse(`${scan.limitExceeded.message} (config recovery.${scan.limitExceeded.limit})`);
  if (scan.problems.length) refuse(`the archive does not match its manifest: ${scan.problems.join('; ')}`);
  if (scan.unsafe.length) refuse(`unsafe entries: ${scan.unsafe.join('; ')}`);
  return { manifest, scan };
}

export function createRestoreActivities({ config, services, faults = NO_FAULTS }: RestoreActivityDeps) {
  const backupDir = config.paths.backupDir;
  const backup = createBackupActivities({ config, faults });
  const serviceOps = createServiceActivities({ services });
  const folderSources = config.backup.sources.flatMap((s) => (s.mode === 'pg_dump' ? [] : [s.path]));

  return {
    /** Every check a recovery needs before it touches anything; throws {@link RestoreRefusedError} with the reasons. */
    async inspectRestore(req: { archive: string; workflowId: string; runId?: string; fromDir?: string; select?: RestoreSelection }): Promise<RestorePlan> {
      const { archive } = req;
      const refuse = (...reasons: string[]): never => {
        throw new RestoreRefusedError(archive, reasons);
      };
      const { manifest, scan } = await checkedArchive(config, { archive, ...(req.fromDir !== undefined ? { fromDir: req.fromDir } : {}) });
      const archiveDir = req.fromDir ?? backupDir;

      // One tag per run: a second run with the same workflow id (a fixed id, a reset) never meets the first one's folders.
      const tag = createHash('sha256').update(req.runId ?? req.workflowId).digest('hex').slice(0, 8);
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
      // Folders an earlier, interrupted recovery kept (previous state, staging) are never overwritten or guessed about.
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
      // The dumps (extracted and emergency) and the private copy of the archive that extraction reads.
      needs.set(backupDir, (needs.get(backupDir) ?? 0) + dumpBytes * 2 + scan.bytes);
      const space: RestorePlan['space'] = [];
      const byDevice = new Map<string, { path: string; needed: number; available: number }>();
      for (const [path, bytes] of needs) {
        const s = await statfs(path);
        const st2 = await lstat(path);
        const key = String(st2.dev);
        const entry = byDevice.get(key) ?? { path, needed: 0, available: s.bavail * s.bsize };
        entry.needed += Math.ceil(bytes * margin);
        byDevice.set(key, entry);
      }
      for (const e of byDevice.values()) {
        space.push({ path: e.path, neededBytes: e.needed, availableBytes: e.available });
        if (e.needed > e.available) reasons.push(`not enough free space on the filesystem of ${e.path}: ${e.needed} bytes needed for staging, ${e.available} available`);
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
        inspected: { sha256: scan.sha256, bytes: scan.bytes, entries: scan.entries, fileBytes: scan.fileBytes, tarBytes: scan.tarBytes, compressor: manifest.compressor },
        ...(req.fromDir !== undefined ? { archiveDir } : {}),
        ...(kept.length ? { kept } : {}),
      };
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
      await mkdir(plan.recoveryDir, { recursive: true, mode: 0o700 });
      for (const r of plan.roots) await mkdir(dirname(r.staging), { recursive: true });
      const targets: ExtractTarget[] = plan.roots.map((r) => ({ archivePath: r.archivePath, destination: r.staging, kind: 'folder' }));
      if (plan.dump) targets.push({ archivePath: plan.dump.archivePath, destination: plan.dump.file, kind: 'file' });
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
      return backup.createArchive({ plan, workflowId: req.workflowId, reason: `state before recovery from ${req.plan.archive}`, downtime: [], kind: 'emergency' });
    },

    /** Removes the previous folders, leftover staging and the recovery folder. */
    async cleanupRecovery(req: { plan: RestorePlan; keepPrevious?: boolean }): Promise<void> {
      for (const r of req.plan.roots) {
        if (!req.keepPrevious) await rm(r.previous, { recursive: true, force: true });
        await rm(r.staging, { recursive: true, force: true });
      }
      await rm(req.plan.recoveryDir, { recursive: true, force: true });
    },
  };
}
