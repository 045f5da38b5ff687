/** Backup then recovery on the real dev server, real sandbox services and the real PostgreSQL. */
import { appendFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest, manifestPath } from '../../src/archive/manifest.js';
import { withPgClient } from '../../src/postgres/client.js';
import type { BackupResult, RecoveryResult } from '../../src/workflows/index.js';
import { treesOf } from '../helpers/files.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import type { TestSandbox } from '../helpers/sandbox.js';
import { assertReplays } from '../helpers/temporal.js';

let host: TestHost;
let sbx: TestSandbox;
let client: Client;
let folders: string[];

const rows = () =>
  withPgClient(sbx.config.postgres!, async (c) => (await c.query<{ id: string; kind: string }>('SELECT id, kind FROM mcp_events ORDER BY id')).rows);

beforeAll(async () => {
  host = await startTestHost({ hostId: 'br-host' });
  ({ sbx, client } = host);
  folders = sbx.config.backup.sources.flatMap((s) => (s.mode === 'pg_dump' ? [] : [s.path]));
});
afterAll(async () => {
  await host?.close();
});

const handles: WorkflowHandle[] = [];
async function run<T>(type: string, input: unknown, id: string): Promise<T> {
  const handle = await client.workflow.start(type, { taskQueue: sbx.config.temporal.taskQueue, workflowId: `${id}-${Date.now()}`, args: [input] });
  handles.push(handle);
  return (await handle.result()) as T;
}

describe('backup then disaster recovery', () => {
  it('restores every file byte for byte and the database rows; later changes are gone', async () => {
    const before = await treesOf(folders);
    const rowsBefore = await rows();

    const b = await run<BackupResult>('backup', { hostId: 'br-host', reason: 'test' }, 'backup');
    expect(b.summary.fail).toBe(0);
    expect(b.archive?.archive).toMatch(/^mcp_backup_\d{8}_\d{6}\.tar\.gz$/);
    expect(b.verification?.status).toBe('ok');
    // Only the owners of stop-mode sources went down, each only for its own copy.
    expect(b.downtime.map((d) => d.service).sort()).toEqual(['mcp-compliance', 'mcp-filesystem', 'mcp-memory']);
    const manifest = await readManifest(manifestPath(sbx.config.paths.backupDir, b.archive!.archive));
    expect(manifest.roots.map((r) => r.originalPath ?? r.database).sort()).toEqual([...folders, sbx.config.postgres!.database].sort());
    for (const s of sbx.manager.services) expect((await sbx.manager.status(s)).state).toBe('active');

    // Change things after the backup: files added, changed, removed; rows added and removed.
    const memDb = join(sbx.config.paths.installRoot, 'memory_db');
    await writeFile(join(memDb, 'added-later.json'), '{}');
    await appendFile(join(sbx.config.paths.installRoot, 'filesystem_data', 'notes', 'todo.md'), 'changed later\n');
    await rm(join(sbx.config.paths.installRoot, 'compliance_data', 'policies.json'));
    await writeFile(join(sbx.config.paths.configDir, 'mcp.yaml'), 'broken: [\n');
    await withPgClient(sbx.config.postgres!, async (c) => {
      await c.query("INSERT INTO mcp_events (kind) VALUES ('added-later')");
      await c.query("DELETE FROM mcp_events WHERE kind = 'provisioned'");
    });
    expect(await treesOf(folders)).not.toEqual(before);

    const r = await run<RecoveryResult>('disasterRecovery', { backup: b.archive!.archive, hostId: 'br-host', approve: true }, 'recover');
    expect(r.outcome).toBe('recovered');
    expect(r.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(await treesOf(folders)).toEqual(before);
    expect(await rows()).toEqual(rowsBefore);
    for (const s of sbx.manager.services) expect((await sbx.manager.status(s)).state).toBe('active');
    // The state it replaced was archived as a normal (emergency) archive, outside the restored folders.
    expect(r.emergencyBackup?.archive).toMatch(/^mcp_backup_/);
    const emergency = await readManifest(manifestPath(sbx.config.paths.backupDir, r.emergencyBackup!.archive));
    expect(emergency.kind).toBe('emergency');
    expect(emergency.roots.some((x) => x.originalPath?.startsWith(sbx.config.paths.backupDir))).toBe(false);

    await assertReplays(...handles);
  }, 180_000);

  it('retention deletes archives older than 30 days, with their manifests; backup_manifest.txt lists what is kept', async () => {
    // (Never deleting the newest verified archive is covered by the retention unit tests: after a
    // backup, that archive is the one just verified.)
    const dir = sbx.config.paths.backupDir;
    const { readdir, copyFile, readFile: read } = await import('node:fs/promises');
    const source = (await readdir(dir)).find((f) => f.endsWith('.tar.gz'))!;
    const manifest = JSON.parse(await read(join(dir, `${source}.manifest.json`), 'utf8')) as Record<string, unknown>;
    for (const name of ['mcp_backup_20200101_000000.tar.gz', 'mcp_backup_20200201_000000.tar.gz']) {
      await copyFile(join(dir, source), join(dir, name));
      await writeFile(join(dir, `${name}.manifest.json`), JSON.stringify({ ...manifest, archive: name }));
    }
    const handle = await client.workflow.start('backup', { taskQueue: sbx.config.temporal.taskQueue, workflowId: `retention-${Date.now()}`, args: [{ hostId: 'br-host' }] });
    handles.push(handle);
    const b = (await handle.result()) as BackupResult;
    expect(b.retention?.removed.sort()).toEqual(['mcp_backup_20200101_000000.tar.gz', 'mcp_backup_20200201_000000.tar.gz']);
    const after = await readdir(dir);
    expect(after.filter((f) => f.startsWith('mcp_backup_2020'))).toEqual([]);
    const listing = await read(join(dir, 'backup_manifest.txt'), 'utf8');
    expect(listing).toContain(`${b.archive!.archive}\t`);
    expect(listing).toMatch(new RegExp(`${b.archive!.archive}\\t\\d+\\t\\S+\\tbackup\\tverified `));
    expect(listing).not.toContain('mcp_backup_2020');
  }, 120_000);
});
