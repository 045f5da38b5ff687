/** The host worker's probes on real files and a real HTTP server, read back from the metrics registry. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBackup } from '../../src/archive/verify.js';
import { manifestName } from '../../src/common/archive-names.js';
import { backupProbe, memoryProbe } from '../../src/metrics/probes.js';
import { createWorkerMetrics, type WorkerMetrics } from '../../src/metrics/registry.js';
import { writeCraftedArchive } from '../helpers/crafted-archive.js';
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

describe('backupProbe', () => {
  const backupDir = () => sbx.config.paths.backupDir;
  const write = async (name: string, kind: 'backup' | 'emergency') => {
    const root = 'data';
    await writeCraftedArchive(backupDir(), name, [{ archivePath: root, originalPath: '/data' }], [
      { path: `${root}/`, type: 'Directory' },
      { path: `${root}/state.json`, type: 'File', content: `{"kind":"${kind}"}` },
    ], { kind });
  };
  const BACKUP = 'mcp_backup_20260101_020000.tar.gz';
  const EMERGENCY = 'mcp_backup_20260102_030000.tar.gz';

  it('reports the newest backup, not a newer emergency archive left by a recovery', async () => {
    await mkdir(backupDir(), { recursive: true });
    await write(BACKUP, 'backup');
    expect((await verifyBackup({ backupDir: backupDir(), archive: BACKUP })).status).toBe('ok');
    await write(EMERGENCY, 'emergency');
    const m: WorkerMetrics = createWorkerMetrics({ role: 'host', hostId: 'probe-host' });
    await backupProbe(sbx.config, m)();

    expect(await value(m.backups, 'probe-host')).toBe(2);
    expect(await value(m.backupNewest, 'probe-host')).toBe(Date.UTC(2026, 0, 1, 2, 0, 0) / 1000);
    expect(await value(m.backupNewestVerified, 'probe-host')).toBe(1);
    expect(await value(m.backupNewestSize, 'probe-host')).toBe((await stat(join(backupDir(), BACKUP))).size);
  });

  it('with only emergency archives there is no newest backup, so BackupTooOld sees none', async () => {
    await rm(join(backupDir(), BACKUP));
    await rm(join(backupDir(), manifestName(BACKUP)));
    const m = createWorkerMetrics({ role: 'host', hostId: 'probe-host' });
    await backupProbe(sbx.config, m)();

    expect(await value(m.backups, 'probe-host')).toBe(1);
    expect(await value(m.backupNewest, 'probe-host')).toBeUndefined();
    expect(await value(m.backupNewestVerified, 'probe-host')).toBeUndefined();
  });
});

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
