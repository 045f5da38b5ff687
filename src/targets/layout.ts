/**
 * Which layout a restic target stores a backup in (its `layout`: `auto`,
 * `folders`, `tar`; see src/activities/offsite-folders.ts).
 */
import { ApplicationFailure } from '@temporalio/activity';
import { realpath } from 'node:fs/promises';
import type { Config, ResticTarget } from '../config/config.js';
import { privateMountsProblem } from './private-mounts.js';

/** Why the target cannot store this host's backups as folders (a sentence), or undefined when it can. */
export async function foldersProblem(config: Pick<Config, 'backup'>, t: ResticTarget): Promise<string | undefined> {
  if (t.layout === 'tar') return `its layout is tar`;
  if (!config.backup.incrementalSnapshot) return 'backup.incrementalSnapshot is false (the folders layout reads the snapshot copy kept between backups)';
  // A folder is shown to restic at its path by a bind mount, which follows links: a path through a symlink
  // would be stored as the link, not the folder. (A folder that does not exist is not archived at all.)
  for (const s of config.backup.sources) {
    if (s.mode === 'pg_dump') continue;
    const real = await realpath(s.path).catch(() => s.path);
    if (real !== s.path) return `backup source ${s.path} is reached through a symbolic link (it is ${real}); give its real path`;
  }
  return privateMountsProblem();
}

/** The layout a backup to `t` uses: `folders` where it can (`auto`) or must (`folders`: else it fails, naming why). */
export async function layoutFor(config: Pick<Config, 'backup'>, t: ResticTarget): Promise<'folders' | 'tar'> {
  if (t.layout === 'tar') return 'tar';
  const problem = await foldersProblem(config, t);
  if (!problem) return 'folders';
  if (t.layout === 'folders') throw ApplicationFailure.nonRetryable(`target ${t.name} has layout folders, but ${problem}; set its layout to auto or tar`, 'TargetLayout');
  return 'tar';
}

/** Whether any restic target of this host stores folders (the snapshot copy then also keeps the online roots). */
export async function anyFoldersTarget(config: Pick<Config, 'backup'>): Promise<boolean> {
  for (const t of config.backup.targets) if (t.type === 'restic' && !(await foldersProblem(config, t))) return true;
  return false;
}

