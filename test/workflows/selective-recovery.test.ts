/**
 * Selective recovery on the real dev server, real sandbox services, real files
 * and the real PostgreSQL: restoring one folder brings it back byte for byte,
 * leaves every other folder and the database as they are, and stops only the
 * services that own it (the others keep their pids); a whole-host recovery
 * leaves the reports folder (the monthly reports written since) alone unless
 * asked, and says so in its plan; a selector that names nothing is refused
 * before anything changes.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPgClient } from '../../src/postgres/client.js';
import type { BackupResult, RecoveryResult } from '../../src/workflows/index.js';
import { treesOf } from '../helpers/files.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { assertReplays, resultWithin } from '../helpers/temporal.js';

const HOST = 'selective-host';
let host: TestHost;
let folders: string[];
let archive: string;

beforeAll(async () => {
  host = await startTestHost({ hostId: HOST });
  folders = host.sbx.config.backup.sources.flatMap((s) => (s.mode === 'pg_dump' ? [] : [s.path]));
}, 120_000);
afterAll(() => host?.close());

const handles: WorkflowHandle[] = [];
async function run<T>(type: string, input: unknown, tag: string): Promise<T> {
  const handle = await host.client.workflow.start(type, { taskQueue: host.sbx.config.temporal.taskQueue, workflowId: `selective-${tag}-${Date.now()}`, args: [input] });
  handles.push(handle);
  return resultWithin<T>(handle, 150_000);
}
const pids = async () => {
  const runDir = join(host.sbx.config.sandbox!.root, 'run');
  const out: Record<string, string> = {};
  for (const f of (await readdir(runDir)).filter((n) => n.endsWith('.pid')).sort()) out[f.replace(/\.pid$/, '')] = (await readFile(join(runDir, f), 'utf8')).trim();
  return out;
};
const rows = () => withPgClient(host.sbx.config.postgres!, async (c) => (await c.query<{ id: string; kind: string }>('SELECT id, kind FROM mcp_events ORDER BY id')).rows);

describe('selective recovery', () => {
  it('restores only memory_db, byte for byte; every other folder and the database stay as they are; only mcp-memory is stopped', async () => {
    const root = host.sbx.config.paths.installRoot;
    const memoryDb = join(root, 'memory_db');
    const b = await run<BackupResult>('backup', { hostId: HOST }, 'backup');
    archive = b.archive!.archive;
    const memoryBackedUp = (await treesOf([memoryDb]))[memoryDb];

    // After the backup: memory_db and another folder change, a row is added.
    await writeFile(join(memoryDb, 'after-backup.json'), '{"later": true}\n');
    await writeFile(join(root, 'filesystem_data', 'after-backup.txt'), 'kept\n');
    await withPgClient(host.sbx.config.postgres!, (c) => c.query("INSERT INTO mcp_events (kind) VALUES ('after-backup')"));
    const others = folders.filter((f) => f !== memoryDb);
    const othersBefore = await treesOf(others);
    const rowsBefore = await rows();
    const pidsBefore = await pids();

    const r = await run<RecoveryResult>('disasterRecovery', { hostId: HOST, backup: archive, only: ['memory_db'], approve: true }, 'only');
    expect(r.outcome).toBe('recovered');
    expect(r.plan!.roots.map((x) => x.target)).toEqual([memoryDb]);
    expect(r.plan!.dump).toBeUndefined();
    expect(r.plan!.services).toEqual(['mcp-memory']);
    expect(r.plan!.kept!.map((k) => k.target).sort()).toEqual([...others, `database ${host.sbx.config.postgres!.database}`].sort());
    expect((await treesOf([memoryDb]))[memoryDb]).toEqual(memoryBackedUp);
    expect(await treesOf(others)).toEqual(othersBefore);
    expect(await rows()).toEqual(rowsBefore);
    // Only the owner went down: the others kept running (same pids), and the downtime lists mcp-memory alone.
    expect(r.downtime.map((d) => d.service)).toEqual(['mcp-memory']);
    const after = await pids();
    expect(after['mcp-memory']).not.toBe(pidsBefore['mcp-memory']);
    for (const svc of Object.keys(pidsBefore).filter((s) => s !== 'mcp-memory')) expect(after[svc], svc).toBe(pidsBefore[svc]);
    for (const s of host.sbx.manager.services) expect((await host.sbx.manager.status(s)).state).toBe('active');
  }, 300_000);

  it('a whole-host recovery leaves the reports folder (reports written since) alone unless asked, and its plan says so', async () => {
    const reports = host.sbx.config.paths.reportsDir;
    await writeFile(join(reports, 'monthly-report-209912.txt'), 'written after the backup\n');
    const reportsBefore = await treesOf([reports]);
    const r = await run<RecoveryResult>('disasterRecovery', { hostId: HOST, backup: archive, approve: true }, 'whole');
    expect(r.outcome).toBe('recovered');
    expect(r.plan!.kept).toEqual([{ target: reports, why: 'the reports folder keeps the reports written since the backup (includeReports restores it)' }]);
    expect(r.findings.find((f) => f.check === 'recovery.kept')?.message).toContain(`${reports} is left as it is`);
    expect(await treesOf([reports])).toEqual(reportsBefore);
    // Asked for: rolled back with the rest.
    const again = await run<RecoveryResult>('disasterRecovery', { hostId: HOST, backup: archive, approve: true, includeReports: true }, 'with-reports');
    expect(again.plan!.kept).toBeUndefined();
    expect(again.plan!.roots.map((x) => x.target)).toContain(reports);
    expect(await readdir(reports)).not.toContain('monthly-report-209912.txt');
  }, 300_000);

  it('a selector that names nothing in the archive is refused, naming it and what the archive holds; nothing changes', async () => {
    const before = await treesOf(folders);
    const pidsBefore = await pids();
    const failed = run('disasterRecovery', { hostId: HOST, backup: archive, only: ['memory_db', 'no_such_folder'], approve: true }, 'refused');
    const cause = (await failed.then(
      () => undefined,
      (e: WorkflowFailedError) => e.cause,
    )) as { type?: string; message: string } | undefined;
    expect(cause?.type).toBe('RestoreRefused');
    expect(cause?.message).toContain('"no_such_folder" names nothing in');
    expect(cause?.message).toContain('memory_db');
    expect(cause?.message).toContain('Nothing was changed');
    expect(await treesOf(folders)).toEqual(before);
    expect(await pids()).toEqual(pidsBefore);
    await rm(join(host.sbx.config.paths.reportsDir, 'monthly-report-209912.txt'), { force: true });
    await assertReplays(...handles);
  }, 300_000);
});
