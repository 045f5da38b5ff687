/**
 * SIGKILL the worker during the snapshot (services stopped), during compression
 * and during the folder swap; restart it; every service ends running and every
 * folder is wholly old or wholly restored.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { SnapshotResult } from '../../src/activities/backup.js';
import { describeStepProgress, followProgress, pendingSteps } from '../../src/client/progress.js';
import type { RunbookProgress } from '../../src/common/progress.js';
import type { BackupResult, RecoveryResult } from '../../src/workflows/index.js';
import type { FaultPoint } from '../../src/activities/faults.js';
import { spawnNodeUntil, type RunningCli } from '../helpers/cli.js';
import { treesOf } from '../helpers/files.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { assertReplays, pollUntil, testClient } from '../helpers/temporal.js';

let sbx: TestSandbox;
let client: Client;
let folders: string[];
let markers: string;
let baseConfig: Record<string, unknown>;
const running: RunningCli[] = [];
const FAULT_WORKER = fileURLToPath(new URL('../fixtures/fault-worker.mjs', import.meta.url));

/**
 * The worker as the CLI runs it, with `pauseAt` armed: a test entry point, since no config file can arm a
 * fault point. `activities` (e.g. a short stall bound) goes into the config file it reads.
 */
async function worker(pauseAt: FaultPoint[], activities?: Record<string, unknown>): Promise<RunningCli> {
  await writeFile(sbx.configPath, stringify({ ...baseConfig, ...(activities ? { activities: { ...(baseConfig.activities as object), ...activities } } : {}) }));
  const w = await spawnNodeUntil(FAULT_WORKER, [sbx.configPath, markers, ...pauseAt], /task queues: /);
  running.push(w);
  return w;
}

async function reached(point: string): Promise<void> {
  const marker = join(markers, `${point}.reached`);
  for (let i = 0; i < 600 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 100));
  expect(existsSync(marker), `${point} reached`).toBe(true);
}

async function kill(w: RunningCli): Promise<void> {
  w.kill('SIGKILL');
  await w.exited;
}

/** Names of the signals a workflow received that carried progress (the old `activityProgress`). */
async function progressSignals(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((e) => e.workflowExecutionSignaledEventAttributes?.signalName ?? []).filter((n) => /progress/i.test(n));
}

/** Each run of an activity type in the history: its last attempt, that attempt's previous failure, and its result. */
async function activityAttempts(handle: WorkflowHandle, type: string) {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).map((e) => Number(e.eventId));
  return scheduled.map((id) => {
    const started = events.find((e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId) === id)?.activityTaskStartedEventAttributes;
    const completed = events.find((e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId) === id)?.activityTaskCompletedEventAttributes;
    const payload = completed?.result?.payloads?.[0];
    return {
      attempt: started?.attempt ?? 0,
      lastFailure: started?.lastFailure?.message ?? undefined,
      failureType: started?.lastFailure?.applicationFailureInfo?.type ?? undefined,
      result: payload ? defaultPayloadConverter.fromPayload(payload) : undefined,
    };
  });
}

const states = async () => Object.fromEntries(await Promise.all(sbx.manager.services.map(async (s) => [s, (await sbx.manager.status(s)).state] as const)));
const allActive = Object.fromEntries(['mcp-filesystem', 'mcp-postgres', 'mcp-memory', 'mcp-compliance'].map((s) => [s, 'active']));

/** Staging, restore and previous folders a run may leave beside its targets. */
async function leftovers(): Promise<string[]> {
  const out: string[] = [];
  for (const f of folders) {
    const parent = join(f, '..');
    for (const e of await readdir(parent)) if (/\.mcp-(restore|previous|discard)-/.test(e)) out.push(join(parent, e));
  }
  return out;
}

beforeAll(async () => {
  sbx = await createTestSandbox({ hostId: 'fault-host' });
  baseConfig = parse(await readFile(sbx.configPath, 'utf8')) as Record<string, unknown>;
  folders = sbx.config.backup.sources.flatMap((s) => (s.mode === 'pg_dump' ? [] : [s.path]));
  markers = await mkdtemp(join(tmpdir(), 'mcp-markers-'));
  client = await testClient();
});
afterAll(async () => {
  for (const w of running) w.kill('SIGKILL');
  await Promise.allSettled(running.map((w) => w.exited));
  await client?.connection.close();
  await sbx?.cleanup();
});

