/**
 * A cleanup step that keeps failing ends within its bound and frees the host
 * lock: a tmpfs mounted inside the backup's staging folder makes every removal
 * fail with EBUSY, as a busy mount or file would on a real host. The backup
 * still verifies, reports the folder to remove by hand, and the next runbook on
 * the host runs at once; `status` showed what the holder was doing meanwhile.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostLockStatus } from '../../src/client/operations.js';
import type { BackupResult } from '../../src/workflows/index.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { pollUntil } from '../helpers/temporal.js';

let host: TestHost;
let mounted: string | undefined;

beforeAll(async () => {
  host = await startTestHost({ hostId: 'stuck-host' });
}, 120_000);
afterAll(async () => {
  if (mounted) await execa('umount', ['-l', mounted], { reject: false });
  await host?.close();
});

describe('a cleanup that keeps failing', () => {
  it('ends within its retry bound, the backup verifies with a warning naming the folder, and the lock is free at once', async () => {
    const { sbx, client } = host;
    const stagingRoot = sbx.config.backup.stagingDir;
    const t0 = Date.now();
    const handle = await client.workflow.start('backup', { taskQueue: sbx.config.temporal.taskQueue, workflowId: `stuck-${t0}`, args: [{ hostId: 'stuck-host' }] });
    // As soon as the run's staging folder exists, a mount inside it makes it impossible to remove.
    const runDir = await pollUntil(
      'the run\'s staging folder',
      async () => (await readdir(stagingRoot).catch(() => [] as string[])).find((n) => n.startsWith('mcp_backup_')),
      (n) => n !== undefined,
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    mounted = join(stagingRoot, runDir!, 'busy-mount');
    await mkdir(mounted, { recursive: true });
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mounted]);
    const statusMeanwhile = await pollUntil('status naming the holder\'s step', async () => (await hostLockStatus(client, sbx.config))[0]?.holderPhase?.phase, (p) => p !== undefined, { timeoutMs: 30_000, intervalMs: 100 });
    expect(['snapshot', 'archive', 'verify', 'plan', 'retention', 'waiting for the host lock']).toContain(statusMeanwhile);

    const result = (await handle.result()) as BackupResult;
    const seconds = (Date.now() - t0) / 1000;
    expect(result.verification?.status).toBe('ok');
    const warn = result.findings.find((f) => f.check === 'backup.staging');
    expect(warn?.status).toBe('warn');
    expect(warn?.message).toContain(`staging folder ${join(stagingRoot, runDir!)} could not be removed`);
    expect(warn?.message).toMatch(/EBUSY/);
    // Five attempts with back-off (1+2+4+8 s) and the rest of the backup: well under a minute and a half, not an hour.
    expect(seconds).toBeLessThan(90);
    expect(existsSync(mounted)).toBe(true);
    // Free at once: the next runbook does not wait.
    expect((await hostLockStatus(client, sbx.config))[0]?.state?.holder).toBeUndefined();
    const next = await client.workflow.start('healthCheck', { taskQueue: sbx.config.temporal.taskQueue, workflowId: `stuck-next-${t0}`, args: [{ hostId: 'stuck-host' }] });
    await next.result();
    for (const s of sbx.manager.services) expect((await sbx.manager.status(s)).state).toBe('active');
  }, 150_000);
});
