/** Activities route by host id: each host's activities run on that host's worker and nowhere else. */
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRunbook } from '../../src/client/run-runbook.js';
import { startWorker, type RunningWorker } from '../../src/worker.js';
import { loadConfig } from '../../src/config/load.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { assertReplays, testClient, testNativeConnection, uniqueTaskQueue, workflowBundle } from '../helpers/temporal.js';

const taskQueue = uniqueTaskQueue('routing');
let h1: TestSandbox;
let h2: TestSandbox;
let client: Client;
let connection: NativeConnection;
const workers: RunningWorker[] = [];

beforeAll(async () => {
  [h1, h2] = await Promise.all([
    createTestSandbox({ hostId: 'h1', hosts: ['h1', 'h2'], taskQueue }),
    createTestSandbox({ hostId: 'h2', hosts: ['h1', 'h2'], taskQueue }),
  ]);
  client = await testClient();
  connection = await testNativeConnection();
  const common = { connection, workflowBundle: workflowBundle(), serveMetrics: false };
  // An orchestrator that is not itself a host, and one host worker per sandbox.
  const orchestratorConfig = { ...loadConfig({ path: h1.configPath, env: {} }), hostId: 'orchestrator-only' };
  workers.push(await startWorker({ ...common, config: orchestratorConfig, role: 'orchestrator' }));
  workers.push(await startWorker({ ...common, config: h1.config, role: 'host' }));
  workers.push(await startWorker({ ...common, config: h2.config, role: 'host' }));
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.shutdown()));
  await connection?.close();
  await client?.connection.close();
  await Promise.all([h1?.cleanup(), h2?.cleanup()]);
});

interface ActivityRun {
  activityType: string;
  taskQueue: string;
  identity: string;
}

async function activityRuns(workflowId: string): Promise<ActivityRun[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, { activityType: string; taskQueue: string }>();
  const runs: ActivityRun[] = [];
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), { activityType: s.activityType?.name ?? '', taskQueue: s.taskQueue?.name ?? '' });
    const started = e.activityTaskStartedEventAttributes;
    if (started) runs.push({ ...scheduled.get(String(started.scheduledEventId))!, identity: started.identity ?? '' });
  }
  return runs;
}

describe('host routing', () => {
  it.each(['h1', 'h2'] as const)('%s: every activity ran on that host\'s worker, on its own queue, against its own sandbox', async (hostId) => {
    const own = hostId === 'h1' ? h1 : h2;
    const other = hostId === 'h1' ? h2 : h1;
    const ownWorker = workers[hostId === 'h1' ? 1 : 2]!;
    const otherWorker = workers[hostId === 'h1' ? 2 : 1]!;

    const { workflowId, report } = await runRunbook({ client, config: own.config, runbook: 'health-check', hostId });
    expect(report.hostId).toBe(hostId);
    expect(report.summary.fail).toBe(0);
    expect(report.findings.find((f) => f.check === 'system.disk')?.data.path).toBe(own.config.paths.installRoot);
    expect(JSON.stringify(report)).not.toContain(other.root);

    const runs = await activityRuns(workflowId);
    expect(runs.map((r) => r.activityType).sort()).toEqual(['checkDisk', 'checkMemory', 'checkServices']);
    for (const run of runs) {
      expect(run.taskQueue).toBe(`${taskQueue}.host.${hostId}`);
      expect(run.identity).toBe(ownWorker.identities[0]);
      expect(run.identity).not.toBe(otherWorker.identities[0]);
      expect(run.identity).not.toBe(workers[0]!.identities[0]);
    }
    await assertReplays(client.workflow.getHandle(workflowId));
  });
});
