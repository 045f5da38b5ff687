/**
 * Activities that run on the orchestrator itself (as local activities): what a
 * workflow needs from the orchestrator's config, such as where a host's queue is.
 */
import { UnknownHostError } from '../common/errors.js';
import { hostTaskQueue, pickHost } from '../common/task-queues.js';
import type { Config } from '../config/config.js';

export interface HostRoute {
  hostId: string;
  taskQueue: string;
}

export function createOrchestratorActivities({ config }: { config: Pick<Config, 'hostId' | 'hosts' | 'temporal'> }) {
  return {
    /** The task queue of `hostId` (default: the orchestrator's own host); unknown hosts are refused. */
    async resolveHost(hostId?: string): Promise<HostRoute> {
      const id = pickHost(config.hosts, config.hostId, hostId);
      if (!id) {
        throw new UnknownHostError(`unknown host "${hostId ?? ''}": this orchestrator routes to ${config.hosts.join(', ')} (config "hosts")`);
      }
      return { hostId: id, taskQueue: hostTaskQueue(config.temporal.taskQueue, id) };
    },
  };
}

export type OrchestratorActivities = ReturnType<typeof createOrchestratorActivities>;
