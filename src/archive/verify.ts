/**
 * Verifies a backup: the archive reads back whole, its sha256, size, entries and
 * bytes match the manifest, nothing in it is unsafe to restore, and each
 * database dump passes `pg_restore --list`. The one verifier the backup runbook,
 * the maintenance runbooks and `mcp-runbooks backups verify` share.
 */
import { access, lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../common/errors.js';
import { pgRestoreList } from '../postgres/tools.js';
import { manifestPath, readManifest, writeManifest, type BackupManifest } from './manifest.js';
import { NotRegularFileError } from './read-into.js';
import { scanArchive, type ScanResult } from './scan.js';
import { ownerAlive, ownerTag } from '../system/process-owner.js';

export const VERIFY_STATUSES = ['ok', 'failed', 'no-manifest'] as const;
export type VerifyStatus = (typeof VERIFY_STATUSES)[number];

export interface VerifyOutcome {
  archive: string;
  /** `ok`: matches its manifest; `failed`: does not, or does not read back; `no-manifest`: reads back, nothing to check it against. */
  status: VerifyStatus;
  problems: string[];
  checkedAt: string;
  sha256: string;
  bytes: number;
  entries: number;
  fileBytes: number;
  /** Entries in each dump's table of contents. */
  dumps: Array<{ archivePath: string; tocEntries: number }>;
  /** Scratch folders of verifications killed earlier, removed before this one. */
  leftoversRemoved?: string[];
}

export interface VerifyOptions {
  backupDir: string;
  archive: string;
  /** Store the outcome in the manifest's `verification`. @default true */
  record?: boolean;
  signal?: AbortSignal;
  onProgress?: (bytesRead: number, total: number) => void;
}

/**
 * Scratch folders of verifications: `.verify-<owner>-XXXXXX` in the backups
 * folder, holding each extracted dump (a full copy of the database). The owner
 * (see {@link ownerTag}) says which process may still be using one.
 */
export const VERIFY_PREFIX = '.verify-';
const VERIFY_NAME = /^\.verify-(\d+(?:\.\d+)?)-[A-Za-z0-9]{6}$/;
/** Scratch folders without an owner (written before owners were named) go once this old. */
const UNOWNED_MAX_AGE_MS = 86_400_000;

/**
 * Removes the scratch folders of verifications whose process is gone (a
 * worker killed mid-verification), and returns their paths. Run before every
 * verification and when a host worker starts; a folder of a running
 * verification in another process (the CLI's `backups verify`) stays.
 */
export async function removeVerifyLeftovers(backupDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(backupDir).catch(() => [] as string[])) {
    if (!name.startsWith(VERIFY_PREFIX)) continue;
    const path = join(backupDir, name);
    const st = await lstat(path).catch(() => undefined);
    if (!st?.isDirectory()) continue;
    const owner = VERIFY_NAME.exec(name)?.[1];
    const stale = owner ? !ownerAlive(owner) : Date.now() - st.mtimeMs > UNOWNED_MAX_AGE_MS;
    if (!stale) continue;
    await rm(path, { recursive: true, force: true });
    removed.push(path);
  }
  return removed;
}

export async function verifyBackup(opts: VerifyOptions): Promise<VerifyOutcome> {
  const archivePath = join(opts.backupDir, opts.archive);
  let manifest: BackupManifest | undefined;
  const problems: string[] = [];
  try {
    manifest = await readManifest(manifestPath(opts.backupDir, opts.archive));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`manifest unreadable: ${errorMessage(err)}`);
  }
  const leftovers = await removeVerifyLeftovers(opts.backupDir);
  const temp = await mkdtemp(join(opts.backupDir, `${VERIFY_PREFIX}${ownerTag()}-`));
  try {
    try {
      await access(archivePath);
    } catch {
      return failed(opts.archive, [`the archive ${archivePath} does not exist`]);
    }
    let scan: ScanResult;
    try {
      scan = await scanArchive({
        archivePath,
        ...(manifest ? { manifest } : {}),
        extractDumpsTo: temp,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      });
    } catch (err) {
      // A link in the backups folder is not read through, as a restore would not read it.
      if (err instanceof NotRegularFileError) return failed(opts.archive, [err.message]);
      throw err;
    }
    problems.push(...scan.problems, ...scan.unsafe.map((u) => `unsafe entry: ${u}`));
    const dumps: VerifyOutcome['dumps'] = [];
    for (const [root, file] of Object.entries(scan.dumps)) {
      try {
        const toc = await pgRestoreList(file, opts.signal);
        if (toc.length === 0) problems.push(`${root}: pg_restore --list shows an empty dump`);
        dumps.push({ archivePath: root, tocEntries: toc.length });
      } catch (err) {
        // A cancel or a stall is not the archive's fault: never recorded as a failed verification
        // (retention would then stop counting a good backup as verified).
        if (opts.signal?.aborted) throw opts.signal.reason ?? err;
        problems.push(`${root}: ${errorMessage(err)}`);
      }
    }
    if (opts.signal?.aborted) throw opts.signal.reason;
    const dumpRoots = manifest?.roots.filter((r) => r.kind === 'pg_dump') ?? [];
    for (const r of dumpRoots) if (!scan.dumps[r.archivePath]) problems.push(`${r.archivePath}: the dump is missing from the archive`);
    const status: VerifyStatus = problems.length > 0 ? 'failed' : manifest ? 'ok' : 'no-manifest';
    const outcome: VerifyOutcome = {
      archive: opts.archive,
      status,
      problems,
      checkedAt: new Date().toISOString(),
      sha256: scan.sha256,
      bytes: scan.bytes,
      entries: scan.entries,
      fileBytes: scan.fileBytes,
      dumps,
      ...(leftovers.length ? { leftoversRemoved: leftovers } : {}),
    };
    if (manifest && opts.record !== false) {
      await writeManifest(manifestPath(opts.backupDir, opts.archive), {
        ...manifest,
        verification: { verifiedAt: outcome.checkedAt, ok: status === 'ok', problems },
      });
    }
    return outcome;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

function failed(archive: string, problems: string[]): VerifyOutcome {
  return { archive, status: 'failed', problems, checkedAt: new Date().toISOString(), sha256: '', bytes: 0, entries: 0, fileBytes: 0, dumps: [] };
}
