/**
 * Off-host backups on a real restic repository (a local path: the S3 and REST
 * backends run the same code with another URL): one backup run writes the
 * archive target and the restic target; then the host is lost, data, database
 * and backups folder, and a new empty host with the same id and paths is
 * recovered from the repository alone. Real dev server, real sandbox services,
 * the real PostgreSQL, restic 0.14.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPgClient } from '../../src/postgres/client.js';
import type { Config } from '../../src/config/config.js';
import type { BackupResult, RecoveryResult } from '../../src/workflows/index.js';
import { treesOf } from '../helpers/files.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { uniqueTaskQueue } from '../helpers/temporal.js';

let work: string;
let repo: string;
let passwordFile: string;
let password: string;
const hosts: TestHost[] = [];

const HOST = 'restic-host';

function restic(args: string[]) {
  return execa('restic', ['-r', repo, '--password-file', passwordFile, ...args], { extendEnv: false, env: { PATH: process.env.PATH ?? '', HOME: work } });
}

function targets() {
  return {
    targets: [
      { name: 'local', type: 'archive' },
      { name: 'offsite', type: 'restic', repository: repo, password: { file: passwordFile }, checkReadDataSubset: '100%' },
    ],
  };
}

const folderSources = (config: Config) => config.backup.sources.flatMap((s) => (s.mode === 'pg_dump' ? [] : [s.path]));
const rows = (config: Config) =>
  withPgClient(config.postgres!, async (c) => (await c.query<{ id: string; kind: string }>('SELECT id, kind FROM mcp_events ORDER BY id')).rows);

const started: Array<{ workflowId: string }> = [];
async function run<T>(client: Client, config: Config, type: string, input: unknown): Promise<T> {
  const handle = await client.workflow.start(type, { taskQueue: config.temporal.taskQueue, workflowId: `${type}-${HOST}-${Date.now()}`, args: [input] });
  started.push({ workflowId: handle.workflowId });
  return (await handle.result()) as T;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcp-restic-'));
  repo = join(work, 'repo');
  passwordFile = join(work, 'restic.pass');
  password = randomBytes(24).toString('hex');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  await restic(['init']);
});
afterAll(async () => {
  for (const h of hosts) await h.close().catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

describe('restic target', () => {
  it('stores one backup in the archive folder and the repository, then recovers a bare host from the repository alone', async () => {
    const root = join(work, 'host');
    // One orchestration task queue for both hosts: the orchestrator (and the host lock it runs) outlives the lost host.
    const taskQueue = uniqueTaskQueue('restic');
    const first = await startTestHost({ hostId: HOST, root, taskQueue, extra: { backup: targets() } });
    hosts.push(first);
    const { config } = first.sbx;
    const before = await treesOf(folderSources(config));
    const rowsBefore = await rows(config);

    const b = await run<BackupResult>(first.client, config, 'backup', { hostId: HOST, reason: 'offsite test' });
    expect(b.targets?.map((t) => [t.target, t.ok])).toEqual([
      ['local', true],
      ['offsite', true],
    ]);
    const stored = b.targets![1]!.restic!;
    expect(stored.backup.archive).toBe(b.archive!.archive);
    expect(stored.backup.dataAdded).toBeGreaterThan(0);
    expect(stored.verify).toMatchObject({ ok: true, problems: [] });

    // The repository holds a tar snapshot and a manifest snapshot, tagged with the archive, the host and the run.
    const snaps = JSON.parse((await restic(['snapshots', '--json', '--host', HOST])).stdout) as Array<{ tags: string[]; paths: string[] }>;
    expect(snaps).toHaveLength(2);
    for (const s of snaps) expect(s.tags).toEqual(expect.arrayContaining(['mcp-runbooks', `archive=${b.archive!.archive}`]));
    // Every entry keeps its original absolute path: no staging folder in the stored tar.
    const tarSnap = snaps.find((s) => s.tags.includes('part=tar'))!;
    const listing = (await restic(['dump', 'latest', '--tag', 'part=tar', tarSnap.paths[0]!]).pipe('tar', ['-t'])).stdout;
    expect(listing).not.toContain('.staging');
    for (const f of folderSources(config)) expect(listing).toContain(`${f.slice(1)}/`);
    // No lock left behind.
    expect((await restic(['list', 'locks', '--no-lock'])).stdout.trim()).toBe('');

    // The host is lost: its data, database and backups folder.
    await first.close();
    hosts.splice(hosts.indexOf(first), 1);
    await rm(root, { recursive: true, force: true });

    // A new host, same id and paths, freshly provisioned and then emptied.
    const second = await startTestHost({ hostId: HOST, root, taskQueue, memoryPort: config.sandbox!.memoryPort, extra: { backup: targets() } });
    hosts.push(second);
    const cfg = second.sbx.config;
    await withPgClient(cfg.postgres!, (c) => c.query('DELETE FROM mcp_events'));
    expect(await readdir(cfg.paths.backupDir).catch(() => [])).toEqual([]);

    const listed = (await run<{ backups: Array<{ archive: string }> }>(second.client, cfg, 'listBackups', { hostId: HOST, target: 'offsite' })).backups;
    expect(listed.map((l) => l.archive)).toEqual([b.archive!.archive]);

    const r = await run<RecoveryResult>(second.client, cfg, 'disasterRecovery', { backup: b.archive!.archive, hostId: HOST, from: 'offsite', approve: true });
    expect(r.outcome).toBe('recovered');
    expect(r.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(await treesOf(folderSources(cfg))).toEqual(before);
    expect((await rows(cfg)).map((x) => x.kind)).toEqual(rowsBefore.map((x) => x.kind));
    for (const s of second.sbx.manager.services) expect((await second.sbx.manager.status(s)).state).toBe('active');
    // The fetched copy is gone.
    expect((await readdir(join(cfg.paths.backupDir, '.offsite')).catch(() => [])).length).toBe(0);
    // The password is in no run's history (inputs, activity inputs and results, failures).
    // Read through the new host's client: the lost host's connection is closed.
    for (const s of started) {
      const history = JSON.stringify(await second.client.workflow.getHandle(s.workflowId).fetchHistory());
      expect(history.length).toBeGreaterThan(1000);
      expect(history).not.toContain(password);
    }
  }, 300_000);

  it('a target that fails fails only itself: the run names it, the other targets still store the backup', async () => {
    const h = await startTestHost({
      hostId: 'restic-down',
      extra: { backup: { targets: [...targets().targets, { name: 'missing', type: 'restic', repository: join(work, 'no-such-repo'), password: { file: passwordFile } }] } },
    });
    hosts.push(h);
    const handle = await h.client.workflow.start('backup', { taskQueue: h.sbx.config.temporal.taskQueue, workflowId: `backup-down-${Date.now()}`, args: [{ hostId: 'restic-down' }] });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e as { cause?: { message?: string; type?: string; details?: unknown[] } },
    );
    expect(err?.cause?.type).toBe('BackupTargetFailed');
    expect(err?.cause?.message).toContain('failed on target missing');
    expect(err?.cause?.message).toContain('restic -r');
    expect(err?.cause?.message).toContain('stored on local, offsite');
    const report = err?.cause?.details?.[0] as BackupResult;
    expect(report.targets?.map((t) => [t.target, t.ok])).toEqual([
      ['local', true],
      ['offsite', true],
      ['missing', false],
    ]);
    for (const s of h.sbx.manager.services) expect((await h.sbx.manager.status(s)).state).toBe('active');
    expect(JSON.stringify(await handle.fetchHistory())).not.toContain(password);
  }, 180_000);
});
