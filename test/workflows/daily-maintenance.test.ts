/** dailyMaintenance (seed 4.1) on the real dev server, with real sandbox services, files and logrotate. */
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRunbook } from '../../src/client/run-runbook.js';
import type { RunbookProgress } from '../../src/common/progress.js';
import type { BackupResult, MaintenanceReport } from '../../src/workflows/index.js';
import { DAILY_STEPS } from '../../src/workflows/index.js';
import { makeOld } from '../helpers/files.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import type { TestSandbox } from '../helpers/sandbox.js';
import { assertReplays } from '../helpers/temporal.js';
import { blockPort } from '../helpers/port-blocker.js';

let host: TestHost;
let sbx: TestSandbox;
let client: Client;
let outside: string;
const handles: WorkflowHandle[] = [];

beforeAll(async () => {
  // A 1 % disk threshold: the disk is "full", so the old-log cleanup runs for real.
  host = await startTestHost({ hostId: 'daily-host', extra: { thresholds: { diskPercent: 1, memoryPercent: 99 } } });
  ({ sbx, client } = host);
  outside = await mkdtemp(join(tmpdir(), 'mcp-daily-outside-'));
});
afterAll(async () => {
  await host?.close();
  if (outside) await rm(outside, { recursive: true, force: true });
});

async function daily(): Promise<{ handle: WorkflowHandle; report: MaintenanceReport }> {
  const handle = await startRunbook({ client, config: sbx.config, runbook: 'daily', hostId: 'daily-host' });
  handles.push(handle);
  return { handle, report: (await handle.result()) as MaintenanceReport };
}
const by = (r: MaintenanceReport, check: string) => r.findings.find((f) => f.check === check)!;
const exists = (p: string) => lstat(p).then(() => true, () => false);

async function kill(service: string): Promise<void> {
  const pid = Number((await readFile(join(sbx.root, 'run', `${service}.pid`), 'utf8')).trim());
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && (await sbx.manager.status(service)).state === 'active'; i++) await new Promise((r) => setTimeout(r, 50));
  expect((await sbx.manager.status(service)).state).toBe('inactive');
}

