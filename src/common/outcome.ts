/** What a runbook reports to the worker's metrics when it ends (a workflow sink). Pure. */

export const RUNBOOK_OUTCOMES = ['success', 'failure', 'cancelled'] as const;
/** `success`: the workflow completed (its findings say how the host is); `failure`: it failed; `cancelled`. */
export type RunbookOutcomeKind = (typeof RUNBOOK_OUTCOMES)[number];

export interface RunbookOutcome {
  runbook: string;
  hostId: string;
  outcome: RunbookOutcomeKind;
  /** Workflow time, start to end. */
  seconds: number;
  /** ISO time the run ended. */
  endedAt: string;
  findings?: { ok: number; warn: number; fail: number };
  downtime?: Array<{ service: string; seconds: number }>;
  /** Size of the archive a backup wrote. */
  archiveBytes?: number;
}
