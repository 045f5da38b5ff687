/**
 * Cancelling a run (`handle.cancel()`) in each step: the step is waited for
 * (WAIT_CANCELLATION_COMPLETED) before the first undo starts; then the undos of
 * that step run newest first. And when one undo fails: the others still run,
 * the cleanup is skipped and the failure names what was kept.
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecoveryStateError } from '../../../src/activities/restore.js';
import { finding } from '../../../src/common/report.js';
import { LogicEnv } from '../../helpers/time-skipping.js';
import { BACKUP_CASES, RECOVERY_CASES, type StepCase } from './cases.js';
import { ARCHIVE, STAGED_PLAN, hostFakes, leftStopped, newFakes } from './fixtures.js';
import { afterBlocked, applicationFailureOf, failureOf, normalizeParallelStarts, traceOf } from './traces.js';

/** How long a cancelled step takes to stop: the undos must not start before. */
const STOP_MS = 300;
const FAILING = 'undo-fails';
const inFailingRun = () => Context.current().info.workflowExecution?.workflowId.startsWith(FAILING) ?? false;

const fakes = newFakes({
  async undoSwap(req) {
    if (inFailingRun() && req.root.target === '/srv/a') {
      // A real error class: the SDK takes the failure type from the constructor's name.
      throw new RecoveryStateError('rename /srv/.a.previous -> /srv/a: device busy');
    }
    return hostFakes.undoSwap();
  },
  async postRecoveryChecks() {
    return inFailingRun() ? [finding('recovery.http', 'fail', 'svc-a does not answer on :8080', {})] : [];
  },
});
let env: LogicEnv;

beforeAll(async () => {
  env = await LogicEnv.start({ hosts: ['h'], fakes, lock: 'fake' });
});
afterAll(async () => {
  await env?.teardown();
});

async function cancelCase(runbook: 'backup' | 'disasterRecovery', i: number, c: StepCase) {
  const workflowId = `cancel-${runbook}-${i}`;
  const blocked = fakes.block(c.block, { workflowId, releaseAfterMs: STOP_MS, ...(c.match ? { match: c.match } : {}) });
  const handle = await env.start(runbook, runbook === 'backup' ? { hostId: 'h' } : { hostId: 'h', backup: ARCHIVE, approve: true }, workflowId);
  const call = await blocked.started;
  // Cancel once only this step runs. (Cancelling while parallel parts complete makes the Java test
  // server refuse the workflow task: "ACTIVITY_UNKNOWN" for a cancel of an activity that just ended.)
  await env.quiet(handle, ['started'], (p) => p.length === 1);
  await handle.cancel();
  expect(await failureOf(handle)).toBeInstanceOf(CancelledFailure);

  expect(call.outcome).toBe('cancelled');
  // The step took STOP_MS to stop after it saw its cancellation, and nothing started meanwhile.
  expect(call.endedAt! - call.cancelledAt!).toBeGreaterThanOrEqual(STOP_MS - 5);
  const after = afterBlocked(fakes.of(workflowId), call);
  expect(normalizeParallelStarts(after.map((a) => a.trace))).toEqual(normalizeParallelStarts(c.undos));
  for (const a of after) expect(a.call.startedAt, `${a.trace} started before ${c.block} ended`).toBeGreaterThanOrEqual(call.endedAt!);
  expect(leftStopped(fakes.of(workflowId))).toEqual([]);
  expect(env.ends.find((e) => e.workflowId === workflowId)?.outcome).toBe('cancelled');
}

describe('backup cancelled while a step runs', () => {
  it.each(BACKUP_CASES.map((c, i) => [c.step, i, c] as const))('in %s: the step ends before the first undo starts', async (_s, i, c) => {
    await cancelCase('backup', i, c);
  });
});

describe('disasterRecovery cancelled while a step runs', () => {
  it.each(RECOVERY_CASES.map((c, i) => [c.step, i, c] as const))('in %s: the step ends before the first undo starts', async (_s, i, c) => {
    await cancelCase('disasterRecovery', i, c);
  });
});

describe('an undo that fails', () => {
  it('the other undos still run newest first; the cleanup is skipped and the failure names what was kept', async () => {
    const workflowId = `${FAILING}-1`;
    const handle = await env.start('disasterRecovery', { hostId: 'h', backup: ARCHIVE, approve: true }, workflowId);
    const failure = await applicationFailureOf(handle);
    expect(failure.type).toBe('RecoveryCheckFailed');
    const plan = STAGED_PLAN;
    const swap = plan.dump!.swap!;
    expect(failure.message).toBe(
      'disasterRecovery on h failed: post-recovery checks failed: svc-a does not answer on :8080. Undone: ' +
        `stop services before rolling back; put back database mcp (kept as ${swap.previous}); put back /srv/b; ` +
        'put back /srv/a (FAILED: rename /srv/.a.previous -> /srv/a: device busy); start svc-a, svc-b; ' +
        `remove staging and recovery files (skipped: an undo failed, kept ${plan.recoveryDir}, /srv/.a.previous, /srv/.b.previous, database ${swap.staging}, database ${swap.previous}).`,
    );
    const calls = fakes.of(workflowId);
    const checks = calls.findIndex((c) => c.name === 'postRecoveryChecks');
    const undos = calls.slice(checks + 1).map(traceOf);
    expect(normalizeParallelStarts(undos)).toEqual(
      normalizeParallelStarts([
        `stopServices(${JSON.stringify({ services: plan.services })})`,
        `undoDatabaseSwap(${JSON.stringify({ plan })})`,
        `undoSwap(${JSON.stringify({ root: plan.roots[1] })})`,
        `undoSwap(${JSON.stringify({ root: plan.roots[0] })})`,
        `startServices(${JSON.stringify({ services: ['svc-a'] })})`,
        `startServices(${JSON.stringify({ services: ['svc-b'] })})`,
      ]),
    );
    // Non-retryable (RecoveryStateError): one attempt, and no cleanupRecovery at all.
    expect(calls.filter((c) => c.name === 'undoSwap' && c.outcome === 'failed').map((c) => c.attempt)).toEqual([1]);
    expect(calls.some((c) => c.name === 'cleanupRecovery')).toBe(false);
    expect(leftStopped(calls)).toEqual([]);
    expect(failure.details?.[0]).toMatchObject({ notUndone: 1 });
  });
});
