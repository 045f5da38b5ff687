/**
 * The repository lock, on the real repositoryLock workflow (time-skipping
 * server, fake host activities): two hosts back up to one restic repository
 * at the same time (shared leases), but a check, forget and prune run alone:
 * never beside another host's backup, and one host's after the other's.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import protos from '@temporalio/proto';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPOSITORY_LOCK_STATE_QUERY, repositoryLockWorkflowId, type RepositoryLockState } from '../../../src/common/repository-lock.js';
import type { LogicEnv as Env } from '../../helpers/time-skipping.js';
import { LogicEnv } from '../../helpers/time-skipping.js';
import { within } from '../../helpers/temporal.js';
import { ARCHIVE, newFakes } from './fixtures.js';

const { temporal } = protos;
const REPO = 'repo-shared-by-two';

/**
 * Gates that hold one run's call of an activity until the test opens them
 * (heartbeating meanwhile, so the time-skipping server sees it alive).
 */
const gates = new Map<string, { started: Promise<void>; start: () => void; opened: boolean }>();
function gate(activity: string, workflowId: string): { started: Promise<void>; open: () => void } {
  let start!: () => void;
  const g = { started: new Promise<void>((r) => (start = r)), start, opened: false };
  gates.set(`${activity}:${workflowId}`, g);
  return { started: g.started, open: () => (g.opened = true) };
}
async function passGate(activity: string): Promise<void> {
  const ctx = Context.current();
  const g = gates.get(`${activity}:${ctx.info.workflowExecution?.workflowId ?? ''}`);
  if (!g) return;
  g.start();
  while (!g.opened) {
    ctx.heartbeat({ step: activity, done: 0 });
    await ctx.sleep(50);
  }
}

const fakes = newFakes({
  async describeTargets() {
    return [
      { name: 'local', type: 'archive' as const, location: '/backups' },
      { name: 'offsite', type: 'restic' as const, location: 's3:https://s3.example/bucket', repositoryId: REPO },
    ];
  },
  async resticBackup(req) {
    await passGate('resticBackup');
    return { target: req.target, archive: req.plan.archive, snapshotId: 'a'.repeat(64), manifestSnapshotId: 'b'.repeat(64), dataAdded: 10, tarBytes: 200, sha256: 'cd'.repeat(32), entries: 3, seconds: 0, reused: false };
  },
  async resticVerify(req) {
    await passGate('resticVerify');
    return { target: req.target, archive: ARCHIVE, ok: true, problems: [], readData: '5%', verifiedAt: new Date().toISOString(), locksRemoved: 0, seconds: 0 };
  },
  async resticRetention(req) {
    return { target: req.target, removed: [], kept: 1, orphans: 0, snapshots: 1 };
  },
});

