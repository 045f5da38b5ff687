/**
 * Restic targets: off-host, encrypted, deduplicated copies of each backup.
 *
 * A backup is stored as two snapshots in the repository, both tagged with the
 * archive name, the host and the workflow id:
 * - `<name>.tar` (`part=tar`): the same tar stream the archive target compresses,
 *   fed to `restic backup --stdin`, so restic's chunker deduplicates it against
 *   every earlier night and every entry keeps its original absolute path;
 * - `<name>.manifest.json` (`part=manifest`): its manifest (compressor `none`,
 *   sha256 and size of the tar, each root's tally, the tar snapshot's id).
 * Restoring reads both back with `restic dump` into a private folder and hands
 * them to the same inspection and extraction as an archive; nothing a
 * repository returns is trusted before those checks.
 *
 * Runs on one repository (of any host) are coordinated by its repository lock
 * workflow (src/workflows/repository-lock.ts): `restic backup` and the reads of
 * a recovery under a shared lease, check, tag, forget and prune under the
 * exclusive one. Reads take no restic lock at all (`--no-lock`). A lock that a
 * killed `restic backup` left is removed with plain `restic unlock` (which
 * removes only locks restic proves stale) and only by a step that holds the
 * exclusive lease, when no other run of ours is in the repository: the
 * verification after each backup, a retried retention, or
 * {@link createOffsiteActivities}' `resticUnlockStale`, which a backup refused
 * as locked asks for.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, open, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { join } from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { archiveNameProblem, ARCHIVE_SUFFIX } from '../common/archive-names.js';
import { REPOSITORY_LOCKED } from '../common/repository-lock.js';
import type { Config, ResticTarget } from '../config/config.js';
import { canPackWithGnuTar, packTar, packWithGnuTar } from '../archive/create.js';
import { UNCOMPRESSED } from '../archive/compress.js';
import { MANIFEST_FORMAT, manifestPath, syncDir, writeManifest, type BackupManifest, type Downtime } from '../archive/manifest.js';
import { decideRetention, type VerificationState } from '../archive/retention.js';
import { jsonLines, listSnapshots, runRestic, unlockStale, ResticError, RESTIC_FAILURES, type ResticSnapshot } from '../targets/restic.js';
import { archiveSources, buildManifest, readDumpFacts, type BackupListing, type BackupPlan } from './backup.js';
import { activitySignal, trackStep } from './context.js';
import { bytesWrittenSince, foldersManifestPath, foldersManifestProblem, freeBytes, packRestoredFolders, prepareFolders, type FoldersManifest } from './offsite-folders.js';
import { layoutFor } from '../targets/layout.js';
import { withPrivateMounts } from '../targets/private-mounts.js';
import { NO_FAULTS, type Faults } from './faults.js';

/** Every snapshot this tool writes carries this tag; others in a shared repository are never touched. */
export const RESTIC_TAG = 'mcp-runbooks';
/** A manifest read from a repository larger than this is refused unread. */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
/** A listing, lock or tag command is uncounted: it must end within one stall window (300 s). */
const LISTING_TIMEOUT_MS = 240_000;
/** A restic snapshot id or its short form: hex only (what `snapshots --json` reports; anything else from a tag is refused). */
const SNAPSHOT_ID = /^[0-9a-f]{8,64}$/;

/** A target as a workflow sees it: no secret, only what it needs to route and lock. */
export interface TargetInfo {
  name: string;
  type: 'archive' | 'restic';
  /** Shown to operators (no credentials). */
  location: string;
  /** restic: the repository lock's key. */
  repositoryId?: string;
}

export interface ResticBackupResult {
  target: string;
  archive: string;
  snapshotId: string;
  manifestSnapshotId: string;
  /** New data stored in the repository by this backup (restic `data_added`). */
  dataAdded: number;
  /** Tar bytes read into restic. */
  tarBytes: number;
  sha256: string;
  entries: number;
  seconds: number;
  /** An earlier attempt of this run had already stored it. */
  reused: boolean;
  /** How it is stored: one tar stream, or the folders themselves (see the target's `layout`); absent from older workers: tar. */
  layout?: 'tar' | 'folders';
  /** `folders`: files restic found new, changed and unmodified since the previous snapshot. */
  files?: { new: number; changed: number; unmodified: number };
  /** `folders`: entries of online folders not copied (vanished while copied, or not a file, folder or link); absent when none. */
  skipped?: string[];
}

export interface ResticVerifyResult {
  target: string;
  archive?: string;
  ok: boolean;
  problems: string[];
  /** `--read-data` (all data read) or the subset read. */
  readData: string;
  verifiedAt: string;
  /** Stale locks of killed runs removed before the check. */
  locksRemoved: number;
  seconds: number;
}

export interface ResticRetentionResult {
  target: string;
  removed: string[];
  kept: number;
  /** Snapshots forgotten whose backup never got a manifest (a run killed between the two). */
  orphans: number;
  repositoryBytes?: number;
  /** This host's backups left in the repository. */
  snapshots: number;
}

