/**
 * weeklyMaintenance (seed 4.2) on the real dev server with real sandbox
 * services, logs, PostgreSQL (a slow query made with pg_sleep), temp files and
 * backup archives. Pending updates come from this machine's real, read-only
 * `apt list --upgradable`; the upgrade approval tests use an apt stand-in,
 * because a real `apt-get upgrade` would change this machine.
 */
import { appendFile, lstat, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostLockStatus } from '../../src/client/operations.js';
import { startRunbook } from '../../src/client/run-runbook.js';
import type { RunbookProgress } from '../../src/common/progress.js';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';
import { withPgClient } from '../../src/postgres/client.js';
import { startWorker, type RunningWorker } from '../../src/worker.js';
import { WEEKLY_STEPS, type BackupResult, type MaintenanceReport, type PendingUpgrade } from '../../src/workflows/index.js';
import { makeOld } from '../helpers/files.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { assertReplays, testClient, testNativeConnection, workflowBundle } from '../helpers/temporal.js';

const STAND_IN = join(PACKAGE_ROOT, 'test', 'fixtures', 'apt-stand-in.mjs');
let client: Client;
let connection: NativeConnection;
const cleanups: Array<() => Promise<void>> = [];
const handles: WorkflowHandle[] = [];

beforeAll(async () => {
  client = await testClient();
  connection = await testNativeConnection();
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await connection?.close();
  await client?.connection.close();
});

async function host(hostId: string, extra: Record<string, unknown>, start = true): Promise<{ sbx: TestSandbox; worker: RunningWorker }> {
  const sbx = await createTestSandbox({ hostId, start, extra });
  const worker = await startWorker({ config: sbx.config, role: 'all', connection, workflowBundle: workflowBundle(), serveMetrics: false });
  cleanups.push(() => sbx.cleanup(), () => worker.shutdown());
  return { sbx, worker };
}
const by = (r: MaintenanceReport, check: string) => r.findings.find((f) => f.check === check)!;
const exists = (p: string) => lstat(p).then(() => true, () => false);

