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
});
