/**
 * Off-host backups on a real restic repository (a local path: the S3 and REST
 * backends run the same code with another URL): one backup run writes the
 * archive target and the restic target; the data then changes, the host is
 * lost (data, database and backups folder), and a new host with the same id
 * and paths, empty of every backed-up folder and table, is recovered from the
 * repository alone: every file byte for byte and every row, all columns, as
 * they were backed up. A target that fails fails only itself, and raises the
 * alert that names it. Real dev server, real sandbox services, the real
 * PostgreSQL, restic 0.14.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPgClient } from '../../src/postgres/client.js';
import type { Config } from '../../src/config/config.js';
import type { BackupResult, RecoveryResult, RestoreDrillResult } from '../../src/workflows/index.js';
import { createWorkerMetrics } from '../../src/metrics/registry.js';
import { restoreRunbookOutcomes } from '../../src/metrics/restore-outcomes.js';
import { treeContents } from '../helpers/files.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { pollUntil, uniqueTaskQueue } from '../helpers/temporal.js';

let work: string;
let repo: string;
let passwordFile: string;
let password: string;
const hosts: TestHost[] = [];

/** One host id per case: a lost host's orchestration (its host lock) stays on its case's task queue. */
let HOST = 'restic-host';

function restic(args: string[]) {
  return execa('restic', ['-r', repo, '--password-file', passwordFile, ...args], { extendEnv: false, env: { PATH: process.env.PATH ?? '', HOME: work } });
}

let layout: 'folders' | 'tar' = 'folders';
function targets() {
  return {
    targets: [
      { name: 'local', type: 'archive' },
      { name: 'offsite', type: 'restic', repository: repo, password: { file: passwordFile }, checkReadDataSubset: '100%', layout },
    ],
  };
}

const folderSources = (config: Config) => config.backup.sources.flatMap((s) => (s.mode === 'pg_dump' ? [] : [s.path]));

