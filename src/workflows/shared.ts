/** Helpers shared by the runbook workflows. */
import { ApplicationFailure, ActivityFailure, isCancellation } from '@temporalio/workflow';
import type { HostActivities } from '../activities/index.js';
import { finding, type Finding } from '../common/report.js';
import { orchestrator } from './activity-policies.js';
import type { HostRoute } from '../activities/orchestrator.js';

/** The innermost message of a failure (an activity failure wraps the activity's error). */
export function failureMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

/** Whether an activity failed with the given error type (its `name`, e.g. `RestoreRefusedError`). */
export function failedWith(err: unknown, type: string): boolean {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e instanceof ApplicationFailure && e.type === type;
}

/** Where the host's activities run; an unknown host fails the workflow at once with a clear message. */
export async function routeToHost(hostId: string | undefined): Promise<HostRoute> {
  try {
    return await orchestrator.resolveHost(hostId);
  } catch (err) {
    // Only a host the orchestrator does not know is bad input; a cancel or a timeout stays what it is.
    if (failedWith(err, 'UnknownHostError')) throw ApplicationFailure.nonRetryable(failureMessage(err), 'UnknownHostError');
    throw err;
  }
}

/** Runs checks side by side; a check whose activity fails becomes a `fail` finding instead of failing the runbook. */
export async function runChecks(checks: Record<string, () => Promise<Finding | Finding[]>>): Promise<Finding[]> {
  const names = Object.keys(checks);
  const settled = await Promise.allSettled(names.map((name) => checks[name]!()));
  // A cancelled check is the run's cancellation, not a finding.
  const cancelled = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected' && isCancellation(r.reason));
  if (cancelled) throw cancelled.reason;
  return settled.flatMap((r, i) =>
    r.status === 'fulfilled' ? r.value : [finding(names[i]!, 'fail', `check could not run: ${failureMessage(r.reason)}`, {})],
  );
}

/**
 * Starts each service on its own, all of them even when one fails (a restart undo must not stop at
 * the first service that will not start); fails naming every one that did not start.
 */
export async function startEach(acts: Pick<HostActivities, 'startServices'>, services: readonly string[]): Promise<void> {
  const settled = await Promise.allSettled(services.map((service) => acts.startServices({ services: [service] })));
  const failed = settled.flatMap((x, i) => (x.status === 'rejected' ? [`${services[i]}: ${failureMessage(x.reason)}`] : []));
  if (failed.length) throw ApplicationFailure.nonRetryable(`could not start ${failed.join('; ')}`, 'ServiceStartFailed');
}
