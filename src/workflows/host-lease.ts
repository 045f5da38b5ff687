/** Runbooks take the host lock around their work: request, wait for the grant, always release. */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
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
  let granted: boolean;
  try {
    // Inside the try: a cancel while the request is in flight may still have queued it, so withdraw.
    await orchestrator.requestHostLease({ hostId, request: { workflowId, runId, runbook, requestedAt: new Date().toISOString() } });
    granted = await condition(() => leaseId !== undefined, LOCK_WAIT);
  } catch (err) {
    // Cancelled, past the deadline, or the request failed after it may have been delivered.
    await withdraw();
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