function startBackup(tag: string) {
  return client.workflow.start('backup', { taskQueue: sbx.config.temporal.taskQueue, workflowId: `fault-backup-${tag}-${Date.now()}`, args: [{ hostId: 'fault-host' }] });
}

describe('a worker killed mid-runbook', () => {
  it('during the snapshot, with services stopped: the restarted worker finishes and every service runs again', async () => {
    const before = await treesOf(folders);
    const w = await worker(['backup.snapshot']);
    const handle = await startBackup('snapshot');
    await reached('backup.snapshot');
    // The progress query shows the phase; the host-side bytes copied so far are the snapshot activity's
    // heartbeat details, read from the pending activities of describe() (and shown by the follower).
    expect((await handle.query<RunbookProgress>('progress')).phase).toBe('snapshot');
    const steps = await pollUntil(
      'a snapshot step with bytes copied in the pending activities',
      () => pendingSteps(handle),
      (ss) => ss.some((x) => x.unit === 'bytes' && /^snapshot \//.test(x.step) && x.done > 0),
      { timeoutMs: 30_000 },
    );
    const snap = steps.find((x) => /^snapshot \//.test(x.step))!;
    const lines: string[] = [];
    await followProgress(handle, (line) => lines.push(line), { intervalMs: 3_600_000 })();
    expect(lines).toContain(`  ${describeStepProgress(snap)}`);
    const down = Object.entries(await states()).filter(([, s]) => s !== 'active');
    expect(down.length, 'killed while services were stopped').toBeGreaterThan(0);
    await kill(w);
    expect(Object.entries(await states()).filter(([, s]) => s !== 'active').length, 'still down while no worker runs').toBeGreaterThan(0);
    await worker([]);
    const result = (await handle.result()) as BackupResult;
    expect(result.verification?.status).toBe('ok');
    expect(await states()).toEqual(allActive);
    expect(await treesOf(folders)).toEqual(before);
    expect(existsSync(join(sbx.config.backup.stagingDir, result.archive!.archive.replace('.tar.gz', '')))).toBe(false);
    await assertReplays(handle);
    expect(await progressSignals(handle), 'progress travels as heartbeats, not signals').toEqual([]);
    for (const r of running.splice(0)) await kill(r);
  }, 180_000);

  it('a snapshot that stops moving (held at its fault point) fails as stalled within the bound, and the retry resumes the copy', async () => {
    // The first test reached this point already; a reached point does not pause again.
    await rm(join(markers, 'backup.snapshot.reached'), { force: true });
    await worker(['backup.snapshot'], { stallSecondsFor: { snapshotSource: 3 } });
    const t0 = Date.now();
    const handle = await startBackup('stall');
    const result = (await handle.result()) as BackupResult;
    expect(result.verification?.status).toBe('ok');
    expect(await states()).toEqual(allActive);
    const snapshots = await activityAttempts(handle, 'snapshotSource');
    const held = snapshots.find((a) => a.attempt > 1);
    expect(held, 'the held snapshot was retried').toBeDefined();
    expect(held!.lastFailure).toMatch(/^snapshotSource stalled: snapshot \/\S+ stayed at \d+ bytes for 3\.\d s/);
    expect(held!.failureType).toBe('StepStalledError');
    // The retry found every file its stalled attempt had copied whole: nothing rewritten.
    const r = held!.result as SnapshotResult;
    expect(r.files).toBeGreaterThan(0);
    expect(r.reused).toBe(r.files);
    expect(Date.now() - t0, 'long before the 6 h start-to-close').toBeLessThan(60_000);
    expect(await progressSignals(handle)).toEqual([]);
    await assertReplays(handle);
    for (const w of running.splice(0)) await kill(w);
  }, 180_000);

  it('right after a stop and right after a start: the downtime reported is the real one, not the retries\' times', async () => {
    // Worker 1 dies with a service just stopped, worker 2 with one just started (before either activity
    // reported back). Each retry runs a heartbeat timeout (20 s) later; it must report when the service
    // really went down / came up, or the downtime grows by the outage of the worker (22 s for a 2 s stop).
    const w1 = await worker(['services.stopped']);
    const handle = await startBackup('transitions');
    await reached('services.stopped');
    await kill(w1);
    const w2 = await worker(['services.started']);
    await reached('services.started');
    await kill(w2);
    await worker([]);
    const result = (await handle.result()) as BackupResult;
    expect(result.verification?.status).toBe('ok');
    expect(await states()).toEqual(allActive);
    const marker = async (point: FaultPoint) => JSON.parse(await readFile(join(markers, `${point}.reached`), 'utf8')) as { at: string; service: string };
    const stopped = await marker('services.stopped');
    const started = await marker('services.started');
    const stop = result.downtime.find((d) => d.service === stopped.service);
    const start = result.downtime.find((d) => d.service === started.service);
    // The stop's time is taken just before its command, the start's when the service is first seen active;
    // the marker is written right after either. A retry's own time would be 20 s or more after the marker.
    const lead = (marked: string, reported: string) => Date.parse(marked) - Date.parse(reported);
    expect(lead(stopped.at, stop!.stoppedAt), `${stopped.service} stopped at ${stop!.stoppedAt}, marker at ${stopped.at}`).toBeGreaterThanOrEqual(0);
    expect(lead(stopped.at, stop!.stoppedAt)).toBeLessThan(5000);
    expect(lead(started.at, start!.startedAt), `${started.service} started at ${start!.startedAt}, marker at ${started.at}`).toBeGreaterThanOrEqual(0);
    expect(lead(started.at, start!.startedAt)).toBeLessThan(5000);
    for (const d of result.downtime) expect(d.seconds).toBeCloseTo((Date.parse(d.startedAt) - Date.parse(d.stoppedAt)) / 1000, 0);
    await assertReplays(handle);
    for (const r of running.splice(0)) await kill(r);
  }, 240_000);

  it('during compression: the partial archive is replaced, the backup verifies, services never stopped for it', async () => {
    const w = await worker(['backup.archive']);
    const handle = await startBackup('archive');
    await reached('backup.archive');
    expect(await states()).toEqual(allActive);
    expect((await readdir(sbx.config.paths.backupDir)).some((f) => f.endsWith('.partial'))).toBe(true);
    await kill(w);
    await worker([]);
    const result = (await handle.result()) as BackupResult;
    expect(result.verification?.status).toBe('ok');
    expect((await readdir(sbx.config.paths.backupDir)).filter((f) => f.endsWith('.partial'))).toEqual([]);
    expect(await states()).toEqual(allActive);
    await assertReplays(handle);
    for (const r of running.splice(0)) await kill(r);
  }, 180_000);

  it('during the folder swap: the restarted worker completes the swap; every folder is wholly restored', async () => {
    const w0 = await worker([]);
    const backup = (await (await startBackup('for-swap')).result()) as BackupResult;
    const backedUp = await treesOf(folders);
    await kill(w0);
    await writeFile(join(sbx.config.paths.installRoot, 'memory_db', 'after-backup.json'), '{}');
    await writeFile(join(sbx.config.paths.installRoot, 'filesystem_data', 'notes', 'todo.md'), 'rewritten\n');

    const w = await worker(['restore.swap']);
    const handle = await client.workflow.start('disasterRecovery', {
      taskQueue: sbx.config.temporal.taskQueue,
      workflowId: `fault-recover-${Date.now()}`,
      args: [{ backup: backup.archive!.archive, hostId: 'fault-host', approve: true }],
    });
    await reached('restore.swap');
    // Mid-swap: one target is moved aside, its previous and its restored copy both whole beside it.
    const mid = await leftovers();
    expect(mid.some((p) => p.includes('.mcp-previous-'))).toBe(true);
    expect(mid.some((p) => p.includes('.mcp-restore-'))).toBe(true);
    await kill(w);
    await worker([]);
    const result = (await handle.result()) as RecoveryResult;
    expect(result.outcome).toBe('recovered');
    expect(await treesOf(folders)).toEqual(backedUp);
    expect(await leftovers()).toEqual([]);
    expect(await states()).toEqual(allActive);
    await assertReplays(handle);
  }, 240_000);
});
