/** Every failure type of the catalogue reaches its documented exit code, through the SDK's own error shapes. */
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure, RetryState } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { exitCodeForError, exitCodeForFleet } from '../../src/cli/exit-codes.js';
import { countStates, type FleetHostState } from '../../src/common/fleet.js';
import { RUNBOOK_FAILURES } from '../../src/common/failures.js';

const failed = (cause: Error) => new WorkflowFailedError('Workflow execution failed', cause, RetryState.NON_RETRYABLE_FAILURE);

describe('exit codes of failed runs', () => {
  it.each<[string, number]>([
    [RUNBOOK_FAILURES.InvalidInput, 2],
    [RUNBOOK_FAILURES.UnknownHost, 2],
    [RUNBOOK_FAILURES.HostBusy, 4],
    [RUNBOOK_FAILURES.RepositoryBusy, 4],
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

describe('exit codes of a fleet', () => {
  const fleet = (...hosts: Array<{ state: FleetHostState; failureType?: string }>) => ({ hosts, counts: countStates(hosts) });
  it.each<[string, ReturnType<typeof fleet>, number]>([
    ['every host ok or warn', fleet({ state: 'ok' }, { state: 'warn' }), 0],
    ['a host reported fail findings, every run completed', fleet({ state: 'ok' }, { state: 'fail' }), 3],
    ['a host\'s run failed', fleet({ state: 'ok' }, { state: 'fail', failureType: 'HostBusy' }), 1],
    ['a host was unreachable', fleet({ state: 'fail' }, { state: 'unreachable' }), 1],
    ['hosts were skipped (policy or abort)', fleet({ state: 'fail' }, { state: 'skipped' }), 1],
  ])('%s -> %i', (_what, result, code) => {
    expect(exitCodeForFleet(result)).toBe(code);
  });
});
