/**
 * The in-workflow deadline, fired while each step of backup and recovery runs:
 * the run fails as DeadlineExceeded naming the step's phase, the step is waited
 * for, the undos registered before it run newest first, and every service that
 * was stopped is started again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNBOOK_FAILURES } from '../../../src/common/failures.js';
import { LogicEnv } from '../../helpers/time-skipping.js';
import { BACKUP_CASES, RECOVERY_CASES, type StepCase } from './cases.js';
import { ARCHIVE, leftStopped, newFakes } from './fixtures.js';
import { afterBlocked, applicationFailureOf, normalizeParallelStarts } from './traces.js';

const HOUR = 3_600_000;

const hostOf = (runbook: string, i: number) => `${runbook === 'backup' ? 'b' : 'r'}${i}`;
const fakes = newFakes();
let env: LogicEnv;

beforeAll(async () => {
  env = await LogicEnv.start({
    hosts: [...BACKUP_CASES.map((_, i) => hostOf('backup', i)), ...RECOVERY_CASES.map((_, i) => hostOf('disasterRecovery', i))],
    fakes,
    lock: 'fake',
    gate: 'held',
  });
});
afterAll(async () => {
  await env?.teardown();
});

async function deadlineCase(runbook: 'backup' | 'disasterRecovery', i: number, c: StepCase, budgetHours: number) {
  const hostId = hostOf(runbook, i);
  const workflowId = `deadline-${runbook}-${i}`;
  const blocked = fakes.block(c.block, { workflowId, ...(c.match ? { match: c.match } : {}) });
  const input = runbook === 'backup' ? { hostId } : { hostId, backup: ARCHIVE, approve: true };
  const handle = await env.start(runbook, input, workflowId);
  const startedAt = (await handle.describe()).startTime.getTime();
  await env.fireDeadlineDuring(handle, hostId, startedAt + budgetHours * HOUR, blocked);

  const failure = await applicationFailureOf(handle);
  expect(failure.type).toBe(RUNBOOK_FAILURES.DeadlineExceeded);
  expect(failure!.message).toBe(
    `${runbook} on ${hostId} passed its deadline of ${budgetHours * 60} minutes while in "${c.phase}".${c.undone ? ` Undone: ${c.undone}.` : ''}`,
  );

  const calls = fakes.of(workflowId);
  const blockedCall = await blocked.started;
  expect(blockedCall.outcome).toBe('cancelled');
  const after = afterBlocked(calls, blockedCall);
  expect(normalizeParallelStarts(after.map((a) => a.trace))).toEqual(normalizeParallelStarts(c.undos));
  for (const a of after) expect(a.call.startedAt).toBeGreaterThanOrEqual(blockedCall.endedAt!);
  expect(after.every((a) => a.call.outcome === 'completed')).toBe(true);
  expect(leftStopped(calls)).toEqual([]);
  expect(env.ends.find((e) => e.workflowId === workflowId)?.outcome).toBe('timed-out');
  expect((await handle.describe()).searchAttributes.McpOutcome).toEqual(['timed-out']);
}

describe('backup: the deadline (6 h lock wait + 18 h work) passes while a step runs', () => {
  it.each(BACKUP_CASES.map((c, i) => [c.step, i, c] as const))('in %s', async (_step, i, c) => {
    await deadlineCase('backup', i, c, 24);
  });
});

describe('disasterRecovery (approved up front): the deadline (2 x 6 h lock waits + 18 h work) passes while a step runs', () => {
  it.each(RECOVERY_CASES.map((c, i) => [c.step, i, c] as const))('in %s', async (_step, i, c) => {
    await deadlineCase('disasterRecovery', i, c, 30);
  });
});
