/**
 * The host lock and the approval wait, on the real hostLock workflow: a runbook
 * that waits longer than LOCK_WAIT fails HostBusy having changed nothing; a
 * recovery not approved in time changes nothing and holds no lock while it
 * waits; approvals before the wait or with unknown fields are refused; the lock
 * ends when idle, continues as new, and takes a dead holder's lease back.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_LOCK_WORKFLOW_TYPE, hostLockWorkflowId, LOCK_SIGNALS, LOCK_STATE_QUERY, type HostLockState } from '../../../src/common/host-lock.js';
import type { RunbookProgress } from '../../../src/common/progress.js';
import { LogicEnv } from '../../helpers/time-skipping.js';
import { ARCHIVE, newFakes } from './fixtures.js';
import { applicationFailureOf } from './traces.js';

const HOUR = 3_600_000;
const fakes = newFakes();
let env: LogicEnv;

beforeAll(async () => {
  env = await LogicEnv.start({ hosts: ['busy', 'approval', 'early', 'fields', 'idle', 'can', 'dead', 'frozen'], fakes, lock: 'real' });
});
afterAll(async () => {
  await env?.teardown();
});

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (ok(v)) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what} not reached; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const lockState = (hostId: string) => env.client.workflow.getHandle(hostLockWorkflowId(hostId)).query<HostLockState>(LOCK_STATE_QUERY);
const phase = (h: WorkflowHandle, p: string) => until(`${h.workflowId} in phase ${p}`, () => h.query<RunbookProgress>('progress'), (v) => v.phase === p);

/** A recovery left waiting for approval (7 days), granted the host's lease directly: a holder that never releases. */
async function longHolder(hostId: string): Promise<WorkflowHandle> {
  const holder = await env.start('disasterRecovery', { hostId, backup: ARCHIVE, approvalTimeoutMinutes: 7 * 24 * 60 }, `holder-${hostId}`);
  await phase(holder, 'awaiting approval');
  const { runId } = await holder.describe();
  await env.client.workflow.signalWithStart(HOST_LOCK_WORKFLOW_TYPE, {
    workflowId: hostLockWorkflowId(hostId),
    taskQueue: env.taskQueue,
    args: [{ hostId }],
    signal: LOCK_SIGNALS.request,
    signalArgs: [{ workflowId: holder.workflowId, runId, runbook: 'disasterRecovery', requestedAt: new Date().toISOString() }],
  });
  await until('the lease granted to the holder', () => lockState(hostId), (s) => s.holder?.workflowId === holder.workflowId);
  return holder;
}

describe('host lock', () => {
  it('a runbook that waits longer than LOCK_WAIT (6 h) fails HostBusy having called no host activity, and leaves the queue', async () => {
    const holder = await longHolder('busy');
    const waiting = await env.start('backup', { hostId: 'busy' }, 'busy-backup');
    await until('the backup queued', () => lockState('busy'), (s) => s.queue.some((q) => q.workflowId === waiting.workflowId));
    const failure = await applicationFailureOf(waiting);
    expect(failure.type).toBe('HostBusy');
    expect(failure.message).toBe('backup on busy failed: host busy stayed busy for 6 hours; nothing was changed.');
    expect(fakes.of(waiting.workflowId)).toEqual([]);
    const d = await waiting.describe();
    expect(d.closeTime!.getTime() - d.startTime.getTime()).toBeGreaterThanOrEqual(6 * HOUR);
    expect(d.closeTime!.getTime() - d.startTime.getTime()).toBeLessThan(6 * HOUR + 60_000);
    const s = await lockState('busy');
    expect(s.holder?.workflowId).toBe(holder.workflowId);
    expect(s.queue).toEqual([]);
    await holder.terminate('test done');
  });

  it('a freeze longer than the runbook\'s deadline (backup: 24 h) holds it back without ending it: it runs when the freeze ends', async () => {
    // The server's time: earlier cases skipped hours ahead of this process's clock.
    const until = new Date((await env.now()) + 30 * HOUR).toISOString();
    await env.client.workflow.signalWithStart(HOST_LOCK_WORKFLOW_TYPE, {
      workflowId: hostLockWorkflowId('frozen'),
      taskQueue: env.taskQueue,
      args: [{ hostId: 'frozen' }],
      signal: LOCK_SIGNALS.freeze,
      signalArgs: [{ until, note: 'year-end' }],
    });
    const run = await env.start('backup', { hostId: 'frozen' }, 'frozen-backup');
    await phase(run, 'frozen');
    expect(fakes.of(run.workflowId)).toEqual([]);
    await run.result();
    // Nothing ran before the freeze ended 30 hours later, and the 24-hour deadline did not end the run.
    const d = await run.describe();
    expect(d.status.name).toBe('COMPLETED');
    expect(d.closeTime!.getTime() - d.startTime.getTime()).toBeGreaterThanOrEqual(30 * HOUR - 60_000);
    expect(fakes.of(run.workflowId)[0]?.name).toBe('planBackup');
  });

  it('ends when idle (2 min after the last release)', async () => {
    const b = await env.start('backup', { hostId: 'idle' }, 'idle-backup');
    await b.result();
    const lock = env.client.workflow.getHandle(hostLockWorkflowId('idle'));
    await lock.result();
    const [ld, bd] = await Promise.all([lock.describe(), b.describe()]);
    expect(ld.status.name).toBe('COMPLETED');
    expect(ld.closeTime!.getTime() - bd.closeTime!.getTime()).toBeGreaterThanOrEqual(2 * 60_000);
    expect(ld.closeTime!.getTime() - bd.closeTime!.getTime()).toBeLessThan(3 * 60_000);
  });

  it('continues as new past 2000 history events, keeping its holder and counters', async () => {
    const holder = await longHolder('can');
    const lock = env.client.workflow.getHandle(hostLockWorkflowId('can'));
    const first = await lock.describe();
    const before = await lockState('can');
    // A holder check every 30 s: about 7 events each, so 3 hours is past 2000.
    await env.sleep(3 * HOUR);
    const latest = await env.client.workflow.getHandle(hostLockWorkflowId('can')).describe();
    expect(latest.runId).not.toBe(first.runId);
    expect(latest.status.name).toBe('RUNNING');
    expect((await env.client.workflow.getHandle(hostLockWorkflowId('can'), first.runId).describe()).status.name).toBe('CONTINUED_AS_NEW');
    const s = await lockState('can');
    expect(s.holder?.workflowId).toBe(holder.workflowId);
    expect(s.granted).toBe(before.granted);
    expect(s.revoked).toBe(0);
    await holder.terminate('test done');
  });

  it('takes back the lease of a holder that was terminated: the next waiter gets it within 30 s of workflow time', async () => {
    // The holder waits on a timer, not in an activity: the test server does not release the time
    // lock of an activity whose workflow was terminated, so time would stop skipping for the file.
    const holder = await longHolder('dead');
    const waiter = await env.start('backup', { hostId: 'dead' }, 'dead-waiter');
    await until('the waiter queued', () => lockState('dead'), (s) => s.queue.some((q) => q.workflowId === waiter.workflowId));
    await holder.terminate('test: a holder that dies');
    const terminatedAt = await env.now();
    expect(await waiter.result()).toMatchObject({ dryRun: false });
    const granted = (await waiter.fetchHistory()).events!.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === LOCK_SIGNALS.granted)!;
    const grantedAt = Number(granted.eventTime!.seconds) * 1000 + Math.floor((granted.eventTime!.nanos ?? 0) / 1e6);
    expect(grantedAt).toBeGreaterThanOrEqual(terminatedAt);
    expect(grantedAt - terminatedAt).toBeLessThanOrEqual(30_000 + 1_000);
    expect((await lockState('dead')).revoked).toBe(1);
    expect(fakes.of(waiter.workflowId)[0]?.name).toBe('planBackup');
  });
});

