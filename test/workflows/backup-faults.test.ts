/**
 * SIGKILL the worker during the snapshot (services stopped), during compression
 * and during the folder swap; restart it; every service ends running and every
 * folder is wholly old or wholly restored.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
const running: RunningCli[] = [];
const FAULT_WORKER = fileURLToPath(new URL('../fixtures/fault-worker.mjs', import.meta.url));

/** The worker as the CLI runs it, with `pauseAt` armed: a test entry point, since no config file can arm a fault point. */
async function worker(pauseAt: FaultPoint[]): Promise<RunningCli> {
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
    // The progress query shows the phase and the host-side bytes copied so far. The step arrives by a
    // signal the activity does not wait for (and the pg_dump step may report after it): poll for it.
    const progress = await pollUntil(
      'a snapshot step with bytes copied in the progress query',
      () => handle.query<RunbookProgress>('progress'),
      (p) => p.phase === 'snapshot' && p.step?.unit === 'bytes' && /^snapshot \//.test(p.step.step) && p.step.done > 0,
      { timeoutMs: 30_000 },
    );
    expect(progress.phase).toBe('snapshot');
    expect(progress.step).toMatchObject({ unit: 'bytes', step: expect.stringMatching(/^snapshot \//) as unknown });
    expect(progress.step!.done).toBeGreaterThan(0);
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
    for (const r of running.splice(0)) await kill(r);
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