let env: Env;
beforeAll(async () => {
  env = await LogicEnv.start({ hosts: ['a', 'b'], fakes, lock: 'real' });
});
afterAll(async () => {
  for (const g of gates.values()) g.opened = true;
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

const lockState = () => env.client.workflow.getHandle(repositoryLockWorkflowId(REPO)).query<RepositoryLockState>(REPOSITORY_LOCK_STATE_QUERY);
const calls = (h: WorkflowHandle, name: string) => fakes.of(h.workflowId).filter((c) => c.name === name);

/** The last event types of a run's history, oldest first, with counts for repeats (`TimerFired x12`). */
function tailOfHistory(events: Array<{ eventType?: unknown }>, n = 30): string {
  const types = events.slice(-n * 4).map((e) => String(temporal.api.enums.v1.EventType[e.eventType as number] ?? e.eventType).replace(/^EVENT_TYPE_/, ''));
  const runs: Array<[string, number]> = [];
  for (const t of types) {
    const last = runs[runs.length - 1];
    if (last && last[0] === t) last[1] += 1;
    else runs.push([t, 1]);
  }
  return runs
    .slice(-n)
    .map(([t, k]) => (k > 1 ? `${t} x${k}` : t))
    .join(' ');
}

/**
 * Where each run and the lock are, for a hang under load: status, the fakes' calls,
 * pending activities (attempt, state, last failure), history length, workflow task
 * timeouts and the last events, the lock's state, and server time against real
 * time (server time far ahead, with workflow tasks timing out in a row, is time
 * skipping while a task runs: see the file comment of test/helpers/time-skipping.ts).
 */
async function diagnose(handles: WorkflowHandle[]): Promise<string> {
  const lock = env.client.workflow.getHandle(repositoryLockWorkflowId(REPO));
  const one = async (h: WorkflowHandle, withCalls: boolean) => {
    try {
      const [d, history] = await Promise.all([h.describe(), h.fetchHistory()]);
      const events = history.events ?? [];
      // LOCK_TEST_DUMP=<folder>: each run's whole history as JSON, to read a hang event by event.
      if (process.env.LOCK_TEST_DUMP) writeFileSync(join(process.env.LOCK_TEST_DUMP, `${h.workflowId}.json`), JSON.stringify(history, null, 1));
      const timedOut = events.filter((e) => e.workflowTaskTimedOutEventAttributes).length;
      const pending = (d.raw.pendingActivities ?? []).map((p) => ({
        name: p.activityType?.name,
        state: p.state,
        attempt: p.attempt,
        ...(p.lastFailure?.message ? { lastFailure: p.lastFailure.message } : {}),
        ...(p.scheduledTime ? { scheduled: p.scheduledTime } : {}),
      }));
      const calls = withCalls ? `, calls ${fakes.of(h.workflowId).map((c) => `${c.name}:${c.outcome ?? 'running'}`).join(', ')}` : '';
      return `${h.workflowId}: ${d.status.name}${calls}, pending ${JSON.stringify(pending)}, history ${events.length} events (${timedOut} workflow task timeouts), last: ${tailOfHistory(events)}`;
    } catch (e) {
      return `${h.workflowId}: not described (${String(e)})`;
    }
  };
  const where = await Promise.all([...handles.map((h) => one(h, true)), one(lock, false)]);
  const server = await env.now().catch(() => NaN);
  return `${where.join('; ')}; lock ${JSON.stringify(await lockState().catch(() => 'gone'))}; server time ${Number.isNaN(server) ? '?' : new Date(server).toISOString()} (real ${new Date().toISOString()})`;
}

describe('repository lock', () => {
  it('backups of two hosts share the repository; each check and prune has it alone, in request order', async () => {
    const a = `backup-a-${Date.now()}`;
    const b = `backup-b-${Date.now()}`;
    const backupA = gate('resticBackup', a);
    const backupB = gate('resticBackup', b);
    const checkA = gate('resticVerify', a);
    const ha = await env.start('backup', { hostId: 'a' }, a);
    await within("A's restic backup starting", backupA.started, 20_000);
    const hb = await env.start('backup', { hostId: 'b' }, b);
    // B's backup starts while A's is still running: both hold shared leases.
    await within("B's restic backup starting beside A's", backupB.started, 20_000);
    const both = await lockState();
    expect(both.holders.map((h) => [h.hostId, h.mode]).sort()).toEqual([
      ['a', 'shared'],
      ['b', 'shared'],
    ]);

    // A's backup ends; its check waits for B's backup, which still shares the repository.
    backupA.open();
    await until('A queued for the exclusive lease', lockState, (s) => s.queue.some((q) => q.workflowId === a && q.mode === 'exclusive'));
    await new Promise((r) => setTimeout(r, 300));
    expect(calls(ha, 'resticVerify')).toEqual([]);

    // B's backup ends: A's check runs alone; B's check waits behind it.
    backupB.open();
    await within("A's check starting once B's backup ended", checkA.started, 20_000);
    const during = await lockState();
    expect(during.holders.map((h) => [h.hostId, h.mode])).toEqual([['a', 'exclusive']]);
    await until('B queued behind A', lockState, (s) => s.queue.some((q) => q.workflowId === b && q.mode === 'exclusive'));
    expect(calls(hb, 'resticVerify')).toEqual([]);
    checkA.open();

    // One wait for both: two handle.result() side by side would unlock time skipping twice (see LogicEnv.results).
    await within('both backups ending', env.results([ha, hb]), 30_000).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; ${await diagnose([ha, hb])}`);
    });
    const [retentionA] = calls(ha, 'resticRetention');
    const [verifyB] = calls(hb, 'resticVerify');
    // A's prune ended before B's check began: exclusive means alone.
    expect(retentionA!.endedAt!).toBeLessThanOrEqual(verifyB!.startedAt);
    const after = await lockState();
    expect(after.holders).toEqual([]);
    expect(after.queue).toEqual([]);
    expect(after.granted).toBe(4);
  }, 120_000);
});
