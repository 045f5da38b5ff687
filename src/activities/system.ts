/** Activities that measure the host: disk and memory against the configured thresholds. */
import { errorMessage } from '../common/errors.js';
import { finding, type Finding } from '../common/report.js';
import type { Config } from '../config/config.js';
import { diskUsage } from '../system/disk.js';
import { memoryUsage } from '../system/memory.js';

export interface SystemActivityDeps {
  config: Pick<Config, 'paths' | 'thresholds'>;
  /** @default /proc */
  procRoot?: string;
}

export function createSystemActivities({ config, procRoot = '/proc' }: SystemActivityDeps) {
  return {
    /** Disk usage of the install root; above the threshold is `warn`. */
    async checkDisk(): Promise<Finding> {
      const path = config.paths.installRoot;
      const threshold = config.thresholds.diskPercent;
      try {
        const d = await diskUsage(path);
        const data = { ...d, thresholdPercent: threshold };
        return d.usedPercent > threshold
          ? finding('system.disk', 'warn', `disk holding ${path} is ${d.usedPercent}% full (threshold ${threshold}%)`, data)
          : finding('system.disk', 'ok', `disk holding ${path} is ${d.usedPercent}% full`, data);
      } catch (err) {
        return finding('system.disk', 'fail', `cannot measure disk usage of ${path}: ${errorMessage(err)}`, { path, thresholdPercent: threshold });
      }
    },

    /** Memory in use (not available to new programs); above the threshold is `warn`. */
    async checkMemory(): Promise<Finding> {
      const threshold = config.thresholds.memoryPercent;
      try {
        const m = await memoryUsage(procRoot);
        const data = { ...m, thresholdPercent: threshold };
        return m.usedPercent > threshold
          ? finding('system.memory', 'warn', `memory usage is ${m.usedPercent}% (threshold ${threshold}%)`, data)
          : finding('system.memory', 'ok', `memory usage is ${m.usedPercent}%`, data);
      } catch (err) {
        return finding('system.memory', 'fail', `cannot read memory usage: ${errorMessage(err)}`, { thresholdPercent: threshold });
      }
    },
  };
}
