/**
 * SIGKILL the worker while restic runs: during a backup's restic step (the
 * tar feed paused, restic holding its repository lock) and during a restore's
 * `restic dump`. The killed `restic backup` dies with the worker and leaves its
 * lock behind, restic's best-known failure; the restarted worker finishes the
 * run, and the lock is removed only by a step holding the repository's
 * exclusive lease. No lock is left, every service runs, every folder is wholly
 * restored. A cancel while `restic backup` runs interrupts restic, which
 * removes its own lock and stores nothing; a stale exclusive lock that makes
 * restic refuse a backup is removed under the exclusive lease and the backup stored.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CancelledFailure, WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultPoint } from '../../src/activities/faults.js';
import { REPOSITORY_LOCK_STATE_QUERY, repositoryLockWorkflowId, type RepositoryLockState } from '../../src/common/repository-lock.js';
import type { Config } from '../../src/config/config.js';
import { withPgClient } from '../../src/postgres/client.js';
import type { BackupResult, RecoveryResult } from '../../src/workflows/index.js';
import { spawnNodeUntil, type RunningCli } from '../helpers/cli.js';
import { treesOf } from '../helpers/files.js';
import { localRepository, type TestRepository } from '../helpers/offsite.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { assertReplays, pollUntil, resultWithin, testClient } from '../helpers/temporal.js';

const HOST = 'restic-fault-host';
const FAULT_WORKER = fileURLToPath(new URL('../fixtures/fault-worker.mjs', import.meta.url));
let work: string;
let markers: string;
let sbx: TestSandbox;
let client: Client;
let repo: TestRepository;
const running: RunningCli[] = [];

const folderSources = (config: Config) => config.backup.sources.flatMap((s) => (s.mode === 'pg_dump' ? [] : [s.path]));
const rows = (config: Config) => withPgClient(config.postgres!, async (c) => (await c.query<{ id: string }>('SELECT * FROM mcp_events ORDER BY id')).rows);

async function worker(pauseAt: FaultPoint[]): Promise<RunningCli> {
  const w = await spawnNodeUntil(FAULT_WORKER, [sbx.configPath, markers, ...pauseAt], /task queues: /);
  running.push(w);
  return w;
}
async function reached(point: string): Promise<void> {
  const marker = join(markers, `${point}.reached`);
  for (let i = 0; i < 900 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 100));
  expect(existsSync(marker), `${point} reached`).toBe(true);
}
async function kill(w: RunningCli): Promise<void> {
  w.kill('SIGKILL');
  await w.exited;
}
async function stopAll(): Promise<void> {
  for (const w of running.splice(0)) await kill(w);
}
const locks = async () => (await repo.restic(['list', 'locks', '--no-lock'])).stdout.trim().split('\n').filter(Boolean);
/** Every snapshot of the host in the repository (ids), whatever its tags. */
const snapshotIds = async () => (JSON.parse((await repo.restic(['snapshots', '--no-lock', '--json', '--host', HOST])).stdout) as Array<{ id: string }>).map((s) => s.id).sort();

/**
 * The mode of the repository lease the run held when it scheduled `activity`: the newest lease grant
 * (a `repositoryLeaseGranted` signal) before the activity's first scheduling in the run's history.
 */