/** Tag helpers: restic splits `--tag` values on commas. */
const tagSafe = (value: string) => value.replace(/,/g, '_');
const tag = (key: string, value: string) => `${key}=${tagSafe(value)}`;
const tagValue = (s: ResticSnapshot, key: string) => s.tags?.find((t) => t.startsWith(`${key}=`))?.slice(key.length + 1);
/**
 * Whether the snapshot id `ref` (from a tag or a summary) names snapshot `id` (from a listing): restic 0.14
 * prints the short id (8 hex digits) in `backup --json`'s summary, later versions the full one.
 */
const namesSnapshot = (ref: string | undefined, id: string) => ref !== undefined && ref.length >= 8 && id.startsWith(ref);
const tarFileName = (archive: string) => `${archive.slice(0, -ARCHIVE_SUFFIX.length)}.tar`;
const manifestFileName = (archive: string) => `${archive.slice(0, -ARCHIVE_SUFFIX.length)}.manifest.json`;

interface StoredBackup {
  archive: string;
  /** `tar`: a tar snapshot and a manifest snapshot; `folders`: one snapshot holding the folders and the manifest. */
  layout: 'tar' | 'folders';
  manifestSnapshot: ResticSnapshot;
  /** The snapshot holding the data (`folders`: the same as the manifest's). */
  tarSnapshotId?: string;
  /** `folders`: the manifest's path in the snapshot. */
  manifestPath?: string;
  workflowId?: string;
  verifiedAt?: string;
  verifyFailedAt?: string;
}

/** Which attempt of its activity this is; 1 outside an activity (a test, a tool). */
function attempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

