/** Backup status for maintenance, from the backup runbook's own listing. */
import { stat } from 'node:fs/promises';
import { finding, type Finding } from '../../common/report.js';
import type { Config } from '../../config/config.js';
import { isBackup, type BackupListing } from '../backup.js';
import { age, count } from '../../common/words.js';

export interface MaintenanceBackupDeps {
  config: Pick<Config, 'paths' | 'maintenance'>;
  /** The backup activities' `listBackups`: one listing for every runbook. */
  listBackups: () => Promise<BackupListing[]>;
}

const hours = (seconds: number) => Math.round((seconds / 3600) * 10) / 10;

export function createMaintenanceBackupActivities({ config, listBackups }: MaintenanceBackupDeps) {
  return {
    /** The backups folder, and whether it exists: for a message that says which folder holds no archive. */
    async backupFolderState(): Promise<{ dir: string; exists: boolean }> {
      const dir = config.paths.backupDir;
      return { dir, exists: await stat(dir).then((s) => s.isDirectory(), () => false) };
    },

    /**
     * Backups in the backups folder: count, newest and its age (seed 4.1's
     * count). A recovery's emergency archives are counted apart and are never
     * the newest backup (see {@link isBackup}). `warn` when the folder is
     * missing, holds no backup, or the newest is older than
     * `maintenance.backups.maxAgeHours`, or failed its last verification.
     */
    async backupStatus(): Promise<Finding> {
      const dir = config.paths.backupDir;
      const maxAgeHours = config.maintenance.backups.maxAgeHours;
      const exists = await stat(dir).then((s) => s.isDirectory(), () => false);
      if (!exists) return finding('backup.status', 'warn', `backup folder ${dir} does not exist: no backups on this host`, { backupDir: dir, count: 0 });
      const all = await listBackups();
      const list = all.filter(isBackup);
      const emergency = all.length - list.length;
      const newest = list[0];
      const data = {
        backupDir: dir,
        count: list.length,
        emergencyCount: emergency,
        totalBytes: all.reduce((n, b) => n + b.bytes, 0),
        maxAgeHours,
        ...(newest ? { newest: newest.archive, newestCreatedAt: newest.createdAt, newestAgeHours: hours(newest.ageSeconds), newestVerified: newest.verified ?? null } : {}),
      };
      const besides = emergency ? ` (and ${count(emergency, 'emergency archive')} of a recovery)` : '';
      if (!newest) return finding('backup.status', 'warn', `no backup archives in ${dir}${besides}`, data);
      const summary = `${count(list.length, 'archive')} in ${dir}${besides}; newest ${newest.archive}, ${age(newest.ageSeconds / 3600)} old`;
      if (newest.ageSeconds > maxAgeHours * 3600) return finding('backup.status', 'warn', `${summary}: older than ${maxAgeHours} h (is the backup schedule running?)`, data);
      if (newest.verified && !newest.verified.ok) return finding('backup.status', 'warn', `${summary}: its last verification failed (${newest.verified.problems.join('; ')})`, data);
      return finding('backup.status', 'ok', summary, data);
    },
  };
}
