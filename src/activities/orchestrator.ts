/**
 * Activities that run on the orchestrator itself (as local activities): what a
 * workflow needs from the orchestrator's config, such as where a host's queue is.
 */
import { getClient } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { UnknownHostError } from '../common/errors.js';
import { HOST_LOCK_WORKFLOW_TYPE, hostLockWorkflowId, LOCK_SIGNALS, type LeaseRequest } from '../common/host-lock.js';
import { REPOSITORY_LOCK_SIGNALS, REPOSITORY_LOCK_WORKFLOW_TYPE, repositoryLockWorkflowId, type RepositoryLeaseRequest } from '../common/repository-lock.js';
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

    /** Queues a lease request on the host's lock workflow, starting it if it is not running. */
    async requestHostLease(req: { hostId: string; request: LeaseRequest }): Promise<void> {
      await getClient().workflow.signalWithStart(HOST_LOCK_WORKFLOW_TYPE, {
        workflowId: hostLockWorkflowId(req.hostId),
        taskQueue: config.temporal.taskQueue,
        args: [{ hostId: req.hostId }],
        signal: LOCK_SIGNALS.request,
        signalArgs: [req.request],
      });
    },

    /** Queues a lease request on the repository's lock workflow, starting it if it is not running. */
    async requestRepositoryLease(req: { repositoryId: string; request: RepositoryLeaseRequest }): Promise<void> {
      await getClient().workflow.signalWithStart(REPOSITORY_LOCK_WORKFLOW_TYPE, {
        workflowId: repositoryLockWorkflowId(req.repositoryId),
        taskQueue: config.temporal.taskQueue,
        args: [{ repositoryId: req.repositoryId }],
        signal: REPOSITORY_LOCK_SIGNALS.request,
        signalArgs: [req.request],
      });
    },

    /** Whether a workflow run is still open; the lock takes back leases of closed holders. */
    async workflowIsOpen(req: { workflowId: string; runId: string }): Promise<boolean> {
      try {
        const d = await getClient().workflow.getHandle(req.workflowId, req.runId).describe();
        return d.status.name === 'RUNNING';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
  };
}

export type OrchestratorActivities = ReturnType<typeof createOrchestratorActivities>;
