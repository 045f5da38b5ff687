/**
 * The activity policy table: every host activity's start-to-close, heartbeat
 * timeout, retry bound and cancellation type, declared once and typed against
 * the activity set (a new host activity without a row does not compile). Call
 * sites never choose options: `hostActs(taskQueue).stopServices(...)` runs with
 * the row for `stopServices`.
 *
 * Rules the table keeps (test/workflows/activity-policies.test.ts checks them):
 * - nothing retries without bound: every row has `maximumAttempts`;
 * - every activity waits for its cancellation to complete, so an undo never
 *   starts while the step it undoes is still running (the SDK's default is
 *   TRY_CANCEL: the workflow would go on at once);
 * - every activity has a heartbeat timeout, so a killed worker is noticed in
 *   {@link HEARTBEAT_TIMEOUT}, not at the start-to-close, and the step is retried
 *   on the next worker; a long step beats only while its counter moves, and
 *   fails as stalled on the host when it stops moving;
 * - no row's worst case (attempts x start-to-close, plus back-off) outlives the
 *   work budget of a runbook that calls it (see `RUNBOOK_BUDGETS`).
 */
import { ActivityCancellationType, proxyActivities, proxyLocalActivities, type ActivityOptions } from '@temporalio/workflow';
import type { HostActivities, OrchestratorActivities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_NAMES } from '../common/errors.js';
import { HEARTBEAT_TIMEOUT_SECONDS, STALL_DEFAULT_SECONDS } from '../common/progress.js';

const nonRetryableErrorTypes = [...NON_RETRYABLE_ERROR_NAMES];

/**
 * How long without a heartbeat before Temporal takes an activity's worker for
 * dead and retries the step elsewhere. Host activities beat every
 * LIVENESS_EVERY_SECONDS while their work moves (src/activities/heartbeat.ts).
 */
export const HEARTBEAT_TIMEOUT = `${HEARTBEAT_TIMEOUT_SECONDS} seconds`;

/**
 * An activity without a progress counter counts as one stall window for its
 * whole run: it fails as stalled on the host once it runs longer than that, so
 * its start-to-close is never longer.
 */
const UNCOUNTED_MAX = `${STALL_DEFAULT_SECONDS} seconds`;

/** A row of the table: the options every call of one activity runs with. */
export interface ActivityPolicy extends ActivityOptions {
  startToCloseTimeout: NonNullable<ActivityOptions['startToCloseTimeout']>;
  retry: NonNullable<ActivityOptions['retry']> & { maximumAttempts: number };
  cancellationType: ActivityCancellationType;
}

