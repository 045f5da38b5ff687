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
  /** A passed restore drill: the target it restored from and the measured restore seconds. */
  drill?: { target: string; restoreSeconds: number };
  /**
   * A failed backup whose only failed targets are restic targets, its archive target having stored it
   * ({@link failedOnlyOffsite}): counted as a failure, but the runbook's last failure does not move.
   * Each failed target raises `OffsiteBackupFailed`, naming it; `BackupFailed` is for the host's backup.
   */
  offsiteOnly?: boolean;
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

/** One target's line in a backup's report (`BackupResult.targets`), as far as the metrics need it. */
export interface TargetReportLine {
  target: string;
  type: 'archive' | 'restic';
  ok: boolean;
  error?: string;
  restic?: {
    backup: { dataAdded: number };
    verify: { ok: boolean; verifiedAt: string };
    retention: { repositoryBytes?: number; snapshots: number };
  };
}

/**
 * Whether a backup failed only on its restic targets: at least one target failed, every one that failed
 * is a restic target, and an archive target stored the backup. The host has its backup (in its backups
 * folder); what is missing is an off-host copy, which `OffsiteBackupFailed` reports per target.
 */
export function failedOnlyOffsite(targets: ReadonlyArray<Pick<TargetReportLine, 'type' | 'ok'>> | undefined): boolean {
  const failed = targets?.filter((t) => !t.ok) ?? [];
  return failed.length > 0 && failed.every((t) => t.type === 'restic') && Boolean(targets?.some((t) => t.ok && t.type === 'archive'));
}

/**
 * The metrics outcome of one target of one backup: what the run reports as
 * each target ends, and what an orchestrator reads back from a finished run's
 * report at start (so per-target alerts survive a restart).
 */
export function targetOutcomeOf(o: {
  hostId: string;
  archive: string;
  endedAt: string;
  line: TargetReportLine;
  /** The archive target's size and kept backups. */
  archiveTarget?: { bytes?: number; kept?: number };
  /** A failed target whose failure was its verification. */
  verificationFailed?: boolean;
}): TargetOutcome {
  const { line } = o;
  const base = { hostId: o.hostId, target: line.target, type: line.type, endedAt: o.endedAt, archive: o.archive };
  if (!line.ok) {
    return { ...base, outcome: 'failure', ...(line.error ? { message: line.error } : {}), ...(o.verificationFailed ? { verification: { ok: false, at: o.endedAt, full: false } } : {}) };
  }
  if (line.type === 'archive' || !line.restic) {
    const a = o.archiveTarget ?? {};
    return { ...base, outcome: 'success', ...(a.bytes !== undefined ? { bytesAdded: a.bytes } : {}), ...(a.kept !== undefined ? { snapshots: a.kept } : {}), verification: { ok: true, at: o.endedAt, full: true } };
  }
  const r = line.restic;
  return {
    ...base,
    outcome: 'success',
    bytesAdded: r.backup.dataAdded,
    ...(r.retention.repositoryBytes !== undefined ? { repositoryBytes: r.retention.repositoryBytes } : {}),
    snapshots: r.retention.snapshots,
    verification: { ok: r.verify.ok, at: r.verify.verifiedAt, full: false },
  };
}
