/**
 * Staging folders: where a backup copies its stop-mode sources and database
 * dump before archiving. The staging folder is configurable (it may be a
 * shared scratch space), so the tool deletes only entries it created: a
 * folder named like an archive without its suffix (`mcp_backup_YYYYMMDD_HHMMSS`)
 * that holds the owner marker written before anything else went in.
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The owner marker inside each staging folder the tool created. */
export const STAGING_MARKER = '.mcp-runbooks-staging.json';
const STAGING_NAME = /^mcp_backup_\d{8}_\d{6}$/;

/**
 * Creates the run's staging folder and its owner marker (once: a second call,
 * a parallel step or a retry, keeps the first marker).
 */
export async function claimStaging(runDir: string, owner: { archive: string; host: string }): Promise<void> {
  if (!STAGING_NAME.test(basename(runDir))) throw new Error(`${runDir} is not a staging folder name (mcp_backup_YYYYMMDD_HHMMSS)`);
  await mkdir(runDir, { recursive: true, mode: 0o700 });
  try {
    await writeFile(join(runDir, STAGING_MARKER), `${JSON.stringify({ ...owner, createdAt: new Date().toISOString() })}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** When `path` is a staging folder the tool created, the time its marker was written; else undefined. */
export async function ownedStagingSince(path: string): Promise<Date | undefined> {
  if (!STAGING_NAME.test(basename(path))) return undefined;
  const [dir, marker] = await Promise.all([lstat(path).catch(() => undefined), lstat(join(path, STAGING_MARKER)).catch(() => undefined)]);
  return dir?.isDirectory() && marker?.isFile() ? marker.mtime : undefined;
}

/**
 * Removes `runDir` if it is a staging folder the tool created directly inside
 * `stagingRoot`; anything else is left alone. Returns whether it removed it.
 */
export async function removeOwnedStaging(stagingRoot: string, runDir: string): Promise<boolean> {
  if (dirname(runDir) !== stagingRoot || !(await ownedStagingSince(runDir))) return false;
  // The marker goes last: a removal that fails half way (a busy mount inside) still owns the folder
  // on its retry, so the retry fails too and is reported, instead of finding a foreign folder and
  // leaving it silently.
  for (const name of await readdir(runDir)) if (name !== STAGING_MARKER) await rm(join(runDir, name), { recursive: true, force: true });
  await rm(runDir, { recursive: true, force: true });
  return true;
}

/** Staging folders the tool created in `stagingRoot` longer than `maxAgeMs` ago (runs killed and never cleaned up). */
export async function staleStaging(stagingRoot: string, now: Date, maxAgeMs: number): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(stagingRoot).catch(() => [] as string[])) {
    const since = await ownedStagingSince(join(stagingRoot, name));
    if (since && now.getTime() - since.getTime() > maxAgeMs) out.push(join(stagingRoot, name));
  }
  return out;
}

/**
 * The stop-mode snapshot copy kept between backups (`backup.incrementalSnapshot`):
 * `<staging folder>/mcp_mirror_<host>/root/<archive path>`. Its name is not a run's
 * staging name, so it is never removed as stale or as a run's leftover; its marker
 * names the host it belongs to. What it holds is trusted only while the folder is
 * this worker's own (owner, mode 0700, not a link): a backup archives it as is.
 */
export const MIRROR_MARKER = '.mcp-runbooks-mirror.json';

/** Whatever the records say, every file is copied again when the last whole copy is older than this. */
export const MIRROR_FULL_COPY_EVERY_MS = 7 * 86_400_000;
/**
 * Kept out of the "unchanged since" time: the kernel stamps ctime from a coarse clock (a write just
 * after a reading of the time can carry a ctime some milliseconds earlier), so the bound is moved back.
 * A clock further off (an NFS server's) is what the weekly whole copy is for.
 */
export const MIRROR_CTIME_MARGIN_MS = 2_000;

export function mirrorDir(stagingRoot: string, hostId: string): string {
  return join(stagingRoot, `mcp_mirror_${hostId}`);
}

const uid = () => (typeof process.getuid === 'function' ? process.getuid() : undefined);

/** Why `dir` cannot be trusted as this worker's own folder, or undefined when it can. */
async function notOurs(dir: string): Promise<string | undefined> {
  const st = await lstat(dir);
  if (!st.isDirectory()) return 'it is not a folder (a link or a file)';
  if (uid() !== undefined && st.uid !== uid()) return `it is owned by uid ${st.uid}, not by this worker (uid ${String(uid())})`;
  if ((st.mode & 0o077) !== 0) return `its mode is ${(st.mode & 0o777).toString(8)}, not 700`;
  return undefined;
}

/**
 * Creates the mirror folder and its marker, or checks the one there: it must be this worker's own
 * folder (owner, mode 0700, not a link) made for this host. Anything else is refused, naming why,
 * and left as it is.
 */
export async function claimMirror(dir: string, hostId: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const problem = await notOurs(dir);
  if (problem) throw new Error(`${dir} is not this worker's snapshot copy: ${problem}; remove it or set backup.stagingDir`);
  // Written whole under a temporary name, then linked into place: a parallel claim (two stop groups)
  // either makes the marker or finds a complete one, never an empty file.
  // Its own name per claim: two claims of one process in the same millisecond shared one, and the first one's
  // cleanup removed the second one's file before it was linked (ENOENT; seen in a CI run).
  const tmp = join(dir, `${MIRROR_MARKER}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(tmp, `${JSON.stringify({ host: hostId, createdAt: new Date().toISOString() })}\n`, { mode: 0o600 });
  try {
    await link(tmp, join(dir, MIRROR_MARKER));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await rm(tmp, { force: true });
  }
  const owner = JSON.parse(await readFile(join(dir, MIRROR_MARKER), 'utf8')) as { host?: unknown };
  if (owner.host !== hostId) throw new Error(`${dir} is not this host's snapshot copy (its marker names host ${String(owner.host)}, this is ${hostId}); remove it or set backup.stagingDir`);
}

const RECORDS = '.synced';
const recordFile = (dir: string, archivePath: string) => join(dir, RECORDS, `${Buffer.from(archivePath).toString('hex')}.json`);

interface MirrorRecord {
  archivePath: string;
  /** When the last complete update started (ms); absent while the first one has not completed. */
  startedAt?: number;
  /** When the last update that kept nothing started (ms). */
  fullAt?: number;
}

async function readRecord(dir: string, archivePath: string): Promise<MirrorRecord | undefined> {
  try {
    const r = JSON.parse(await readFile(recordFile(dir, archivePath), 'utf8')) as Partial<MirrorRecord>;
    return r.archivePath === archivePath ? { archivePath, ...(typeof r.startedAt === 'number' ? { startedAt: r.startedAt } : {}), ...(typeof r.fullAt === 'number' ? { fullAt: r.fullAt } : {}) } : undefined;
  } catch {
    return undefined;
  }
}

async function writeRecord(dir: string, r: MirrorRecord): Promise<void> {
  const file = recordFile(dir, r.archivePath);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(`${file}.tmp`, `${JSON.stringify(r)}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

/**
 * What the copy of `archivePath` may keep: files whose source's ctime is older than the returned
 * time (ms). Undefined (copy everything) when no update completed, when the clock is now earlier
 * than the last one (it was set back: ctimes prove nothing), or when the last whole copy is older
 * than {@link MIRROR_FULL_COPY_EVERY_MS}. Records the root as being in the copy either way, so a
 * root dropped from the config can be pruned even if its first copy never completed.
 */
export async function mirrorUnchangedSince(dir: string, archivePath: string, now = Date.now()): Promise<number | undefined> {
  const r = await readRecord(dir, archivePath);
  if (!r) await writeRecord(dir, { archivePath });
  if (r?.startedAt === undefined || r.fullAt === undefined) return undefined;
  if (r.startedAt > now || now - r.fullAt > MIRROR_FULL_COPY_EVERY_MS) return undefined;
  return r.startedAt - MIRROR_CTIME_MARGIN_MS;
}

/** Records a complete update of `archivePath`'s copy that started at `startedAt`; `whole` when it kept nothing. */
export async function recordMirrorSync(dir: string, archivePath: string, startedAt: number, whole: boolean): Promise<void> {
  const previous = await readRecord(dir, archivePath);
  const fullAt = whole ? startedAt : previous?.fullAt;
  await writeRecord(dir, { archivePath, startedAt, ...(fullAt !== undefined ? { fullAt } : {}) });
}

/**
 * Removes from the copy every root that is not in `keep` (a folder dropped from `backup.sources` or
 * made online): a full plaintext copy must not outlive the config that wanted it. Returns the roots removed.
 */
export async function pruneMirror(dir: string, keep: readonly string[]): Promise<string[]> {
  // Only inside this worker's own folder: nothing in a folder someone else could write is followed.
  if (!(await lstat(dir).catch(() => undefined)) || (await notOurs(dir))) return [];
  const names = await readdir(join(dir, RECORDS)).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const archivePath = Buffer.from(name.slice(0, -'.json'.length), 'hex').toString();
    if (keep.includes(archivePath) || !archivePath || archivePath.split('/').includes('..')) continue;
    await rm(join(dir, 'root', archivePath), { recursive: true, force: true });
    await rm(join(dir, RECORDS, name), { force: true });
    removed.push(archivePath);
  }
  return removed;
}

/** Removes the whole copy (with `backup.incrementalSnapshot: false`), if it is this worker's own folder. */
export async function removeMirror(dir: string): Promise<boolean> {
  const there = await lstat(dir).catch(() => undefined);
  if (!there || (await notOurs(dir)) || !(await lstat(join(dir, MIRROR_MARKER)).catch(() => undefined))) return false;
  await rm(dir, { recursive: true, force: true });
  return true;
}
