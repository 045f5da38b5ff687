/** healthCheck end to end: real dev server, real worker, real sandbox processes. */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRunbook, startRunbook } from '../../src/client/run-runbook.js';
import type { RunbookReport } from '../../src/common/report.js';
import { startWorker } from '../../src/worker.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { assertReplays, workflowBundle } from '../helpers/temporal.js';
import type { NativeConnection } from '@temporalio/worker';

let host: TestHost;
let sbx: TestSandbox;
let client: Client;
let connection: NativeConnection;

beforeAll(async () => {
  host = await startTestHost({ hostId: 'hc-host', extra: { thresholds: { diskPercent: 99, memoryPercent: 99 } } });
  ({ sbx, client, connection } = host);
});
afterAll(() => host?.close());

describe('healthCheck', () => {
  it('reports every service, disk and memory of the host', async () => {
    const { workflowId, report } = await runRunbook({ client, config: sbx.config, runbook: 'health-check', hostId: 'hc-host' });
    expect(workflowId).toMatch(/^health-check-hc-host-\d{8}T\d{6}\.\d{3}Z$/);
    expect(report).toMatchObject({ runbook: 'healthCheck', hostId: 'hc-host' });
    expect(Date.parse(report.finishedAt)).toBeGreaterThanOrEqual(Date.parse(report.startedAt));
    expect(report.findings.map((f) => f.check)).toEqual([
      'service.mcp-filesystem',
      'service.mcp-postgres',
      'service.mcp-memory',
      'service.mcp-compliance',
      'system.disk',
      'system.memory',
    ]);
    expect(report.findings.every((f) => f.status === 'ok')).toBe(true);
    const disk = report.findings.find((f) => f.check === 'system.disk')!;
    expect(disk.data).toMatchObject({ path: sbx.config.paths.installRoot, thresholdPercent: 99 });
    expect(disk.data.usedPercent).toBeGreaterThan(0);
    expect(report.summary).toEqual({ status: 'ok', ok: 6, warn: 0, fail: 0, text: '6 ok, 0 warn, 0 fail' });
    await assertReplays(client.workflow.getHandle(workflowId));
  });

  it('a stopped service is a fail finding; the other checks still run', async () => {
    await sbx.manager.stop('mcp-memory');
    let report: RunbookReport;
    try {
      ({ report } = await runRunbook({ client, config: sbx.config, runbook: 'health-check', hostId: 'hc-host' }));
    } finally {
      await sbx.manager.start('mcp-memory');
    }
    const memory = report.findings.find((f) => f.check === 'service.mcp-memory')!;
    expect(memory).toMatchObject({ status: 'fail', message: 'mcp-memory is inactive (inactive)', data: { state: 'inactive' } });
    expect(report.findings).toHaveLength(6);
    expect(report.summary).toMatchObject({ status: 'fail', fail: 1, ok: 5 });
    expect(report.summary.text).toContain('failed: service.mcp-memory');
  });

  it('thresholds turn disk and memory into warnings', async () => {
    const tight = await createTestSandbox({ hostId: 'hc-tight', start: false, extra: { thresholds: { diskPercent: 1, memoryPercent: 1 } } });
    const w = await startWorker({ config: tight.config, role: 'all', connection, workflowBundle: workflowBundle(), serveMetrics: false });
    try {
      const { report } = await runRunbook({ client, config: tight.config, runbook: 'health-check', hostId: 'hc-tight' });
      expect(report.findings.find((f) => f.check === 'system.disk')).toMatchObject({ status: 'warn', message: expect.stringContaining('threshold 1%') as unknown });
      expect(report.findings.find((f) => f.check === 'system.memory')).toMatchObject({ status: 'warn' });
      // start: false: none of the four services runs on this host.
      expect(report.findings.filter((f) => f.check.startsWith('service.')).map((f) => [f.check, f.status])).toEqual([
        ['service.mcp-filesystem', 'fail'],
        ['service.mcp-postgres', 'fail'],
        ['service.mcp-memory', 'fail'],
        ['service.mcp-compliance', 'fail'],
      ]);
    } finally {
      await w.shutdown();
      await tight.cleanup();
    }
  });

  it('an unknown host fails at once with a message that names the known hosts', async () => {
    const handle = await startRunbook({ client, config: sbx.config, runbook: 'health-check', hostId: 'nope' });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(String((err as WorkflowFailedError).cause?.message)).toContain('unknown host "nope": this orchestrator routes to hc-host');
    await assertReplays(handle);
  });

  it('starts from the temporal CLI shape of input too (null input means the default host)', async () => {
    const handle = await client.workflow.start('healthCheck', {
      taskQueue: sbx.config.temporal.taskQueue,
      workflowId: `hc-null-input-${Date.now()}`,
      args: [null],
    });
    const report = (await handle.result()) as RunbookReport;
    expect(report.hostId).toBe('hc-host');
  });
});
