/** The worker's log lines (`mcp-runbooks worker`, SDK runtime logger) as an operator reads them. */
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecovery } from '../../src/client/operations.js';
import { logMetaJson } from '../../src/temporal/runtime.js';
import { Secret } from '../../src/config/secret.js';
import { spawnCliUntil, type RunningCli } from '../helpers/cli.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { pollUntil, testClient } from '../helpers/temporal.js';

let sbx: TestSandbox;
let worker: RunningCli | undefined;
beforeAll(async () => {
  sbx = await createTestSandbox({ hostId: 'logs-host', start: false });
});
afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker?.exited;
  await sbx?.cleanup();
});

describe('worker logs', () => {
  it('a failed workflow\'s log line carries its message, error class and stack, not "error":{}', async () => {
    worker = await spawnCliUntil(['--config', sbx.configPath, 'worker'], /task queues:/);
    const client = await testClient();
    try {
      const handle = await startRecovery(client, sbx.config, { archive: 'mcp_backup_19990101_000000.tar.gz', hostId: 'logs-host', approve: true });
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    } finally {
      await client.connection.close();
    }
    const line = await pollUntil('the worker logging the failed workflow', async () => worker!.output().split('\n').find((l) => l.includes('Workflow failed')), (l) => l !== undefined, { timeoutMs: 20_000 });
    expect(line).not.toContain('"error":{}');
    expect(line).toContain('refusing to restore mcp_backup_19990101_000000.tar.gz');
    expect(line).toContain('"name":"ApplicationFailure"');
    expect(line).toContain('"stack":');
  });

  it('logMetaJson: errors with their cause, secrets redacted, bigints as strings', () => {
    const e = Object.assign(new Error('outer', { cause: new TypeError('inner') }), { type: 'BackupFailed' });
    const json = JSON.parse(logMetaJson({ error: e, password: new Secret('hunter2', 'env:X'), n: 5n })) as Record<string, Record<string, unknown>>;
    expect(json.error).toMatchObject({ name: 'Error', type: 'BackupFailed', message: 'outer', cause: { name: 'TypeError', message: 'inner' } });
    expect(json.password).toBe('[redacted]');
    expect(json.n).toBe('5');
  });
});
