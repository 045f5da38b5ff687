/** Backup, recovery and other locked runbooks on one host never interleave. */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostLockStatus } from '../../src/client/operations.js';
import { HOST_LOCK_WORKFLOW_TYPE, hostLockWorkflowId, LOCK_SIGNALS } from '../../src/common/host-lock.js';
import type { BackupResult } from '../../src/workflows/index.js';
import { runCli } from '../helpers/cli.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import type { TestSandbox } from '../helpers/sandbox.js';
import { assertReplays, awaitPhase, pollUntil } from '../helpers/temporal.js';

let host: TestHost;
let sbx: TestSandbox;
let client: Client;

beforeAll(async () => {
  host = await startTestHost({ hostId: 'lock-host' });
  ({ sbx, client } = host);
});
afterAll(async () => {
  await host?.close();
});

function start(type: string, input: unknown, tag: string): Promise<WorkflowHandle> {
  return client.workflow.start(type, { taskQueue: sbx.config.temporal.taskQueue, workflowId: `lock-${tag}-${Date.now()}`, args: [input] });
}

type EventTime = { seconds?: unknown; nanos?: number | null } | null | undefined;

/** An event's time in nanoseconds, exactly; an event without one is an error, not time zero. */
function nanos(t: EventTime, what: string): bigint {
  if (t?.seconds === undefined || t.seconds === null) throw new Error(`${what} has no event time`);
  return BigInt(String(t.seconds)) * 1_000_000_000n + BigInt(t.nanos ?? 0);
}

/**
 * When the workflow's first host-queue activity started and its last one ended (completed,
 * failed or timed out): the host lock must cover everything in between.
 */
async function hostSpan(h: WorkflowHandle): Promise<{ workflowId: string; firstStarted: bigint; lastEnded: bigint }> {
  const events = (await h.fetchHistory()).events ?? [];
  const hostScheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.taskQueue?.name?.includes('.host.')).map((e) => String(e.eventId)));
  if (hostScheduled.size === 0) throw new Error(`${h.workflowId} scheduled no host-queue activity`);
  const onHost = (a: { scheduledEventId?: unknown } | null | undefined) => a != null && hostScheduled.has(String(a.scheduledEventId));
  const started = events.filter((e) => onHost(e.activityTaskStartedEventAttributes));
  const ended = events.filter((e) => onHost(e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes));
  if (started.length === 0 || ended.length === 0) throw new Error(`${h.workflowId}: no host-queue ActivityTaskStarted or no host-queue activity end in its history`);
  return {
    workflowId: h.workflowId,
    firstStarted: nanos(started[0]!.eventTime, `${h.workflowId} event ${String(started[0]!.eventId)}`),
    lastEnded: nanos(ended[ended.length - 1]!.eventTime, `${h.workflowId} event ${String(ended[ended.length - 1]!.eventId)}`),
  };
}

/** The workflow that reached the host first ended its last host activity before the other started its first. */
async function expectNoOverlap(a: WorkflowHandle, b: WorkflowHandle): Promise<void> {
  const [sa, sb] = await Promise.all([hostSpan(a), hostSpan(b)]);
  const [first, second] = sa.firstStarted <= sb.firstStarted ? [sa, sb] : [sb, sa];
  expect(first.lastEnded <= second.firstStarted, `${first.workflowId} last host activity ended at ${first.lastEnded} ns; ${second.workflowId} first started at ${second.firstStarted} ns`).toBe(true);
}

describe('host lock', () => {
  it('a backup and a second runbook started at the same second run one after the other', async () => {
    const [a, b] = await Promise.all([start('backup', { hostId: 'lock-host' }, 'a'), start('verifyBackups', { hostId: 'lock-host', all: true }, 'b')]);
    await Promise.all([a.result(), b.result()]);
    await expectNoOverlap(a, b);
    await assertReplays(a, b);
  }, 120_000);

  it('two backups at once: different archives, never overlapping', async () => {
    const hs = await Promise.all([start('backup', { hostId: 'lock-host' }, 'c'), start('backup', { hostId: 'lock-host' }, 'd')]);
    const results = (await Promise.all(hs.map((h) => h.result()))) as BackupResult[];
    expect(results[0]!.archive!.archive).not.toBe(results[1]!.archive!.archive);
    await expectNoOverlap(hs[0]!, hs[1]!);
  }, 120_000);

  it('a recovery waiting for approval holds no lock: a backup started meanwhile runs at once, and the approved recovery then takes the lock', async () => {
    const archive = (await (await start('listBackups', { hostId: 'lock-host' }, 'list')).result()) as { backups: Array<{ archive: string }> };
    const recovery = await start('disasterRecovery', { backup: archive.backups[0]!.archive, hostId: 'lock-host', approvalTimeoutMinutes: 10 }, 'waiting-recovery');
    await awaitPhase(recovery, 'awaiting approval');
    expect((await hostLockStatus(client, sbx.config))[0]?.state?.holder).toBeUndefined();
    const backup = await start('backup', { hostId: 'lock-host' }, 'during-approval');
    const result = (await backup.result()) as BackupResult;
    expect(result.verification?.status).toBe('ok');
    // Still waiting: the backup never queued behind it.
    expect((await recovery.query<{ phase: string }>('progress')).phase).toBe('awaiting approval');
    await recovery.executeUpdate('reject', { args: [{ by: 'test' }] });
    expect(((await recovery.result()) as { outcome: string }).outcome).toBe('rejected');
  }, 120_000);

  it('status shows the holder; a holder that is terminated loses its lease and the next runbook runs', async () => {
    // A long-lived workflow made the holder directly (the runbooks hold the lock only while they work):
    // a recovery left waiting for approval, granted a lease it never releases.
    const archive = (await (await start('listBackups', { hostId: 'lock-host' }, 'list2')).result()) as { backups: Array<{ archive: string }> };
    const holder = await start('disasterRecovery', { backup: archive.backups[0]!.archive, hostId: 'lock-host', approvalTimeoutMinutes: 10 }, 'holder');
    await awaitPhase(holder, 'awaiting approval');
    const { runId } = await holder.describe();
    await client.workflow.signalWithStart(HOST_LOCK_WORKFLOW_TYPE, {
      workflowId: hostLockWorkflowId('lock-host'),
      taskQueue: sbx.config.temporal.taskQueue,
      args: [{ hostId: 'lock-host' }],
      signal: LOCK_SIGNALS.request,
      signalArgs: [{ workflowId: holder.workflowId, runId, runbook: 'disasterRecovery', requestedAt: new Date().toISOString() }],
    });
    await pollUntil('the lock granted to the holder', async () => (await hostLockStatus(client, sbx.config))[0]?.state?.holder?.workflowId, (w) => w === holder.workflowId, { timeoutMs: 30_000, intervalMs: 200 });
    const cli = await runCli(['--config', sbx.configPath, 'status']);
    expect(cli.stdout).toContain(`lock-host: held by disasterRecovery ${holder.workflowId}`);

    const waiting = await start('backup', { hostId: 'lock-host' }, 'waiting');
    const queued = await pollUntil(
      'the waiting backup queued behind the holder',
      async () => (await hostLockStatus(client, sbx.config))[0]?.state?.queue.map((q) => q.workflowId) ?? [],
      (q) => q.length === 1,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(queued).toEqual([waiting.workflowId]);
    await holder.terminate('test: a holder that dies');
    const result = (await waiting.result()) as BackupResult;
    expect(result.verification?.status).toBe('ok');
    const after = (await hostLockStatus(client, sbx.config))[0]?.state;
    expect(after?.revoked ?? 0).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
