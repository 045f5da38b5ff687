/**
 * Schedules on the real dev server: apply is idempotent and never touches what
 * is not ours, a pause survives an update, trigger and backfill start runbooks
 * that complete on a real worker, and a schedule fires by itself.
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { RunbookReport } from '../../src/common/report.js';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load.js';
import { applySchedules, planSchedules } from '../../src/schedules/apply.js';
import { listSchedules } from '../../src/schedules/list.js';
import { triggerSchedule } from '../../src/schedules/operate.js';
import { scheduleStatuses } from '../../src/schedules/status.js';
import { startWorker, type RunningWorker } from '../../src/worker.js';
import { runCli, spawnCliUntil } from '../helpers/cli.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { assertReplays, testClient, testNativeConnection, workflowBundle } from '../helpers/temporal.js';

/** Host ids no other test file uses: workflow ids (runbook, host, time) are unique per namespace. */
const A = 'sched-a';
const B = 'sched-b';
const C = 'sched-c';
/** Cron times that do not come up during a test run (Jan 1st). */
const YEARLY_3AM = '0 3 1 1 *';
const YEARLY_4AM = '0 4 1 1 *';
/** A schedule's workflow id: runbook, host and the scheduled time to the second, as Temporal appends it. */
const SCHEDULED_ID = (host: string) => new RegExp(`^health-check-${host}-\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$`);

let sbx: TestSandbox;
let client: Client;
let connection: NativeConnection;
let worker: RunningWorker;
let tq: string;
let n = 0;

beforeAll(async () => {
  sbx = await createTestSandbox({
    hostId: A,
    hosts: [A, B, C],
    extra: { defaultSchedules: false, schedules: [], thresholds: { diskPercent: 99, memoryPercent: 99 } },
  });
  tq = sbx.config.temporal.taskQueue;
  client = await testClient();
  connection = await testNativeConnection();
  worker = await startWorker({ config: sbx.config, role: 'all', connection, workflowBundle: workflowBundle(), serveMetrics: false });
});
afterAll(async () => {
  // Whatever a failed test left behind: every schedule of this file's task queue.
  for (const s of await listSchedules(client, 'default')) {
    if (s.scheduleId.startsWith(`${tq}.`)) await client.schedule.getHandle(s.scheduleId).delete().catch(() => undefined);
  }
  await worker?.shutdown();
  await connection?.close();
  await client?.connection.close();
  await sbx?.cleanup();
});

/** This sandbox's config file with other schedules: path and loaded config. */
async function withSchedules(schedules: unknown[]): Promise<{ path: string; config: Config }> {
  const obj = parse(await readFile(sbx.configPath, 'utf8')) as Record<string, unknown>;
  obj.schedules = schedules;
  const path = join(sbx.root, `schedules-${n++}.yaml`);
  await writeFile(path, stringify(obj));
  return { path, config: loadConfig({ path, env: {} }) };
}

const id = (host: string) => `${tq}.health-check.${host}`;
const describeSchedule = (scheduleId: string) => client.schedule.getHandle(scheduleId).describe();

