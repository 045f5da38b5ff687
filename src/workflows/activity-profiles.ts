/**
 * Named activity option profiles, and proxies that route host activities to the
 * host's own task queue. Every profile has an explicit startToCloseTimeout.
 */
import { proxyActivities, proxyLocalActivities, type ActivityOptions } from '@temporalio/workflow';
import type { HostActivities, OrchestratorActivities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_NAMES } from '../common/errors.js';

const nonRetryableErrorTypes = [...NON_RETRYABLE_ERROR_NAMES];

export const ACTIVITY_PROFILES = {
  /** Reads and small actions. Gives up after 10 minutes, e.g. when no worker serves the host. */
  quick: {
    startToCloseTimeout: '2 minutes',
    scheduleToCloseTimeout: '10 minutes',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5, nonRetryableErrorTypes },
  },
  /** Long steps (archives, dumps): they heartbeat, so a dead worker is noticed within 30 s. */
  long: {
    startToCloseTimeout: '4 hours',
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3, nonRetryableErrorTypes },
  },
  /** Undo steps (restart a service): retried until they succeed. */
  critical: {
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 0, nonRetryableErrorTypes },
  },
} as const satisfies Record<string, ActivityOptions>;

export type ActivityProfile = keyof typeof ACTIVITY_PROFILES;

/** Host activities that run on the given host's task queue. */
export function hostActivities(taskQueue: string, profile: ActivityProfile = 'quick') {
  return proxyActivities<HostActivities>({ ...ACTIVITY_PROFILES[profile], taskQueue });
}

/** Activities answered from the orchestrator's own config, as local activities. */
export const orchestrator = proxyLocalActivities<OrchestratorActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes },
});
