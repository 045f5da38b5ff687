/** Runbooks take the host lock around their work: request, wait for the grant, always release. */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { hostLockWorkflowId } from '../common/host-lock.js';
import { orchestrator } from './activity-policies.js';
import { leaseGrantedSignal, releaseLeaseSignal, withdrawLeaseSignal } from './host-lock.js';
import type { ProgressTracker } from './progress.js';

/** How long a runbook waits for a busy host before giving up. */
export const LOCK_WAIT = '6 hours';

export async function withHostLock<T>(hostId: string, runbook: string, progress: ProgressTracker, fn: () => Promise<T>): Promise<T> {
  let leaseId: string | undefined;
  setHandler(leaseGrantedSignal, (grant) => {
    if (grant.hostId === hostId) leaseId = grant.leaseId;
  });
  const { workflowId, runId } = workflowInfo();
  const lock = getExternalWorkflowHandle(hostLockWorkflowId(hostId));
  const withdraw = () =>
    CancellationScope.nonCancellable(() => lock.signal(withdrawLeaseSignal, { workflowId, runId }).catch(() => undefined));

  progress.set('waiting for the host lock', hostId);
  await orchestrator.requestHostLease({ hostId, request: { workflowId, runId, runbook, requestedAt: new Date().toISOString() } });
  let granted: boolean;
  try {
    granted = await condition(() => leaseId !== undefined, LOCK_WAIT);
  } catch (err) {
    if (isCancellation(err)) await withdraw();
    throw err;
  }
  if (!granted) {
    await withdraw();
    throw ApplicationFailure.nonRetryable(`host ${hostId} stayed busy for ${LOCK_WAIT}; nothing was changed`, 'HostBusy');
  }
  try {
    return await fn();
  } finally {
    await CancellationScope.nonCancellable(() => lock.signal(releaseLeaseSignal, { leaseId: leaseId! }).catch(() => undefined));
  }
}
