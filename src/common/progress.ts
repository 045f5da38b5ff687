/** Progress of long runbooks, as the `progress` query returns it. Pure. */

/** Signal name host activities use to report a long step's progress to their workflow. */
export const ACTIVITY_PROGRESS_SIGNAL = 'activityProgress';

/** A host-side step's progress, e.g. bytes archived so far. */
export interface StepProgress {
  step: string;
  done: number;
  total?: number;
  unit: 'bytes' | 'items';
}

export interface RunbookProgress {
  runbook: string;
  workflowId: string;
  /** What the runbook is doing now, e.g. `snapshot`, `archive`, `awaiting approval`. */
  phase: string;
  detail?: string;
  startedAt: string;
  updatedAt: string;
  /** The latest report from the host activity in flight. */
  step?: StepProgress;
  /** Every phase so far, with its start time. */
  phases: Array<{ phase: string; at: string; detail?: string }>;
}
