/**
 * The failure types a runbook workflow ends with, and the CLI's exit codes.
 * Pure: workflows, the CLI and the gateway share it. A workflow that fails
 * throws `ApplicationFailure.nonRetryable(message, type)` with one of these
 * types; the CLI maps the type to its exit code in one place ({@link exitCodeFor}).
 */

/** Why a runbook failed, as the `type` of its ApplicationFailure. */
export const RUNBOOK_FAILURES = {
  /** The input broke the runbook's schema: unknown field, wrong type, out of range. Nothing ran. */
  InvalidInput: 'InvalidInput',
  /** The input named a host the orchestrator does not know. Nothing ran. */
  UnknownHost: 'UnknownHostError',
  /** The host stayed locked by other runbooks for longer than the lock wait. Nothing was changed. */
  HostBusy: 'HostBusy',
  /** The host was frozen (`mcp-runbooks freeze --skip`): the run did not wait for the freeze to end. Nothing was changed. */
  HostFrozen: 'HostFrozen',
  /** A restic repository stayed leased by other runs (a prune, another host's check) for longer than the lease wait. Nothing was changed there. */
  RepositoryBusy: 'RepositoryBusy',
  /** The runbook's deadline passed; the undos ran. */
  DeadlineExceeded: 'DeadlineExceeded',
  /** The backup was written but did not read back as its manifest says. */
  BackupVerificationFailed: 'BackupVerificationFailed',
  /** A step of the backup failed; the undos ran. */
  BackupFailed: 'BackupFailed',
  /** One or more backup targets failed; the others stored the backup (the message names each). */
  BackupTargetFailed: 'BackupTargetFailed',
  /** The archive failed the restore checks (manifest, checksum, an entry's type or where it leads). Nothing was changed. */
  RestoreRefused: 'RestoreRefused',
  /** The archive could not be inspected (unreadable, host unreachable). Nothing was changed. */
  RecoveryInspectFailed: 'RecoveryInspectFailed',
  /** The recovery failed after it began changing the host; the undos ran. */
  RecoveryFailed: 'RecoveryFailed',
  /** The recovered services failed their checks; the recovery was rolled back. */
  RecoveryCheckFailed: 'RecoveryCheckFailed',
  /** A restore drill's restore did not match the backup (a file's sha256, a table's rows, the validate command), or could not run; its scratch copies were removed. */
  RestoreDrillFailed: 'RestoreDrillFailed',
} as const;

export type RunbookFailureType = (typeof RUNBOOK_FAILURES)[keyof typeof RUNBOOK_FAILURES];

/** The CLI's exit codes, documented in the README. */
export const EXIT_CODES = {
  /** The runbook succeeded with no `fail` finding. */
  ok: 0,
  /** The runbook failed (any reason not listed below). */
  failed: 1,
  /** Bad usage, invalid configuration, or input the runbook refused (InvalidInput, unknown host). Nothing ran. */
  usage: 2,
  /** The runbook finished but reported at least one `fail` finding. */
  failFindings: 3,
  /** The host, or a restic repository, stayed busy (HostBusy, RepositoryBusy). Nothing was changed. */
  hostBusy: 4,
  /** A recovery or upgrade was rejected, or not approved in time. Nothing was changed. */
  declined: 5,
  /** A backup or archive failed verification, or a restore refused the archive. */
  verificationFailed: 6,
  /** Temporal could not be reached. */
  temporalUnreachable: 7,
  /** The runbook's deadline passed; its undos ran. */
  deadlineExceeded: 8,
  /** Interrupted (Ctrl-C) while following a run; the run goes on. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** The exit code for a workflow that failed with the given failure type. */
export function exitCodeFor(failureType: string | undefined): ExitCode {
  switch (failureType) {
    case RUNBOOK_FAILURES.InvalidInput:
    case RUNBOOK_FAILURES.UnknownHost:
      return EXIT_CODES.usage;
    case RUNBOOK_FAILURES.HostBusy:
    case RUNBOOK_FAILURES.RepositoryBusy:
      return EXIT_CODES.hostBusy;
    case RUNBOOK_FAILURES.BackupVerificationFailed:
    case RUNBOOK_FAILURES.RestoreRefused:
      return EXIT_CODES.verificationFailed;
    case RUNBOOK_FAILURES.DeadlineExceeded:
      return EXIT_CODES.deadlineExceeded;
    default:
      return EXIT_CODES.failed;
  }
}
