/**
 * The fleet's decisions on the time-skipping server, with fake host activities
 * and a fake task-queue description (the Java test server lists no pollers):
 * the window, the canary gate, the failure budget (running hosts finish, none
 * starts), pause, resume and abort, unreachable hosts counted as failures,
 * continue-as-new that keeps its state and starts no host twice, and a shuffle
 * that the recorded seed reproduces. Each host's child is a real healthCheck.
 */
import { Context } from '@temporalio/activity';
import type { WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderHosts, type FleetProgress, type FleetResult } from '../../../src/common/fleet.js';
import { finding, type FindingStatus } from '../../../src/common/report.js';
import { within } from '../../helpers/temporal.js';
import { LogicEnv, type FakeCall } from '../../helpers/time-skipping.js';
import { newFakes } from './fixtures.js';
import { applicationFailureOf } from './traces.js';

const HOSTS = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];
/** Known to the orchestrator, listed as polled by the fake description, but no worker: a dead host. */
const DEAD = 'dead';
/** Known, and no poller listed at all. */
const ABSENT = 'absent';

/** What each child's checks answer, by child workflow id (`<fleet id>.<host>`). */
const status = new Map<string, FindingStatus>();
/** Held checks: the child's `checkDisk` waits until released. */
const gates = new Map<string, { promise: Promise<void>; release: () => void }>();
const hold = (childId: string) => {
  let release!: () => void;
  const promise = new Promise<void>((r) => (release = r));
  gates.set(childId, { promise, release });
  return release;
};
const childOf = () => Context.current().info.workflowExecution?.workflowId ?? '';

const fakes = newFakes({
  async checkDisk() {
    const id = childOf();
    // Long enough that hosts of one window overlap in real time.
    await new Promise((r) => setTimeout(r, 150));
    await gates.get(id)?.promise;
    return finding('system.disk', status.get(id) ?? 'ok', `disk (fake, ${status.get(id) ?? 'ok'})`, {});
  },
  async ping() {
    return { hostId: 'fake', pid: process.pid, at: new Date().toISOString() };
  },
});
let env: LogicEnv;

beforeAll(async () => {
  env = await LogicEnv.start({
    hosts: HOSTS,
    withoutWorker: [DEAD, ABSENT],
    fakes,
    lock: 'fake',
    orchestrator: {
      async hostLiveness({ hostId }) {
        return { hostId, taskQueue: `logic.host.${hostId}`, pollers: hostId === ABSENT ? 0 : 1 };
      },
    },
  });
});
afterAll(async () => {
  for (const g of gates.values()) g.release();
  await env?.teardown();
});

function start(id: string, input: Record<string, unknown>): Promise<WorkflowHandle> {
  return env.start('fleet', { runbook: 'health-check', ...input }, id);
}

/** Each child's span in real time: its first host call's start to its last's end. */
function spans(fleetId: string): Map<string, { from: number; to: number }> {
  const out = new Map<string, { from: number; to: number }>();
  for (const c of fakes.calls.filter((c: FakeCall) => c.workflowId.startsWith(`${fleetId}.`) && c.name !== 'ping')) {
    const host = c.workflowId.slice(fleetId.length + 1);
    const s = out.get(host) ?? { from: Infinity, to: -Infinity };
    s.from = Math.min(s.from, c.startedAt);
    s.to = Math.max(s.to, c.endedAt ?? Infinity);
    out.set(host, s);
  }
  return out;
}

/** The most children whose spans overlap. */
function maxOverlap(fleetId: string): number {
  const edges = [...spans(fleetId).values()].flatMap((s) => [
    [s.from, 1],
    [s.to, -1],
  ]);
  edges.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let now = 0;
  let max = 0;
  for (const [, d] of edges) max = Math.max(max, (now += d!));
  return max;
}

/** Hosts in the order their children started. */
const startOrder = (fleetId: string) => [...spans(fleetId).entries()].sort((a, b) => a[1].from - b[1].from).map(([h]) => h);
const started = (fleetId: string) => new Set(spans(fleetId).keys());
const checksOf = (childId: string) => fakes.of(childId).filter((c) => c.name === 'checkServices').length;

