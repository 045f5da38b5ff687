/**
 * The manifest written beside every archive (`<archive>.manifest.json`): what
 * each root is and where it came from, entry counts, bytes, the archive's
 * sha256, host, times, downtime and tool version. Restore trusts nothing it has
 * not checked against it.
 */
import { open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { manifestName } from '../common/archive-names.js';
import { openRegularFile } from './read-into.js';

export const MANIFEST_FORMAT = 'mcp-runbooks/backup-manifest@1';

export interface EntryCounts {
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
}

/** One root of an archive: a folder (restored by folder swap) or a database dump. */
export interface ManifestRoot {
  /** Path prefix inside the archive: the original absolute path without its leading `/` (folders), or `mcp-runbooks/pg_dump/<db>.dump`. */
  archivePath: string;
  kind: 'folder' | 'pg_dump';
  /** Absolute path the folder came from and is restored to. */
  originalPath?: string;
  /** Database the dump came from and is restored into. */
  database?: string;
  /** How it was captured: `stop` (owners stopped while copied), `online`, `pg_dump`. */
  mode: 'stop' | 'online' | 'pg_dump';
  services: string[];
  entries: EntryCounts;
  /** Bytes of file content. */
  bytes: number;
  /** Digest of the root's listing (`type path size` per entry, order-independent): the entries are the same ones. */
  listingSha256: string;
  /**
   * Each regular file's sha256 by archive path (hard links share their target's), hashed while the
   * archive was written: a restore drill checks every restored file against it. Absent in older manifests.
   */
  files?: Record<string, string>;
  /**
   * A database dump's tables (`schema.table`) and their rows, counted in the snapshot the dump was
   * taken from: a restore drill checks the restored database against them. Absent in older manifests.
   */
  tables?: Record<string, number>;
  /**
   * A database dump's database size on disk (`pg_database_size`) when it was dumped: what restoring it
   * takes on PostgreSQL's disk (a recovery's and a drill's free-space check). Absent in older manifests.
   */
  databaseBytes?: number;
}

export interface Downtime {
  service: string;
  stoppedAt: string;
  startedAt: string;
  seconds: number;
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  archive: string;
  /** sha256 of the whole `.tar.gz` file. */
  sha256: string;
  /** Size of the `.tar.gz` file. */
  bytes: number;
  host: string;
  kind: 'backup' | 'emergency';
  reason?: string;
  workflowId?: string;
  createdAt: string;
  finishedAt: string;
  toolVersion: string;
  compressor: string;
  roots: ManifestRoot[];
  totals: { entries: number; bytes: number };
  downtime: Downtime[];
  verification?: { verifiedAt: string; ok: boolean; problems: string[] };
}

export function manifestPath(backupDir: string, archive: string): string {
  return join(backupDir, manifestName(archive));
}

/**
 * Reads and parses a manifest, refusing a symbolic link as an archive is refused:
 * a manifest planted as a link could describe whatever file it points to.
 * @throws NotRegularFileError when the path is a link or not a regular file.
 */
/**
 * How much disk a restore of the manifest's dump takes at most, as far as the manifest says: the database's
 * size when it was dumped (`databaseBytes`, when it is a byte count), never less than the dump's own size
 * (the least a restore takes, and all an older manifest offers). 0 without a dump.
 */
export function dumpedDatabaseBytes(manifest: Pick<BackupManifest, 'roots'>): number {
  const dump = manifest.roots.find((r) => r.kind === 'pg_dump');
  if (!dump) return 0;
  const recorded = dump.databaseBytes;
  return typeof recorded === 'number' && Number.isSafeInteger(recorded) && recorded >= 0 ? Math.max(recorded, dump.bytes) : dump.bytes;
}

export async function readManifest(path: string): Promise<BackupManifest> {
  const { fh } = await openRegularFile(path, 'a manifest');
  let text: string;
  try {
    text = await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
  const m = JSON.parse(text) as BackupManifest;
  if (m.format !== MANIFEST_FORMAT) throw new Error(`${path} is not an mcp-runbooks manifest (format ${String(m.format)})`);
  return m;
}

/** Writes the manifest atomically (temp file, fsync, rename), mode 0600. */
export async function writeManifest(path: string, manifest: BackupManifest): Promise<void> {
  await writeFileDurably(path, `${JSON.stringify(manifest, null, 2)}\n`, 0o600);
}

/** Write, fsync, rename, fsync the folder: after a crash the file is either old or new, never torn. */
export async function writeFileDurably(path: string, content: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', mode);
  try {
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    // A full disk must not leave a half-written temporary file behind.
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dirname(path));
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
