/**
 * Progress of long runbooks: the workflow's `progress` query (phases) and the
 * host activities' heartbeat details (counters). Pure: workflows, activities and
 * the CLI share it, and the workflows' activity policy table reads the constants.
 */

/**
 * A host activity's progress, as its heartbeat details: a real counter of the
 * work done (bytes copied, entries checked, lines of a program's output), never
 * a clock. Clients read it from the pending activities of `describe()`; a retry
 * reads its previous attempt's last one from `activityInfo().heartbeatDetails`.
 */
export interface StepProgress {
  /** What is counted, e.g. `snapshot /etc/kilocode`, `archive`, `pg_dump mcp`. */
  step: string;
  done: number;
  total?: number;
  unit: 'bytes' | 'items' | 'lines';
}

export interface RunbookProgress {
  runbook: string;
  workflowId: string;
  /** What the runbook is doing now, e.g. `snapshot`, `archive`, `awaiting approval`. */
  phase: string;
  detail?: string;
  startedAt: string;
  updatedAt: string;
  /**
   * Never set by the workflow's query (progress travels as heartbeat details, not
   * signals): the CLI's follower fills it with the first pending activity's details.
   */
  step?: StepProgress;
  /** Every phase so far, with its start time. */
  phases: Array<{ phase: string; at: string; detail?: string }>;
}

/**
 * A step whose counter has not moved for this long fails as stalled
 * (`StepStalledError`, retryable). Host config `activities.stallSeconds`.
 */
export const STALL_DEFAULT_SECONDS = 300;

/**
 * How often a running activity re-sends its latest counter while that counter
 * moved within the stall window (the SDK throttles what reaches the server to
 * 0.8 x the heartbeat timeout). Never after the window: then the step has stalled.
 */
export const LIVENESS_EVERY_SECONDS = 5;

/**
 * The heartbeat timeout to declare for every host activity: a killed worker (no
 * heartbeat at all) is noticed this soon. Several liveness intervals, so a busy
 * event loop does not time out a healthy step.
 */
export const HEARTBEAT_TIMEOUT_SECONDS = 30;

/** The failure type of a stalled step (the error's `name`); retryable within the activity's bounded retries. */
export const STEP_STALLED_ERROR = 'StepStalledError';

/**
 * Host activities whose heartbeats carry a real counter (see `StepProgress`).
 * Every other host activity has no counter: it must finish within the stall
 * window (and should have a short start-to-close); it heartbeats, without
 * details, only while inside that window.
 */
export const COUNTED_ACTIVITIES = [
  'planBackup',
  'snapshotSource',
  'dumpDatabase',
  'createArchive',
  'verifyBackup',
  'resticBackup',
  'resticVerify',
  'resticRetention',
  'fetchFromTarget',
  'inspectRestore',
  'extractForRestore',
  'stageRestore',
  'stageRestoreDatabase',
  'dumpCurrentDatabase',
  'restoreDatabase',
  'archivePreviousState',
  'vacuumDatabase',
  'checkPackages',
  'upgradePackages',
  'rotateLogs',
  'countLogErrors',
  'checkPermissions',
  'checkDiskAndCleanLogs',
  'ensureServicesRunning',
  'inspectDrill',
  'extractDrill',
  'restoreDrillDatabase',
  'checkDrill',
] as const;

export type CountedActivity = (typeof COUNTED_ACTIVITIES)[number];