/** Waits until the (eventually consistent) schedule listing shows these ids. */
async function untilListed(ids: string[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const listed = new Set((await listSchedules(client, 'default')).map((s) => s.scheduleId));
    if (ids.every((x) => listed.has(x))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not listed after 10s: ${ids.join(', ')}`);
}

/** Waits for the schedule to report a run it started that is not in `seen`. */
async function nextRun(scheduleId: string, seen: ReadonlySet<string>, timeoutMs = 20_000): Promise<{ workflowId: string; runId: string }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const d = await describeSchedule(scheduleId);
    const run = d.info.recentActions.find((a) => !seen.has(a.action.workflow.workflowId));
    if (run) return { workflowId: run.action.workflow.workflowId, runId: run.action.workflow.firstExecutionRunId };
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${scheduleId} started no run within ${timeoutMs} ms`);
}

describe('schedules apply', () => {
  it('creates, then changes nothing; updates a changed spec keeping a pause; deletes a removed entry', async () => {
    const v1 = await withSchedules([
      { runbook: 'health-check', host: B, cron: YEARLY_3AM },
      { runbook: 'health-check', host: C, cron: YEARLY_3AM, timezone: 'Europe/Berlin', overlap: 'buffer-one', catchupWindow: '1h', jitter: '30s' },
    ]);

    const dry = await runCli(['--config', v1.path, 'schedules', 'apply', '--dry-run']);
    expect(dry.exitCode, dry.all).toBe(0);
    expect(dry.stdout).toContain(`+ would create     ${id(B)} health-check on ${B}: cron "${YEARLY_3AM}" UTC, overlap SKIP, catch-up 1m`);
    expect(dry.stdout).toContain('schedules (dry run, nothing changed): 2 to create, 0 to update, 0 to delete, 0 unchanged');
    expect((await planSchedules(client, v1.config)).map((c) => c.kind)).toEqual(['create', 'create']);

    const created = await runCli(['--config', v1.path, 'schedules', 'apply']);
    expect(created.exitCode, created.all).toBe(0);
    expect(created.stdout).toContain(`+ create     ${id(C)} health-check on ${C}: cron "${YEARLY_3AM}" Europe/Berlin, overlap BUFFER_ONE, catch-up 1h, jitter 30s`);
    expect(created.stdout).toContain('schedules: 2 created, 0 updated, 0 deleted, 0 unchanged');
    const c = await describeSchedule(id(C));
    expect(c.spec.timezone).toBe('Europe/Berlin');
    expect(c.spec.jitter).toBe(30_000);
    expect(c.policies).toEqual({ overlap: 'BUFFER_ONE', catchupWindow: 3_600_000, pauseOnFailure: false });
    expect(c.action).toMatchObject({ workflowType: 'healthCheck', taskQueue: tq, args: [{ hostId: C }], workflowId: `health-check-${C}`, workflowExecutionTimeout: undefined });
    expect(c.memo).toEqual({ mcpRunbooks: { managedBy: 'mcp-runbooks', taskQueue: tq, runbook: 'health-check', hostId: C } });
    // 03:00 on Jan 1st in Berlin is 02:00 UTC, plus up to 30 s of jitter.
    const next = c.info.nextActionTimes[0]!;
    expect([next.getUTCMonth(), next.getUTCDate(), next.getUTCHours(), next.getUTCMinutes()]).toEqual([0, 1, 2, 0]);

    // Again: nothing is written; the schedules' last update times do not move.
    const before = await Promise.all([id(B), id(C)].map(async (x) => (await describeSchedule(x)).info.lastUpdatedAt?.getTime()));
    const again = await applySchedules({ client, config: v1.config });
    expect(again.map((r) => [r.kind, r.scheduleId])).toEqual([['unchanged', id(B)], ['unchanged', id(C)]]);
    const after = await Promise.all([id(B), id(C)].map(async (x) => (await describeSchedule(x)).info.lastUpdatedAt?.getTime()));
    expect(after).toEqual(before);

    // An operator pauses one; the spec changes; apply updates it and it stays paused with its note.
    const paused = await runCli(['--config', v1.path, 'schedules', 'pause', `health-check.${B}`, '--note', 'disk swap, back Friday']);
    expect(paused.exitCode, paused.all).toBe(0);
    expect(paused.stdout).toContain(`paused ${id(B)}: disk swap, back Friday`);
    const v2 = await withSchedules([
      { runbook: 'health-check', host: B, cron: YEARLY_4AM },
      { runbook: 'health-check', host: C, cron: YEARLY_3AM, timezone: 'Europe/Berlin', overlap: 'buffer-one', catchupWindow: '1h', jitter: '30s' },
    ]);
    const updated = await applySchedules({ client, config: v2.config });
    expect(updated.map((r) => [r.kind, r.scheduleId, r.error])).toEqual([['update', id(B), undefined], ['unchanged', id(C), undefined]]);
    expect(updated[0]!.reason).toBe(`was cron "${YEARLY_3AM}" UTC, overlap SKIP, catch-up 1m; stays paused: "disk swap, back Friday"`);
    const b = await describeSchedule(id(B));
    expect(b.state).toMatchObject({ paused: true, note: 'disk swap, back Friday' });
    expect(b.spec.calendars?.[0]?.hour).toEqual([{ start: 4, end: 4, step: 1 }]);
    expect((await applySchedules({ client, config: v2.config })).map((r) => r.kind)).toEqual(['unchanged', 'unchanged']);

    // An entry removed from config is deleted once the listing shows it.
    await untilListed([id(B), id(C)]);
    const v3 = await withSchedules([{ runbook: 'health-check', host: C, cron: YEARLY_3AM, timezone: 'Europe/Berlin', overlap: 'buffer-one', catchupWindow: '1h', jitter: '30s' }]);
    const pruned = await runCli(['--config', v3.path, 'schedules', 'apply']);
    expect(pruned.exitCode, pruned.all).toBe(0);
    expect(pruned.stdout).toContain(`- delete     ${id(B)} (no longer declared)`);
    expect(pruned.stdout).toContain('schedules: 0 created, 0 updated, 1 deleted, 1 unchanged');
    await expect(describeSchedule(id(B))).rejects.toThrow(/not found/i);

    // enabled: false removes it as well.
    const v4 = await withSchedules([{ runbook: 'health-check', host: C, cron: YEARLY_3AM, enabled: false }]);
    expect((await applySchedules({ client, config: v4.config })).map((r) => [r.kind, r.reason])).toEqual([['delete', 'disabled in config (enabled: false)']]);
    await expect(describeSchedule(id(C))).rejects.toThrow(/not found/i);
  });

  it('never touches a schedule it did not create, and refuses to act on one', async () => {
    const action = { type: 'startWorkflow' as const, workflowType: 'healthCheck', taskQueue: tq, args: [{ hostId: A }] };
    // One foreign schedule with an id this config declares, one with an id of our form that it does not.
    const clash = await client.schedule.create({ scheduleId: id(C), spec: { cronExpressions: [YEARLY_4AM] }, action, policies: { catchupWindow: '1m' } });
    const other = await client.schedule.create({ scheduleId: id(B), spec: { cronExpressions: [YEARLY_4AM] }, action, policies: { catchupWindow: '1m' } });
    // And one whose memo another program encrypted under our memo key: it must not break listing
    // (the SDK's own schedule.list() throws on it).
    const sealedId = `${tq}.sealed`;
    await client.workflowService.createSchedule({
      namespace: 'default',
      scheduleId: sealedId,
      requestId: randomUUID(),
      schedule: {
        spec: { cronString: [YEARLY_4AM] },
        action: { startWorkflow: { workflowId: 'sealed', workflowType: { name: 'healthCheck' }, taskQueue: { name: tq } } },
        state: { paused: true },
      },
      memo: { fields: { mcpRunbooks: { metadata: { encoding: Buffer.from('binary/encrypted') }, data: Buffer.from([1, 2, 3]) } } },
    });
    const sealed = client.schedule.getHandle(sealedId);
    try {
      await untilListed([id(B), id(C), sealedId]);
      const before = await Promise.all([clash.describe(), other.describe()]);
      const v = await withSchedules([{ runbook: 'health-check', host: C, cron: YEARLY_3AM }]);

      const r = await runCli(['--config', v.path, 'schedules', 'apply']);
      expect(r.exitCode, r.all).toBe(1);
      expect(r.stdout).toContain(`! conflict   ${id(C)} (exists and is managed by something else (no mcp-runbooks mark); left untouched)`);
      expect(r.stdout).not.toContain(id(B));
      expect(r.stdout).toContain('schedules: 0 created, 0 updated, 0 deleted, 0 unchanged, 1 in conflict');

      for (const args of [['pause', id(B), '--note', 'x'], ['trigger', id(B)], ['delete', id(C)], ['backfill', id(C), '--from', '2025-01-01T00:00:00Z', '--to', '2025-01-02T00:00:00Z']]) {
        const refused = await runCli(['--config', v.path, 'schedules', ...args]);
        expect(refused.exitCode, refused.all).toBe(2);
        expect(refused.stderr).toContain('is not managed by this config (no mcp-runbooks mark: someone else created it); refusing to touch it');
      }

      const after = await Promise.all([clash.describe(), other.describe()]);
      for (const [i, d] of after.entries()) {
        expect(d.info.lastUpdatedAt).toEqual(before[i]!.info.lastUpdatedAt);
        expect(d.state.paused).toBe(false);
        expect(d.info.numActionsTaken).toBe(0);
        expect(d.memo ?? {}).toEqual({});
      }
      const list = await runCli(['--config', v.path, 'schedules', 'list', '--all']);
      expect(list.exitCode, list.all).toBe(0);
      expect(list.stdout).toContain(`${id(B)}  healthCheck, foreign: not managed by mcp-runbooks`);
      expect((await client.workflowService.describeSchedule({ namespace: 'default', scheduleId: sealedId })).schedule?.state?.paused).toBe(true);
    } finally {
      await clash.delete();
      await other.delete();
      await sealed.delete();
    }
  });
});

describe('runs started by a schedule', () => {
  it('trigger starts the runbook now; it completes on the worker; list shows the run and the last success', async () => {
    const v = await withSchedules([{ runbook: 'health-check', cron: YEARLY_3AM }]);
    await applySchedules({ client, config: v.config });
    try {
      const r = await runCli(['--config', v.path, 'schedules', 'trigger', 'health-check']);
      expect(r.exitCode, r.all).toBe(0);
      const workflowId = /started (\S+)/.exec(r.stdout)?.[1] ?? '';
      expect(workflowId).toMatch(SCHEDULED_ID(A));
      const handle = client.workflow.getHandle(workflowId);
      const report = (await handle.result()) as RunbookReport;
      expect(report).toMatchObject({ runbook: 'healthCheck', hostId: A, summary: { status: 'ok', fail: 0 } });
      expect((await handle.describe()).memo).toEqual({ mcpRunbooksSchedule: expect.objectContaining({ scheduleId: id(A) }) as unknown });
      await assertReplays(handle);

      const [status] = await scheduleStatuses({ client, config: v.config });
      expect(status).toMatchObject({ scheduleId: id(A), ownership: 'ours', declared: true, runbook: 'health-check', hostId: A, paused: false, actionsTaken: 1 });
      expect(status!.recentRuns).toEqual([expect.objectContaining({ workflowId, outcome: 'COMPLETED' })]);
      expect(status!.lastSuccessAt?.getTime()).toBeGreaterThan(Date.now() - 60_000);
      expect(status!.nextRuns[0]?.toISOString()).toMatch(/-01-01T03:00:00.000Z$/);

      const list = await runCli(['--config', v.path, 'schedules', 'list']);
      expect(list.exitCode, list.all).toBe(0);
      expect(list.stdout).toContain(`${id(A)}  health-check on ${A}`);
      expect(list.stdout).toMatch(new RegExp(`recent:\\s+\\S+\\s+COMPLETED\\s+${workflowId}`));
      expect(list.stdout).toMatch(/runs:\s+1 started, 0 running, 0 missed \(catch-up window\), 0 skipped \(overlap\); last success \d{4}-/);
    } finally {
      await client.schedule.getHandle(id(A)).delete();
    }
  });

  it('backfill takes the runs that were due in a past window, with their scheduled time in the id', async () => {
    const v = await withSchedules([{ runbook: 'health-check', cron: YEARLY_3AM }]);
    await applySchedules({ client, config: v.config });
    try {
      const r = await runCli(['--config', v.path, 'schedules', 'backfill', `health-check.${A}`, '--from', '2025-01-01T02:59:00Z', '--to', '2025-01-01T03:01:00Z']);
      expect(r.exitCode, r.all).toBe(0);
      expect(r.stdout).toContain(`backfill of ${id(A)} from 2025-01-01T02:59:00.000Z to 2025-01-01T03:01:00.000Z (overlap SKIP) requested`);
      const run = await nextRun(id(A), new Set());
      expect(run.workflowId).toBe(`health-check-${A}-2025-01-01T03:00:00Z`);
      const report = (await client.workflow.getHandle(run.workflowId).result()) as RunbookReport;
      expect(report.hostId).toBe(A);

      const bad = await runCli(['--config', v.path, 'schedules', 'backfill', 'health-check', '--from', '2025-01-02T00:00:00Z', '--to', '2025-01-01T00:00:00Z']);
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toContain('--from (2025-01-02T00:00:00.000Z) must be before --to (2025-01-01T00:00:00.000Z)');
    } finally {
      await client.schedule.getHandle(id(A)).delete();
    }
  });

  it('a run due while the previous one still runs is skipped, and counted', async () => {
    // No host worker serves sched-b: its health check waits for one and keeps running.
    const v = await withSchedules([{ runbook: 'health-check', host: B, cron: YEARLY_3AM }]);
    await applySchedules({ client, config: v.config });
    let stuck: string | undefined;
    try {
      const first = await triggerSchedule(client, v.config, `health-check.${B}`);
      expect(first).toMatchObject({ overlap: 'SKIP', skipped: false });
      stuck = first.workflowId;
      expect(stuck).toMatch(SCHEDULED_ID(B));

      const r = await runCli(['--config', v.path, 'schedules', 'trigger', `health-check.${B}`]);
      expect(r.exitCode, r.all).toBe(1);
      expect(r.stderr).toContain(`triggered ${id(B)}: skipped, a run is still running (overlap SKIP`);

      const [status] = await scheduleStatuses({ client, config: v.config });
      expect(status).toMatchObject({ scheduleId: id(B), actionsTaken: 1, skippedOverlap: 1, missedCatchupWindow: 0, running: 1 });
      expect(status!.recentRuns.map((x) => [x.workflowId, x.outcome])).toEqual([[stuck, 'RUNNING']]);
      expect(status!.lastSuccessAt).toBeUndefined();
    } finally {
      if (stuck) await client.workflow.getHandle(stuck).terminate('test done');
      await client.schedule.getHandle(id(B)).delete();
    }
  });

  it('a schedule every 3 seconds fires by itself and its workflow completes', async () => {
    const v = await withSchedules([{ runbook: 'health-check', every: '3s' }]);
    expect((await applySchedules({ client, config: v.config })).map((c) => c.kind)).toEqual(['create']);
    try {
      const run = await nextRun(id(A), new Set());
      expect(run.workflowId).toMatch(SCHEDULED_ID(A));
      // An interval is aligned to the epoch: the scheduled second is a multiple of 3.
      expect(Number(/:(\d{2})Z$/.exec(run.workflowId)?.[1]) % 3).toBe(0);
      const report = (await client.workflow.getHandle(run.workflowId, run.runId).result()) as RunbookReport;
      expect(report).toMatchObject({ runbook: 'healthCheck', hostId: A });
      const second = await nextRun(id(A), new Set([run.workflowId]));
      expect(second.workflowId).not.toBe(run.workflowId);
    } finally {
      await client.schedule.getHandle(id(A)).delete();
    }
  });
});

describe('worker --apply-schedules', () => {
  it('applies the schedules at start and prints the diff; a host worker refuses the flag', async () => {
    const v = await withSchedules([{ runbook: 'health-check', host: B, cron: YEARLY_3AM }]);
    const refused = await runCli(['--config', v.path, 'worker', '--role', 'host', '--apply-schedules']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('--apply-schedules needs --role orchestrator or all');

    const run = await spawnCliUntil(['--config', v.path, 'worker', '--role', 'orchestrator', '--apply-schedules'], /^schedules: .*$/m);
    try {
      expect(run.output()).toContain(`+ create     ${id(B)} health-check on ${B}: cron "${YEARLY_3AM}" UTC`);
      expect((await describeSchedule(id(B))).memo).toMatchObject({ mcpRunbooks: { managedBy: 'mcp-runbooks', taskQueue: tq } });
    } finally {
      run.kill('SIGTERM');
      expect((await run.exited).exitCode).toBe(0);
      await client.schedule.getHandle(id(B)).delete();
    }
  }, 60_000);
});