export function createOffsiteActivities({ config, faults = NO_FAULTS }: { config: Config; faults?: Faults }) {
  const restic = (name: string): ResticTarget => {
    const t = config.backup.targets.find((x) => x.name === name);
    if (!t) throw ApplicationFailure.nonRetryable(`no backup target "${name}" on host ${config.hostId} (config backup.targets: ${config.backup.targets.map((x) => x.name).join(', ')})`, 'UnknownTarget');
    if (t.type !== 'restic') throw ApplicationFailure.nonRetryable(`backup target "${name}" is an ${t.type} target, not a restic repository`, 'UnknownTarget');
    return t;
  };
  /** Refusals restic gives that no retry can change. */
  const permanent = (err: unknown): never => {
    if (err instanceof ResticError && (err.name === RESTIC_FAILURES.noRepository || err.name === RESTIC_FAILURES.wrongPassword)) {
      throw ApplicationFailure.nonRetryable(err.message, err.name);
    }
    throw err;
  };
  /** As {@link permanent}, and a repository restic calls locked is {@link REPOSITORY_LOCKED}: the workflow unlocks under the exclusive lease. */
  const lockedOrPermanent = (err: unknown): never => {
    if (err instanceof ResticError && err.name === RESTIC_FAILURES.locked) throw ApplicationFailure.nonRetryable(err.message, REPOSITORY_LOCKED);
    return permanent(err);
  };

  /** This host's backups in the repository, newest first: one per manifest snapshot. */
  const storedBackups = async (t: ResticTarget, signal?: AbortSignal): Promise<{ backups: StoredBackup[]; all: ResticSnapshot[] }> => {
    const all = await listSnapshots(t, { host: config.hostId, tags: [RESTIC_TAG] }, signal).catch(permanent);
    const backups: StoredBackup[] = [];
    for (const s of all) {
      const part = tagValue(s, 'part');
      if (part !== 'manifest' && part !== 'folders') continue;
      const archive = tagValue(s, 'archive');
      if (!archive || archiveNameProblem(archive)) continue;
      const verified = tagValue(s, 'verified');
      const failed = tagValue(s, 'verify-failed');
      if (part === 'folders') {
        const manifestPath = foldersManifestPath(Array.isArray(s.paths) ? s.paths.filter((p): p is string => typeof p === 'string') : []);
        backups.push({
          archive,
          layout: 'folders',
          manifestSnapshot: s,
          ...(SNAPSHOT_ID.test(s.id) ? { tarSnapshotId: s.id } : {}),
          ...(manifestPath ? { manifestPath } : {}),
          ...(tagValue(s, 'workflow') ? { workflowId: tagValue(s, 'workflow')! } : {}),
          ...(verified ? { verifiedAt: verified } : {}),
          ...(failed ? { verifyFailedAt: failed } : {}),
        });
        continue;
      }
      backups.push({
        archive,
        layout: 'tar',
        manifestSnapshot: s,
        // The repository's tags are the attacker's to write: only a snapshot id's shape (hex) is ever passed on to restic,
        // so a tag like `--password-command=...` can never become an option (the argv also ends options with `--`).
        ...(SNAPSHOT_ID.test(tagValue(s, 'tar') ?? '') ? { tarSnapshotId: tagValue(s, 'tar')! } : {}),
        ...(tagValue(s, 'workflow') ? { workflowId: tagValue(s, 'workflow')! } : {}),
        ...(verified ? { verifiedAt: verified } : {}),
        ...(failed ? { verifyFailedAt: failed } : {}),
      });
    }
    backups.sort((a, b) => b.archive.localeCompare(a.archive));
    return { backups, all };
  };

  /** Reads a backup's manifest out of the repository, bounded in size and checked for its format and name. */
  const readStoredManifest = async (t: ResticTarget, b: StoredBackup, signal?: AbortSignal): Promise<BackupManifest> => {
    const chunks: Buffer[] = [];
    let size = 0;
    if (b.layout === 'folders' && !b.manifestPath) throw ApplicationFailure.nonRetryable(`snapshot ${b.manifestSnapshot.id.slice(0, 8)} of ${b.archive} in target ${t.name} does not hold exactly one mcp-runbooks-manifest.json among its paths`, 'RestoreRefused');
    if (!SNAPSHOT_ID.test(b.manifestSnapshot.id)) throw ApplicationFailure.nonRetryable(`the snapshot of ${b.archive} in target ${t.name} has no plain snapshot id`, 'RestoreRefused');
    await runRestic(t, ['dump', '--', b.manifestSnapshot.id, b.layout === 'folders' ? b.manifestPath! : `/${manifestFileName(b.archive)}`], {
      signal,
      timeoutMs: LISTING_TIMEOUT_MS,
      onStdout: (c) => {
        size += c.length;
        if (size > MAX_MANIFEST_BYTES) throw new Error(`the manifest of ${b.archive} in target ${t.name} is larger than ${MAX_MANIFEST_BYTES} bytes; refusing it`);
        chunks.push(c);
      },
    });
    let m: BackupManifest;
    try {
      m = JSON.parse(Buffer.concat(chunks).toString('utf8')) as BackupManifest;
    } catch {
      throw ApplicationFailure.nonRetryable(`the manifest of ${b.archive} in target ${t.name} is not JSON`, 'RestoreRefused');
    }
    if (m?.format !== MANIFEST_FORMAT) throw ApplicationFailure.nonRetryable(`the manifest of ${b.archive} in target ${t.name} is not an mcp-runbooks manifest`, 'RestoreRefused');
    if (m.archive !== b.archive) throw ApplicationFailure.nonRetryable(`the manifest tagged ${b.archive} in target ${t.name} describes "${String(m.archive)}"`, 'RestoreRefused');
    if (!Array.isArray(m.roots)) throw ApplicationFailure.nonRetryable(`the manifest of ${b.archive} in target ${t.name} lists no roots`, 'RestoreRefused');
    if (b.layout === 'folders') {
      const problem = foldersManifestProblem(m);
      if (problem) throw ApplicationFailure.nonRetryable(`the manifest of ${b.archive} in target ${t.name}: ${problem}`, 'RestoreRefused');
    }
    return m;
  };

  const stats = async (t: ResticTarget, signal?: AbortSignal): Promise<number | undefined> => {
    const { stdout } = await runRestic(t, ['stats', '--json', '--mode', 'raw-data'], { signal, timeoutMs: LISTING_TIMEOUT_MS });
    const s = jsonLines(stdout)[0] as { total_size?: unknown } | undefined;
    return typeof s?.total_size === 'number' ? s.total_size : undefined;
  };

  /**
   * What a `folders` snapshot holds under each root, by `restic ls`, against its manifest: files
   * (hard links are files to restic), folders, symlinks, and the bytes where no file has two names.
   */
  const compareFolders = async (t: ResticTarget, b: StoredBackup, m: FoldersManifest, signal?: AbortSignal): Promise<string[]> => {
    const counts = new Map(m.roots.map((r) => [m.stored.paths[r.archivePath]!, { files: 0, directories: 0, symlinks: 0, bytes: 0 }]));
    const rootOfPath = (p: string) => {
      // Roots never lie inside each other (checked with the manifest): the first prefix is the one.
      for (const at of counts.keys()) if (p === at || p.startsWith(`${at}/`)) return counts.get(at);
      return undefined;
    };
    // Counted as the lines come: a host with millions of files is never held in memory.
    await runRestic(t, ['ls', '--json', '--recursive', '--', b.manifestSnapshot.id, ...counts.keys()], {
      signal,
      timeoutMs: LISTING_TIMEOUT_MS,
      onLine: (line) => {
        const n = jsonLines(line)[0] as { path?: unknown; type?: unknown; size?: unknown } | undefined;
        if (typeof n?.path !== 'string') return;
        const got = rootOfPath(n.path);
        if (!got) return;
        if (n.type === 'file') {
          got.files += 1;
          got.bytes += typeof n.size === 'number' ? n.size : 0;
        } else if (n.type === 'dir') got.directories += 1;
        else if (n.type === 'symlink') got.symlinks += 1;
      },
    });
    const problems: string[] = [];
    for (const r of m.roots) {
      const at = m.stored.paths[r.archivePath]!;
      const got = counts.get(at)!;
      const want = { files: r.entries.files + r.entries.hardlinks, directories: r.entries.directories, symlinks: r.entries.symlinks };
      if (got.files !== want.files || got.directories !== want.directories || got.symlinks !== want.symlinks) {
        problems.push(`${r.archivePath} holds ${got.files} files, ${got.directories} folders, ${got.symlinks} symlinks in snapshot ${b.manifestSnapshot.id.slice(0, 8)}; its manifest says ${want.files}, ${want.directories}, ${want.symlinks}`);
      } else if (r.entries.hardlinks === 0 && got.bytes !== r.bytes) {
        problems.push(`${r.archivePath} holds ${got.bytes} bytes in snapshot ${b.manifestSnapshot.id.slice(0, 8)}; its manifest says ${r.bytes}`);
      }
    }
    return problems;
  };

  /** A private folder for one run's fetch: `<backupDir>/.offsite/<tag>`, 0700, empty; works on a bare host. */
  const fetchDir = async (req: { workflowId: string; runId?: string }): Promise<string> => {
    const dirTag = createHash('sha256').update(req.runId ?? req.workflowId).digest('hex').slice(0, 8);
    const dir = join(config.paths.backupDir, '.offsite', dirTag);
    await mkdir(config.paths.backupDir, { recursive: true, mode: 0o700 });
    await chmod(config.paths.backupDir, 0o700);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  };

  /**
   * A `folders` backup out of the repository: `restic restore` into the fetch folder, then the roots
   * packed from there into `<archive>` (a plain tar) and checked against the manifest entry for entry
   * ({@link packRestoredFolders}); that tar and its manifest are what the inspection reads.
   */
  const fetchFolders = async (t: ResticTarget, b: StoredBackup, m: FoldersManifest, req: { archive: string; workflowId: string; runId?: string }, t0: number, signal: AbortSignal | undefined) => {
    const dir = await fetchDir(req);
    const tree = join(dir, 'tree');
    let fetched = false;
    try {
      await mkdir(tree, { mode: 0o700 });
      const refuse = (why: string): never => {
        throw ApplicationFailure.nonRetryable(`refusing to restore ${req.archive} from target ${t.name}: ${why}`, 'RestoreRefused');
      };
      const expected = m.totals.bytes;
      const base = await freeBytes(dir);
      // Restored, then packed: the data twice, for a moment, where the backups folder is.
      const margin = 64 * 1024 * 1024;
      if (base.free < BigInt(2 * expected + margin)) refuse(`it needs about ${2 * expected + margin} bytes free in ${config.paths.backupDir} (restored, then packed), and ${base.free} are`);
      const report = trackStep(`restic restore ${req.archive} from ${t.name}`, 'bytes', expected);
      // The snapshot is the attacker's: restic restores only the manifest's roots, and is stopped once it has
      // written much more than the manifest says they hold (a huge file of zeros costs a repository nothing).
      const limit = Math.round(expected * 1.1) + margin;
      const stop = new AbortController();
      let oversized = 0;
      const onAbort = () => stop.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const ticker = setInterval(
        () =>
          void bytesWrittenSince(dir, base).then((n) => {
            report(n);
            if (n > limit && !stop.signal.aborted) {
              oversized = n;
              stop.abort(new Error('oversized'));
            }
          }),
        1000,
      );
      try {
        const includes = Object.values(m.stored.paths).flatMap((p) => ['--include', p]);
        await runRestic(t, ['restore', '--target', tree, ...includes, '--', b.manifestSnapshot.id], {
          signal: stop.signal,
          // A kill test stops restic here, as it restores.
          onSpawn: (pid) => void faults.reach('restore.fetch', signal, { stopPid: String(pid) }).catch(() => undefined),
        }).catch((err: unknown) => {
          if (oversized) refuse(`restic restore wrote ${oversized} bytes, more than the ${expected} bytes its manifest says (stopped)`);
          throw err;
        });
      } finally {
        clearInterval(ticker);
        signal?.removeEventListener('abort', onAbort);
      }
      const packing = trackStep(`pack ${req.archive} restored from ${t.name}`, 'bytes', m.totals.bytes);
      const checked = await packRestoredFolders(m, tree, join(dir, req.archive), { signal: signal ?? new AbortController().signal, onProgress: (n) => packing(n), refuse });
      await rm(tree, { recursive: true, force: true });
      await writeManifest(manifestPath(dir, req.archive), checked);
      await syncDir(dir);
      fetched = true;
      return { dir, bytes: checked.bytes, seconds: (Date.now() - t0) / 1000 };
    } finally {
      // A refused or broken fetch leaves nothing behind (a retry fetches again from the start).
      if (!fetched) await rm(dir, { recursive: true, force: true });
    }
  };

  /** Which stored backups a `verify` covers and whether it reads everything. */
  const checkArgs = (t: ResticTarget, full: boolean) => (full ? ['--read-data'] : t.checkReadDataSubset === '0%' ? [] : [`--read-data-subset=${t.checkReadDataSubset}`]);

  return {
    /** The host's targets, without secrets. */
    async describeTargets(): Promise<TargetInfo[]> {
      return config.backup.targets.map((t) =>
        t.type === 'archive' ? { name: t.name, type: t.type, location: config.paths.backupDir } : { name: t.name, type: t.type, location: t.location, repositoryId: t.repositoryId },
      );
    },

    /**
     * Streams the backup's tar into `restic backup --stdin` (after the services
     * are back: it reads the staging copies and the live online folders), then
     * stores its manifest. Heartbeats the tar bytes restic has taken in. A retry
     * of a run whose backup is already stored returns it; a tar snapshot stored
     * without its manifest (killed in between) is stored again (deduplicated,
     * so only the tar's metadata is new) and the orphan forgotten by retention.
     */
    async resticBackup(req: { plan: BackupPlan; target: string; workflowId: string; reason?: string; downtime: Downtime[] }): Promise<ResticBackupResult> {
      const t = restic(req.target);
      const { plan } = req;
      const t0 = Date.now();
      const signal = activitySignal();
      // A lock an earlier, killed attempt left stays: this step holds only a shared lease (other hosts'
      // backups may run), and restic's own non-exclusive lock does not wait for it. The verification
      // after it, under the exclusive lease, removes it.
      const layout = await layoutFor(config, t);
      const finding = storedBackups(t, signal).then((l) => l.backups.find((b) => b.archive === plan.archive && b.workflowId === tagSafe(req.workflowId)));
      const tags = [RESTIC_TAG, tag('archive', plan.archive), tag('workflow', req.workflowId)];
      if (layout === 'folders') {
        // The snapshot copy is brought up to date and tallied while the listing runs; both settle before either fails.
        const report = trackStep(`restic backup to ${t.name}`, 'bytes', plan.estimatedBytes);
        const [found, ready] = await Promise.allSettled([finding, prepareFolders(config, req, { signal, onProgress: (n) => report(n) })]);
        if (found.status === 'rejected') throw found.reason;
        if (ready.status === 'rejected') throw ready.reason;
        const previous = found.value;
        if (previous) {
          const m = await readStoredManifest(t, previous, signal);
          return { target: t.name, archive: plan.archive, layout: previous.layout, snapshotId: previous.tarSnapshotId ?? '', manifestSnapshotId: previous.manifestSnapshot.id, dataAdded: 0, tarBytes: m.bytes, sha256: m.sha256, entries: m.totals.entries, seconds: (Date.now() - t0) / 1000, reused: true };
        }
        const { manifest, binds, paths, skipped } = ready.value;
        type Summary = { snapshot_id?: string; data_added?: number; total_bytes_processed?: number; files_new?: number; files_changed?: number; files_unmodified?: number };
        let summary: Summary | undefined;
        let spawned: number | undefined;
        let started = false;
        let done = 0;
        // Heartbeats go on while restic is quiet, so a cancel reaches this step whatever restic prints (the same
        // count is no movement: a restic that stays stuck is still a stalled step).
        const beat = setInterval(() => report(done, manifest.totals.bytes), 5000);
        await withPrivateMounts(
          binds,
          (enter) =>
            runRestic(t, ['backup', '--json', '--host', config.hostId, ...tags.flatMap((x) => ['--tag', x]), '--tag', 'part=folders', '--', ...paths], {
              signal,
              enter,
              onSpawn: (pid) => (spawned = pid),
              onLine: (line) => {
                const msg = jsonLines(line)[0] as ({ message_type?: string; bytes_done?: number } & Summary) | undefined;
                if (msg?.message_type === 'status') {
                  done = msg.bytes_done ?? done;
                  report(done, manifest.totals.bytes);
                  // A kill test stops here: restic runs and holds its lock (its first status line comes after it took it).
                  if (!started) {
                    started = true;
                    // Not awaited (restic's lines keep coming); its rejection on a cancel is the cancel, seen by restic's own end.
                    faults.reach('backup.restic', signal, spawned !== undefined ? { stopPid: String(spawned) } : {}).catch(() => undefined);
                  }
                }
                if (msg?.message_type === 'summary') summary = msg;
              },
            }),
          signal,
        )
          .catch(lockedOrPermanent)
          .finally(() => clearInterval(beat));
        if (!summary?.snapshot_id) throw new Error(`restic backup to target ${t.name} ended without a summary (no snapshot id)`);
        return {
          target: t.name,
          archive: plan.archive,
          layout: 'folders',
          snapshotId: summary.snapshot_id,
          manifestSnapshotId: summary.snapshot_id,
          dataAdded: summary.data_added ?? 0,
          tarBytes: summary.total_bytes_processed ?? manifest.totals.bytes,
          sha256: '',
          entries: manifest.totals.entries,
          seconds: (Date.now() - t0) / 1000,
          reused: false,
          files: { new: summary.files_new ?? 0, changed: summary.files_changed ?? 0, unmodified: summary.files_unmodified ?? 0 },
          ...(skipped.length ? { skipped } : {}),
        };
      }
      const previous = await finding;
      if (previous) {
        const m = await readStoredManifest(t, previous, signal);
        return { target: t.name, archive: plan.archive, layout: previous.layout, snapshotId: previous.tarSnapshotId ?? '', manifestSnapshotId: previous.manifestSnapshot.id, dataAdded: 0, tarBytes: m.bytes, sha256: m.sha256, entries: m.totals.entries, seconds: (Date.now() - t0) / 1000, reused: true };
      }
      const report = trackStep(`restic backup to ${t.name}`, 'bytes', plan.estimatedBytes);
      // GNU tar packs in its own process where it can (restic reads the stream on the other core); node-tar otherwise.
      const sources = archiveSources(plan);
      const packed = (await canPackWithGnuTar(sources)) ? packWithGnuTar(sources) : packTar(sources);
      const hash = createHash('sha256');
      let tarBytes = 0;
      let paused = false;
      const hasher = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          tarBytes += chunk.length;
          // A kill test stops the feed here, restic running and waiting for more.
          if (!paused && tarBytes > 1024 * 1024) {
            paused = true;
            faults.reach('backup.restic', signal).then(() => cb(null, chunk), cb);
            return;
          }
          cb(null, chunk);
        },
      });
      packed.stream.on('error', (err) => hasher.destroy(err));
      let summary: { snapshot_id?: string; data_added?: number } | undefined;
      await runRestic(t, ['backup', '--json', '--stdin', '--stdin-filename', tarFileName(plan.archive), '--host', config.hostId, ...tags.flatMap((x) => ['--tag', x]), '--tag', 'part=tar'], {
        signal,
        stdin: packed.stream.pipe(hasher),
        onLine: (line) => {
          const msg = jsonLines(line)[0] as { message_type?: string; bytes_done?: number; snapshot_id?: string; data_added?: number } | undefined;
          if (msg?.message_type === 'status') report(tarBytes);
          if (msg?.message_type === 'summary') summary = msg;
        },
      }).catch((err: unknown) => {
        packed.stop();
        return lockedOrPermanent(err);
      });
      if (!summary?.snapshot_id) throw new Error(`restic backup to target ${t.name} ended without a summary (no snapshot id)`);
      report(tarBytes);
      const manifest: BackupManifest & { stored: { target: string; snapshotId: string; file: string } } = {
        ...buildManifest({ config, plan, roots: packed.roots(), sha256: hash.digest('hex'), bytes: tarBytes, compressor: UNCOMPRESSED, workflowId: req.workflowId, reason: req.reason, downtime: req.downtime, ...(await readDumpFacts(plan)) }),
        stored: { target: t.name, snapshotId: summary.snapshot_id, file: `/${tarFileName(plan.archive)}` },
      };
      let manifestSnapshot: string | undefined;
      await runRestic(t, ['backup', '--json', '--stdin', '--stdin-filename', manifestFileName(plan.archive), '--host', config.hostId, ...tags.flatMap((x) => ['--tag', x]), '--tag', 'part=manifest', '--tag', tag('tar', summary.snapshot_id)], {
        signal,
        stdin: Readable.from([Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)]),
        onLine: (line) => {
          const msg = jsonLines(line)[0] as { message_type?: string; snapshot_id?: string } | undefined;
          if (msg?.message_type === 'summary') manifestSnapshot = msg.snapshot_id;
        },
      }).catch(lockedOrPermanent);
      return {
        target: t.name,
        archive: plan.archive,
        snapshotId: summary.snapshot_id,
        manifestSnapshotId: manifestSnapshot ?? '',
        dataAdded: summary.data_added ?? 0,
        tarBytes,
        sha256: manifest.sha256,
        entries: manifest.totals.entries,
        seconds: (Date.now() - t0) / 1000,
        reused: false,
        layout: 'tar',
      };
    },

    /**
     * Removes the locks killed runs left that restic proves stale
     * ({@link unlockStale}; the workflows call this holding the repository's exclusive lease, so
     * no run of ours is in the repository), runs `restic check` (a subset of the data, or all with `full`), compares
     * what was stored for `archive` (or the newest backup) with its manifest,
     * and tags its manifest snapshot `verified=` or `verify-failed=`.
     */
    async resticVerify(req: { target: string; archive?: string; full?: boolean }): Promise<ResticVerifyResult> {
      const t = restic(req.target);
      const t0 = Date.now();
      const signal = activitySignal();
      const report = trackStep(`restic check ${t.name}`, 'lines');
      let lines = 0;
      const readData = req.full ? 'all' : t.checkReadDataSubset;
      // The check and the comparison with the manifest run side by side: the listings take no lock
      // (--no-lock), so they neither wait for the check nor make it fail.
      const checking = (async (): Promise<{ locksRemoved: number; problems: string[] }> => {
        const locksRemoved = await unlockStale(t, signal).catch(permanent);
        const found: string[] = [];
        await runRestic(t, ['check', ...checkArgs(t, Boolean(req.full))], { signal, onLine: () => report(++lines) }).catch((err: unknown) => {
          if (err instanceof ResticError && err.name === RESTIC_FAILURES.failed) found.push(err.message);
          else permanent(err);
        });
        return { locksRemoved, problems: found };
      })();
      const comparing = (async (): Promise<{ b: StoredBackup | undefined; m: BackupManifest | undefined; problems: string[] }> => {
        const found: string[] = [];
        const { backups } = await storedBackups(t, signal);
        const b = req.archive ? backups.find((x) => x.archive === req.archive) : backups[0];
        if (req.archive && !b) found.push(`no backup ${req.archive} of host ${config.hostId} in target ${t.name}`);
        if (!b) return { b, m: undefined, problems: found };
        try {
          const m = await readStoredManifest(t, b, signal);
          if (b.layout === 'folders') {
            found.push(...(await compareFolders(t, b, m as FoldersManifest, signal)));
            return { b, m, problems: found };
          }
          const snapshot = (m as BackupManifest & { stored?: { snapshotId?: string; file?: string } }).stored;
          if (!snapshot?.snapshotId || snapshot.snapshotId !== b.tarSnapshotId) found.push(`the manifest of ${b.archive} names tar snapshot ${String(snapshot?.snapshotId)}, its tags ${String(b.tarSnapshotId)}`);
          else {
            const { stdout } = await runRestic(t, ['ls', '--json', '--', snapshot.snapshotId], { signal, timeoutMs: LISTING_TIMEOUT_MS });
            const node = jsonLines(stdout).find((n) => (n as { path?: string }).path === `/${tarFileName(b.archive)}`) as { size?: number } | undefined;
            if (!node) found.push(`snapshot ${snapshot.snapshotId} holds no ${tarFileName(b.archive)}`);
            else if (node.size !== m.bytes) found.push(`${tarFileName(b.archive)} is ${String(node.size)} bytes in the repository, its manifest says ${m.bytes}`);
          }
          return { b, m, problems: found };
        } catch (err) {
          if (err instanceof ApplicationFailure || err instanceof ResticError) return { b, m: undefined, problems: [...found, err.message] };
          throw err;
        }
      })();
      // Both settle before either's failure is thrown: no restic of this step is left running.
      const [checked, compared] = await Promise.allSettled([checking, comparing]);
      if (checked.status === 'rejected') throw checked.reason;
      if (compared.status === 'rejected') throw compared.reason;
      const { locksRemoved } = checked.value;
      const { b, m } = compared.value;
      const problems = [...checked.value.problems, ...compared.value.problems];
      if (b) {
        // A folders backup's data is all read and hashed by restic's own `check --read-data`.
        if (req.full && m && problems.length === 0 && b.layout === 'tar') {
          try {
            // All of it read back and hashed: what a restore would get.
            const hash = createHash('sha256');
            let n = 0;
            await runRestic(t, ['dump', '--', b.tarSnapshotId!, `/${tarFileName(b.archive)}`], {
              signal,
              onStdout: (c) => {
                hash.update(c);
                n += c.length;
                report(++lines);
              },
            });
            if (n !== m.bytes || hash.digest('hex') !== m.sha256) problems.push(`${tarFileName(b.archive)} reads back as ${n} bytes that do not hash to its manifest's sha256`);
          } catch (err) {
            if (err instanceof ApplicationFailure || err instanceof ResticError) problems.push(err.message);
            else throw err;
          }
        }
        const at = new Date().toISOString();
        const label = problems.length ? tag('verify-failed', at) : tag('verified', at);
        const drop = b.manifestSnapshot.tags?.filter((x) => x.startsWith('verified=') || x.startsWith('verify-failed=')) ?? [];
        await runRestic(t, ['tag', '--add', label, ...drop.flatMap((d) => ['--remove', d]), '--', b.manifestSnapshot.id], { signal, timeoutMs: LISTING_TIMEOUT_MS });
      }
      return { target: t.name, ...(b ? { archive: b.archive } : {}), ok: problems.length === 0, problems, readData, verifiedAt: new Date().toISOString(), locksRemoved, seconds: (Date.now() - t0) / 1000 };
    },

    /**
     * Removes the locks restic proves stale ({@link unlockStale}): called by a workflow holding the
     * repository's exclusive lease (no run of ours is in the repository), when a backup was refused
     * as locked. Returns how many were removed.
     */
    async resticUnlockStale(req: { target: string }): Promise<{ target: string; removed: number }> {
      const t = restic(req.target);
      return { target: t.name, removed: await unlockStale(t, activitySignal()).catch(permanent) };
    },

    /**
     * Applies the keep-policy
     * to this host's backups in the repository (the same rule as the archive
     * folder: daily/weekly/monthly picks among verified backups, the newest
     * verified one always kept, plus `protect`), forgets both snapshots of each
     * backup not kept and manifest-less tar snapshots a day old, then prunes.
     */
    async resticRetention(req: { target: string; protect?: string[] }): Promise<ResticRetentionResult> {
      const t = restic(req.target);
      const signal = activitySignal();
      const report = trackStep(`restic forget and prune ${t.name}`, 'lines');
      let lines = 0;
      // A retry after a worker killed during forget or prune: their lock stays until removed. This step
      // holds the exclusive lease, so no run of ours is in the repository.
      if (attempt() > 1) await unlockStale(t, signal).catch(permanent);
      const now = new Date();
      const { backups, all } = await storedBackups(t, signal);
      const infos = backups.map((b) => {
        const verification: VerificationState = b.verifiedAt ? 'ok' : b.verifyFailedAt ? 'failed' : 'none';
        return { name: b.archive, createdAt: new Date(b.manifestSnapshot.time), verification, kind: 'backup' as const };
      });
      const decision = decideRetention(infos, now, t.retention, req.protect ?? []);
      const removed = new Set(decision.remove.map((r) => r.name));
      const forget: string[] = [];
      let orphans = 0;
      for (const s of all) {
        const archive = tagValue(s, 'archive');
        if (!archive) continue;
        if (removed.has(archive)) forget.push(s.id);
        else if (tagValue(s, 'part') === 'tar' && !backups.some((b) => namesSnapshot(b.tarSnapshotId, s.id)) && now.getTime() - Date.parse(s.time) > 86_400_000) {
          // A tar no manifest names, a day old: an attempt killed before its manifest was stored.
          forget.push(s.id);
          orphans += 1;
        }
      }
      if (forget.length) {
        await runRestic(t, ['forget', '--', ...forget], { signal, onLine: () => report(++lines) });
        await runRestic(t, ['prune'], { signal, onLine: () => report(++lines) });
      }
      const repositoryBytes = await stats(t, signal).catch(() => undefined);
      return { target: t.name, removed: [...removed].sort(), kept: decision.keep.length, orphans, ...(repositoryBytes !== undefined ? { repositoryBytes } : {}), snapshots: decision.keep.length };
    },

    /** This host's backups in the target, newest first, as `backups list` shows them; works with no local backups folder at all. */
    async listTargetBackups(req: { target: string }): Promise<BackupListing[]> {
      const t = restic(req.target);
      const now = Date.now();
      const { backups } = await storedBackups(t, activitySignal());
      return backups.map((b) => ({
        archive: b.archive,
        createdAt: b.manifestSnapshot.time,
        ageSeconds: Math.round((now - Date.parse(b.manifestSnapshot.time)) / 1000),
        bytes: 0,
        kind: 'backup',
        hasManifest: true,
        ...(b.verifiedAt ? { verified: { ok: true, at: b.verifiedAt, problems: [] } } : b.verifyFailedAt ? { verified: { ok: false, at: b.verifyFailedAt, problems: ['restic check or the manifest comparison failed'] } } : {}),
      }));
    },

    /**
     * Reads a backup out of a restic target into a private folder
     * (`<backupDir>/.offsite/<tag>`, 0700) as `<archive>` and its manifest, for
     * {@link createRestoreActivities}' inspection: the manifest bounded in size,
     * the tar bounded to the manifest's size and hashed as it comes. Works on a
     * bare host (the backups folder is created). Returns the folder.
     */
    async fetchFromTarget(req: { target: string; archive: string; workflowId: string; runId?: string }): Promise<{ dir: string; bytes: number; seconds: number }> {
      const t = restic(req.target);
      const t0 = Date.now();
      const signal = activitySignal();
      const problem = archiveNameProblem(req.archive);
      if (problem) throw ApplicationFailure.nonRetryable(`refusing to restore ${req.archive}: ${problem}`, 'RestoreRefused');
      const { backups } = await storedBackups(t, signal);
      const b = backups.find((x) => x.archive === req.archive);
      if (!b) {
        const newest = backups.slice(0, 5).map((x) => x.archive);
        throw ApplicationFailure.nonRetryable(`refusing to restore ${req.archive}: no such backup of host ${config.hostId} in target ${t.name} (${t.location})${newest.length ? `; newest: ${newest.join(', ')}` : '; it holds none'}`, 'RestoreRefused');
      }
      const m = await readStoredManifest(t, b, signal);
      if (b.layout === 'folders') return fetchFolders(t, b, m as FoldersManifest, req, t0, signal);
      const stored = (m as BackupManifest & { stored?: { snapshotId?: string } }).stored;
      if (m.compressor !== UNCOMPRESSED || !stored?.snapshotId || stored.snapshotId !== b.tarSnapshotId) {
        throw ApplicationFailure.nonRetryable(`refusing to restore ${req.archive} from target ${t.name}: its manifest does not describe the tar snapshot it is tagged with`, 'RestoreRefused');
      }
      const dir = await fetchDir(req);
      const out = await open(join(dir, req.archive), 'wx', 0o600);
      const report = trackStep(`restic dump ${req.archive} from ${t.name}`, 'bytes', m.bytes);
      let n = 0;
      let fetched = false;
      try {
        await runRestic(t, ['dump', '--', stored.snapshotId, `/${tarFileName(req.archive)}`], {
          signal,
          onStdout: async (c) => {
            if (n === 0) await faults.reach('restore.fetch', signal);
            n += c.length;
            if (n > m.bytes) throw ApplicationFailure.nonRetryable(`refusing to restore ${req.archive} from target ${t.name}: it holds more than the ${m.bytes} bytes its manifest says`, 'RestoreRefused');
            let done = 0;
            while (done < c.length) done += (await out.write(c, done, c.length - done)).bytesWritten;
            report(n);
          },
        });
        await out.sync();
        await out.close();
        if (n !== m.bytes) throw ApplicationFailure.nonRetryable(`refusing to restore ${req.archive} from target ${t.name}: it holds ${n} bytes, its manifest says ${m.bytes}`, 'RestoreRefused');
        await writeManifest(manifestPath(dir, req.archive), m);
        await syncDir(dir);
        fetched = true;
      } finally {
        await out.close().catch(() => undefined);
        // A refused or broken fetch leaves nothing behind (a retry fetches again from the start).
        if (!fetched) await rm(dir, { recursive: true, force: true });
      }
      return { dir, bytes: n, seconds: (Date.now() - t0) / 1000 };
    },

    /** Removes a folder {@link fetchFromTarget} made. */
    async removeFetched(req: { dir: string }): Promise<void> {
      const root = join(config.paths.backupDir, '.offsite');
      const name = req.dir.startsWith(`${root}/`) ? req.dir.slice(root.length + 1) : '';
      // One plain name below .offsite: not `..` (the backups folder itself), not `.`, no deeper path.
      if (!name || name.includes('/') || name.startsWith('.')) throw ApplicationFailure.nonRetryable(`${req.dir} is not a folder fetched from a target`, 'InvalidInput');
      await rm(req.dir, { recursive: true, force: true });
    },
  };
}

export type OffsiteActivities = ReturnType<typeof createOffsiteActivities>;
