/**
 * Activities that run on the orchestrator itself (as local activities): what a
 * workflow needs from the orchestrator's config, such as where a host's queue is.
 */
import { Context, getClient } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError } from '@temporalio/client';
import { UnknownHostError } from '../common/errors.js';
import { HOST_LOCK_WORKFLOW_TYPE, hostLockWorkflowId, LOCK_SIGNALS, type LeaseRequest } from '../common/host-lock.js';
import { REPOSITORY_LOCK_SIGNALS, REPOSITORY_LOCK_WORKFLOW_TYPE, repositoryLockWorkflowId, type RepositoryLeaseRequest } from '../common/repository-lock.js';
import { runLink, targetWants, wantedEvents, type NotifyEvent, type NotifyScope, type RunEvent } from '../common/notify.js';
import { hostTaskQueue, pickHost } from '../common/task-queues.js';
import type { Config } from '../config/config.js';
import type { WorkerMetrics } from '../metrics/registry.js';
import { queuePollers } from '../temporal/pollers.js';
import { prepare, send } from '../notify/send.js';

export interface HostRoute {
  hostId: string;
  taskQueue: string;
  /**
   * The heartbeat timeout of the host's activities (config `activities.heartbeatTimeoutSeconds`).
   * Absent in histories recorded before it existed: the table's default.
   */
  heartbeatTimeoutSeconds?: number;
}

/** What the task queue description says about a host's worker. */
export interface HostLiveness {
  hostId: string;
  taskQueue: string;
  /** Pollers listed (0: no worker has polled lately). */
  pollers: number;
  /** ISO time of the newest poll listed. */
  lastSeen?: string;
}

/** What one delivery did: targets that took it (this attempt or an earlier one), and that have nothing to send. */
export interface NotificationDelivery {
  delivered: string[];
  skipped: string[];
}

export function createOrchestratorActivities({ config, metrics }: { config: Pick<Config, 'hostId' | 'hosts' | 'temporal'> & Partial<Pick<Config, 'notify' | 'activities'>>; metrics?: WorkerMetrics }) {
  const targets = config.notify?.targets ?? [];
  return {
    /** The events any `notify` target wants from a run: the run starts a delivery only for these. */
    async notificationRoutes(scope: NotifyScope): Promise<NotifyEvent[]> {
      return wantedEvents(targets, scope);
    },

    /**
     * Sends one event to every target that wants it. A target that took it is
     * remembered in the heartbeat, so a retry (after another target failed, or
     * the worker died) sends only to the ones still missing; the attempt fails
     * while any is missing, and each failed attempt is counted in the metrics.
     */
    async deliverNotification(event: RunEvent): Promise<NotificationDelivery> {
      const ctx = Context.current();
      const earlier = (ctx.info.heartbeatDetails as Partial<NotificationDelivery> | undefined)?.delivered ?? [];
      const delivered = new Set(earlier);
      const skipped: string[] = [];
      const failed: string[] = [];
      const link = runLink(config.notify?.temporalUiUrl, config.temporal.namespace, event.workflowId, event.runId);
      for (const target of targets) {
        if (delivered.has(target.name) || !targetWants(target, event, event.event)) continue;
        const req = prepare(target, event, link);
        if (!req) {
          skipped.push(target.name);
          continue;
        }
        const labels = { target: target.name, kind: target.kind };
        try {
          await send(target, req);
          delivered.add(target.name);
          metrics?.notifications.inc({ ...labels, event: event.event, result: 'sent' });
          metrics?.notifyTargetUp.set(labels, 1);
          ctx.heartbeat({ delivered: [...delivered] });
        } catch (err) {
          metrics?.notifications.inc({ ...labels, event: event.event, result: 'failed' });
          metrics?.notifyTargetUp.set(labels, 0);
          failed.push((err as Error).message);
        }
      }
      if (failed.length) throw ApplicationFailure.retryable(`${failed.join('; ')} (attempt ${ctx.info.attempt}; delivered to: ${[...delivered].join(', ') || 'none'})`, 'NotificationFailed');
      return { delivered: [...delivered], skipped };
    },

    /** The task queue of `hostId` (default: the orchestrator's own host); unknown hosts are refused. */
    async resolveHost(hostId?: string): Promise<HostRoute> {
      const id = pickHost(config.hosts, config.hostId, hostId);
      if (!id) {
        throw new UnknownHostError(`unknown host "${hostId ?? ''}": this orchestrator routes to ${config.hosts.join(', ')} (config "hosts")`);
      }
      const heartbeatTimeoutSeconds = config.activities?.heartbeatTimeoutSeconds;
      return { hostId: id, taskQueue: hostTaskQueue(config.temporal.taskQueue, id), ...(heartbeatTimeoutSeconds ? { heartbeatTimeoutSeconds } : {}) };
    },

    /**
     * Whether a worker polls the host's task queue (its activity side), from
     * Temporal's task queue description: the fleet's first liveness check. A
     * poller stays listed for minutes after its worker died, so the fleet then
     * pings the host (see the `ping` host activity).
     */
    async hostLiveness(req: { hostId: string }): Promise<HostLiveness> {
      if (!config.hosts.includes(req.hostId)) {
        throw new UnknownHostError(`unknown host "${req.hostId}": this orchestrator routes to ${config.hosts.join(', ')} (config "hosts")`);
      }
      const taskQueue = hostTaskQueue(config.temporal.taskQueue, req.hostId);
      const pollers = await queuePollers(getClient().workflowService, config.temporal.namespace, taskQueue, 'activity');
      const seen = pollers.map((p) => p.lastAccessTime).filter((t): t is string => t !== undefined).sort();
      return { hostId: req.hostId, taskQueue, pollers: pollers.length, ...(seen.length ? { lastSeen: seen[seen.length - 1]! } : {}) };
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