async function awaitPhase(handle: WorkflowHandle, phase: string): Promise<RunbookProgress> {
  for (let i = 0; i < 400; i++) {
    const p = await handle.query<RunbookProgress>('progress').catch(() => undefined);
    if (p?.phase === phase) return p;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${handle.workflowId} never reached phase "${phase}"`);
}

describe('weeklyMaintenance', () => {
  it('every step with real inputs: apt list, log errors, a pg_sleep slow query, memory service, old temp files, archives verified', async () => {
    const { sbx } = await host('weekly-host', { maintenance: { postgres: { slowQueryMs: 200 } }, thresholds: { dbConnectionsPercent: 99 } });
    const outside = await mkdtemp(join(tmpdir(), 'mcp-weekly-outside-'));
    cleanups.push(() => rm(outside, { recursive: true, force: true }));

    // Two error lines in one service's log (the services write ISO-timestamped lines too).
    const fsLog = join(sbx.config.paths.logDir, 'mcp-filesystem.log');
    await appendFile(fsLog, `${new Date().toISOString()} ERROR mcp-filesystem: scan of /data failed: EACCES\n${new Date().toISOString()} WARN mcp-filesystem: retry Failed\n`);
    // A statement that takes 300 ms each time, in the sandbox's database (pg_stat_statements made at provisioning).
    await withPgClient(sbx.config.postgres!, async (c) => {
      await c.query('SELECT pg_sleep(0.3)');
      await c.query('SELECT pg_sleep(0.3)');
    });
    // Temp files: old, new, wrong prefix, and an old link to a file outside.
    const [tmp, varTmp] = sbx.config.paths.tempDirs as [string, string];
    await writeFile(join(tmp, 'mcp_upload_1'), 'x'.repeat(100));
    await writeFile(join(varTmp, 'mcp_cache'), 'y'.repeat(50));
    await writeFile(join(tmp, 'mcp_fresh'), 'z');
    await writeFile(join(tmp, 'other_old'), 'o');
    await writeFile(join(outside, 'mcp_target'), 'keep');
    await symlink(join(outside, 'mcp_target'), join(tmp, 'mcp_link'));
    for (const p of [join(tmp, 'mcp_upload_1'), join(varTmp, 'mcp_cache'), join(tmp, 'other_old'), join(outside, 'mcp_target')]) await makeOld(p, 48);
    await makeOld(join(tmp, 'mcp_link'), 48, { link: true });
    await makeOld(join(tmp, 'mcp_fresh'), 2);
    // One good archive from the backup runbook, and one that does not read back.
    const backup = await client.workflow.start('backup', { taskQueue: sbx.config.temporal.taskQueue, workflowId: `weekly-backup-${Date.now()}`, args: [{ hostId: 'weekly-host' }] });
    handles.push(backup);
    const b = (await backup.result()) as BackupResult;
    await writeFile(join(sbx.config.paths.backupDir, 'mcp_backup_20200101_000000.tar.gz'), 'not gzip at all', { mode: 0o600 });

    const handle = await startRunbook({ client, config: sbx.config, runbook: 'weekly', hostId: 'weekly-host' });
    handles.push(handle);
    const report = (await handle.result()) as MaintenanceReport;
    expect(report.runbook).toBe('weeklyMaintenance');
    expect(report.steps.map((s) => s.step)).toEqual([...WEEKLY_STEPS]);

    // Packages: this machine's real pending updates, reported and not installed.
    const updates = by(report, 'packages.updates');
    // CI is Debian: apt is there and lists without error. Elsewhere this says why it is not ok.
    expect(updates.status, `this machine's real \`apt list --upgradable\` (needs a Debian/Ubuntu host): ${updates.message}`).toBe('ok');
    expect(updates.data).toMatchObject({ listsRefreshed: false });
    expect(by(report, 'packages.security').status).toBe((updates.data.security as number) > 0 ? 'warn' : 'ok');
    expect(by(report, 'packages.upgrade')).toMatchObject({ status: 'ok', data: { installed: false } });
    expect(by(report, 'packages.upgrade').message).toMatch(/not installed: this host only reports/);

    expect(by(report, 'logs.errors.mcp-filesystem')).toMatchObject({ status: 'warn', data: { count: 2, sources: [fsLog] } });
    for (const s of ['mcp-postgres', 'mcp-memory', 'mcp-compliance']) expect(by(report, `logs.errors.${s}`).status).toBe('ok');

    const slow = by(report, 'postgres.slow-queries');
    // Provisioning's own CREATE TABLE / CREATE EXTENSION can pass 200 ms on a busy machine, so the
    // pg_sleep statement is looked up by its text, and every statement listed must really be slow.
    expect(slow).toMatchObject({ status: 'warn', data: { thresholdMs: 200, columns: { mean: 'mean_exec_time' } } });
    const listed = slow.data.queries as Array<{ query: string; calls: number; meanMs: number }>;
    expect(slow.data.count).toBe(listed.length);
    expect(listed.find((q) => q.query === 'SELECT pg_sleep($1)')).toMatchObject({ calls: 2 });
    for (const q of listed) expect(q.meanMs).toBeGreaterThan(200);
    expect(by(report, 'postgres.connections')).toMatchObject({ status: 'ok', data: { thresholdPercent: 99 } });
    expect(by(report, 'postgres.connections').data.connections).toBeGreaterThanOrEqual(1);

    expect(by(report, 'memory.stats')).toMatchObject({ status: 'ok', data: { size: 2 } });

    const temp = by(report, 'temp.cleanup');
    expect(temp).toMatchObject({ status: 'ok', data: { removed: 3, freedBytes: 150 } });
    expect(await exists(join(tmp, 'mcp_upload_1'))).toBe(false);
    expect(await exists(join(tmp, 'mcp_link'))).toBe(false);
    expect(await readFile(join(outside, 'mcp_target'), 'utf8')).toBe('keep');
    expect(await exists(join(tmp, 'mcp_fresh'))).toBe(true);
    expect(await exists(join(tmp, 'other_old'))).toBe(true);

    expect(by(report, `backup.verify.${b.archive!.archive}`)).toMatchObject({ status: 'ok' });
    expect(by(report, 'backup.verify.mcp_backup_20200101_000000.tar.gz').status).toBe('fail');
    expect(report.summary.fail).toBe(1);
    await assertReplays(...handles);
  }, 120_000);
});

