/** Runbooks take a repository lease around each restic step: request, wait for the grant, always release. */
import { ApplicationFailure, CancellationScope, condition, getExternalWorkflowHandle, setHandler, uuid4, workflowInfo } from '@temporalio/workflow';
import { repositoryLockWorkflowId, type LeaseMode } from '../common/repository-lock.js';
import { RUNBOOK_FAILURES } from '../common/failures.js';
import { orchestrator } from './activity-policies.js';
import type { ProgressTracker } from './progress.js';
import { releaseRepositoryLeaseSignal, repositoryLeaseGrantedSignal, withdrawRepositoryLeaseSignal } from './repository-lock.js';

/** How long a restic step waits for a busy repository (another host's prune) before its target fails. */
export const REPOSITORY_LOCK_WAIT = '6 hours';

export interface RepositoryLeaseInput {
  repositoryId: string;
  /** The target's name, for messages. */
  target: string;
  hostId: string;
  runbook: string;
  mode: LeaseMode;
}

export async function withRepositoryLease<T>(req: RepositoryLeaseInput, progress: ProgressTracker, fn: () => Promise<T>): Promise<T> {
  // One lease at a time per run (its targets go in turn): this call's handler replaces the last one's.
  const requestId = uuid4();
  let leaseId: string | undefined;
  setHandler(repositoryLeaseGrantedSignal, (grant) => {
    if (grant.requestId === requestId) leaseId = grant.leaseId;
  });
  const { workflowId, runId } = workflowInfo();
  const lock = getExternalWorkflowHandle(repositoryLockWorkflowId(req.repositoryId));
  const withdraw = () => CancellationScope.nonCancellable(() => lock.signal(withdrawRepositoryLeaseSignal, { workflowId, runId }).catch(() => undefined));
  progress.set(`waiting for the repository of target ${req.target}`, req.mode);
  let granted: boolean;
  try {
    await orchestrator.requestRepositoryLease({
      repositoryId: req.repositoryId,
      request: { workflowId, runId, runbook: req.runbook, hostId: req.hostId, mode: req.mode, requestId, requestedAt: new Date().toISOString() },
    });
    granted = await condition(() => leaseId !== undefined, REPOSITORY_LOCK_WAIT);
  } catch (err) {
    await withdraw();
    throw err;
  }
  if (!granted) {
    await withdraw();
    throw ApplicationFailure.nonRetryable(`the repository of target ${req.target} stayed busy for ${REPOSITORY_LOCK_WAIT}; nothing was changed there`, RUNBOOK_FAILURES.RepositoryBusy);
  }
  try {
    return await fn();
  } finally {
    const held = leaseId!;
    await CancellationScope.nonCancellable(() => lock.signal(releaseRepositoryLeaseSignal, { leaseId: held }).catch(() => undefined));
  }
}

/** The lease request of one restic step of this run on `target`'s repository. */
export function leaseFor(ctx: { hostId: string; runbook: string }, target: { name: string; repositoryId?: string }, mode: LeaseMode): RepositoryLeaseInput {
  if (!target.repositoryId) throw ApplicationFailure.nonRetryable(`target ${target.name} is not a restic repository`, 'UnknownTarget');
  return { repositoryId: target.repositoryId, target: target.name, hostId: ctx.hostId, runbook: ctx.runbook, mode };
}
