/** The backups folder on a tiny tmpfs: the archive step runs out of space. */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../helpers/host.js';
import type { TestSandbox } from '../helpers/sandbox.js';
import { sandboxLayout } from '../../src/dev/sandbox/layout.js';

let host: TestHost;
let sbx: TestSandbox;
let client: Client;
let small: string;

beforeAll(async () => {
  // The mount point lives outside the sandbox so the sandbox can be created around it.
  small = await mkdtemp(join(tmpdir(), 'mcp-small-'));
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', small]);
  const staging = await mkdtemp(join(tmpdir(), 'mcp-staging-'));
  host = await startTestHost({
    hostId: 'full-host',
    extra: { paths: { backupDir: small }, backup: { stagingDir: staging } },
    // Incompressible data: the archive cannot fit in 256 KiB.
    prepare: async (s) => {
      const layout = sandboxLayout(s.root);
      await mkdir(join(layout.installRoot, 'memory_db'), { recursive: true });
      await writeFile(join(layout.installRoot, 'memory_db', 'big.bin'), randomBytes(2 * 1024 * 1024));
    },
  });
  ({ sbx, client } = host);
});
afterAll(async () => {
  await host?.close();
  if (small) await execa('umount', [small], { reject: false });
});

describe('disk full during the archive step', () => {
  it('removes the partial archive, leaves every service running and fails with a clear message', async () => {
    const handle = await client.workflow.start('backup', { taskQueue: sbx.config.temporal.taskQueue, workflowId: `full-${Date.now()}`, args: [{ hostId: 'full-host' }] });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const message = String((err as WorkflowFailedError).cause?.message);
    expect(message).toContain(`no space left on the device holding ${small}`);
    expect(message).toContain('the partial archive was removed');
    expect((await readdir(small)).filter((f) => f.includes('.tar.gz'))).toEqual([]);
    for (const s of sbx.manager.services) expect((await sbx.manager.status(s)).state).toBe('active');
    // The run's own staging folder (the dump) is gone; the snapshot copy kept for the next backup stays.
    expect(await readdir(sbx.config.backup.stagingDir)).toEqual(['mcp_mirror_full-host']);
  }, 120_000);
});