async function leaseModeAt(handle: WorkflowHandle, activity: string): Promise<string | undefined> {
  let mode: string | undefined;
  for (const e of (await handle.fetchHistory()).events ?? []) {
    const signal = e.workflowExecutionSignaledEventAttributes;
    if (signal?.signalName === 'repositoryLeaseGranted') mode = (JSON.parse(Buffer.from(signal.input!.payloads![0]!.data!).toString('utf8')) as { mode: string }).mode;
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === activity) return mode;
  }
  return undefined;
}
/** The activities the run scheduled, by name, in order. */
async function scheduled(handle: WorkflowHandle): Promise<string[]> {
  return ((await handle.fetchHistory()).events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
}
const allActive = async () => {
  for (const s of sbx.manager.services) expect((await sbx.manager.status(s)).state, s).toBe('active');
};
/** Some restic process still running: pdeathsig must have killed the worker's. */
const resticAlive = async () => {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'latin1').catch(() => '');
    if (cmd.startsWith('restic\0') && cmd.includes(HOST)) return true;
  }
  return false;
};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcp-restic-faults-'));
  markers = join(work, 'markers');
  repo = await localRepository({ name: 'offsite', dir: join(work, 'offsite'), extra: { checkReadDataSubset: '100%' } });
  sbx = await createTestSandbox({ hostId: HOST, extra: { backup: { targets: [{ name: 'local', type: 'archive' }, repo.target] } } });
  // More than the 1 MiB the restic feed passes before its fault point.
  await writeFile(join(folderSources(sbx.config)[0]!, 'large.bin'), randomBytes(3 * 1024 * 1024));
  client = await testClient();
}, 120_000);
afterAll(async () => {
  for (const w of running) w.kill('SIGKILL');
  await Promise.allSettled(running.map((w) => w.exited));
  await client?.connection.close();
  await sbx?.cleanup();
  await rm(work, { recursive: true, force: true });
});

function start(type: string, input: Record<string, unknown>): Promise<WorkflowHandle> {
  return client.workflow.start(type, { taskQueue: sbx.config.temporal.taskQueue, workflowId: `${type}-${HOST}-${Date.now()}`, args: [{ hostId: HOST, ...input }] });
}

