/**
 * Restore drill activities (`restoreDrill`): restore a backup into scratch
 * copies on the host, never touching the live folders, the live database or a
 * service, and prove it rebuilds the right bytes and a database that answers.
 *
 * The archive goes through the same checks as a recovery's (manifest, checksum,
 * every entry's type and where links lead, the size limits) before anything is
 * written; then every root is extracted under `<backups>/.drill/<tag>/root/`
 * (each at its original absolute path below that folder), the dump is restored
 * into a scratch database `<db>_drill_<tag>`, every restored file is hashed
 * against the manifest's per-file sha256 and every table's rows are counted
 * against the counts recorded in the dump's snapshot. Cleanup removes both
 * scratch copies and is safe to run any number of times.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, rm, statfs } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { archiveNameProblem } from '../common/archive-names.js';
import { errorMessage } from '../common/errors.js';
import { STALL_DEFAULT_SECONDS } from '../common/progress.js';
import { finding, type Finding } from '../common/report.js';
import type { Config } from '../config/config.js';
import { extractRoots, type InspectedArchive } from '../archive/extract.js';
import { manifestPath, readManifest, type BackupManifest } from '../archive/manifest.js';
import { NotRegularFileError } from '../archive/read-into.js';
import { scanArchive } from '../archive/scan.js';
import { quoteIdent, withPgClient } from '../postgres/client.js';
import { countTables, pgRestore } from '../postgres/tools.js';
import { runArgv } from '../services/run-argv.js';
import { exists } from '../system/fs.js';
import { activitySignal, trackStep } from './context.js';
import { RestoreRefusedError } from './restore.js';

/** How long the drill's validate command may run (it reports no progress: under the stall window). */
const VALIDATE_TIMEOUT_MS = (STALL_DEFAULT_SECONDS - 30) * 1000;

/** Where a drill's scratch copies live: `<backups>/.drill/<tag>`. */
export const DRILL_DIR = '.drill';
const TAG = /^[0-9a-f]{8}$/;

export interface DrillRoot {
  archivePath: string;
  /** The folder the root is restored into: `<scratch>/root/<original path>`. */
  destination: string;
  files: number;
  bytes: number;
}

export interface DrillPlan {
  archive: string;
  /** Where the archive is read from: the backups folder, or a folder fetched from a backup target. */
  archiveDir: string;
  /** `<backups>/.drill/<tag>`: everything the drill writes on disk. */
  scratchDir: string;
  /** `<scratch>/root`: the restored folders, each at its original absolute path below it. */
  rootDir: string;
  roots: DrillRoot[];
  dump?: { archivePath: string; file: string; database: string; scratchDatabase: string; tables: number };
  /** Files the manifest has a sha256 for (0: a manifest made before per-file digests). */
  digests: number;
  inspected: InspectedArchive;
  space: { path: string; neededBytes: number; availableBytes: number };
  backupCreatedAt: string;
}

export interface DrillCheck {
  findings: Finding[];
  /** What did not match, one line each (a file, a table, the validate command). */
  mismatches: string[];
}

/** The scratch database of a drill: `<db>_drill_<tag>`, within PostgreSQL's 63-byte names. */
export function scratchDatabaseName(database: string, tag: string): string {
  return `${database.slice(0, 63 - '_drill_'.length - tag.length)}_drill_${tag}`;
}

async function sha256File(path: string, onBytes: (n: number) => void, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(
    createReadStream(path, { flags: 'r' }),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        hash.update(chunk);
        onBytes(chunk.length);
      }
      yield* [];
    },
    ...(signal ? [{ signal }] : []),
  );
  return hash.digest('hex');
}