describe('approval', () => {
  it('not approved within approvalTimeoutMinutes: outcome not-approved, only the staging ran (and is removed), no lock held while waiting', async () => {
    const r = await env.start('disasterRecovery', { hostId: 'approval', backup: ARCHIVE, approvalTimeoutMinutes: 10 }, 'approval-timeout');
    await phase(r, 'awaiting approval');
    const s = await lockState('approval');
    expect(s.holder).toBeUndefined();
    expect(s.queue).toEqual([]);
    const result = (await r.result()) as { outcome: string; durations: { approvalWaitSeconds: number } };
    expect(result.outcome).toBe('not-approved');
    // Ten minutes of workflow time; the time-skipping server may add a tick (600.1) after the timer fires.
    expect(result.durations.approvalWaitSeconds).toBeGreaterThanOrEqual(600);
    expect(result.durations.approvalWaitSeconds).toBeLessThan(601);
    // The dump is restored into its staging database only once approved: nothing from the archive runs before.
    expect(fakes.of(r.workflowId).map((c) => c.name)).toEqual(['stageRestore', 'cleanupRecovery']);
    expect(env.ends.find((e) => e.workflowId === r.workflowId)?.outcome).toBe('declined');
    expect((await r.describe()).searchAttributes.McpOutcome).toEqual(['not-approved']);
  });

  it('approve or reject while the archive is still being inspected is refused with the reason', async () => {
    const blocked = fakes.block('stageRestore', { workflowId: 'approval-early', releaseAfterMs: 0 });
    const r = await env.start('disasterRecovery', { hostId: 'early', backup: ARCHIVE }, 'approval-early');
    await blocked.started;
    for (const update of ['approve', 'reject']) {
      const err = await r.executeUpdate(update, { args: [{ by: 'alice' }] }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err, update).toBeDefined();
      expect(String((err as Error & { cause?: Error }).cause?.message ?? err?.message)).toBe('this recovery is not waiting for approval: the archive is still being checked and staged');
    }
    await r.cancel();
    await applicationFailureOf(r).catch(() => undefined);
    expect(fakes.of(r.workflowId).map((c) => c.name)).toEqual(['stageRestore', 'discardStaged']);
  });

  it('an approval with unknown fields is refused; a valid one then approves', async () => {
    const r = await env.start('disasterRecovery', { hostId: 'fields', backup: ARCHIVE, approvalTimeoutMinutes: 60 }, 'approval-fields');
    await phase(r, 'awaiting approval');
    const err = await r.executeUpdate('approve', { args: [{ by: 'alice', ticket: 'OPS-1' }] }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(String((err as Error & { cause?: Error }).cause?.message ?? err?.message)).toBe('approval input is invalid: input.ticket: unknown field (fields: by)');
    expect((await r.query<RunbookProgress>('progress')).phase).toBe('awaiting approval');
    expect(await r.executeUpdate('approve', { args: [{ by: 'alice' }] })).toEqual({ approved: true, by: 'alice' });
    const result = (await r.result()) as { outcome: string; approvedBy: string };
    expect(result).toMatchObject({ outcome: 'recovered', approvedBy: 'alice' });
  });
});