/** Hosts whose child run has started (state running, past the liveness check). */
const childrenStarted = (p: FleetProgress) => p.hosts.filter((r) => r.state === 'running' && r.summary === 'run started').length;

async function progressUntil(h: WorkflowHandle, what: string, ok: (p: FleetProgress) => boolean, timeoutMs = 20_000): Promise<FleetProgress> {
  const end = Date.now() + timeoutMs;
  let last: FleetProgress | undefined;
  for (;;) {
    try {
      // Bounded: the Java test server can leave a query unanswered for good (one sent while a run continues
      // as new); a lost query is asked again instead of holding the test until its timeout.
      last = await within('progress query', h.query<FleetProgress>('progress'), 5_000);
      if (ok(last)) return last;
    } catch {
      // Not started yet, or the query was lost.
    }
    if (Date.now() > end) throw new Error(`${what} not reached; last: ${JSON.stringify(last?.counts)} ${last?.phase}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
async function pollDescribe(h: WorkflowHandle, what: string, ok: (d: WorkflowExecutionDescription) => boolean, timeoutMs = 20_000): Promise<WorkflowExecutionDescription> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const d = await h.describe();
    if (ok(d)) return d;
    if (Date.now() > end) throw new Error(`${what} not reached; last: ${d.runId} ${d.status.name}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const states = (r: { hosts: Array<{ host: string; state: string }> }) => Object.fromEntries(r.hosts.map((x) => [x.host, x.state]));

describe('fleet', () => {
  it('runs every host as its own child (id <fleet>.<host>), never more than maxParallel at once, and uses the window', async () => {
    const h = await start('f-window', { hosts: HOSTS, policy: { maxParallel: 2 } });
    const r = (await h.result()) as FleetResult;
    expect(r.counts).toMatchObject({ total: 6, ok: 6 });
    expect(r.hosts.map((x) => x.workflowId)).toEqual(HOSTS.map((x) => `f-window.${x}`));
    expect(r.hosts[0]!.summary).toMatch(/ok/);
    expect(maxOverlap('f-window')).toBe(2);
    for (const host of HOSTS) expect(checksOf(`f-window.${host}`)).toBe(1);
    // Each child ran on its own host's queue (the fake lease was asked for that host).
    expect(env.ends.filter((e) => e.workflowId.startsWith('f-window.')).map((e) => e.hostId).sort()).toEqual(HOSTS);
    expect(env.ends.find((e) => e.workflowId === 'f-window')).toMatchObject({ runbook: 'fleet', hostId: '*', outcome: 'success' });
  });

  it('a percentage window: 50% of 6 hosts is 3 at once', async () => {
    const h = await start('f-percent', { hosts: HOSTS, policy: { maxParallel: '50%' } });
    const r = (await h.result()) as FleetResult;
    expect(r.policy.maxParallel).toBe(3);
    expect(maxOverlap('f-percent')).toBe(3);
  });

  it('canary: the first hosts run alone; the rest start only after every canary ended ok or warn', async () => {
    status.set('f-canary.h1', 'warn');
    const h = await start('f-canary', { hosts: HOSTS, policy: { maxParallel: 6, canary: 2 } });
    const r = (await h.result()) as FleetResult;
    expect(r.counts).toMatchObject({ ok: 5, warn: 1 });
    const s = spans('f-canary');
    const canariesEnd = Math.max(s.get('h1')!.to, s.get('h2')!.to);
    for (const host of HOSTS.slice(2)) expect(s.get(host)!.from).toBeGreaterThanOrEqual(canariesEnd);
    expect(maxOverlap('f-canary')).toBeGreaterThanOrEqual(3);
  });

  it('canary: one that fails stops the rollout; the rest are skipped and never started', async () => {
    status.set('f-canary-fail.h1', 'fail');
    const h = await start('f-canary-fail', { hosts: HOSTS, policy: { maxParallel: 6, canary: 1 } });
    const r = (await h.result()) as FleetResult;
    expect(states(r)).toEqual({ h1: 'fail', h2: 'skipped', h3: 'skipped', h4: 'skipped', h5: 'skipped', h6: 'skipped' });
    expect(r.stoppedByPolicy).toMatch(/^canary h1 ended fail/);
    expect(r.hosts[1]!.summary).toMatch(/^not started: canary h1 ended fail/);
    expect([...started('f-canary-fail')]).toEqual(['h1']);
    expect(env.ends.find((e) => e.workflowId === 'f-canary-fail')).toMatchObject({ outcome: 'failure' });
  });

  it('maxFailures: once exceeded nothing new starts, and the host still running finishes', async () => {
    status.set('f-budget.h1', 'fail');
    const release = hold('f-budget.h2');
    const h = await start('f-budget', { hosts: HOSTS, policy: { maxParallel: 2, maxFailures: 0 } });
    const p = await progressUntil(h, 'the budget spent while h2 runs', (x) => x.stoppedByPolicy !== undefined && x.counts.running === 1);
    expect(p.phase).toBe('draining');
    expect(p.stoppedByPolicy).toBe('1 host failed, more than maxFailures 0');
    release();
    const r = (await h.result()) as FleetResult;
    expect(states(r)).toEqual({ h1: 'fail', h2: 'ok', h3: 'skipped', h4: 'skipped', h5: 'skipped', h6: 'skipped' });
    expect([...started('f-budget')].sort()).toEqual(['h1', 'h2']);
  });

  it('a read-only runbook goes on past failures unless a budget is given', async () => {
    status.set('f-no-budget.h2', 'fail');
    status.set('f-no-budget.h4', 'fail');
    const r = (await (await start('f-no-budget', { hosts: HOSTS, policy: { maxParallel: 3 } })).result()) as FleetResult;
    expect(r.counts).toMatchObject({ ok: 4, fail: 2, skipped: 0 });
    expect(r.stoppedByPolicy).toBeUndefined();
  });

  it('unreachable: no poller listed, or a listed poller that does not pick up the ping, is unreachable at once and counts as a failure', async () => {
    const h = await start('f-unreachable', { hosts: [ABSENT, DEAD, 'h1', 'h2'], policy: { maxParallel: 1, maxFailures: 1, pingTimeoutSeconds: 1 } });
    const r = (await h.result()) as FleetResult;
    expect(states(r)).toEqual({ [ABSENT]: 'unreachable', [DEAD]: 'unreachable', h1: 'skipped', h2: 'skipped' });
    expect(r.hosts[0]!.summary).toMatch(/^no worker polls logic\.host\.absent/);
    expect(r.hosts[1]!.summary).toMatch(/did not pick up a ping within 1s \(schedule-to-start timeout on logic\.host\.dead\)/);
    expect(r.stoppedByPolicy).toBe('2 hosts failed, more than maxFailures 1');
    // No child was started for either: nothing waited for a lock or a heartbeat timeout.
    expect(checksOf(`f-unreachable.${DEAD}`)).toBe(0);
    expect(env.orchestratorCalls.filter((c) => c.name === 'hostLiveness' && c.workflowId === 'f-unreachable').map((c) => c.args[0])).toEqual([{ hostId: ABSENT }, { hostId: DEAD }]);
  });

  it('pause: running hosts finish and nothing new starts until resume', async () => {
    const release = hold('f-pause.h1');
    const h = await start('f-pause', { hosts: HOSTS.slice(0, 4), policy: { maxParallel: 1 } });
    await progressUntil(h, 'h1 running', (p) => p.counts.running === 1);
    const paused = await h.executeUpdate<FleetProgress, [{ by: string }]>('pause', { args: [{ by: 'ops' }] });
    expect(paused).toMatchObject({ paused: true, pausedBy: { by: 'ops' }, phase: 'paused' });
    release();
    await progressUntil(h, 'h1 done, nothing running', (p) => p.counts.ok === 1 && p.counts.running === 0);
    await new Promise((r) => setTimeout(r, 800));
    expect(await h.query<FleetProgress>('progress')).toMatchObject({ paused: true, counts: { ok: 1, running: 0, pending: 3 } });
    expect([...started('f-pause')]).toEqual(['h1']);
    const resumed = await h.executeUpdate<FleetProgress, []>('resume');
    expect(resumed.paused).toBe(false);
    const r = (await h.result()) as FleetResult;
    expect(r.counts).toMatchObject({ ok: 4 });
  });

  it('abort: nothing new starts, running children finish on their own, the rest are skipped', async () => {
    const r1 = hold('f-abort.h1');
    const r2 = hold('f-abort.h2');
    const h = await start('f-abort', { hosts: HOSTS, policy: { maxParallel: 2 } });
    try {
      // Their runs started (past the liveness check, which an abort would still stop).
      await progressUntil(h, 'h1 and h2 running', (p) => childrenStarted(p) === 2);
      const aborted = await h.executeUpdate<FleetProgress, [{ by: string; reason: string }]>('abort', { args: [{ by: 'ops', reason: 'bad release' }] });
      expect(aborted.aborted).toMatchObject({ by: 'ops', reason: 'bad release' });
      // Updates refused by their validators are checked on the dev server (test/workflows/fleet.test.ts,
      // test/cli/fleet.test.ts): the Java test server answers some rejected updates with "update not found".
    } finally {
      // A held check holds the server's time lock: never leave one for the next test.
      r1();
      r2();
    }
    const r = (await h.result()) as FleetResult;
    expect(states(r)).toEqual({ h1: 'ok', h2: 'ok', h3: 'skipped', h4: 'skipped', h5: 'skipped', h6: 'skipped' });
    expect(r.hosts[2]!.summary).toBe('not started: the fleet was aborted by ops (bad release)');
    expect([...started('f-abort')].sort()).toEqual(['h1', 'h2']);
    expect(env.ends.find((e) => e.workflowId === 'f-abort')).toMatchObject({ outcome: 'cancelled' });
  });

  it('a cancel request is an abort: nothing new starts, the running child is not cancelled and finishes, the fleet ends cancelled', async () => {
    const release = hold('f-cancel.h1');
    const h = await start('f-cancel', { hosts: HOSTS.slice(0, 3), policy: { maxParallel: 1 } });
    try {
      await progressUntil(h, 'h1 running', (p) => childrenStarted(p) === 1);
      await h.cancel();
      await progressUntil(h, 'aborted by the cancel', (p) => p.aborted?.by === 'cancel request');
    } finally {
      release();
    }
    const err = await h.result().then(() => undefined, (e: unknown) => e);
    expect((err as { cause?: { name?: string } }).cause?.name).toBe('CancelledFailure');
    expect(env.ends.find((e) => e.workflowId === 'f-cancel')).toMatchObject({ runbook: 'fleet', outcome: 'cancelled' });
    expect(fakes.of('f-cancel.h1').find((c) => c.name === 'checkDisk')).toMatchObject({ outcome: 'completed' });
    expect([...started('f-cancel')]).toEqual(['h1']);
  });

  it('continue-as-new with a small threshold: drains, carries outcomes, order and pause, and starts no host twice', async () => {
    const release = hold('f-can.h2');
    const h = await start('f-can', { hosts: HOSTS, policy: { maxParallel: 1 }, continueAsNewAfterEvents: 36 });
    try {
      // h2 runs while the first run's history is past 36 events (h1 ends near 26, h2's child starts near 43): the fleet drains before the next host.
      await progressUntil(h, 'draining with h2 running', (p) => p.phase === 'draining' && p.counts.running === 1 && p.run === 1);
      await within('pause', h.executeUpdate('pause', { args: [{ by: 'ops' }] }), 15_000);
    } finally {
      release();
    }
    // The next run starts paused, with h1 and h2 ended and nothing running. It is found by its run id first:
    // the Java test server can leave a query sent while the run continues as new unanswered for good.
    const first = (await h.describe()).runId;
    const second = await pollDescribe(h, 'the second run', (d) => d.runId !== first && d.status.name === 'RUNNING');
    const next = await progressUntil(env.client.workflow.getHandle(h.workflowId, second.runId), 'the second run, paused', (p) => p.run === 2 && p.counts.ok === 2);
    expect(next).toMatchObject({ paused: true, pausedBy: { by: 'ops' }, counts: { ok: 2, pending: 4, running: 0 } });
    await new Promise((r) => setTimeout(r, 500));
    expect([...started('f-can')].sort()).toEqual(['h1', 'h2']);
    await within('resume', h.executeUpdate('resume'), 15_000);
    const r = (await within('result', h.result(), 15_000)) as FleetResult;
    expect(r.runs).toBeGreaterThanOrEqual(3);
    expect(r.counts).toMatchObject({ ok: 6 });
    expect(r.startedAt).toBe(next.startedAt);
    for (const host of HOSTS) expect(checksOf(`f-can.${host}`), host).toBe(1);
    expect(startOrder('f-can')).toEqual(HOSTS);
    // Each wait above has its own bound (20 s, 15 s): together more than the default 60 s under load.
  }, 150_000);

  it('shuffle: the order comes from the seed; a picked seed is in the result and gives the same order again', async () => {
    const a = (await (await start('f-shuffle-a', { hosts: HOSTS, policy: { order: 'shuffle' } })).result()) as FleetResult;
    expect(a.seed).toEqual(expect.any(Number));
    const order = orderHosts(HOSTS, 'shuffle', { seed: a.seed! });
    expect(startOrder('f-shuffle-a')).toEqual(order);
    expect(a.hosts.map((x) => x.host)).toEqual(order);
    const b = (await (await start('f-shuffle-b', { hosts: HOSTS, policy: { order: 'shuffle', seed: a.seed } })).result()) as FleetResult;
    expect(startOrder('f-shuffle-b')).toEqual(order);
    expect(b.seed).toBe(a.seed);
  });

  it('label order: hosts grouped by the label value, listed order inside a group', async () => {
    const labels = { h1: { rack: 'b' }, h2: { rack: 'a' }, h3: { rack: 'b' }, h4: { rack: 'a' } };
    await (await start('f-label', { hosts: ['h1', 'h2', 'h3', 'h4'], labels, policy: { order: 'label:rack' } })).result();
    expect(startOrder('f-label')).toEqual(['h2', 'h4', 'h1', 'h3']);
  });

  it('per-host jitter: every host starts after its own wait (time skips), all still run', async () => {
    const h = await start('f-jitter', { hosts: HOSTS, policy: { maxParallel: '100%', jitterSeconds: 3600 } });
    const began = await env.now();
    const r = (await within('the jittered fleet\'s result', h.result(), 100_000)) as FleetResult;
    expect(r.counts.ok).toBe(6);
    const starts = await Promise.all(HOSTS.map(async (host) => (await env.client.workflow.getHandle(`f-jitter.${host}`).describe()).startTime.getTime() - began));
    expect(Math.max(...starts)).toBeLessThanOrEqual(3_600_000 + 60_000);
    // Six waits drawn from an hour do not all land in the same minute.
    expect(Math.max(...starts) - Math.min(...starts)).toBeGreaterThan(60_000);
  }, 120_000);

  it('a bad input fails at once, naming the field, and starts nothing', async () => {
    const h = await env.start('fleet', { runbook: 'backup', hosts: ['h1'], input: { hostId: 'h1' } }, 'f-invalid');
    const f = await applicationFailureOf(h);
    expect(f.type).toBe('InvalidInput');
    expect(f.message).toMatch(/^fleet input is invalid: input\.input\.hostId: set by the fleet for each host/);
    expect(started('f-invalid').size).toBe(0);
  });
});
