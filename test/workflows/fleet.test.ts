/**
 * The fleet end to end on the dev server: three real host workers, each its own
 * `mcp-runbooks worker --role host` process with its own sandbox (folders,
 * services, memory-service port, database), and one orchestrator process. The
 * processes are shared by every case to keep the file's wall time down.
 *
 * Cases: a health check and a backup over every host; a daily with maxParallel
 * 1 whose children's histories never overlap; a stopped worker is unreachable
 * within seconds while the others finish; maxFailures 1 with two failing hosts
 * starts no further host; pause and resume mid-rollout; a fleet schedule;
 * an orchestrator SIGKILLed mid-rollout resumes on restart, no host run twice.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { fleetInputFor, startFleet, type FleetRequest } from '../../src/client/fleet.js';
import type { FleetProgress, FleetResult } from '../../src/common/fleet.js';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load.js';
import { runCli, spawnCliUntil, type RunningCli } from '../helpers/cli.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { assertReplays, pollUntil, resultWithin, temporalAddress, testClient, uniqueTaskQueue } from '../helpers/temporal.js';

const HOSTS = ['fleet-a', 'fleet-b', 'fleet-c'] as const;
type Host = (typeof HOSTS)[number];
const TASK_QUEUE = uniqueTaskQueue('fleet-e2e');

let dir: string;
let orchestratorConfig: string;
let config: Config;
let client: Client;
const sandboxes = new Map<Host, TestSandbox>();
const hostWorkers = new Map<Host, RunningCli>();
let orchestrator: RunningCli;
const handles: WorkflowHandle[] = [];

const startHostWorker = async (host: Host) => {
  hostWorkers.set(host, await spawnCliUntil(['--config', sandboxes.get(host)!.configPath, 'worker', '--role', 'host'], /^task queues: /m));
};
const startOrchestrator = async () => {
  orchestrator = await spawnCliUntil(['--config', orchestratorConfig, 'worker', '--role', 'orchestrator'], /^task queues: /m);
};
const stop = async (p: RunningCli | undefined) => {
  p?.kill('SIGTERM');
  await p?.exited;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-fleet-e2e-'));
  for (const [host, sbx] of await Promise.all(HOSTS.map(async (h) => [h, await createTestSandbox({ hostId: h, taskQueue: TASK_QUEUE, extra: { defaultSchedules: false } })] as const))) {
    sandboxes.set(host, sbx);
  }
  orchestratorConfig = join(dir, 'orchestrator.yaml');
  await writeFile(
    orchestratorConfig,
    stringify({
      hostId: 'fleet-orchestrator',
      hosts: [
        { id: 'fleet-a', labels: { role: 'db', region: 'eu' } },
        { id: 'fleet-b', labels: { role: 'db', region: 'us' } },
        { id: 'fleet-c', labels: { role: 'web', region: 'eu' } },
      ],
      temporal: { address: temporalAddress(), taskQueue: TASK_QUEUE },
      metrics: { port: 0, sdkPort: 0, scheduleProbeSeconds: 0 },
      worker: { shutdownGraceSeconds: 2, shutdownForceSeconds: 5 },
      defaultSchedules: false,
      schedules: [{ runbook: 'health-check', hosts: 'role=db', every: '1h', policy: { maxParallel: 2 } }],
    }),
  );
  config = loadConfig({ path: orchestratorConfig, env: {} });
  client = await testClient();
  await Promise.all([...HOSTS.map(startHostWorker), startOrchestrator()]);
}, 240_000);

afterAll(async () => {
  await Promise.all([stop(orchestrator), ...[...hostWorkers.values()].map(stop)]);
  await client?.connection.close();
  await Promise.all([...sandboxes.values()].map((s) => s.cleanup()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function fleet(req: Omit<FleetRequest, 'runbook'> & { runbook?: FleetRequest['runbook'] }): Promise<WorkflowHandle> {
  const handle = await startFleet(client, config, fleetInputFor(config, { runbook: 'health-check', ...req }));
  handles.push(handle);
  return handle;
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const eventsOf = async (workflowId: string): Promise<HistoryEvent[]> => (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
const millis = (e: HistoryEvent | undefined) => Number(e?.eventTime?.seconds ?? 0) * 1000 + Math.floor((e?.eventTime?.nanos ?? 0) / 1e6);
const archives = async (host: Host) => (await readdir(sandboxes.get(host)!.config.paths.backupDir)).filter((f) => /^mcp_backup_.*\.tar\.gz$/.test(f));
const states = (r: FleetResult) => Object.fromEntries(r.hosts.map((h) => [h.host, h.state]));
const passed = (s: string) => s === 'ok' || s === 'warn';

describe('fleet on real host workers', () => {
  it('a health check over every host: each host\'s child ran its activities on that host\'s own worker process', async () => {
    const h = await fleet({ selector: 'all', policy: { maxParallel: 3 } });
    const r = await resultWithin<FleetResult>(h, 120_000);
    expect(r.hosts.map((x) => x.host)).toEqual([...HOSTS]);
    for (const x of r.hosts) expect(passed(x.state), `${x.host}: ${x.state} ${x.summary ?? ''}`).toBe(true);
    const pids = new Set<string>();
    for (const host of HOSTS) {
      const events = await eventsOf(`${h.workflowId}.${host}`);
      const identities = new Set(events.flatMap((e) => (e.activityTaskStartedEventAttributes?.identity ? [e.activityTaskStartedEventAttributes.identity] : [])));
      expect(identities.size, host).toBe(1);
      const [identity] = [...identities];
      expect(identity).toMatch(new RegExp(`^host:${host}@.+/\\d+$`));
      pids.add(identity!.split('/').pop()!);
      expect(events.filter((e) => e.activityTaskScheduledEventAttributes).every((e) => e.activityTaskScheduledEventAttributes!.taskQueue?.name === `${TASK_QUEUE}.host.${host}`)).toBe(true);
      const child = await client.workflow.getHandle(`${h.workflowId}.${host}`).describe();
      expect(child.searchAttributes.McpHost).toEqual([host]);
    }
    expect(pids.size).toBe(3);
    expect((await h.describe()).searchAttributes).toMatchObject({ McpRunbook: ['fleet'], McpHost: ['*'], McpOutcome: ['success'] });
  });

  it('a backup over every host: each host archives into its own backups folder', async () => {
    const r = await resultWithin<FleetResult>(await fleet({ runbook: 'backup', selector: 'all', input: { reason: 'fleet' }, policy: { maxParallel: 3 } }), 180_000);
    expect(states(r)).toEqual({ 'fleet-a': 'ok', 'fleet-b': 'ok', 'fleet-c': 'ok' });
    for (const host of HOSTS) expect(await archives(host), host).toHaveLength(1);
  });

  it('a daily with maxParallel 1: the children\'s histories show no two hosts ran at once', async () => {
    const h = await fleet({ runbook: 'daily', selector: 'all', policy: { maxParallel: 1 } });
    const r = await resultWithin<FleetResult>(h, 240_000);
    for (const x of r.hosts) expect(passed(x.state), `${x.host}: ${x.state} ${x.summary ?? ''}`).toBe(true);
    const spans = await Promise.all(
      HOSTS.map(async (host) => {
        const events = await eventsOf(`${h.workflowId}.${host}`);
        return { host, from: millis(events[0]), to: millis(events[events.length - 1]) };
      }),
    );
    spans.sort((a, b) => a.from - b.from);
    expect(spans.map((s) => s.host)).toEqual([...HOSTS]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.from, `${spans[i]!.host} started before ${spans[i - 1]!.host} ended`).toBeGreaterThanOrEqual(spans[i - 1]!.to);
  });

  it('a host whose worker is stopped is unreachable within seconds, and the others finish', async () => {
    await stop(hostWorkers.get('fleet-c'));
    try {
      const began = Date.now();
      const h = await fleet({ selector: 'all', policy: { maxParallel: 3, pingTimeoutSeconds: 3 } });
      const p = await pollUntil('fleet-c unreachable', () => h.query<FleetProgress>('progress'), (x) => x.hosts[2]!.state === 'unreachable', { timeoutMs: 30_000, intervalMs: 100 });
      expect(Date.now() - began).toBeLessThan(15_000);
      expect(p.hosts[2]!.summary).toMatch(/did not pick up a ping within 3s|no worker polls/);
      const r = await resultWithin<FleetResult>(h, 120_000);
      expect(passed(states(r)['fleet-a']!) && passed(states(r)['fleet-b']!)).toBe(true);
      expect(r.counts.unreachable).toBe(1);
      await expect(client.workflow.getHandle(`${h.workflowId}.fleet-c`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    } finally {
      await startHostWorker('fleet-c');
    }
  });

  it('maxFailures 1 with two failing hosts stops the rollout: the third host never starts', async () => {
    await Promise.all(['fleet-a', 'fleet-b'].map((host) => sandboxes.get(host as Host)!.manager.stop('mcp-filesystem')));
    try {
      const h = await fleet({ selector: 'all', policy: { maxParallel: 1, maxFailures: 1 } });
      const r = await resultWithin<FleetResult>(h, 120_000);
      expect(states(r)).toEqual({ 'fleet-a': 'fail', 'fleet-b': 'fail', 'fleet-c': 'skipped' });
      expect(r.hosts[0]!.summary).toMatch(/failed: .*mcp-filesystem/);
      expect(r.stoppedByPolicy).toBe('2 hosts failed, more than maxFailures 1');
      await expect(client.workflow.getHandle(`${h.workflowId}.fleet-c`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
      expect((await h.describe()).searchAttributes.McpOutcome).toEqual(['failure']);
    } finally {
      await Promise.all(['fleet-a', 'fleet-b'].map((host) => sandboxes.get(host as Host)!.manager.start('mcp-filesystem')));
    }
  });

  it('pause mid-rollout: the running host finishes, nothing new starts; a bad argument is refused; resume finishes the rollout', async () => {
    const h = await fleet({ selector: 'all', policy: { maxParallel: 1 } });
    await pollUntil('the first host running', () => h.query<FleetProgress>('progress'), (p) => p.counts.running === 1, { timeoutMs: 30_000, intervalMs: 50 });
    const paused = await h.executeUpdate<FleetProgress, [{ by: string }]>('pause', { args: [{ by: 'e2e' }] });
    expect(paused.paused).toBe(true);
    const quiet = await pollUntil('nothing running', () => h.query<FleetProgress>('progress'), (p) => p.counts.running === 0, { timeoutMs: 60_000, intervalMs: 100 });
    await new Promise((r) => setTimeout(r, 2_000));
    const still = await h.query<FleetProgress>('progress');
    expect(still.counts).toEqual(quiet.counts);
    expect(still.counts.pending).toBeGreaterThanOrEqual(1);
    expect(still.phase).toBe('paused');
    const pending = still.hosts.filter((x) => x.state === 'pending').map((x) => x.host);
    for (const host of pending) await expect(client.workflow.getHandle(`${h.workflowId}.${host}`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    const refused = await h.executeUpdate('pause', { args: [{ who: 'e2e' }] }).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toMatch(/^invalid argument: input\.who: unknown field \(fields: by, reason\)$/);
    await h.executeUpdate('resume');
    const r = await resultWithin<FleetResult>(h, 120_000);
    expect(r.counts.ok + r.counts.warn).toBe(3);
  });

  it('a fleet schedule: apply shows the selector and its hosts; a trigger runs the fleet over them', async () => {
    const cli = (...args: string[]) => runCli(['--config', orchestratorConfig, ...args]);
    const applied = await cli('schedules', 'apply');
    expect(applied.exitCode, applied.all).toBe(0);
    const id = `${TASK_QUEUE}.fleet.health-check.role-db`;
    expect(applied.stdout).toContain(`+ create     ${id} health-check on role=db: every 1h, overlap SKIP, catch-up 1m, fleet of role=db (fleet-a, fleet-b), 2 at once`);
    const list = await cli('schedules', 'list');
    expect(list.stdout).toContain(`${id}  health-check on role=db`);
    const triggered = await cli('schedules', 'trigger', 'fleet.health-check.role-db');
    expect(triggered.exitCode, triggered.all).toBe(0);
    const workflowId = /started (\S+)/.exec(triggered.stdout)![1]!;
    expect(workflowId).toMatch(/^fleet-health-check-role-db-/);
    const r = await resultWithin<FleetResult>(client.workflow.getHandle(workflowId), 120_000);
    expect(r).toMatchObject({ selector: 'role=db', policy: { maxParallel: 2 } });
    expect(r.hosts.map((x) => x.host)).toEqual(['fleet-a', 'fleet-b']);
    expect((await cli('schedules', 'delete', 'fleet.health-check.role-db')).exitCode).toBe(0);
  });

  it('an orchestrator SIGKILLed mid-rollout resumes on restart; no host runs twice', async () => {
    const h = await fleet({ runbook: 'backup', selector: 'all', input: { reason: 'kill' }, policy: { maxParallel: 1 } });
    await pollUntil('the second host running', () => h.query<FleetProgress>('progress'), (p) => p.counts.ok === 1 && p.counts.running === 1, { timeoutMs: 120_000, intervalMs: 100 });
    const before = orchestrator;
    before.kill('SIGKILL');
    await before.exited;
    await startOrchestrator();
    const r = await resultWithin<FleetResult>(h, 240_000);
    expect(states(r)).toEqual({ 'fleet-a': 'ok', 'fleet-b': 'ok', 'fleet-c': 'ok' });
    // One backup per fleet on each host: the one before and this one.
    for (const host of HOSTS) expect(await archives(host), host).toHaveLength(2);
    const events = await eventsOf(h.workflowId);
    const starts = events.flatMap((e) => (e.startChildWorkflowExecutionInitiatedEventAttributes ? [e.startChildWorkflowExecutionInitiatedEventAttributes.workflowId] : []));
    expect(starts.sort()).toEqual(HOSTS.map((x) => `${h.workflowId}.${x}`));
    // Both orchestrators completed its workflow tasks: the run went on in the restarted one.
    const deciders = new Set(events.flatMap((e) => (e.workflowTaskCompletedEventAttributes?.identity ? [e.workflowTaskCompletedEventAttributes.identity] : [])));
    expect(deciders.size).toBeGreaterThanOrEqual(2);
  });

  it('a host the orchestrator does not route to fails at its liveness check, as its child would, and starts no child', async () => {
    const h = await client.workflow.start('fleet', { taskQueue: TASK_QUEUE, workflowId: `fleet-unknown-${Date.now()}`, args: [{ runbook: 'health-check', hosts: ['fleet-z', 'fleet-a'], policy: { maxFailures: 1 } }] });
    handles.push(h);
    const r = await resultWithin<FleetResult>(h, 60_000);
    expect(r.hosts[0]).toMatchObject({ host: 'fleet-z', state: 'fail', failureType: 'UnknownHostError', summary: expect.stringMatching(/^unknown host "fleet-z": this orchestrator routes to fleet-a, fleet-b, fleet-c/) });
    expect(passed(r.hosts[1]!.state)).toBe(true);
    await expect(client.workflow.getHandle(`${h.workflowId}.fleet-z`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });

  it('every fleet history replays on the current code', async () => {
    await assertReplays(...handles);
  });
});
