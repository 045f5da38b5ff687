/**
 * An operator's change freeze (`mcp-runbooks freeze`, as a subprocess) on the
 * real dev server with a real host: a backup of a frozen host waits (its
 * progress says so, `status` shows the freeze) and runs when the freeze ends;
 * a health check runs during it; with `--skip` a backup ends at once as
 * `HostFrozen` having changed nothing; `unfreeze` lets the next one run.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostLockWorkflowId } from '../../src/common/host-lock.js';
import { createWorkerMetrics } from '../../src/metrics/registry.js';
import { restoreFreezes } from '../../src/metrics/restore-outcomes.js';
import type { RunbookReport } from '../../src/common/report.js';
import type { BackupResult } from '../../src/workflows/index.js';
import { runCli } from '../helpers/cli.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { assertReplays, awaitPhase, pollUntil, resultWithin } from '../helpers/temporal.js';

const HOST = 'freeze-host';
let host: TestHost;

beforeAll(async () => {
  host = await startTestHost({ hostId: HOST });
}, 120_000);
afterAll(() => host?.close());

const cli = (...args: string[]) => runCli(['--config', host.sbx.configPath, ...args]);
const handles: WorkflowHandle[] = [];
async function start(type: string, input: unknown, tag: string): Promise<WorkflowHandle> {
  const h = await host.client.workflow.start(type, { taskQueue: host.sbx.config.temporal.taskQueue, workflowId: `freeze-${tag}-${Date.now()}`, args: [input] });
  handles.push(h);
  return h;
}

describe('freeze', () => {
  it('a frozen host\'s backup waits and runs when the freeze ends; a health check runs during it; status shows it', async () => {
    const frozen = await cli('freeze', '--hosts', HOST, '--until', '12s', '--note', 'change freeze CHG-42');
    expect(frozen.exitCode, frozen.all).toBe(0);
    const until = Date.parse(/frozen until (\S+) /.exec(frozen.stdout)![1]!);
    expect(until).toBeGreaterThan(Date.now());

    const backup = await start('backup', { hostId: HOST }, 'backup');
    const p = await awaitPhase(backup, 'frozen', 30_000);
    expect(p.detail).toContain('change freeze CHG-42');
    // The metric: when the freeze ends, set by the lock workflow as it takes the freeze.
    const gauge = async (registry = host.worker.registry) => (await registry.hostFrozenUntil.get()).values.find((v) => v.labels.host === HOST)?.value;
    expect(await gauge()).toBe(until / 1000);
    const status = await cli('status');
    expect(status.stdout).toMatch(new RegExp(`frozen until \\S+: change freeze CHG-42 \\(by \\S+\\); runbooks that change it wait`));
    expect(status.stdout).toContain(`waiting: backup ${backup.workflowId}`);

    // Read-only: not held back.
    const health = await resultWithin<RunbookReport>(await start('healthCheck', { hostId: HOST }, 'health'), 60_000);
    expect(health.hostId).toBe(HOST);
    expect(Date.now()).toBeLessThan(until);

    const b = await resultWithin<BackupResult>(backup, 120_000);
    expect(b.summary.fail).toBe(0);
    // The lease was granted only once the freeze had ended.
    const history = await backup.fetchHistory();
    const granted = history.events!.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'leaseGranted');
    expect(Number(granted!.eventTime!.seconds) * 1000).toBeGreaterThanOrEqual(until - 1000);
  }, 240_000);

  it('with --skip a backup of a frozen host ends at once as HostFrozen, changing nothing; unfreeze lets the next one run', async () => {
    const frozen = await cli('freeze', '--hosts', HOST, '--until', '1h', '--note', 'audit', '--skip');
    expect(frozen.exitCode, frozen.all).toBe(0);
    expect(frozen.stdout).toContain('runbooks that change it are skipped');
    const skipped = await start('backup', { hostId: HOST }, 'skipped');
    const cause = (await resultWithin(skipped, 60_000).then(
      () => undefined,
      (e: { cause?: { type?: string; message: string } }) => e.cause,
    )) as { type?: string; message: string } | undefined;
    expect(cause?.type).toBe('HostFrozen');
    expect(cause?.message).toMatch(/host freeze-host is frozen until \S+ \(audit\): skipped; nothing was changed/);
    // Nothing ran: the run never reached a step that changes the host.
    const history = await skipped.fetchHistory();
    expect(history.events!.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'planBackup')).toBe(false);

    // A restarted worker reads the freezes in force back from the locks.
    const fresh = createWorkerMetrics({ role: 'orchestrator', hostId: 'x' });
    expect(await restoreFreezes({ client: host.client, hosts: [HOST], metrics: fresh, taskQueue: host.sbx.config.temporal.taskQueue })).toEqual([HOST]);
    expect((await fresh.hostFrozenUntil.get()).values.find((v) => v.labels.host === HOST)?.value).toBeGreaterThan(Date.now() / 1000 + 3000);

    const lifted = await cli('unfreeze', '--hosts', HOST);
    expect(lifted.exitCode, lifted.all).toBe(0);
    expect(lifted.stdout).toContain(`${HOST}: not frozen`);
    await pollUntil('the freeze gauge removed', async () => (await host.worker.registry.hostFrozenUntil.get()).values.filter((v) => v.labels.host === HOST).length, (n) => n === 0, { timeoutMs: 10_000 });
    const b = await resultWithin<BackupResult>(await start('backup', { hostId: HOST }, 'after'), 120_000);
    expect(b.summary.fail).toBe(0);
    // The lock's own history, with the freezes, the deferrals and the unfreeze in it, replays too.
    await assertReplays(...handles, host.client.workflow.getHandle(hostLockWorkflowId(HOST)));
  }, 240_000);

  it('a bad --until or selector is a usage error (exit 2) and freezes nothing', async () => {
    const past = await cli('freeze', '--hosts', HOST, '--until', '2020-01-01T00:00:00Z', '--note', 'x');
    expect(past.exitCode).toBe(2);
    expect(past.stderr).toContain('--until: 2020-01-01T00:00:00.000Z is not in the future');
    const unknown = await cli('freeze', '--hosts', 'no-such-host', '--until', '1h', '--note', 'x');
    expect(unknown.exitCode).toBe(2);
    const status = await cli('status', '--json');
    const lock = (JSON.parse(status.stdout) as Array<{ hostId: string; state?: { frozen?: unknown } }>).find((x) => x.hostId === HOST);
    expect(lock?.state?.frozen).toBeUndefined();
  });
});