/** Every table of the database's public schema with all its rows (every column, as text), and every sequence's last value. */
const databaseOf = (config: Config) =>
  withPgClient(config.postgres!, async (c) => {
    const tables = (await c.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1")).rows.map((r) => r.t);
    const out: Record<string, unknown> = {};
    for (const t of tables) out[t] = (await c.query(`SELECT t::text AS row FROM public."${t.replaceAll('"', '""')}" t ORDER BY 1`)).rows.map((r: { row: string }) => r.row);
    out['(sequences)'] = (await c.query("SELECT sequencename, last_value::text FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1")).rows;
    return out;
  });

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
  repo = join(work, 'repo');
  await restic(['init']);
});
afterAll(async () => {
  for (const h of hosts) await h.close().catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

describe('restic target', () => {
  it.each(['folders', 'tar'] as const)('stores one backup in the archive folder and the repository (layout %s); a bare host is recovered from the repository alone to exactly what was backed up', async (as) => {
    layout = as;
    HOST = `restic-host-${as}`;
    repo = join(work, `repo-${as}`);
    await restic(['init']);
    const root = join(work, `host-${as}`);
    // One orchestration task queue for both hosts: the orchestrator (and the host lock it runs) outlives the lost host.
    const taskQueue = uniqueTaskQueue('restic');
    const first = await startTestHost({ hostId: HOST, root, taskQueue, extra: { backup: targets() } });
    hosts.push(first);
    const { config } = first.sbx;
    // A table of our own beside the seed's, with more column types: every row and column must come back.
    await withPgClient(config.postgres!, async (c) => {
      await c.query('CREATE TABLE inventory (sku text PRIMARY KEY, qty integer NOT NULL, price numeric(10,2), tags text[], seen timestamptz, blob bytea)');
      await c.query("INSERT INTO inventory VALUES ('a-1', 3, 9.99, ARRAY['x','y'], '2026-01-02T03:04:05Z', '\\x00ff10'), ('b-2', 0, NULL, '{}', NULL, NULL)");
    });
    const backedUp = await treeContents(folderSources(config));
    const dbBackedUp = await databaseOf(config);
    expect(Object.keys(dbBackedUp).sort()).toEqual(['(sequences)', 'inventory', 'mcp_events']);

    const b = await run<BackupResult>(first.client, config, 'backup', { hostId: HOST, reason: 'offsite test' });
    expect(b.targets?.map((t) => [t.target, t.ok])).toEqual([
      ['local', true],
      ['offsite', true],
    ]);
    const stored = b.targets![1]!.restic!;
    expect(stored.backup.archive).toBe(b.archive!.archive);
    expect(stored.backup.dataAdded).toBeGreaterThan(0);
    expect(stored.verify).toMatchObject({ ok: true, problems: [] });

    const snaps = JSON.parse((await restic(['snapshots', '--json', '--host', HOST])).stdout) as Array<{ id: string; tags: string[]; paths: string[] }>;
    if (as === 'tar') {
      // The repository holds a tar snapshot and a manifest snapshot, tagged with the archive, the host and the run.
      expect(snaps).toHaveLength(2);
      for (const s of snaps) expect(s.tags).toEqual(expect.arrayContaining(['mcp-runbooks', `archive=${b.archive!.archive}`]));
      // Every entry keeps its original absolute path: no staging folder in the stored tar.
      const tarSnap = snaps.find((s) => s.tags.includes('part=tar'))!;
      const listing = (await restic(['dump', 'latest', '--tag', 'part=tar', tarSnap.paths[0]!]).pipe('tar', ['-t'])).stdout;
      expect(listing).not.toContain('.staging');
      for (const f of folderSources(config)) expect(listing).toContain(`${f.slice(1)}/`);
      expect(stored.backup.layout).toBe('tar');
    } else {
      // One snapshot: each folder at its original absolute path (the snapshot copy restic read is not in it),
      // the dump and the manifest beside them; tagged with the archive, the host and the run.
      expect(snaps).toHaveLength(1);
      expect(snaps[0]!.tags).toEqual(expect.arrayContaining(['mcp-runbooks', `archive=${b.archive!.archive}`, 'part=folders', `workflow=${started.at(-1)!.workflowId}`]));
      expect(stored.backup.layout).toBe('folders');
      const paths = snaps[0]!.paths;
      for (const f of folderSources(config)) expect(paths).toContain(f);
      expect(paths.filter((p) => p.endsWith('/mcp-runbooks-manifest.json'))).toHaveLength(1);
      expect(paths.filter((p) => p.endsWith(`/mcp-runbooks/pg_dump/${config.postgres!.database}.dump`))).toHaveLength(1);
      expect(paths).toHaveLength(folderSources(config).length + 2);
      const nodes = (await restic(['ls', '--json', snaps[0]!.id])).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { path?: string; type?: string });
      const files = nodes.filter((n) => n.type === 'file').map((n) => n.path!);
      for (const f of folderSources(config)) {
        const live = (await readdir(f, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
        expect(files.filter((p) => p.startsWith(`${f}/`)).sort()).toEqual(live.sort());
      }
      // Nothing of a folder under the snapshot copy's name: only the dump and the manifest live there.
      expect(files.filter((p) => p.includes('mcp_mirror_'))).toHaveLength(2);
    }
    // No lock left behind.
    expect((await restic(['list', 'locks', '--no-lock'])).stdout.trim()).toBe('');

    // Life goes on after the backup: files change, appear and go, rows are added and changed. A recovery
    // that brought back anything but the backup (this state, a re-provisioned host) would not match it.
    const [firstFolder, secondFolder] = folderSources(config);
    const files = async (folder: string) => (await readdir(folder, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
    await appendFile((await files(firstFolder!))[0]!, 'changed after the backup\n');
    await writeFile(join(secondFolder!, 'new-after-backup.txt'), 'not in the backup\n');
    await unlink((await files(secondFolder!))[0]!);
    await withPgClient(config.postgres!, async (c) => {
      await c.query("INSERT INTO mcp_events (kind) VALUES ('after-backup')");
      await c.query("UPDATE inventory SET qty = qty + 1, tags = ARRAY['changed']");
    });
    expect(await treeContents(folderSources(config))).not.toEqual(backedUp);
    expect(await databaseOf(config)).not.toEqual(dbBackedUp);

    // The host is lost: its data, database and backups folder.
    await first.close();
    hosts.splice(hosts.indexOf(first), 1);
    await rm(root, { recursive: true, force: true });

    // A new host, same id and paths, provisioned and then emptied: none of the backed-up folders, no table
    // (provisioning creates the database and the seed's table; both tables go), services not running.
    const second = await startTestHost({
      hostId: HOST,
      root,
      taskQueue,
      memoryPort: config.sandbox!.memoryPort,
      start: false,
      extra: { backup: targets() },
      prepare: async (sbx) => {
        for (const folder of folderSources(sbx.config)) await rm(folder, { recursive: true, force: true });
        await withPgClient(sbx.config.postgres!, (c) => c.query('DROP TABLE IF EXISTS mcp_events, inventory'));
      },
    });
    hosts.push(second);
    const cfg = second.sbx.config;
    expect(Object.values(await treeContents(folderSources(cfg))).every((t) => '(missing)' in t)).toBe(true);
    expect(await databaseOf(cfg)).toEqual({ '(sequences)': [] });
    expect(await readdir(cfg.paths.backupDir).catch(() => [])).toEqual([]);

    const listed = (await run<{ backups: Array<{ archive: string }> }>(second.client, cfg, 'listBackups', { hostId: HOST, target: 'offsite' })).backups;
    expect(listed.map((l) => l.archive)).toEqual([b.archive!.archive]);

    const r = await run<RecoveryResult>(second.client, cfg, 'disasterRecovery', { backup: b.archive!.archive, hostId: HOST, from: 'offsite', approve: true });
    expect(r.outcome).toBe('recovered');
    expect(r.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    // Exactly what was backed up: every file byte for byte (the changes made after the backup gone), every row, every column.
    expect(await treeContents(folderSources(cfg))).toEqual(backedUp);
    expect(await databaseOf(cfg)).toEqual(dbBackedUp);
    for (const s of second.sbx.manager.services) expect((await second.sbx.manager.status(s)).state).toBe('active');
    // The fetched copy is gone.
    expect((await readdir(join(cfg.paths.backupDir, '.offsite')).catch(() => [])).length).toBe(0);

    // A restore drill from the repository: its newest backup, fetched, restored into scratch copies and checked
    // file by file and table by table; the fetched copy and the scratch copies are gone afterwards.
    const drill = await run<RestoreDrillResult>(second.client, cfg, 'restoreDrill', { hostId: HOST, target: 'offsite' });
    expect(drill).toMatchObject({ archive: b.archive!.archive, target: 'offsite', mismatches: [] });
    expect(drill.findings.filter((f) => f.status !== 'ok')).toEqual([]);
    expect(drill.findings.map((f) => f.check)).toEqual(['drill.fetch', 'drill.inspect', 'drill.files', 'drill.database', 'drill.cleanup']);
    expect(drill.restoreSeconds).toBeGreaterThan(0);
    expect((await readdir(join(cfg.paths.backupDir, '.offsite')).catch(() => [])).length).toBe(0);
    expect((await readdir(join(cfg.paths.backupDir, '.drill')).catch(() => [])).length).toBe(0);
    // The password is in no run's history (inputs, activity inputs and results, failures).
    // Read through the new host's client: the lost host's connection is closed.
    for (const s of started) {
      const history = JSON.stringify(await second.client.workflow.getHandle(s.workflowId).fetchHistory());
      expect(history.length).toBeGreaterThan(1000);
      expect(history).not.toContain(password);
    }
    // The next case's hosts have the same id: this one goes.
    await second.close();
    hosts.splice(hosts.indexOf(second), 1);
  }, 300_000);

  it('a target that fails fails only itself: the run names it, the other targets still store the backup', async () => {
    repo = join(work, 'repo');
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

    // The host has its backup (the archive target stored it): the alert that fires is OffsiteBackupFailed for
    // target missing, from its own last failure; the host's last failure, BackupFailed's, does not move.
    const value = async (g: { get(): Promise<{ values: Array<{ labels: Record<string, unknown>; value: number }> }> }, labels: Record<string, string>) =>
      (await g.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
    const m = h.worker.registry;
    await pollUntil('the failed run counted', () => value(m.runbookRuns, { runbook: 'backup', host: 'restic-down', outcome: 'failure' }), (v) => v === 1, { timeoutMs: 10_000 });
    expect(await value(m.targetLastFailure, { host: 'restic-down', target: 'missing', type: 'restic' })).toBeGreaterThan(0);
    expect(await value(m.targetLastFailure, { host: 'restic-down', target: 'local' })).toBeUndefined();
    expect(await value(m.runbookLastFailure, { runbook: 'backup', host: 'restic-down' })).toBeUndefined();
    // So too after a restart, read back from Temporal.
    const fresh = createWorkerMetrics({ role: 'orchestrator', hostId: 'restic-down' });
    await pollUntil(
      'the failed backup in visibility',
      () => restoreRunbookOutcomes({ client: h.client, hosts: ['restic-down'], metrics: fresh }),
      (r) => r.some((x) => x.runbook === 'backup' && x.targets?.length === 3),
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    expect(await value(fresh.targetLastFailure, { host: 'restic-down', target: 'missing' })).toBeGreaterThan(0);
    expect(await value(fresh.runbookLastFailure, { runbook: 'backup', host: 'restic-down' })).toBeUndefined();
  }, 180_000);
});
