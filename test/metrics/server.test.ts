/** The worker's HTTP endpoints on a real worker. */
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type RunningWorker } from '../../src/worker.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testNativeConnection, workflowBundle } from '../helpers/temporal.js';

let sbx: TestSandbox;
let connection: NativeConnection;
let worker: RunningWorker;
let base: string;

beforeAll(async () => {
  sbx = await createTestSandbox({ hostId: 'metrics-host', start: false });
  connection = await testNativeConnection();
  worker = await startWorker({ config: sbx.config, role: 'all', connection, workflowBundle: workflowBundle() });
  base = worker.metrics!.url;
});
afterAll(async () => {
  await worker?.shutdown();
  await connection?.close();
  await sbx?.cleanup();
});

describe('worker HTTP endpoints', () => {
  it('listen on 127.0.0.1 by default', () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('/metrics serves Prometheus text with process metrics and build info', async () => {
    const r = await fetch(`${base}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    const body = await r.text();
    expect(body).toContain('process_cpu_seconds_total');
    expect(body).toMatch(/mcp_runbooks_build_info\{version="[\d.]+",role="all",host="metrics-host"\} 1/);
  });

  it('/healthz is 200 and /readyz is 200 while both workers poll', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toContain('.host.metrics-host: RUNNING');
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('mcp_runbooks_worker_ready 1');
  });

  it('unknown paths are 404 and other methods 405', async () => {
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('a busy port is a clear error and no worker is left holding the connection', async () => {
    const port = Number(new URL(base).port);
    await expect(
      startWorker({ config: { ...sbx.config, metrics: { ...sbx.config.metrics, port } }, role: 'host', connection, workflowBundle: workflowBundle() }),
    ).rejects.toThrow(`metrics port 127.0.0.1:${port} is in use (set metrics.port)`);
  });

  it('after shutdown the endpoint is gone', async () => {
    const w = await startWorker({ config: { ...sbx.config, hostId: 'metrics-host-2' }, role: 'host', connection, workflowBundle: workflowBundle() });
    const url = w.metrics!.url;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    await w.shutdown();
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
