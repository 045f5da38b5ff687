/** Weekly temp cleanup: old `mcp_*` entries at the top of each configured temp folder, links never followed. */
import { errorMessage } from '../../common/errors.js';
import { finding, type Finding } from '../../common/report.js';
import type { Config } from '../../config/config.js';
import { removeOldEntriesIn, type CleanupResult } from '../../maintenance/old-files.js';
import { activitySignal, rethrowIfCancelled } from '../context.js';
import { count } from '../../common/words.js';

export interface MaintenanceTempDeps {
  config: Pick<Config, 'paths' | 'maintenance'>;
}

export function createMaintenanceTempActivities({ config }: MaintenanceTempDeps) {
  const { prefix, maxAgeHours } = config.maintenance.tempFiles;
  return {
    /**
     * Removes `<prefix>*` files, links and empty folders older than `maxAgeHours`
     * from each temp folder (top level only). A missing folder or an entry that
     * cannot be removed is a `warn`.
     */
    async cleanTempFiles(): Promise<Finding> {
      const signal = activitySignal();
      const olderThan = new Date(Date.now() - maxAgeHours * 3_600_000);
      const perDir: Array<{ dir: string; removed: number; bytes: number; kept: number; left: CleanupResult['left']; errors: CleanupResult['errors']; missing?: boolean }> = [];
      const problems: string[] = [];
      for (const dir of config.paths.tempDirs) {
        try {
          const r = await removeOldEntriesIn(dir, { olderThan, match: (name) => name.startsWith(prefix), ...(signal ? { signal } : {}) });
          perDir.push({ dir, removed: r.removed.length, bytes: r.bytes, kept: r.kept, left: r.left.slice(0, 20), errors: r.errors.slice(0, 20) });
          for (const e of r.errors) problems.push(`${e.path}: ${e.error}`);
          for (const l of r.left) problems.push(`${l.path} left: ${l.why}`);
        } catch (err) {
          rethrowIfCancelled(err, signal);
          const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
          perDir.push({ dir, removed: 0, bytes: 0, kept: 0, left: [], errors: [], ...(missing ? { missing: true } : {}) });
          problems.push(missing ? `temp folder ${dir} does not exist` : `${dir}: ${errorMessage(err)}`);
        }
      }
      const removed = perDir.reduce((n, d) => n + d.removed, 0);
      const bytes = perDir.reduce((n, d) => n + d.bytes, 0);
      const data = { prefix, maxAgeHours, removed, freedBytes: bytes, dirs: perDir };
      const text = `${count(removed, `${prefix}* entry`, `${prefix}* entries`)} older than ${maxAgeHours} h removed from ${config.paths.tempDirs.join(', ')} (${bytes} bytes)`;
      return problems.length ? finding('temp.cleanup', 'warn', `${text}; ${problems.slice(0, 3).join('; ')}`, data) : finding('temp.cleanup', 'ok', text, data);
    },
  };
}
