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
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rm, stat, statfs } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { archiveNameProblem } from '../common/archive-names.js';
import { errorMessage } from '../common/errors.js';
import { STALL_DEFAULT_SECONDS } from '../common/progress.js';
import { finding, type Finding } from '../common/report.js';
import type { Config } from '../config/config.js';
import { extractRoots, type InspectedArchive } from '../archive/extract.js';
import { dumpedDatabaseBytes, manifestPath, readManifest } from '../archive/manifest.js';
import { quoteIdent, withPgClient } from '../postgres/client.js';
import { databaseRestoreNeeds } from '../postgres/swap.js';
import { countTables, pgRestore } from '../postgres/tools.js';
import { runArgv } from '../services/run-argv.js';
import { processIo } from '../system/proc-io.js';
import { exists } from '../system/fs.js';
import { activitySignal, trackStep } from './context.js';
import { checkedArchive, RestoreRefusedError } from './restore.js';

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
  /** Why the scratch database's room on PostgreSQL's disk was not checked (see databaseSpace). */
  databaseSpaceUnchecked?: string;
  backupCreatedAt: string;
}

export interface DrillCheck {
  findings: Finding[];
  /** What did not match, one line each (a file, a table, the validate command). */
  mismatches: string[];
}

/** PostgreSQL cuts identifiers at 63 bytes, silently. */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * The scratch database of a drill: `<db>_drill_<tag>`, or `mcp_drill_<tag>` when the live name is not plain
 * ASCII or too long for that: a name PostgreSQL would cut could come out as the live database's own.
 */
export function scratchDatabaseName(database: string, tag: string): string {
  const suffix = `_drill_${tag}`;
  const name = /^[A-Za-z0-9_]+$/.test(database) && database.length + suffix.length <= MAX_IDENTIFIER_BYTES ? `${database}${suffix}` : `mcp${suffix}`;
  if (name === database || Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) throw new Error(`no safe scratch database name for ${database}`);
  return name;
}

/** A scratch database name this module made (cleanup drops nothing else). */
const SCRATCH_DATABASE = /^[A-Za-z0-9_]{1,52}_drill_[0-9a-f]{8}$/;

/** At most this many items of a list go into a result (the workflow history); the count says how many there were. */
const LISTED = 50;
const capped = (xs: string[]): string[] => (xs.length > LISTED ? [...xs.slice(0, LISTED), `... and ${xs.length - LISTED} more`] : xs);