describe('dailyMaintenance', () => {
  it('starts a killed service, deletes old logs above the disk threshold (no link followed), rotates logs, reports backups', async () => {
    const logDir = sbx.config.paths.logDir;
    const old = { 'old-a.log': 'a'.repeat(1000), 'nested/old-b.log': 'b'.repeat(500) };
    await mkdir(join(logDir, 'nested'), { recursive: true, mode: 0o750 });
    for (const [rel, content] of Object.entries(old)) {
      await writeFile(join(logDir, rel), content);
      await makeOld(join(logDir, rel), 8 * 24);
    }
    await writeFile(join(logDir, 'recent.log'), 'recent\n');
    await makeOld(join(logDir, 'recent.log'), 6 * 24);
    await writeFile(join(outside, 'elsewhere.log'), 'not ours\n');
    await makeOld(join(outside, 'elsewhere.log'), 30 * 24);
    await symlink(outside, join(logDir, 'linked'));
    await kill('mcp-compliance');

    const { handle, report } = await daily();
    expect(handle.workflowId).toMatch(/^daily-daily-host-\d{8}T\d{6}\.\d{3}Z$/);
    expect(report).toMatchObject({ runbook: 'dailyMaintenance', hostId: 'daily-host' });
    expect(report.steps.map((s) => s.step)).toEqual([...DAILY_STEPS]);
    expect(report.findings.map((f) => f.check)).toEqual([
      'service.mcp-filesystem',
      'service.mcp-postgres',
      'service.mcp-memory',
      'service.mcp-compliance',
      'system.disk',
      'logs.cleanup',
      'system.memory',
      'backup.status',
      'logs.rotate',
    ]);

    // The killed service was started, and is really up.
    expect(by(report, 'service.mcp-compliance')).toMatchObject({ status: 'warn', data: { before: 'inactive', state: 'active', action: 'started' } });
    expect(by(report, 'service.mcp-compliance').message).toBe('mcp-compliance was inactive; started, and it is active now (find out why it stopped)');
    expect((await sbx.manager.status('mcp-compliance')).state).toBe('active');
    expect(by(report, 'service.mcp-memory')).toMatchObject({ status: 'ok', message: 'mcp-memory is active' });

    // Above the threshold: old *.log files went, and their bytes are reported; nothing new, nothing behind the link.
    expect(by(report, 'system.disk')).toMatchObject({ status: 'warn', data: { thresholdPercent: 1 } });
    const cleanup = by(report, 'logs.cleanup');
    expect(cleanup).toMatchObject({ status: 'ok', data: { ran: true, removedCount: 2, freedBytes: 1500, maxAgeDays: 7 } });
    expect((cleanup.data.removed as string[]).sort()).toEqual([join(logDir, 'nested/old-b.log'), join(logDir, 'old-a.log')]);
    expect(await exists(join(logDir, 'old-a.log'))).toBe(false);
    expect(await exists(join(logDir, 'recent.log'))).toBe(true);
    expect(await readFile(join(outside, 'elsewhere.log'), 'utf8')).toBe('not ours\n');

    expect(by(report, 'system.memory').status).toBe('ok');
    expect(by(report, 'backup.status')).toMatchObject({ status: 'warn', message: `no backup archives in ${sbx.config.paths.backupDir}` });

    // The sandbox's logrotate file rotated every service log (copytruncate: the services keep writing).
    const rotate = by(report, 'logs.rotate');
    expect(rotate.status).toBe('ok');
    for (const s of sbx.manager.services) expect(rotate.data.rotated).toContain(join(logDir, `${s}.log`));
    expect(await readdir(logDir)).toContain('mcp-memory.log.1');

    // Progress: every step showed in the query, in order, after the lock.
    const progress = await handle.query<RunbookProgress>('progress');
    expect(progress.phases.map((p) => p.phase)).toEqual(['starting', 'waiting for the host lock', ...DAILY_STEPS, 'done']);
    expect(progress.phases.find((p) => p.phase === 'logs.rotate')?.detail).toBe('step 5 of 5');
    expect(report.summary.fail).toBe(0);
    await assertReplays(handle);
  });

  it('a stopped service that cannot start is a fail finding; every other check still runs', async () => {
    await sbx.manager.stop('mcp-memory');
    // Something else holds the memory service's port, so it exits at start.
    const blocker = await blockPort(sbx.config.sandbox!.memoryPort);
    let report: MaintenanceReport;
    try {
      ({ report } = await daily());
    } finally {
      await blocker.release();
      await sbx.manager.start('mcp-memory');
    }
    const memory = by(report, 'service.mcp-memory');
    expect(memory).toMatchObject({ status: 'fail', data: { before: 'inactive', action: 'start failed' } });
    expect(memory.message).toMatch(/^mcp-memory was inactive and did not start: start mcp-memory: .* exited with code 1: .*EADDRINUSE/);
    expect(report.findings).toHaveLength(9);
    expect(report.summary).toMatchObject({ status: 'fail', fail: 1 });
    expect(report.summary.text).toContain('failed: service.mcp-memory');
    expect(report.steps.find((s) => s.step === 'services')?.status).toBe('fail');
  }, 120_000);

  it('waits for a backup holding the host lock, so it never sees services the backup stopped (seed defect 2)', async () => {
    // Every service runs before the backup (an earlier case stops one): "ok" below then means none had to be started.
    for (const s of sbx.manager.services) if ((await sbx.manager.status(s)).state !== 'active') await sbx.manager.start(s);
    const backup = await client.workflow.start('backup', { taskQueue: sbx.config.temporal.taskQueue, workflowId: `daily-vs-backup-${Date.now()}`, args: [{ hostId: 'daily-host' }] });
    handles.push(backup);
    // Daily maintenance is started only once the backup holds the lock, so it must queue behind it.
    let holding = false;
    for (let i = 0; i < 200 && !holding; i++) {
      const p = await backup.query<RunbookProgress>('progress').catch(() => undefined);
      holding = Boolean(p && p.phase !== 'starting' && p.phase !== 'waiting for the host lock');
      if (!holding) await new Promise((r) => setTimeout(r, 50));
    }
    if (!holding) throw new Error(`backup ${backup.workflowId} did not take the host lock within 10 s`);
    const { handle, report } = await daily();
    const b = (await backup.result()) as BackupResult;
    expect(b.summary.fail).toBe(0);
    expect(b.downtime.length).toBeGreaterThan(0);
    // Daily really started while the backup ran (it would otherwise prove nothing about waiting) ...
    const dailyStarted = (await handle.describe()).startTime.getTime();
    expect(dailyStarted).toBeLessThan(Date.parse(b.finishedAt));
    // ... and looked at the services only after the backup had finished.
    const progress = await handle.query<RunbookProgress>('progress');
    const servicesAt = progress.phases.find((p) => p.phase === 'services')!.at;
    expect(Date.parse(servicesAt)).toBeGreaterThanOrEqual(Date.parse(b.finishedAt));
    // Every service was up when daily looked: none had to be started.
    for (const s of sbx.manager.services) expect(by(report, `service.${s}`).status).toBe('ok');
    expect(by(report, 'backup.status')).toMatchObject({ status: 'ok', data: { count: 1, newest: b.archive!.archive } });
    await assertReplays(...handles);
  }, 120_000);
});
