/** Backup, recovery and other locked runbooks on one host never interleave. */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostLockStatus } from '../../src/client/operations.js';
import type { RunbookProgress } from '../../src/common/progress.js';
import type { BackupResult } from '../../src/workflows/index.js';
import { runCli } from '../helpers/cli.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import type { TestSandbox } from '../helpers/sandbox.js';
import { assertReplays } from '../helpers/temporal.js';

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

/** When the workflow's first host activity was scheduled, and when the workflow closed. */
async function span(h: WorkflowHandle): Promise<{ firstHostStep: number; closed: number }> {
  const events = (await h.fetchHistory()).events ?? [];
  const first = events.find((e) => e.activityTaskScheduledEventAttributes?.taskQueue?.name?.includes('.host.'));
  const last = events[events.length - 1];
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
  return { firstHostStep: ms(first?.eventTime), closed: ms(last?.eventTime) };
}

describe('host lock', () => {
  it('a backup and a second runbook started at the same second run one after the other', async () => {
    const [a, b] = await Promise.all([start('backup', { hostId: 'lock-host' }, 'a'), start('verifyBackups', { hostId: 'lock-host', all: true }, 'b')]);
    await Promise.all([a.result(), b.result()]);
    const [sa, sb] = await Promise.all([span(a), span(b)]);
    const [first, second] = sa.firstHostStep < sb.firstHostStep ? [sa, sb] : [sb, sa];
    expect(second.firstHostStep).toBeGreaterThanOrEqual(first.closed - 50);
    await assertReplays(a, b);
  }, 120_000);

  it('two backups at once: different archives, never overlapping', async () => {
    const hs = await Promise.all([start('backup', { hostId: 'lock-host' }, 'c'), start('backup', { hostId: 'lock-host' }, 'd')]);
    const results = (await Promise.all(hs.map((h) => h.result()))) as BackupResult[];
    expect(results[0]!.archive!.archive).not.toBe(results[1]!.archive!.archive);
    const [s1, s2] = await Promise.all(hs.map(span));
    const ordered = s1!.firstHostStep < s2!.firstHostStep ? [s1!, s2!] : [s2!, s1!];
    expect(ordered[1]!.firstHostStep).toBeGreaterThanOrEqual(ordered[0]!.closed - 50);
  }, 120_000);

  it('status shows the holder; a holder that is terminated loses its lease and the next runbook runs', async () => {
    const archive = (await (await start('listBackups', { hostId: 'lock-host' }, 'list')).result()) as { backups: Array<{ archive: string }> };
    // A recovery waiting for approval holds the lock.
    const holder = await start('disasterRecovery', { backup: archive.backups[0]!.archive, hostId: 'lock-host' }, 'holder');
    for (let i = 0; i < 100; i++) {
      const p = await holder.query<RunbookProgress>('progress').catch(() => undefined);
      if (p?.phase === 'awaiting approval') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const [status] = await hostLockStatus(client, sbx.config);
    expect(status?.state?.holder).toMatchObject({ workflowId: holder.workflowId, runbook: 'disasterRecovery' });
    const cli = await runCli(['--config', sbx.configPath, 'status']);
    expect(cli.stdout).toContain(`lock-host: held by disasterRecovery ${holder.workflowId}`);

    const waiting = await start('backup', { hostId: 'lock-host' }, 'waiting');
    await new Promise((r) => setTimeout(r, 1500));
    expect((await hostLockStatus(client, sbx.config))[0]?.state?.queue.map((q) => q.workflowId)).toEqual([waiting.workflowId]);
    await holder.terminate('test: a holder that dies');
    const result = (await waiting.result()) as BackupResult;
    expect(result.verification?.status).toBe('ok');
    const after = (await hostLockStatus(client, sbx.config))[0]?.state;
    expect(after?.revoked ?? 0).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