async function sha256File(path: string, onBytes: (n: number) => void, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  // Never through a link: the restored tree is the attacker's as much as the archive was.
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  await pipeline(
    fh.createReadStream(),
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
      const { manifest, scan } = await checkedArchive(config, { archive, ...(req.fromDir !== undefined ? { fromDir: req.fromDir } : {}) });
      const archiveDir = req.fromDir ?? backupDir;

      const tag = createHash('sha256').update(req.runId).digest('hex').slice(0, 8);
      const scratchDir = join(drillRoot, tag);
      const rootDir = join(scratchDir, 'root');
      const roots: DrillRoot[] = [];
      let dump: DrillPlan['dump'];
      for (const root of manifest.roots) {
        // The manifest is not signed: each root's path, and each digest's path, must lie where the archive's entries do.
        const ap = root.archivePath;
        if (!ap || ap.startsWith('/') || ap.split('/').some((part) => part === '' || part === '.' || part === '..')) refuse(`root "${ap}" is not a plain relative path`);
        if (root.kind !== 'pg_dump' && (root.originalPath === undefined || root.originalPath !== `/${ap}`)) refuse(`root ${ap} has an inconsistent original path "${String(root.originalPath)}"`);
        for (const key of Object.keys(root.files ?? {})) {
          const inside = root.kind === 'pg_dump' ? key === ap : key.startsWith(`${ap}/`) && !key.slice(ap.length + 1).split('/').some((part) => part === '' || part === '.' || part === '..');
          if (!inside) refuse(`the manifest's digest path "${key}" is not a file of root ${ap}`);
        }
        if (root.kind === 'pg_dump') {
          if (!config.postgres) refuse(`${root.archivePath} is a database dump but this host has no postgres section to restore it into`);
          const database = config.postgres!.database;
          dump = { archivePath: root.archivePath, file: join(scratchDir, 'restore.dump'), database, scratchDatabase: scratchDatabaseName(database, tag), tables: Object.keys(root.tables ?? {}).length };
          continue;
        }
        roots.push({ archivePath: root.archivePath, destination: join(rootDir, root.archivePath), files: root.entries.files + root.entries.hardlinks, bytes: root.bytes });
      }
      const digestCount = manifest.roots.reduce((n, r) => n + Object.keys(r.files ?? {}).length, 0);
      if (digestCount > scan.entries) refuse(`the manifest lists ${digestCount} file digests for an archive of ${scan.entries} entries`);
      if (await exists(scratchDir)) refuse(`${scratchDir} already exists (left by an earlier drill?): remove it`);
      // Everything is written under the backups folder: the roots, the dump, the private copy extraction reads.
      const dumpBytes = manifest.roots.filter((r) => r.kind === 'pg_dump').reduce((n, r) => n + r.bytes, 0);
      const margin = 1 + config.recovery.freeSpaceMarginPercent / 100;
      // The backups folder takes the folders, the dump and the archive's private copy; PostgreSQL's disks the
      // scratch database (as large as the database was when dumped, else its dump) and its restore's WAL.
      const needs: Array<{ path: string; bytes: number; what?: string }> = [{ path: backupDir, bytes: roots.reduce((n, r) => n + r.bytes, 0) + dumpBytes + scan.bytes }];
      let databaseSpaceUnchecked: string | undefined;
      if (dump && config.postgres) {
        // A drill runs unattended: it is refused (not warned about, as a recovery is) when the database as large as it was dumped does not fit.
        const pg = await databaseRestoreNeeds(config.postgres, dumpedDatabaseBytes(manifest), 'default');
        if ('unchecked' in pg) databaseSpaceUnchecked = pg.unchecked;
        else needs.push(...pg.needs.map((n) => ({ ...n, what: n.what.replace('a second copy of', 'the scratch copy of') })));
      }
      const byDevice = new Map<number, { path: string; neededBytes: number; availableBytes: number; what: string[] }>();
      for (const n of needs) {
        const dev = (await stat(n.path)).dev;
        const fs = await statfs(n.path);
        const e = byDevice.get(dev) ?? { path: n.path, neededBytes: 0, availableBytes: fs.bavail * fs.bsize, what: [] };
        e.neededBytes += Math.ceil(n.bytes * margin);
        if (n.what) e.what.push(n.what);
        byDevice.set(dev, e);
      }
      const over = [...byDevice.values()].filter((e) => e.neededBytes > e.availableBytes);
      if (over.length) refuse(over.map((e) => `the scratch copy does not fit: ${e.neededBytes} bytes needed on the filesystem of ${e.path}${e.what.length ? ` (with ${e.what.join(' and ')})` : ''}, ${e.availableBytes} available`).join('; '));
      const { what: _what, ...space } = byDevice.get((await stat(backupDir)).dev)!;
      return {
        archive,
        archiveDir,
        scratchDir,
        rootDir,
        roots,
        ...(dump ? { dump } : {}),
        digests: digestCount,
        inspected: { sha256: scan.sha256, bytes: scan.bytes, entries: scan.entries, fileBytes: scan.fileBytes, tarBytes: scan.tarBytes, compressor: manifest.compressor },
        space,
        ...(databaseSpaceUnchecked ? { databaseSpaceUnchecked } : {}),
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
      if (!SCRATCH_DATABASE.test(dump.scratchDatabase) || dump.scratchDatabase === config.postgres.database) throw new Error(`${dump.scratchDatabase} is not a restore drill's scratch database`);
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
          if (root.kind !== 'pg_dump' && !restored.startsWith(`${plan.rootDir}/`)) {
            missing.push(`/${path}`);
            continue;
          }
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
      for (const p of wrong.slice(0, LISTED)) mismatches.push(`${p}: restored bytes differ from the backup's sha256`);
      for (const p of missing.slice(0, LISTED)) mismatches.push(`${p}: not restored`);
      if (wrong.length + missing.length > 2 * LISTED) mismatches.push(`... ${wrong.length} files differ and ${missing.length} are missing in all`);
      if (plan.digests === 0) findings.push(finding('drill.files', 'warn', `${plan.archive} has no per-file digests (made before they existed, or a recovery's emergency archive): its files were checked against the archive's checksum and listing only`, {}));
      else if (wrong.length || missing.length) {
        findings.push(finding('drill.files', 'fail', `${wrong.length + missing.length} of ${plan.digests} files do not match the backup: ${list([...wrong, ...missing])}`, { wrong: capped(wrong), missing: capped(missing) }));
      } else findings.push(finding('drill.files', 'ok', `all ${checked} files match their sha256 in the manifest`, { files: checked, bytes: hashed }));

      const dump = plan.dump;
      if (dump && config.postgres) {
        const expected = manifest.roots.find((r) => r.kind === 'pg_dump')?.tables;
        const counted = trackStep(`count the rows restored into ${dump.scratchDatabase}`, 'items');
        // A large table's count takes as long as it takes (the count between two tables is the progress).
        const got = await withPgClient({ ...config.postgres, database: dump.scratchDatabase, statementTimeoutSeconds: 0 }, async (c) => {
          // Proof of work while one large table is counted: the server process's reads, when the server runs here.
          const pid = Number((await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid);
          const timer = setInterval(() => {
            void processIo(pid).then((io) => io && counted.working(io.read));
          }, 5_000);
          try {
            return await countTables(c, (n, of) => counted(n, of));
          } finally {
            clearInterval(timer);
          }
        });
        if (!expected) {
          findings.push(finding('drill.database', 'warn', `${plan.archive} was made before table counts were recorded: the database restored and answers (${Object.keys(got).length} tables) but its rows were not compared`, { tables: got }));
        } else {
          const bad: string[] = [];
          for (const [table, rows] of Object.entries(expected)) {
            if (!(table in got)) bad.push(`${table}: missing (the dump's snapshot had ${rows} rows)`);
            else if (got[table] !== rows) bad.push(`${table}: ${got[table]} rows restored, ${rows} in the dump's snapshot`);
          }
          for (const table of Object.keys(got)) if (!(table in expected)) bad.push(`${table}: restored but not in the dump's snapshot`);
          mismatches.push(...capped(bad));
          findings.push(
            bad.length
              ? finding('drill.database', 'fail', `the restored database does not match the backup: ${list(bad)}`, { tables: capped(bad) })
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
        if (!SCRATCH_DATABASE.test(name) || name === config.postgres.database || !name.endsWith(`_drill_${basename(scratch)}`)) throw new Error(`${name} is not this restore drill's scratch database`);
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
