/**
 * Named activity option profiles, and proxies that route host activities to the
 * host's own task queue. Every profile has an explicit startToCloseTimeout.
 */
import { proxyActivities, proxyLocalActivities, type ActivityOptions } from '@temporalio/workflow';
import type { HostActivities, OrchestratorActivities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_NAMES } from '../common/errors.js';

const nonRetryableErrorTypes = [...NON_RETRYABLE_ERROR_NAMES];

/**
 * Every host activity heartbeats every 5 s while it runs (see `withHeartbeats`),
 * so a killed worker is noticed within the heartbeat timeout and the step is
 * retried on the next worker that polls the host's queue.
 */
const HEARTBEAT = '20 seconds';

export const ACTIVITY_PROFILES = {
  /** Reads and small actions. Gives up after 10 minutes, e.g. when no worker serves the host. */
  quick: {
    startToCloseTimeout: '5 minutes',
    scheduleToCloseTimeout: '10 minutes',
    heartbeatTimeout: HEARTBEAT,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5, nonRetryableErrorTypes },
  },
  /** Long steps (snapshots, archives, dumps, extraction). */
  long: {
    startToCloseTimeout: '6 hours',
    heartbeatTimeout: HEARTBEAT,
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes },
  },
  /** Steps that must happen once started (restart services, swap folders, undo): retried until they succeed. */
  critical: {
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: HEARTBEAT,
    // No maximumAttempts: unlimited.
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes },
  },
  /**
   * Undo steps of a saga. Retried like `critical`, but within a bound: undos run one
   * after another, so one that can never succeed (a service that will not start, a
   * database that refuses the dump) must end as FAILED in the rollback report rather
   * than hold back the undos after it, and the host lock, forever.
   */
  undo: {
    startToCloseTimeout: '30 minutes',
    scheduleToCloseTimeout: '1 hour',
    heartbeatTimeout: HEARTBEAT,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes },
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
