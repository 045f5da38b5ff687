/** Every failure type of the catalogue reaches its documented exit code, through the SDK's own error shapes. */
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure, RetryState } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { exitCodeForError } from '../../src/cli/exit-codes.js';
import { RUNBOOK_FAILURES } from '../../src/common/failures.js';

const failed = (cause: Error) => new WorkflowFailedError('Workflow execution failed', cause, RetryState.NON_RETRYABLE_FAILURE);

describe('exit codes of failed runs', () => {
  it.each<[string, number]>([
    [RUNBOOK_FAILURES.InvalidInput, 2],
    [RUNBOOK_FAILURES.UnknownHost, 2],
    [RUNBOOK_FAILURES.HostBusy, 4],
    [RUNBOOK_FAILURES.BackupVerificationFailed, 6],
    [RUNBOOK_FAILURES.RestoreRefused, 6],
    [RUNBOOK_FAILURES.DeadlineExceeded, 8],
    [RUNBOOK_FAILURES.BackupFailed, 1],
    [RUNBOOK_FAILURES.RecoveryFailed, 1],
    [RUNBOOK_FAILURES.RecoveryCheckFailed, 1],
    [RUNBOOK_FAILURES.RecoveryInspectFailed, 1],
    ['SomethingElse', 1],
  ])('%s -> %i', (type, code) => {
    expect(exitCodeForError(failed(ApplicationFailure.nonRetryable('why', type)))).toBe(code);
  });

  it('finds the type under an activity failure, and a cancelled run is a failure (1), not a success', () => {
    const activity = new ActivityFailure('Activity task failed', 'inspectRestore', '1', RetryState.NON_RETRYABLE_FAILURE, 'worker', ApplicationFailure.nonRetryable('bad', 'RestoreRefused'));
    expect(exitCodeForError(failed(activity))).toBe(6);
    expect(exitCodeForError(failed(new CancelledFailure('cancelled')))).toBe(1);
  });
});
