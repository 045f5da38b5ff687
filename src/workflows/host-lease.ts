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
import { leaseDeferredSignal, leaseGrantedSignal, releaseLeaseSignal, withdrawLeaseSignal } from './host-lock.js';
import type { LeaseDeferral } from '../common/host-lock.js';
import { durationMs } from './activity-policies.js';
import type { ProgressTracker } from './progress.js';

/** How long a runbook waits for a busy host before giving up. */
export const LOCK_WAIT = '6 hours';

/**
 * `onFrozen(ms)`: the host is frozen and the run will wait up to `ms` longer than a lock wait (the runbook
 * adds it to its deadline, so a freeze does not end the run as timed out).
 */
export async function withHostLock<T>(hostId: string, runbook: string, progress: ProgressTracker, fn: () => Promise<T>, onFrozen?: (ms: number) => void): Promise<T> {
  let leaseId: string | undefined;
  let deferred: LeaseDeferral | undefined;
  setHandler(leaseGrantedSignal, (grant) => {
    if (grant.hostId === hostId) leaseId = grant.leaseId;
  });
  // An operator froze the host (`mcp-runbooks freeze`): wait until it ends, then the usual lock wait; or skip.
  setHandler(leaseDeferredSignal, (d) => {
    if (d.hostId === hostId) deferred = d;
  });
  const { workflowId, runId } = workflowInfo();
  const lock = getExternalWorkflowHandle(hostLockWorkflowId(hostId));
  const withdraw = () =>
    CancellationScope.nonCancellable(() => lock.signal(withdrawLeaseSignal, { workflowId, runId }).catch(() => undefined));

  progress.set('waiting for the host lock', hostId);
  let granted: boolean;
  let wasFrozen = false;
  try {
    // Inside the try: a cancel while the request is in flight may still have queued it, so withdraw.
    await orchestrator.requestHostLease({ hostId, request: { workflowId, runId, runbook, requestedAt: new Date().toISOString() } });
    granted = await condition(() => leaseId !== undefined || deferred !== undefined, LOCK_WAIT);
    while (leaseId === undefined && deferred !== undefined) {
      const d: LeaseDeferral = deferred;
      deferred = undefined;
      if (d.skip) {
        // The catch below withdraws the request.
        throw ApplicationFailure.nonRetryable(`host ${hostId} is frozen until ${d.until}${d.note ? ` (${d.note})` : ''}: skipped; nothing was changed`, 'HostFrozen');
      }
      progress.set('frozen', `${hostId} until ${d.until}${d.note ? `: ${d.note}` : ''}`);
      const frozenFor = Math.max(0, Date.parse(d.until) - Date.now());
      onFrozen?.(frozenFor);
      wasFrozen = true;
      granted = await condition(() => leaseId !== undefined || deferred !== undefined, frozenFor + durationMs(LOCK_WAIT));
    }
    granted = leaseId !== undefined;
  } catch (err) {
    // Cancelled, past the deadline, or the request failed after it may have been delivered.
    await withdraw();
    throw err;
  }
  if (!granted) {
    await withdraw();
    throw ApplicationFailure.nonRetryable(`host ${hostId} stayed busy for ${LOCK_WAIT}${wasFrozen ? ' after its freeze ended' : ''}; nothing was changed`, 'HostBusy');
  }
  try {
    return await fn();
  } finally {
    await CancellationScope.nonCancellable(() => lock.signal(releaseLeaseSignal, { leaseId: leaseId! }).catch(() => undefined));
  }
}
