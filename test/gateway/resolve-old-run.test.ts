/**
 * A resolved alert whose remediation run was started by an older deployment
 * (its `restartService` has no `stopIfUnchanged` handler): the gateway answers
 * `left running`, naming why, instead of an error that becomes a 502 and that
 * Alertmanager would resend at every group interval. Real dev server; the old
 * run is a real workflow of that type on its own task queue.
 */
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.js';
import { AlertRemediator, type AlertmanagerPayload } from '../../src/gateway/alertmanager.js';
import { temporalAddress, testClient, uniqueTaskQueue } from '../helpers/temporal.js';

const TASK_QUEUE = uniqueTaskQueue('am-old');
const HOST = `old-${TASK_QUEUE.slice(-8)}`;
let client: Client;
let connection: NativeConnection;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  client = await testClient();
  connection = await NativeConnection.connect({ address: temporalAddress() });
  worker = await Worker.create({
    connection,
    taskQueue: TASK_QUEUE,
    workflowsPath: fileURLToPath(new URL('../fixtures/workflows/old-restart-service.ts', import.meta.url)),
  });
  running = worker.run();
}, 120_000);
afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
});

const config = {
  hosts: [HOST],
  temporal: { taskQueue: TASK_QUEUE, namespace: 'default' },
  gateway: {
    maxConcurrentRemediations: 3,
    alertRules: [{ name: 'service-down', alert: 'ServiceDown', matchers: {}, runbook: 'restart-service', hostLabel: 'host', labels: { service: 'service' }, input: {}, throttleMinutes: 30 }],
  },
} as unknown as Config;
const resolved: AlertmanagerPayload = {
  version: '4',
  groupKey: '{}:{alertname="ServiceDown"}',
  status: 'resolved',
  receiver: 'gateway',
  alerts: [{ status: 'resolved', labels: { alertname: 'ServiceDown', host: HOST, service: 'mcp-memory' }, annotations: {}, startsAt: '2026-12-07T09:00:00Z', fingerprint: `fp-${HOST}` }],
} as AlertmanagerPayload;

describe('a resolved alert and a remediation from an older deployment', () => {
  it('is answered "left running", naming that the run does not take stopIfUnchanged; the run goes on', async () => {
    const remediator = new AlertRemediator(config, client, { received: () => undefined, action: () => undefined });
    // No run yet: nothing to stop, and the answer names the workflow id the alert maps to.
    const [before] = await remediator.handle(resolved);
    expect(before).toMatchObject({ action: 'nothing to stop' });
    const workflowId = before!.workflowId!;
    const handle = await client.workflow.start('restartService', { taskQueue: TASK_QUEUE, workflowId, args: [] });
    try {
      const [after] = await remediator.handle(resolved);
      expect(after).toMatchObject({ host: HOST, workflowId, action: 'left running' });
      expect(after!.reason).toMatch(/does not take stopIfUnchanged \(a run of an older version\): it finishes/);
      expect((await handle.describe()).status.name).toBe('RUNNING');
    } finally {
      await handle.terminate('test over');
    }
  }, 90_000);
});
