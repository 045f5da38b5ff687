/**
 * The folders a host worker writes: each must be a folder this user can create
 * files in, or not exist yet under a folder it can create it in.
 *
 * Writability is tested by creating (and removing) a file in the folder, not by
 * reading permission bits: the host worker usually runs as root, which the
 * bits do not stop, and what does stop root (a read-only file system, an
 * immutable folder, a path that is a file) shows only when something is
 * actually written.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, rm, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import type { Config } from '../config/config.js';
import { errorMessage } from '../common/errors.js';
import { fail, ok, type CheckResult } from './check.js';

export interface ManagedFolder {
  /** The check's name, `folders.<field>`. */
  check: string;
  /** The config field that sets it, for the fix. */
  field: string;
  path: string;
}

/** Every folder the host role writes to, with the config field that names it. */
export function managedFolders(config: Config): ManagedFolder[] {
  const p = config.paths;
  return [
    { check: 'folders.backupDir', field: 'paths.backupDir', path: p.backupDir },
    { check: 'folders.stagingDir', field: 'backup.stagingDir', path: config.backup.stagingDir },
    { check: 'folders.installRoot', field: 'paths.installRoot', path: p.installRoot },
    { check: 'folders.configDir', field: 'paths.configDir', path: p.configDir },
    { check: 'folders.logDir', field: 'paths.logDir', path: p.logDir },
    { check: 'folders.reportsDir', field: 'paths.reportsDir', path: p.reportsDir },
    { check: 'folders.stateDir', field: 'maintenance.stateDir', path: config.maintenance.stateDir },
    ...p.tempDirs.map((path, i) => ({ check: `folders.tempDirs[${i}]`, field: `paths.tempDirs[${i}]`, path })),
  ];
}

/** `root`, `nobody`, or `uid 1234` when the uid has no name. */
export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? errorMessage(err);
}

/** Creates and removes a file in `dir`; returns the error code when it cannot. */
async function writeProbe(dir: string): Promise<string | undefined> {
  const probe = join(dir, `.mcp-runbooks-doctor-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const handle = await open(probe, 'wx', 0o600);
    await handle.close();
    await rm(probe, { force: true });
    return undefined;
  } catch (err) {
    return code(err);
  }
}

export async function checkFolder(folder: ManagedFolder, user: string = currentUser()): Promise<CheckResult> {
  const { check, field, path } = folder;
  const grant = `give ${user} write access (chown or chmod ${path}), or run the host worker as root as deploy/systemd/mcp-runbooks-host.service does`;
  let isDir: boolean;
  try {
    const st = await stat(path);
    isDir = st.isDirectory();
  } catch (err) {
    const c = code(err);
    if (c === 'ENOENT') return checkCreatable(folder, user);
    if (c === 'ENOTDIR') return fail(check, `${path} cannot be a folder: a part of that path is a file`, `move that file away or point ${field} elsewhere`);
    return fail(check, `${path} cannot be reached by ${user} (${c})`, grant);
  }
  if (!isDir) return fail(check, `${path} is a file, not a folder (${field})`, `move the file away (the folder is created when needed) or point ${field} at a folder`);
  const problem = await writeProbe(path);
  if (problem) return fail(check, `${path} is not writable by ${user} (${problem} creating a file in it)`, problem === 'EROFS' ? `${path} is on a read-only file system: point ${field} at a writable one` : grant);
  return ok(check, `${path} is writable by ${user}`);
}

/** A folder that does not exist yet: its nearest existing parent must be a folder this user may create entries in. */
async function checkCreatable({ check, field, path }: ManagedFolder, user: string): Promise<CheckResult> {
  let parent = dirname(path);
  for (;;) {
    try {
      const st = await stat(parent);
      if (!st.isDirectory()) return fail(check, `${path} does not exist and cannot be created: ${parent} is a file`, `move ${parent} away or point ${field} elsewhere`);
      break;
    } catch (err) {
      const c = code(err);
      if (c !== 'ENOENT' || dirname(parent) === parent) return fail(check, `${path} does not exist and ${parent} cannot be reached by ${user} (${c})`, `create ${path} for ${user}`);
      parent = dirname(parent);
    }
  }
  try {
    // Not a probe here: creating a scratch entry in, say, /opt just to look would be a surprise. access() reports a read-only file system (EROFS) for root too.
    await access(parent, constants.W_OK | constants.X_OK);
  } catch (err) {
    return fail(check, `${path} does not exist and ${user} cannot create it in ${parent} (${code(err)})`, `create ${path} and give ${user} write access to it, or run the host worker as root`);
  }
  return ok(check, `${path} does not exist yet; ${user} can create it in ${parent}`);
}

export async function checkFolders(config: Config): Promise<CheckResult[]> {
  const user = currentUser();
  return Promise.all(managedFolders(config).map((f) => checkFolder(f, user)));
}