export function createDrillActivities({ config }: { config: Config }) {
  const backupDir = config.paths.backupDir;
  const drillRoot = join(backupDir, DRILL_DIR);

  /** The scratch folder of a plan, checked: cleanup never removes anything else. */
  const ownScratch = (plan: Pick<DrillPlan, 'scratchDir'>): string => {
    if (dirname(plan.scratchDir) !== drillRoot || !TAG.test(basename(plan.scratchDir))) throw new Error(`${plan.scratchDir} is not a restore drill's scratch folder`);
    return plan.scratchDir;
  };

  return {
    /** The newest backup in the backups folder that passed its verification (emergency archives left out). */
    async newestVerifiedBackup(): Promise<{ archive: string; createdAt: string }> {
      const names = (await readdir(backupDir).catch(() => [] as string[])).filter((n) => n.endsWith('.tar.gz') && !archiveNameProblem(n)).sort().reverse();
      for (const name of names) {
        const m = await readManifest(manifestPath(backupDir, name)).catch(() => undefined);
        if (m && m.kind === 'backup' && m.verification?.ok) return { archive: name, createdAt: m.createdAt };
      }
      throw new RestoreRefusedError('the newest backup', [
        `no verified backup in ${backupDir}${names.length ? ` (${names.length} archive(s), none verified: run \`mcp-runbooks backups verify --all\`)` : ''}; run \`mcp-runbooks run backup\` first, or give --backup NAME`,
      ]);
    },

    /**
     * The recovery's checks (name, manifest, checksum, every entry, the limits), then the drill's plan:
     * scratch folders under the backups folder, a scratch database, and the space they need. Refuses
     * when the scratch copy would not fit. Writes nothing.
     */
    async inspectDrill(req: { archive: string; workflowId: string; runId: string; fromDir?: string }): Promise<DrillPlan> {
      const { archive } = req;
      const refuse = (...reasons: string[]): never => {
        throw new RestoreRefusedError(archive, reasons);
      };
      const offsite = join(backupDir, '.offsite');
      if (req.fromDir !== undefined && (dirname(req.fromDir) !== offsite || basename(req.fromDir).startsWith('.'))) refuse(`${req.fromDir} is not a folder fetched from a backup target`);
      const archiveDir = req.fromDir ?? backupDir;
      const problem = archiveNameProblem(archive);
      if (problem) refuse(problem);
      const archivePath = join(archiveDir, archive);
      const st = await lstat(archivePath).catch(() => undefined);
      if (st?.isSymbolicLink()) refuse(`${archivePath} is a symbolic link; refusing to read an archive through a link`);
      if (!st?.isFile()) refuse(`no archive "${archive}" in ${archiveDir}`);
      let manifest: BackupManifest;
      try {
        manifest = await readManifest(manifestPath(archiveDir, archive));
      } catch (err) {
        return refuse(`its manifest is missing or unreadable (${errorMessage(err)}); a backup is drilled only against its manifest`);
      }
      if (manifest.archive !== archive) refuse(`the manifest describes "${manifest.archive}", not "${archive}"`);
      const signal = activitySignal();
      const report = trackStep(`inspect ${archive}`, 'bytes');
      const limits = { maxCompressionRatio: config.recovery.maxCompressionRatio, maxEntries: config.recovery.maxEntries };
      let scan;
      try {
        scan = await scanArchive({ archivePath, manifest, limits, ...(signal ? { signal } : {}), onProgress: (d, t) => report(d, t) });
      } catch (err) {
        if (err instanceof NotRegularFileError) return refuse(err.message);
        throw err;
      }
      if (scan.limitExceeded) refuse(`${scan.limitExceeded.message} (config recovery.${scan.limitExceeded.limit})`);
      if (scan.problems.length) refuse(`the archive does not match its manifest: ${scan.problems.join('; ')}`);
      if (scan.unsafe.length) refuse(`unsafe entries: ${scan.unsafe.join('; ')}`);

      const tag = createHash('sha256').update(req.runId).digest('hex').slice(0, 8);
      const scratchDir = join(drillRoot, tag);
      const rootDir = join(scratchDir, 'root');
      const roots: DrillRoot[] = [];
      let dump: DrillPlan['dump'];
      for (const root of manifest.roots) {
        if (root.kind === 'pg_dump') {
          if (!config.postgres) refuse(`${root.archivePath} is a database dump but this host has no postgres section to restore it into`);
          const database = config.postgres!.database;
          dump = { archivePath: root.archivePath, file: join(scratchDir, 'restore.dump'), database, scratchDatabase: scratchDatabaseName(database, tag), tables: Object.keys(root.tables ?? {}).length };
          continue;
        }
        roots.push({ archivePath: root.archivePath, destination: join(rootDir, root.archivePath), files: root.entries.files + root.entries.hardlinks, bytes: root.bytes });
      }
      if (await exists(scratchDir)) refuse(`${scratchDir} already exists (left by an earlier drill?): remove it`);
      // Everything is written under the backups folder: the roots, the dump, the private copy extraction reads.
      const dumpBytes = manifest.roots.filter((r) => r.kind === 'pg_dump').reduce((n, r) => n + r.bytes, 0);
      const neededBytes = Math.ceil((roots.reduce((n, r) => n + r.bytes, 0) + dumpBytes + scan.bytes) * (1 + config.recovery.freeSpaceMarginPercent / 100));
      const fs = await statfs(backupDir);
      const space = { path: backupDir, neededBytes, availableBytes: fs.bavail * fs.bsize };
      if (neededBytes > space.availableBytes) refuse(`the scratch copy does not fit: ${neededBytes} bytes needed on the filesystem of ${backupDir}, ${space.availableBytes} available`);
      return {
        archive,
        archiveDir,
        scratchDir,
        rootDir,
        roots,
        ...(dump ? { dump } : {}),
        digests: manifest.roots.reduce((n, r) => n + Object.keys(r.files ?? {}).length, 0),
        inspected: { sha256: scan.sha256, bytes: scan.bytes, entries: scan.entries, fileBytes: scan.fileBytes, tarBytes: scan.tarBytes, compressor: manifest.compressor },
        space,
        backupCreatedAt: manifest.createdAt,
      };
    },

    /** Extracts every root and the dump into the scratch folder (the archive's private copy, checked against the inspection). */
    async extractDrill(req: { plan: DrillPlan }): Promise<{ files: number; bytes: number; seconds: number }> {
      const { plan } = req;
      const t0 = Date.now();
      const scratch = ownScratch(plan);
      await rm(scratch, { recursive: true, force: true });
      await mkdir(scratch, { recursive: true, mode: 0o700 });
      for (const r of plan.roots) await mkdir(dirname(r.destination), { recursive: true, mode: 0o700 });
      const signal = activitySignal();
      const report = trackStep(`extract ${plan.archive} into ${scratch}`, 'bytes');
      const result = await extractRoots({
        archivePath: join(plan.archiveDir, plan.archive),
        targets: [
          ...plan.roots.map((r) => ({ archivePath: r.archivePath, destination: r.destination, kind: 'folder' as const })),
          ...(plan.dump ? [{ archivePath: plan.dump.archivePath, destination: plan.dump.file, kind: 'file' as const }] : []),
        ],
        inspected: plan.inspected,
        workDir: scratch,
        ...(signal ? { signal } : {}),
        onProgress: (n) => report(n, plan.inspected.bytes * 2),
      });
      if (result.refused.length) {
        await rm(scratch, { recursive: true, force: true });
        throw new RestoreRefusedError(plan.archive, result.refused);
      }
      return { files: result.files, bytes: result.bytes, seconds: (Date.now() - t0) / 1000 };
    },

    /** Creates the scratch database and restores the dump into it (`pg_restore --single-transaction`). */
    async restoreDrillDatabase(req: { plan: DrillPlan }): Promise<{ seconds: number }> {
      const dump = req.plan.dump;
      if (!dump || !config.postgres) throw new Error('the drill has no database dump to restore');
      const pg = config.postgres;
      const t0 = Date.now();
      await withPgClient(
        pg,
        async (c) => {
          // A retry after a failed restore starts from an empty database again.
          await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(dump.scratchDatabase)} WITH (FORCE)`);
          await c.query(`CREATE DATABASE ${quoteIdent(dump.scratchDatabase)}`);
        },
        { database: 'postgres' },
      );
      const signal = activitySignal();
      await pgRestore({ pg: { ...pg, database: dump.scratchDatabase }, file: dump.file, ...(signal ? { signal } : {}), progress: trackStep(`pg_restore into ${dump.scratchDatabase}`, 'bytes') });
      return { seconds: (Date.now() - t0) / 1000 };
    },

    /**
     * Every restored file against the manifest's sha256, every table's rows against the dump's
     * counts, and the drill's validate command (config `recovery.drillValidateCommand`) against the copies.
     */
    async checkDrill(req: { plan: DrillPlan }): Promise<DrillCheck> {
      const { plan } = req;
      const signal = activitySignal();
      const findings: Finding[] = [];
      const mismatches: string[] = [];
      const manifest = await readManifest(manifestPath(plan.archiveDir, plan.archive));
      const report = trackStep('hash the restored files', 'bytes');
      let hashed = 0;
      const wrong: string[] = [];
      const missing: string[] = [];
      let checked = 0;
      for (const root of manifest.roots) {
        if (root.kind === 'pg_dump' && !plan.dump) continue;
        for (const [path, sha] of Object.entries(root.files ?? {})) {
          // A folder's files lie at their archive paths below the root folder; the dump was extracted to its own file.
          const restored = root.kind === 'pg_dump' ? plan.dump!.file : join(plan.rootDir, path);
          const st = await lstat(restored).catch(() => undefined);
          if (!st?.isFile()) {
            missing.push(`/${path}`);
            continue;
          }
          const got = await sha256File(restored, (n) => report((hashed += n)), signal);
          checked += 1;
          if (got !== sha) wrong.push(`/${path}`);
        }
      }
      const list = (xs: string[]) => `${xs.slice(0, 20).join(', ')}${xs.length > 20 ? ` and ${xs.length - 20} more` : ''}`;
      for (const p of wrong) mismatches.push(`${p}: restored bytes differ from the backup's sha256`);
      for (const p of missing) mismatches.push(`${p}: not restored`);
      if (plan.digests === 0) findings.push(finding('drill.files', 'warn', `${plan.archive} was made before per-file digests: its files were checked against the archive's checksum and listing only`, {}));
      else if (wrong.length || missing.length) {
        findings.push(finding('drill.files', 'fail', `${wrong.length + missing.length} of ${plan.digests} files do not match the backup: ${list([...wrong, ...missing])}`, { wrong, missing }));
      } else findings.push(finding('drill.files', 'ok', `all ${checked} files match their sha256 in the manifest`, { files: checked, bytes: hashed }));

      const dump = plan.dump;
      if (dump && config.postgres) {
        const expected = manifest.roots.find((r) => r.kind === 'pg_dump')?.tables;
        const counted = trackStep(`count the rows restored into ${dump.scratchDatabase}`, 'items');
        // A large table's count takes as long as it takes (the count between two tables is the progress).
        const got = await withPgClient({ ...config.postgres, database: dump.scratchDatabase, statementTimeoutSeconds: 0 }, (c) => countTables(c, (n, of) => counted(n, of)));
        if (!expected) {
          findings.push(finding('drill.database', 'warn', `${plan.archive} was made before table counts were recorded: the database restored and answers (${Object.keys(got).length} tables) but its rows were not compared`, { tables: got }));
        } else {
          const bad: string[] = [];
          for (const [table, rows] of Object.entries(expected)) {
            if (!(table in got)) bad.push(`${table}: missing (the dump's snapshot had ${rows} rows)`);
            else if (got[table] !== rows) bad.push(`${table}: ${got[table]} rows restored, ${rows} in the dump's snapshot`);
          }
          for (const table of Object.keys(got)) if (!(table in expected)) bad.push(`${table}: restored but not in the dump's snapshot`);
          mismatches.push(...bad);
          findings.push(
            bad.length
              ? finding('drill.database', 'fail', `the restored database does not match the backup: ${list(bad)}`, { tables: bad })
              : finding('drill.database', 'ok', `${Object.keys(expected).length} tables, ${Object.values(expected).reduce((a, b) => a + b, 0)} rows, as counted when the dump was taken`, {}),
          );
        }
      }

      const template = config.recovery.drillValidateCommand;
      if (template) {
        const argv = template.map((part) => part.replaceAll('{root}', plan.rootDir).replaceAll('{database}', dump?.scratchDatabase ?? ''));
        try {
          const r = await runArgv(argv, {
            service: 'restore drill',
            action: 'validate',
            // Within one stall window: the command reports no progress of its own.
            timeoutMs: VALIDATE_TIMEOUT_MS,
            signal,
            env: { MCP_DRILL_ROOT: plan.rootDir, ...(dump ? { MCP_DRILL_DATABASE: dump.scratchDatabase } : {}) },
          });
          if (r.exitCode === 0) findings.push(finding('drill.validate', 'ok', `${argv[0] ?? ''} passed against the scratch copy`, { argv }));
          else {
            const why = `${argv[0] ?? ''} failed (exit ${r.exitCode}): ${r.output.trim().split('\n').slice(-3).join(' | ')}`;
            mismatches.push(`validate command: ${why}`);
            findings.push(finding('drill.validate', 'fail', why, { argv, exitCode: r.exitCode }));
          }
        } catch (err) {
          if (signal?.aborted) throw err;
          mismatches.push(`validate command: could not run: ${errorMessage(err)}`);
          findings.push(finding('drill.validate', 'fail', `validate command could not run: ${errorMessage(err)}`, { argv }));
        }
      }
      return { findings, mismatches };
    },

    /** Drops the scratch database and removes the scratch folder; nothing else, and nothing when they are gone. */
    async cleanupDrill(req: { plan: DrillPlan }): Promise<{ removed: string[] }> {
      const { plan } = req;
      const removed: string[] = [];
      const scratch = ownScratch(plan);
      if (plan.dump && config.postgres) {
        const name = plan.dump.scratchDatabase;
        if (!name.includes('_drill_')) throw new Error(`${name} is not a restore drill's scratch database`);
        const dropped = await withPgClient(
          config.postgres,
          async (c) => {
            const had = (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount;
            await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
            return had;
          },
          { database: 'postgres' },
        );
        if (dropped) removed.push(`database ${name}`);
      }
      if (await exists(scratch)) {
        await rm(scratch, { recursive: true, force: true });
        removed.push(scratch);
      }
      return { removed };
    },
  };
}

export type DrillActivities = ReturnType<typeof createDrillActivities>;
