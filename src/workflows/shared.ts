/** Helpers shared by the runbook workflows. */
import { ApplicationFailure, ActivityFailure } from '@temporalio/workflow';
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
    throw ApplicationFailure.nonRetryable(failureMessage(err), 'UnknownHostError');
  }
}

/** Runs checks side by side; a check whose activity fails becomes a `fail` finding instead of failing the runbook. */
export async function runChecks(checks: Record<string, () => Promise<Finding | Finding[]>>): Promise<Finding[]> {
  const names = Object.keys(checks);
  const settled = await Promise.allSettled(names.map((name) => checks[name]!()));
  return settled.flatMap((r, i) =>
    r.status === 'fulfilled' ? r.value : [finding(names[i]!, 'fail', `check could not run: ${failureMessage(r.reason)}`, {})],
  );
}
