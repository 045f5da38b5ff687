/** System measurements for maintenance: disk (with the old-log cleanup above the threshold), CPU and load. */
import { errorMessage } from '../../common/errors.js';
import { finding, type Finding } from '../../common/report.js';
import type { Config } from '../../config/config.js';
import { removeOldFilesUnder } from '../../maintenance/old-files.js';
import { cpuUsage, loadAverage } from '../../system/cpu.js';
import { diskUsage } from '../../system/disk.js';
import { createSystemActivities } from '../system.js';
import { activitySignal, trackStep, rethrowIfCancelled } from '../context.js';
import { count } from '../../common/words.js';

export interface MaintenanceSystemDeps {
  config: Pick<Config, 'paths' | 'thresholds' | 'maintenance' | 'services'>;
  /** @default /proc */
  procRoot?: string;
  /** CPU sample length. @default 1000 */
  cpuSampleMs?: number;
}

const DAY_MS = 86_400_000;

export function createMaintenanceSystemActivities({ config, procRoot = '/proc', cpuSampleMs = 1000 }: MaintenanceSystemDeps) {
  const { checkDisk } = createSystemActivities({ config, procRoot });
  return {
    /**
     * Disk usage of the install root (`warn` above the threshold) and, only
     * above it, deletion of `*.log` files under the log folder older than
     * `maintenance.logs.maxAgeDays` (seed 4.1), reporting what was freed. The
     * services' configured log files are never deleted: a quiet service's
     * live log is old by its modification time but still open.
     */
    async checkDiskAndCleanLogs(): Promise<Finding[]> {
      const threshold = config.thresholds.diskPercent;
      const logDir = config.paths.logDir;
      const maxAgeDays = config.maintenance.logs.maxAgeDays;
      const signal = activitySignal();
      // The same disk check as health checks and monthly runs, so all judge the disk alike.
      const diskFinding = await checkDisk();
      if (diskFinding.status === 'fail') return [diskFinding, finding('logs.cleanup', 'warn', 'old logs not looked at: disk usage unknown', { logDir })];
      const usedPercent = diskFinding.data.usedPercent as number;
      if (diskFinding.status === 'ok') {
        return [diskFinding, finding('logs.cleanup', 'ok', `no cleanup needed: disk ${usedPercent}% is within ${threshold}%`, { logDir, ran: false })];
      }
      const path = config.paths.installRoot;
      // A quiet service's live log can be older than maxAgeDays; deleting it loses what it writes next.
      const serviceLogs = config.services.flatMap((s) => s.logFiles);
      const olderThan = new Date(Date.now() - maxAgeDays * DAY_MS);
      try {
        const r = await removeOldFilesUnder(logDir, {
          olderThan,
          match: (name) => name.endsWith('.log'),
          keep: serviceLogs,
          ...(signal ? { signal } : {}),
          onProgress: trackStep('old logs', 'items'),
        });
        const after = await diskUsage(path).catch(() => undefined);
        const data = {
          logDir,
          ran: true,
          maxAgeDays,
          removed: r.removed.slice(0, 50).map((x) => x.path),
          removedCount: r.removed.length,
          freedBytes: r.bytes,
          kept: r.kept,
          left: r.left.slice(0, 50),
          errors: r.errors.slice(0, 20),
          ...(after ? { usedPercentAfter: after.usedPercent } : {}),
        };
        const what = `${count(r.removed.length, 'log file')} older than ${count(maxAgeDays, 'day')} removed from ${logDir}, ${r.bytes} bytes freed${after ? ` (disk now ${after.usedPercent}%)` : ''}`;
        // Service logs are left on purpose; anything else left (a folder that changed under the walk) needs a look.
        const suspicious = r.left.filter((l) => l.why !== 'a configured service log file');
        return [
          diskFinding,
          r.errors.length
            ? finding('logs.cleanup', 'warn', `${what}; ${r.errors.length} could not be removed: ${r.errors[0]!.path}: ${r.errors[0]!.error}`, data)
            : suspicious.length
              ? finding('logs.cleanup', 'warn', `${what}; ${count(suspicious.length, 'file')} left: ${suspicious[0]!.path}: ${suspicious[0]!.why}`, data)
              : finding('logs.cleanup', 'ok', what, data),
        ];
      } catch (err) {
        rethrowIfCancelled(err, signal);
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        return [
          diskFinding,
          finding('logs.cleanup', 'warn', missing ? `log folder ${logDir} does not exist; nothing to clean` : `could not clean ${logDir}: ${errorMessage(err)}`, { logDir, ran: false }),
        ];
      }
    },

    /**
     * CPU busy share over a short sample (/proc/stat) and the load averages
     * (/proc/loadavg) against the number of CPUs: a 15-minute load above it
     * means more runnable tasks than CPUs for a sustained time, a `warn`.
     */
    async checkCpuAndLoad(): Promise<Finding[]> {
      const signal = activitySignal();
      const out: Finding[] = [];
      let cores = 0;
      try {
        const cpu = await cpuUsage(procRoot, cpuSampleMs, signal);
        cores = cpu.cores;
        out.push(finding('system.cpu', 'ok', `CPU ${cpu.usedPercent}% busy over ${cpuSampleMs / 1000}s on ${cpu.cores} CPUs`, { ...cpu }));
      } catch (err) {
        rethrowIfCancelled(err, signal);
        out.push(finding('system.cpu', 'fail', `cannot read CPU usage from ${procRoot}/stat: ${errorMessage(err)}`, {}));
      }
      try {
        const load = await loadAverage(procRoot);
        const data = { ...load, cores, perCore15: cores ? Math.round((load.fifteen / cores) * 100) / 100 : null };
        const text = `load average ${load.one}, ${load.five}, ${load.fifteen} on ${cores || '?'} CPUs`;
        out.push(
          cores && load.fifteen > cores
            ? finding('system.load', 'warn', `${text}: more runnable tasks than CPUs over 15 minutes`, data)
            : finding('system.load', 'ok', text, data),
        );
      } catch (err) {
        out.push(finding('system.load', 'fail', `cannot read ${procRoot}/loadavg: ${errorMessage(err)}`, {}));
      }
      return out;
    },
  };
}