describe('a worker killed while restic runs', () => {
  let archive: string;

  it('during the restic backup: the restarted worker stores the backup once, verifies it, removes the stale lock', async () => {
    const before = await treesOf(folderSources(sbx.config));
    const w = await worker(['backup.restic']);
    const handle = await start('backup', { reason: 'kill test' });
    await reached('backup.restic');
    // restic is running and holds its lock (taken as it opens the repository); the services are already back.
    await pollUntil('restic holding its lock', locks, (l) => l.length === 1, { timeoutMs: 20_000 });
    await allActive();
    await kill(w);
    // restic died with the worker; its lock stays in the repository.
    for (let i = 0; i < 50 && (await resticAlive()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await resticAlive()).toBe(false);
    expect(await locks()).toHaveLength(1);

    await worker([]);
    const b = await resultWithin<BackupResult>(handle, 240_000);
    archive = b.archive!.archive;
    const offsite = b.targets!.find((t) => t.target === 'offsite')!;
    expect(offsite.ok).toBe(true);
    // The retried backup (a shared lease: another host's backup may be running) left the stale lock alone;
    // the verification after it removed it, holding the exclusive lease.
    expect(offsite.restic!.verify).toMatchObject({ ok: true, problems: [], locksRemoved: 1 });
    expect(await leaseModeAt(handle, 'resticVerify')).toBe('exclusive');
    expect(await scheduled(handle)).not.toContain('resticUnlockStale');
    // Exactly one snapshot of the backup (this target stores folders: where this worker can, as here): the killed attempt stored nothing.
    expect(offsite.restic!.backup.layout).toBe('folders');
    const snaps = JSON.parse((await repo.restic(['snapshots', '--json', '--host', HOST])).stdout) as Array<{ tags: string[] }>;
    expect(snaps.filter((s) => s.tags.includes(`archive=${archive}`)).map((s) => s.tags.find((t) => t.startsWith('part='))).sort()).toEqual(['part=folders']);
    expect(await locks()).toEqual([]);
    await allActive();
    expect(await treesOf(folderSources(sbx.config))).toEqual(before);
    // The repository lock holds nothing once the run is over.
    const lock = await client.workflow.getHandle(repositoryLockWorkflowId((sbx.config.backup.targets[1] as { repositoryId: string }).repositoryId)).query<RepositoryLockState>(REPOSITORY_LOCK_STATE_QUERY);
    expect(lock.holders).toEqual([]);
    await assertReplays(handle);
    await stopAll();
  }, 360_000);

  it('during the restic restore: the restarted worker fetches again and recovers; no lock, no fetched copy left', async () => {
    expect(archive).toBeDefined();
    const config = sbx.config;
    const before = await treesOf(folderSources(config));
    const rowsBefore = await rows(config);
    await unlink(join(folderSources(config)[0]!, 'large.bin'));
    await withPgClient(config.postgres!, (c) => c.query('DELETE FROM mcp_events'));

    const w = await worker(['restore.fetch']);
    const handle = await start('disasterRecovery', { backup: archive, from: 'offsite', approve: true });
    await reached('restore.fetch');
    // restic restore is writing the folders: it reads with --no-lock, so it holds no lock its death could leave.
    expect(await locks()).toEqual([]);
    await kill(w);
    await worker([]);
    const r = await resultWithin<RecoveryResult>(handle, 240_000);
    expect(r.outcome).toBe('recovered');
    expect(await treesOf(folderSources(config))).toEqual(before);
    expect(await rows(config)).toEqual(rowsBefore);
    expect(await locks()).toEqual([]);
    expect((await readdir(join(config.paths.backupDir, '.offsite')).catch(() => [])).length).toBe(0);
    await allActive();
    await assertReplays(handle);
    await stopAll();
  }, 360_000);

  it('cancelled while restic backup runs: restic is interrupted and removes its lock, the run ends cancelled, every service runs, nothing of it is stored', async () => {
    // The first test already reached this point once: arm it again.
    await rm(join(markers, 'backup.restic.reached'), { force: true });
    // New data for restic to read: a night with nothing new (this target stores only what changed) could
    // end before the test worker holds restic at its first status line.
    await writeFile(join(folderSources(sbx.config)[0]!, 'cancel-test.bin'), randomBytes(96 * 1024 * 1024));
    const before = await snapshotIds();
    await worker(['backup.restic']);
    const handle = await start('backup', { reason: 'cancel test' });
    await reached('backup.restic');
    await pollUntil('restic holding its lock', locks, (l) => l.length === 1, { timeoutMs: 20_000 });
    expect(await resticAlive()).toBe(true);

    await handle.cancel();
    const err = await resultWithin(handle, 120_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    // The activity waited for restic to stop: it is gone, and it took its lock with it (SIGINT, not SIGTERM).
    expect(await resticAlive()).toBe(false);
    expect(await locks()).toEqual([]);
    await allActive();
    // No snapshot at all from the cut-off stream: nothing is listed as a backup, nothing waits to be forgotten.
    expect(await snapshotIds()).toEqual(before);
    await assertReplays(handle);
    await stopAll();
  }, 240_000);

  it('a stale exclusive lock a killed restic left makes restic refuse the backup: it is removed under the exclusive lease, and the backup is stored', async () => {
    const target = sbx.config.backup.targets[1] as { repository: { reveal(): string }; password: { reveal(): string } };
    // `restic key passwd` takes the exclusive lock, then waits on its stdin for the new password; SIGKILLed
    // there, it leaves the lock behind: what a check or prune killed with its worker leaves.
    const holder = execa('restic', ['key', 'passwd'], {
      env: { RESTIC_REPOSITORY: target.repository.reveal(), RESTIC_PASSWORD: target.password.reveal(), PATH: process.env.PATH ?? '', HOME: work },
      extendEnv: false,
      stdin: 'pipe',
      reject: false,
    });
    await pollUntil('the exclusive lock', locks, (l) => l.length === 1, { timeoutMs: 30_000 });
    holder.kill('SIGKILL');
    await holder;
    expect(await locks()).toHaveLength(1);

    await worker([]);
    const handle = await start('backup', { reason: 'stale lock test' });
    const b = await resultWithin<BackupResult>(handle, 240_000);
    expect(b.targets!.map((t) => [t.target, t.ok])).toEqual([
      ['local', true],
      ['offsite', true],
    ]);
    expect(b.findings.find((f) => f.check === 'backup.restic-unlock.offsite')).toMatchObject({ status: 'ok', data: { removed: 1 } });
    // Refused at once (not retried in place under the shared lease), unlocked alone, then stored.
    expect((await scheduled(handle)).filter((a) => a.startsWith('restic'))).toEqual(['resticBackup', 'resticUnlockStale', 'resticBackup', 'resticVerify', 'resticRetention']);
    expect(await leaseModeAt(handle, 'resticUnlockStale')).toBe('exclusive');
    expect(await locks()).toEqual([]);
    await allActive();
    await assertReplays(handle);
    await stopAll();
  }, 240_000);
});
