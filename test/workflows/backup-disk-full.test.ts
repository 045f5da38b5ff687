/** The backups folder on a tiny tmpfs: the archive step runs out of space. */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type RunningWorker } from '../../src/worker.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testClient, testNativeConnection, workflowBundle } from '../helpers/temporal.js';
import { sandboxLayout } from '../../src/dev/sandbox/layout.js';

let sbx: TestSandbox;
let client: Client;
let connection: NativeConnection;
let worker: RunningWorker;
let small: string;

beforeAll(async () => {
  // The mount point lives outside the sandbox so the sandbox can be created around it.
  small = await mkdtemp(join(tmpdir(), 'mcp-small-'));
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', small]);
  const staging = await mkdtemp(join(tmpdir(), 'mcp-staging-'));
  sbx = await createTestSandbox({ hostId: 'full-host', extra: { paths: { backupDir: small }, backup: { stagingDir: staging } } });
  const layout = sandboxLayout(sbx.root);
  await mkdir(join(layout.installRoot, 'memory_db'), { recursive: true });
  // Incompressible data: the archive cannot fit in 256 KiB.
  await writeFile(join(layout.installRoot, 'memory_db', 'big.bin'), randomBytes(2 * 1024 * 1024));
  client = await testClient();
  connection = await testNativeConnection();
  worker = await startWorker({ config: sbx.config, role: 'all', connection, workflowBundle: workflowBundle(), serveMetrics: false });
});
afterAll(async () => {
  await worker?.shutdown();
  await connection?.close();
  await client?.connection.close();
  await sbx?.cleanup();
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
    expect(await readdir(sbx.config.backup.stagingDir)).toEqual([]);
  }, 120_000);
});