/** A row: the one shape every policy has; the kinds below differ only in these numbers. */
function row(startToClose: string, attempts: number, initialInterval: string, maximumInterval: string): ActivityPolicy {
  return {
    startToCloseTimeout: startToClose,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: { initialInterval, backoffCoefficient: 2, maximumInterval, maximumAttempts: attempts, nonRetryableErrorTypes },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
}

/** A read or a small change without a progress counter: one stall window at most, five attempts. */
const quick = (attempts = 5): ActivityPolicy => row(UNCOUNTED_MAX, attempts, '1 second', '30 seconds');

/** A long step that heartbeats its real progress (bytes, entries); a hung one fails as stalled on the host. */
const long = (startToClose: string, attempts = 3): ActivityPolicy => row(startToClose, attempts, '2 seconds', '1 minute');

/**
 * A step that must happen once begun (start services, swap a folder back):
 * retried longer than a read, but within a bound: a service that will never
 * start must end as a failure the operator sees, not hold the host lock forever.
 */
const persistent = (attempts = 10): ActivityPolicy => row(UNCOUNTED_MAX, attempts, '1 second', '1 minute');

/** Every host activity's policy. */
export const HOST_ACTIVITY_POLICIES = {
  // services
  checkServices: quick(),
  serviceStates: quick(),
  stopServices: persistent(),
  startServices: persistent(),
  ensureServicesRunning: long('30 minutes'),
  // remediation (restartService)
  restartHistory: quick(),
  restartService: persistent(3),
  verifyService: quick(),
  // system
  checkDisk: quick(),
  checkMemory: quick(),
  checkDiskAndCleanLogs: long('1 hour'),
  checkCpuAndLoad: quick(),
  // the fleet's liveness probe: one attempt, a short schedule-to-start (see pingActivity)
  ping: { ...row('10 seconds', 1, '1 second', '1 second'), scheduleToStartTimeout: '5 seconds' },
  // backup
  planBackup: long('30 minutes'),
  snapshotSource: long('3 hours'),
  dumpDatabase: long('3 hours'),
  createArchive: long('4 hours'),
  verifyBackup: long('3 hours'),
  removeStaging: quick(),
  applyRetention: quick(3),
  listBackups: quick(),
  backupFolderState: quick(),
  backupStatus: quick(),
  // restic targets (src/activities/offsite.ts)
  describeTargets: quick(),
  resticBackup: long('5 hours'),
  resticVerify: long('5 hours', 2),
  resticRetention: long('5 hours', 2),
  resticUnlockStale: quick(),
  listTargetBackups: quick(),
  fetchFromTarget: long('5 hours'),
  removeFetched: quick(),
  // recovery
  inspectRestore: long('3 hours'),
  extractForRestore: long('4 hours'),
  stageRestore: long('4 hours'),
  discardStaged: quick(),
  stageRestoreDatabase: long('3 hours'),
  swapDatabase: persistent(),
  undoDatabaseSwap: persistent(),
  dumpCurrentDatabase: long('3 hours'),
  swapRoot: persistent(),
  undoSwap: persistent(),
  restoreDatabase: long('3 hours'),
  postRecoveryChecks: quick(),
  archivePreviousState: long('4 hours', 2),
  cleanupRecovery: quick(),
  // restore drill (src/activities/drill.ts)
  newestVerifiedBackup: quick(),
  inspectDrill: long('3 hours'),
  extractDrill: long('4 hours'),
  restoreDrillDatabase: long('3 hours'),
  checkDrill: long('3 hours'),
  cleanupDrill: persistent(),
  // maintenance
  rotateLogs: long('30 minutes'),
  countLogErrors: long('1 hour'),
  memoryServiceStats: quick(),
  consolidateMemoryService: quick(2),
  checkPackages: long('30 minutes'),
  upgradePackages: long('2 hours', 1),
  checkPostgres: quick(),
  vacuumDatabase: long('3 hours', 2),
  writeMonthlyReport: quick(),
  auditStatus: quick(),
  serviceUserAccess: quick(),
  checkPermissions: long('1 hour'),
  checkCertificates: quick(),
  cleanTempFiles: quick(3),
} as const satisfies { [K in keyof HostActivities]: ActivityPolicy };

export type HostActivityName = keyof HostActivities;

/** The host's activities on its own task queue, each with its row of the policy table. */
export function hostActs(taskQueue: string, heartbeatTimeoutSeconds?: number): HostActivities {
  const acts: Record<string, unknown> = {};
  // The orchestrator's `activities.heartbeatTimeoutSeconds`: how soon a dead host worker is noticed.
  const heartbeat = heartbeatTimeoutSeconds ? { heartbeatTimeout: `${heartbeatTimeoutSeconds} seconds` } : {};
  for (const [name, policy] of Object.entries(HOST_ACTIVITY_POLICIES)) {
    acts[name] = proxyActivities<HostActivities>({ ...policy, ...heartbeat, taskQueue })[name as HostActivityName];
  }
  return acts as unknown as HostActivities;
}

/**
 * The fleet's liveness ping on a host's queue: the table's row, with the
 * schedule-to-start timeout the fleet's policy gives (`pingTimeoutSeconds`).
 * A worker that does not pick it up within that is taken for gone.
 */
export function pingActivity(taskQueue: string, scheduleToStartSeconds: number): HostActivities['ping'] {
  return proxyActivities<HostActivities>({ ...HOST_ACTIVITY_POLICIES.ping, scheduleToStartTimeout: Math.round(scheduleToStartSeconds * 1000), taskQueue }).ping;
}

/**
 * The longest one call of an activity can take with every retry: attempts x
 * start-to-close plus the back-off between them. Used to check budgets.
 */
export function worstCaseMs(policy: ActivityPolicy): number {
  const ms = (d: unknown) => durationMs(d);
  const attempts = policy.retry.maximumAttempts;
  let backoff = 0;
  let interval = ms(policy.retry.initialInterval ?? '1 second');
  for (let i = 1; i < attempts; i++) {
    backoff += Math.min(interval, ms(policy.retry.maximumInterval ?? '100 seconds'));
    interval *= policy.retry.backoffCoefficient ?? 2;
  }
  return attempts * ms(policy.startToCloseTimeout) + backoff;
}

/** Milliseconds of a duration written as `N unit` (the table's own form) or a number of ms. */
export function durationMs(d: unknown): number {
  if (typeof d === 'number') return d;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|seconds?|m|minutes?|h|hours?|d|days?)$/.exec(String(d).trim());
  if (!m) throw new Error(`not a duration: ${String(d)}`);
  const n = Number(m[1]);
  const unit = m[2]!;
  if (unit.startsWith('ms') || unit.startsWith('milli')) return n;
  if (unit.startsWith('s')) return n * 1000;
  if (unit.startsWith('m')) return n * 60_000;
  if (unit.startsWith('h')) return n * 3_600_000;
  return n * 86_400_000;
}

/** Activities answered from the orchestrator's own config, as local activities. */
export const orchestrator = proxyLocalActivities<OrchestratorActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes },
});

/**
 * The same orchestrator activities as regular activities on the workflow's own
 * queue (the orchestrator worker registers them there too), for a workflow
 * that runs many of them at once: a fleet checks up to `maxParallel` hosts'
 * liveness side by side. Many concurrent local activities outlast a workflow
 * task, the SDK then completes the task with the markers so far (a workflow-task
 * heartbeat), and a replay resolved those markers one task earlier than the
 * run had: a 1,000-host fleet failed as nondeterministic on its first replay
 * (bench/fleet.ts). Regular activities are ordered by their own events.
 */
export const orchestratorTask = proxyActivities<OrchestratorActivities>({
  startToCloseTimeout: '10 seconds',
  scheduleToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes },
});
