/**
 * Failure signals survive a worker restart: after a backup failed and a daily
 * run reported a fail finding, a NEW worker process (fresh registry) exports the
 * failure and the fail count again, read back from Temporal, so BackupFailed and
 * MaintenanceFailFindings stay on. Runs refused for bad input are counted.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerMetrics } from '../../src/metrics/registry.js';
import { restoreRunbookOutcomes } from '../../src/metrics/restore-outcomes.js';
import { startWorker } from '../../src/worker.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { resultWithin, testNativeConnection, within, workflowBundle } from '../helpers/temporal.js';
import { blockPort } from '../helpers/port-blocker.js';

let host: TestHost;
const HOST = 'restart-host';

let scratch: string;

beforeAll(async () => {
  // The backups folder is a regular file: every backup fails.
  scratch = await mkdtemp(join(tmpdir(), 'mcp-restart-'));
  const notAFolder = join(scratch, 'backups-is-a-file');
  await writeFile(notAFolder, 'x');
  host = await startTestHost({ hostId: HOST, extra: { paths: { backupDir: notAFolder } } });
}, 120_000);
afterAll(async () => {
  await host?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const metricValue = async (metric: { get(): Promise<{ values: Array<{ labels: Record<string, unknown>; value: number }> }> }, labels: Record<string, string>) =>
  (await metric.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;

function start(type: string, input: unknown, tag: string): Promise<WorkflowHandle> {
  return host.client.workflow.start(type, { taskQueue: host.sbx.config.temporal.taskQueue, workflowId: `restart-${tag}-${Date.now()}`, args: [input] });
}

describe('outcome metrics after a worker restart', () => {
  it('a new worker exports the failed backup and the daily fail finding again, and counts refused input', async () => {
    const { sbx } = host;
    // A failed backup.
    const failed = await start('backup', { hostId: HOST }, 'backup');
    await expect(resultWithin(failed)).rejects.toBeInstanceOf(WorkflowFailedError);
    const failedClose = (await failed.describe()).closeTime!.getTime() / 1000;
    // A daily run with one fail finding: mcp-memory cannot start while its port is taken.
    await within('stopping mcp-memory', sbx.manager.stop('mcp-memory'));
    const blocker = await blockPort(sbx.config.sandbox!.memoryPort);
    let daily: WorkflowHandle;
    try {
      daily = await start('dailyMaintenance', { hostId: HOST }, 'daily');
      await resultWithin(daily);
    } finally {
      await blocker.release();
      await within('starting mcp-memory again', sbx.manager.start('mcp-memory'));
    }
    const dailyClose = (await daily.describe()).closeTime!.getTime() / 1000;
    // Refused input: counted under host "unknown" and outcome invalid-input.
    await expect(resultWithin(await start('backup', { hostid: HOST }, 'typo'))).rejects.toMatchObject({ cause: { type: 'InvalidInput', message: expect.stringMatching(/input\.hostid: unknown field/) } });
    expect(await metricValue(host.worker.registry.runbookRuns, { runbook: 'backup', host: 'unknown', outcome: 'invalid-input' })).toBe(1);

    // The first worker stops; a second one starts with an empty registry.
    await within('the first worker shutting down', host.worker.shutdown());
    const connection = await testNativeConnection();
    const second = await startWorker({ config: sbx.config, role: 'orchestrator', connection, workflowBundle: workflowBundle(), serveMetrics: false, probes: false });
    try {
      const restored = await within('the second worker reading outcomes back from visibility', second.restored);
      expect(restored.map((r) => `${r.runbook}@${r.host}`).sort()).toEqual([`backup@${HOST}`, `dailyMaintenance@${HOST}`]);
      const m = second.registry;
      // Visibility times and the workflow's own end differ by milliseconds at most.
      expect(Math.abs((await metricValue(m.runbookLastFailure, { runbook: 'backup', host: HOST }))! - failedClose)).toBeLessThan(2);
      expect(await metricValue(m.runbookLastSuccess, { runbook: 'backup', host: HOST })).toBeUndefined();
      expect(await metricValue(m.findings, { runbook: 'dailyMaintenance', host: HOST, status: 'fail' })).toBe(1);
      expect(Math.abs((await metricValue(m.runbookLastSuccess, { runbook: 'dailyMaintenance', host: HOST }))! - dailyClose)).toBeLessThan(2);
      // Read back, not re-counted: the run counters start from zero in the new process.
      expect(await metricValue(m.runbookRuns, { runbook: 'backup', host: HOST, outcome: 'failure' })).toBeUndefined();
    } finally {
      await second.shutdown();
      await connection.close();
    }

    // Hosts are read in groups (one visibility query per runbook and up to 100 hosts), each host its own:
    // 150 hosts that never ran around ours, and a limit of one run per host, still find its newest of each.
    const others = Array.from({ length: 150 }, (_, i) => `never-ran-${i}`);
    const grouped = await restoreRunbookOutcomes({ client: host.client, hosts: [...others.slice(0, 120), HOST, ...others.slice(120)], metrics: createWorkerMetrics({ role: 'orchestrator', hostId: 'x' }), limit: 1 });
    expect(grouped.map((r) => `${r.runbook}@${r.host}`).sort()).toEqual([`backup@${HOST}`, `dailyMaintenance@${HOST}`]);
  }, 180_000);
});