describe('weekly package upgrades (apt stand-in: a real apt-get upgrade would change this machine)', () => {
  const standIn = (state: string, ...args: string[]) => [process.execPath, STAND_IN, state, ...args];
  const packagesConfig = (state: string, extra: Record<string, unknown>) => ({
    maintenance: { packages: { refreshCommand: false, listCommand: standIn(state, 'list'), upgradeCommand: standIn(state, 'upgrade'), ...extra } },
  });

  it('an approval covers the updates it was shown: a package pending only after the approval wait installs nothing', async () => {
    const state = join(tmpdir(), `mcp-apt-state-${Date.now()}-changed`);
    cleanups.push(() => rm(state, { force: true }));
    const { sbx } = await host('weekly-changed', packagesConfig(state, { upgradeApprovalTimeoutMinutes: 10 }), false);
    const run = await startRunbook({ client, config: sbx.config, runbook: 'weekly', hostId: 'weekly-changed' });
    handles.push(run);
    await awaitPhase(run, 'awaiting upgrade approval');
    // A new release lands while the operator reads the list.
    await writeFile(state, 'new-release\n');
    await run.executeUpdate('approve', { args: [{ by: 'alice' }] });
    const r = (await run.result()) as MaintenanceReport;
    expect(by(r, 'packages.upgrade')).toMatchObject({
      status: 'warn',
      message: 'nothing installed: the pending updates changed since they were approved (approved by alice); new: linux-image-amd64. Run weekly maintenance again to approve the current list',
      data: { approved: 3, pendingNow: 4, added: ['linux-image-amd64'], installed: false },
    });
    expect(await readFile(state, 'utf8')).not.toContain('upgrade ');
  }, 60_000);

  it('waits for an operator: reject installs nothing; approve installs, once, and says who approved', async () => {
    const state = join(tmpdir(), `mcp-apt-state-${Date.now()}`);
    cleanups.push(() => rm(state, { force: true }));
    const { sbx } = await host('weekly-approve', packagesConfig(state, { upgradeApprovalTimeoutMinutes: 10 }), false);

    const rejected = await startRunbook({ client, config: sbx.config, runbook: 'weekly', hostId: 'weekly-approve' });
    handles.push(rejected);
    const waiting = await awaitPhase(rejected, 'awaiting upgrade approval');
    expect(waiting.detail).toMatch(/^3 updates \(2 security\); approve with `mcp-runbooks approve <workflow id>` within 10 minutes$/);
    expect(await rejected.query<PendingUpgrade>('pendingUpgrade')).toEqual({ awaitingApproval: true, pending: 3, security: 2, packages: ['libssl3', 'openssl', 'tzdata'] });
    expect(await rejected.executeUpdate('reject', { args: [{ by: 'bob' }] })).toEqual({ approved: false, by: 'bob' });
    const r1 = (await rejected.result()) as MaintenanceReport;
    expect(by(r1, 'packages.upgrade')).toMatchObject({ status: 'ok', message: '3 updates (2 security) not installed: rejected by bob' });
    expect(await exists(state)).toBe(false);

    const approved = await startRunbook({ client, config: sbx.config, runbook: 'weekly', hostId: 'weekly-approve' });
    handles.push(approved);
    await awaitPhase(approved, 'awaiting upgrade approval');
    // The wait holds no host lock: a runbook that needs the lock runs to its end meanwhile.
    expect((await hostLockStatus(client, sbx.config))[0]?.state?.holder).toBeUndefined();
    const verify = await client.workflow.start('verifyBackups', { taskQueue: sbx.config.temporal.taskQueue, workflowId: `weekly-approve-verify-${Date.now()}`, args: [{ hostId: 'weekly-approve', all: true }] });
    handles.push(verify);
    await verify.result();
    expect((await approved.query<RunbookProgress>('progress')).phase).toBe('awaiting upgrade approval');
    expect(await approved.executeUpdate('approve', { args: [{ by: 'alice' }] })).toEqual({ approved: true, by: 'alice' });
    // A second decision is refused by the update's validator, and recorded nowhere.
    const again = await approved.executeUpdate('reject', { args: [{ by: 'mallory' }] }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(String((again as WorkflowUpdateFailedError).cause?.message)).toBe('this weekly run was already approved by alice');
    const r2 = (await approved.result()) as MaintenanceReport;
    expect(by(r2, 'packages.upgrade')).toMatchObject({ status: 'ok', message: 'updates installed (approved by alice); 0 still pending', data: { by: 'approved by alice' } });
    expect(await readFile(state, 'utf8')).toBe('upgrade DEBIAN_FRONTEND=noninteractive args=\n');
    // The install took the host lock again.
    const phases = (await approved.query<RunbookProgress>('progress')).phases.map((p) => p.phase);
    expect(phases.slice(phases.indexOf('awaiting upgrade approval'))).toEqual(['awaiting upgrade approval', 'waiting for the host lock', 'packages.upgrade', 'done']);
    await assertReplays(rejected, approved, verify);
  }, 120_000);

  it.each([
    ['allowUpgrades: true installs without waiting', { allowUpgrades: true }, 'updates installed (maintenance.packages.allowUpgrades); 0 still pending', true],
    ['no approval within the timeout installs nothing', { upgradeApprovalTimeoutMinutes: 0.05 }, '3 updates (2 security) not installed: no approval within 0.05 minutes', false],
    ['the default only reports', {}, '3 updates (2 security) not installed: this host only reports (set maintenance.packages.allowUpgrades, or upgradeApprovalTimeoutMinutes to wait for an operator\'s approval)', false],
  ])('%s', async (name, settings, message, installed) => {
    const state = join(tmpdir(), `mcp-apt-state-${Date.now()}`);
    cleanups.push(() => rm(state, { force: true }));
    const hostId = `weekly-${name.split(' ')[0]!.replace(/[^a-z]/gi, '').toLowerCase()}`;
    const { sbx } = await host(hostId, packagesConfig(state, settings), false);
    const handle = await startRunbook({ client, config: sbx.config, runbook: 'weekly', hostId });
    handles.push(handle);
    const report = (await handle.result()) as MaintenanceReport;
    expect(by(report, 'packages.upgrade')).toMatchObject({ status: 'ok', message });
    expect(await exists(state)).toBe(installed);
    // A backups folder that exists but holds nothing is named as such.
    expect(by(report, 'backup.verify')).toMatchObject({ status: 'warn', message: `no archives in ${sbx.config.paths.backupDir}`, data: { exists: true } });
    await assertReplays(handle);
  }, 60_000);
});
