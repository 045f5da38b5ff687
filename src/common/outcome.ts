/** What a runbook reports to the worker's metrics when it ends (a workflow sink). Pure. */

export const RUNBOOK_OUTCOMES = ['success', 'failure', 'cancelled', 'timed-out', 'invalid-input', 'dry-run', 'declined'] as const;
/**
 * `success`: the workflow completed (its findings say how the host is); `failure`: it failed; `cancelled`;
 * `timed-out`: it passed its deadline (its undos ran); `invalid-input`: its input was refused before it ran;
 * `dry-run`: it only planned; `declined`: a recovery that was rejected or not approved in time. The last
 * two changed nothing, so they are neither a success nor a failure (no last success, no findings).
 */
export type RunbookOutcomeKind = (typeof RUNBOOK_OUTCOMES)[number];

export interface RunbookOutcome {
  runbook: string;
  hostId: string;
  outcome: RunbookOutcomeKind;
  /** Workflow time, start to end. */
  seconds: number;
  /** ISO time the run ended. */
  endedAt: string;
  /** Only on `success`. */
  findings?: { ok: number; warn: number; fail: number };
  downtime?: Array<{ service: string; seconds: number }>;
  /** Size of the archive a backup wrote. */
  archiveBytes?: number;
}

/** How one backup target fared in one backup run (or a `backups verify --target` run). */
export interface TargetOutcome {
  hostId: string;
  /** The target's configured name. */
  target: string;
  type: 'archive' | 'restic';
  outcome: 'success' | 'failure';
  /** ISO time. */
  endedAt: string;
  /** The backup's archive name: it identifies the backup in every target. */
  archive?: string;
  /** restic: data the snapshot added to the repository; archive: the archive's size. */
  bytesAdded?: number;
  /** restic: the repository's size after the backup. */
  repositoryBytes?: number;
  /** This host's backups kept in the target after retention. */
  snapshots?: number;
  verification?: { ok: boolean; at: string; full: boolean };
  /** On failure: why (no secrets). */
  message?: string;
  /** A `backups verify --target` run: only the verification gauges move, not the backup's last success or failure. */
  verifyOnly?: boolean;
}
