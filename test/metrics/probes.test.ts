/** The host worker's probes on real files and a real HTTP server, read back from the metrics registry. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryProbe } from '../../src/metrics/probes.js';
import { createWorkerMetrics } from '../../src/metrics/registry.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

let sbx: TestSandbox;

beforeAll(async () => {
  sbx = await createTestSandbox({ hostId: 'probe-host', start: false });
}, 60_000);
afterAll(async () => {
  await sbx?.cleanup();
});

/** The value of a gauge or counter for `host`, or undefined when the series is absent. */
async function value(metric: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown>; metricName?: string }> }> }, host: string, metricName?: string) {
  const { values } = await metric.get();
  return values.find((v) => v.labels.host === host && (metricName === undefined || v.metricName === metricName))?.value;
}

describe('memoryProbe', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    // Accepts every request and never answers: a hung memory service.
    server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('a service that hangs is down and its time until the timeout is observed, so HighResponseTime can fire', async () => {
    const config = { ...sbx.config, memoryService: { ...sbx.config.memoryService, url, timeoutSeconds: 1.5 } };
    const m = createWorkerMetrics({ role: 'host', hostId: 'probe-host' });
    await memoryProbe(config, m)();

    expect(await value(m.memoryUp, 'probe-host')).toBe(0);
    expect(await value(m.memoryLatency, 'probe-host', 'mcp_memory_request_duration_seconds_count')).toBe(1);
    const sum = (await value(m.memoryLatency, 'probe-host', 'mcp_memory_request_duration_seconds_sum'))!;
    expect(sum).toBeGreaterThanOrEqual(1.4);
    expect(sum).toBeLessThan(10);
    // Above the alert's 1 s threshold: the observation sits in the 2.5 s bucket, not the 1 s one.
    const { values } = await m.memoryLatency.get();
    const bucket = (le: number) => values.find((v) => v.metricName === 'mcp_memory_request_duration_seconds_bucket' && (v.labels as Record<string, unknown>).le === le)?.value;
    expect(bucket(1)).toBe(0);
    expect(bucket(2.5)).toBe(1);
  });
});
