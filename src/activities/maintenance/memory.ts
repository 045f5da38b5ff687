/** The memory service's HTTP API for maintenance: size and operations (weekly), consolidate (monthly). */
import { errorMessage } from '../../common/errors.js';
import { finding, type Finding } from '../../common/report.js';
import type { Config } from '../../config/config.js';
import { consolidateMemory, getMemoryStats } from '../../system/memory-service.js';

export interface MaintenanceMemoryDeps {
  config: Pick<Config, 'memoryService'>;
}

export function createMaintenanceMemoryActivities({ config }: MaintenanceMemoryDeps) {
  const { url, timeoutSeconds } = config.memoryService;
  return {
    /** `GET /get_stats`: size and operation count; no answer within the timeout is a `fail`. */
    async memoryServiceStats(): Promise<Finding> {
      try {
        const s = await getMemoryStats(url, timeoutSeconds * 1000);
        return finding('memory.stats', 'ok', `memory service holds ${s.size} memories after ${s.operations} operations (${s.errors} errors, up ${s.uptime}s)`, { url, ...s });
      } catch (err) {
        return finding('memory.stats', 'fail', `memory service at ${url} does not answer: ${errorMessage(err)}`, { url, timeoutSeconds });
      }
    },

    /** `POST /consolidate`, the seed's monthly optimisation. */
    async consolidateMemoryService(): Promise<Finding> {
      try {
        const r = await consolidateMemory(url, timeoutSeconds * 1000);
        const body = r && typeof r === 'object' && !Array.isArray(r) ? (r as Record<string, unknown>) : { answer: r };
        const counts = typeof body.before === 'number' && typeof body.after === 'number' ? `: ${body.before} -> ${body.after} memories` : '';
        return finding('memory.consolidate', 'ok', `memory service consolidated${counts}`, { url, ...body });
      } catch (err) {
        return finding('memory.consolidate', 'fail', `memory service at ${url} did not consolidate: ${errorMessage(err)}`, { url, timeoutSeconds });
      }
    },
  };
}
