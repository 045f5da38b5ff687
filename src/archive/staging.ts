/**
 * Staging folders: where a backup copies its stop-mode sources and database
 * dump before archiving. The staging folder is configurable (it may be a
 * shared scratch space), so the tool deletes only entries it created: a
 * folder named like an archive without its suffix (`mcp_backup_YYYYMMDD_HHMMSS`)
 * that holds the owner marker written before anything else went in.
 */
import { lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
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
