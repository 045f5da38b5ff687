/**
 * The in-workflow deadline, fired while each step of backup and recovery runs:
 * the run fails as DeadlineExceeded naming the step's phase, the step is waited
 * for, the undos registered before it run newest first, and every service that
 * was stopped is started again.
 */
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNBOOK_FAILURES } from '../../../src/common/failures.js';
import { LogicEnv, type HostActivityName } from '../../helpers/time-skipping.js';
import { BACKUP_PLAN, RESTORE_PLAN, leftStopped, newFakes, ARCHIVE } from './fixtures.js';
import { afterBlocked, normalizeParallelStarts } from './traces.js';

const HOUR = 3_600_000;

interface DeadlineCase {
  step: string;
  block: HostActivityName;
  match?: (args: unknown[]) => boolean;
  phase: string;
  /** The calls after the blocked one: the undos, newest first. */
  undos: string[];
  /** The failure's list of what was undone. */
  undone?: string;
}

const arg0 = (args: unknown[]) => args[0] as Record<string, unknown>;
const removeStaging = `removeStaging(${JSON.stringify({ stagingDir: BACKUP_PLAN.stagingDir })})`;
const startOne = (s: string) => `startServices(${JSON.stringify({ services: [s] })})`;

const BACKUP_CASES: DeadlineCase[] = [
  { step: 'plan', block: 'planBackup', phase: 'plan', undos: [] },
  { step: 'the database dump part', block: 'dumpDatabase', phase: 'snapshot', undos: [removeStaging], undone: 'remove staging' },
  {
    step: "svc-a's snapshot part",
    block: 'snapshotSource',
    match: (a) => (arg0(a).source as { archivePath: string }).archivePath === 'srv/a',
    phase: 'snapshot',
    undos: [startOne('svc-a'), removeStaging],
    undone: 'restart svc-a; remove staging',
  },
  {
    step: "svc-b's snapshot part",
    block: 'snapshotSource',
    match: (a) => (arg0(a).source as { archivePath: string }).archivePath === 'srv/b',
    phase: 'snapshot',
    undos: [startOne('svc-b'), removeStaging],
    undone: 'restart svc-b; remove staging',
  },
  { step: 'archive', block: 'createArchive', phase: 'archive', undos: [removeStaging], undone: 'remove staging' },
  { step: 'verify', block: 'verifyBackup', phase: 'verify', undos: [removeStaging], undone: 'remove staging' },
  { step: 'retention', block: 'applyRetention', phase: 'retention', undos: [removeStaging], undone: 'remove staging' },
];

const plan = RESTORE_PLAN;
const [rootA, rootB] = plan.roots as [(typeof plan.roots)[0], (typeof plan.roots)[0]];
const cleanup = `cleanupRecovery(${JSON.stringify({ plan, keepPrevious: true })})`;
const startAll = [startOne('svc-a'), startOne('svc-b')];
const putBack = (root: typeof rootA) => `undoSwap(${JSON.stringify({ root })})`;
const putBackDb = `restoreDatabase(${JSON.stringify({ file: plan.dump!.emergencyFile })})`;
const stopBeforeRollback = `stopServices(${JSON.stringify({ services: plan.services })})`;
const CLEANUP = 'remove staging and recovery files';
const afterStart = [stopBeforeRollback, putBackDb, putBack(rootB), putBack(rootA), ...startAll, cleanup];
const afterStartText = `stop services before rolling back; put back database mcp from ${plan.dump!.emergencyFile}; put back /srv/b; put back /srv/a; start svc-a, svc-b; ${CLEANUP}`;

const RECOVERY_CASES: DeadlineCase[] = [
  { step: 'inspect', block: 'inspectRestore', phase: 'inspect', undos: [] },
  { step: 'extract', block: 'extractForRestore', phase: 'extract', undos: [cleanup], undone: CLEANUP },
  { step: 'stop', block: 'stopServices', phase: 'stop services', undos: [...startAll, cleanup], undone: `start svc-a, svc-b; ${CLEANUP}` },
  { step: 'emergency dump', block: 'dumpCurrentDatabase', phase: 'emergency dump', undos: [...startAll, cleanup], undone: `start svc-a, svc-b; ${CLEANUP}` },
  {
    step: 'swap of the first folder',
    block: 'swapRoot',
    match: (a) => (arg0(a).root as { target: string }).target === '/srv/a',
    phase: 'swap',
    undos: [putBack(rootA), ...startAll, cleanup],
    undone: `put back /srv/a; start svc-a, svc-b; ${CLEANUP}`,
  },
  {
    step: 'swap of the second folder',
    block: 'swapRoot',
    match: (a) => (arg0(a).root as { target: string }).target === '/srv/b',
    phase: 'swap',
    undos: [putBack(rootB), putBack(rootA), ...startAll, cleanup],
    undone: `put back /srv/b; put back /srv/a; start svc-a, svc-b; ${CLEANUP}`,
  },
  {
    step: 'restore database',
    block: 'restoreDatabase',
    match: (a) => arg0(a).file === plan.dump!.file,
    phase: 'restore database',
    undos: [putBackDb, putBack(rootB), putBack(rootA), ...startAll, cleanup],
    undone: `put back database mcp from ${plan.dump!.emergencyFile}; put back /srv/b; put back /srv/a; start svc-a, svc-b; ${CLEANUP}`,
  },
  { step: 'start', block: 'startServices', match: (a) => (arg0(a).services as string[]).length === 2, phase: 'start services', undos: afterStart, undone: afterStartText },
  { step: 'checks', block: 'postRecoveryChecks', phase: 'post-recovery checks', undos: afterStart, undone: afterStartText },
];

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

async function deadlineCase(runbook: 'backup' | 'disasterRecovery', i: number, c: DeadlineCase, budgetHours: number) {
  const hostId = hostOf(runbook, i);
  const workflowId = `deadline-${runbook}-${i}`;
  const blocked = fakes.block(c.block, { workflowId, ...(c.match ? { match: c.match } : {}) });
  const input = runbook === 'backup' ? { hostId } : { hostId, backup: ARCHIVE, approve: true };
  const handle = await env.start(runbook, input, workflowId);
  const startedAt = (await handle.describe()).startTime.getTime();
  await env.fireDeadlineDuring(handle, hostId, startedAt + budgetHours * HOUR, blocked);

  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const failure = (err as WorkflowFailedError).cause;
  expect(failure).toBeInstanceOf(ApplicationFailure);
  expect((failure as ApplicationFailure).type).toBe(RUNBOOK_FAILURES.DeadlineExceeded);
  expect(failure!.message).toBe(
    `${runbook} on ${hostId} passed its deadline of ${budgetHours * 60} minutes while in "${c.phase}".${c.undone ? ` Undone: ${c.undone}.` : ''}`,
  );

  const calls = fakes.of(workflowId);
  const blockedCall = (await blocked.started);
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
