/** Client-side operations behind the CLI: recovery, backup listing and verification, host lock status. */
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { hostLockWorkflowId, LOCK_STATE_QUERY, type HostLockState } from '../common/host-lock.js';
import type { RunbookReport } from '../common/report.js';
import type { Config } from '../config/config.js';
import type { BackupListing } from '../activities/backup.js';
import { hostTaskQueue } from '../common/task-queues.js';
import { queuePollers } from '../temporal/pollers.js';
import { compactTime } from './run-runbook.js';

/** Starts a workflow; no execution timeout (it would skip the undos): each runbook has its own deadline. */
function start(client: Client, config: Config, type: string, id: string, input: unknown, summary: string): Promise<WorkflowHandle> {
  return client.workflow.start(type, {
    taskQueue: config.temporal.taskQueue,
    workflowId: `${id}-${compactTime(new Date())}`,
    args: [input],
    staticSummary: summary,
  });
}

export interface RecoveryRequest {
  archive: string;
  hostId: string;
  approve?: boolean;
  dryRun?: boolean;
  approvalTimeoutMinutes?: number;
  /** A backup target to restore from (config backup.targets); absent: the backups folder. */
  from?: string;
  /** Restore only these folders (and `database`). */
  only?: string[];
  skipDatabase?: boolean;
  includeReports?: boolean;
}

export function startRecovery(client: Client, config: Config, req: RecoveryRequest): Promise<WorkflowHandle> {
  const input = {
    backup: req.archive,
    hostId: req.hostId,
    ...(req.approve ? { approve: true } : {}),
    ...(req.dryRun ? { dryRun: true } : {}),
    ...(req.approvalTimeoutMinutes ? { approvalTimeoutMinutes: req.approvalTimeoutMinutes } : {}),
    ...(req.from ? { from: req.from } : {}),
    ...(req.only ? { only: req.only } : {}),
    ...(req.skipDatabase ? { skipDatabase: true } : {}),
    ...(req.includeReports ? { includeReports: true } : {}),
  };
  return start(client, config, 'disasterRecovery', `recover-${req.hostId}`, input, `recover ${req.hostId} from ${req.archive}${req.from ? ` in ${req.from}` : ''}${req.dryRun ? ' (dry run)' : ''}`);
}

export async function listBackupsOn(client: Client, config: Config, hostId: string, target?: string): Promise<BackupListing[]> {
  const handle = await start(client, config, 'listBackups', `list-backups-${hostId}`, { hostId, ...(target ? { target } : {}) }, `list backups on ${hostId}${target ? ` in ${target}` : ''}`);
  const r = (await handle.result()) as { backups: BackupListing[] };
  return r.backups;
}

export async function verifyBackupsOn(client: Client, config: Config, hostId: string, archives: string[] | 'all', target?: string): Promise<WorkflowHandle> {
  const input = { ...(archives === 'all' ? { hostId, all: true } : { hostId, archives }), ...(target ? { target } : {}) };
  return start(client, config, 'verifyBackups', `verify-backups-${hostId}`, input, `verify ${archives === 'all' ? 'every backup' : archives.join(', ')} on ${hostId}`.slice(0, 200));
}

/** Whether a worker polls a host's task queue: `polling` (listed lately; the server keeps a dead worker listed for minutes) or `absent`. */
export interface HostWorkerStatus {
  state: 'polling' | 'absent';
  pollers: string[];
  /** ISO time of the newest poll listed. */
  lastSeen?: string;
}

export interface HostLockStatus {
  hostId: string;
  /** The host's worker, from its task queue's pollers. */
  worker: HostWorkerStatus;
  /** Undefined when no lock workflow runs: the host is free. */
  state?: HostLockState;
  /** What the holder is doing now (its `progress` query), e.g. `rolling back: ...`; undefined when it cannot say. */
  holderPhase?: { phase: string; detail?: string };
}

/** The host's worker as its task queue's pollers show it. */
export async function hostWorkerStatus(client: Client, config: Config, hostId: string): Promise<HostWorkerStatus> {
  const pollers = await queuePollers(client.workflowService, config.temporal.namespace, hostTaskQueue(config.temporal.taskQueue, hostId), 'activity');
  const seen = pollers.map((p) => p.lastAccessTime).filter((t): t is string => t !== undefined).sort();
  return { state: pollers.length ? 'polling' : 'absent', pollers: pollers.map((p) => p.identity), ...(seen.length ? { lastSeen: seen[seen.length - 1]! } : {}) };
}

export async function hostLockStatus(client: Client, config: Config): Promise<HostLockStatus[]> {
  return Promise.all(
    config.hosts.map(async (id): Promise<HostLockStatus> => {
      const hostId = { hostId: id, worker: await hostWorkerStatus(client, config, id) };
      const handle = client.workflow.getHandle(hostLockWorkflowId(id));
      try {
        const d = await handle.describe();
        if (d.status.name !== 'RUNNING') return hostId;
        const state = await handle.query<HostLockState>(LOCK_STATE_QUERY);
        const holder = state.holder;
        if (!holder) return { ...hostId, state };
        // A holder stuck in a step (a cleanup that keeps failing) shows where, not only who.
        const progress = await client.workflow
          .getHandle(holder.workflowId, holder.runId)
          .query<{ phase: string; detail?: string }>('progress')
          .catch(() => undefined);
        return { ...hostId, state, ...(progress ? { holderPhase: { phase: progress.phase, ...(progress.detail ? { detail: progress.detail } : {}) } } : {}) };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return hostId;
        throw err;
      }
    }),
  );
}

export type { RunbookReport };
