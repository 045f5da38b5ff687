/**
 * Fault points: named places in the host activities where a kill test stops an
 * activity to kill its worker there. Production passes nothing and gets
 * {@link NO_FAULTS}; nothing in the config file or the environment can arm a
 * point. Only a test entry point (test/fixtures/fault-worker.mjs) passes a
 * {@link Faults} to `startWorker` / `createActivities`.
 */

/** Every place an activity can be paused. */
export const FAULT_POINTS = ['backup.snapshot', 'backup.archive', 'backup.restic', 'restore.fetch', 'restore.swap', 'services.stopped', 'services.started'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export interface Faults {
  /**
   * Called when an activity reaches `point` (`detail` says e.g. which service).
   * Resolves to go on; a test's implementation may instead wait (until
   * `signal` aborts or the process is killed).
   */
  reach(point: FaultPoint, signal?: AbortSignal, detail?: Record<string, string>): Promise<void>;
}

/** Production: every point passes straight through. */
export const NO_FAULTS: Faults = { reach: () => Promise.resolve() };
