/**
 * SIGTERM with an activity in flight: the worker exits 0 within its bound, and
 * the workflow completes on a restarted worker.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRunbook } from '../../src/client/run-runbook.js';
import type { RunbookReport } from '../../src/common/report.js';
import { SANDBOX_CTL, PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { assertReplays, testClient } from '../helpers/temporal.js';
import { spawnCliUntil } from '../helpers/cli.js';

let sbx: TestSandbox;
let client: Client;
let marker: string;
/** The worker's shutdown times, as the config file the CLI reads sets them. */
let shutdown: { shutdownGraceSeconds: number; shutdownForceSeconds: number };
/** How long the stand-in status command hangs: far longer than any shutdown bound. */
const HANG_MS = 60_000;

beforeAll(async () => {
  sbx = await createTestSandbox({ hostId: 'sigterm-host' });
  marker = join(sbx.root, 'status-started');
  // Rebuild the sandbox config with a status command for mcp-compliance that hangs the first time.
  const obj = parse(await readFile(sbx.configPath, 'utf8')) as Record<string, unknown>;
  // No probes: the only status call for mcp-compliance is the health check's, the one that hangs.
  obj.metrics = { ...(obj.metrics as Record<string, unknown>), probeSeconds: 0 };
  shutdown = obj.worker as typeof shutdown;
  expect(shutdown).toMatchObject({ shutdownGraceSeconds: expect.any(Number) as unknown, shutdownForceSeconds: expect.any(Number) as unknown });
  obj.services = [
    'mcp-filesystem',
    'mcp-postgres',
    'mcp-memory',
    {
      name: 'mcp-compliance',
      commands: {
        status: [process.execPath, join(PACKAGE_ROOT, 'test', 'fixtures', 'slow-once.mjs'), marker, String(HANG_MS), '--', process.execPath, SANDBOX_CTL, 'status', '{service}', '--root', sbx.root],
      },
    },
  ];
  await writeFile(sbx.configPath, stringify(obj));
  client = await testClient();
});
afterAll(async () => {
  await client?.connection.close();
  await sbx?.cleanup();
});

describe('worker shutdown', () => {
  it('SIGTERM mid-activity (a stand-in status command that hangs once holds it in flight): exits 0 within the bound; a restarted worker completes the workflow', async () => {
    const args = ['--config', sbx.configPath, 'worker', '--role', 'all'];
    const first = await spawnCliUntil(args, /task queues: /);
    const handle = await startRunbook({ client, config: sbx.config, runbook: 'health-check', hostId: 'sigterm-host' });

    const deadline = Date.now() + 30_000;
    while (!existsSync(marker) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(marker), 'the slow status command started').toBe(true);

    const t0 = Date.now();
    first.kill('SIGTERM');
    const exited = await first.exited;
    const stopSeconds = (Date.now() - t0) / 1000;
    expect(exited.exitCode, exited.all as string).toBe(0);
    expect(exited.all).toContain('SIGTERM: shutting down');
    expect(exited.all).toContain('worker stopped');
    // The configured grace and force times plus a generous margin for a loaded machine; still far
    // below the stand-in's hang, so a worker that waited for the activity would fail here.
    const boundSeconds = shutdown.shutdownGraceSeconds + shutdown.shutdownForceSeconds + 20;
    expect(boundSeconds).toBeLessThan(HANG_MS / 1000 / 2);
    expect(stopSeconds).toBeLessThan(boundSeconds);
    expect((await handle.describe()).status.name).toBe('RUNNING');

    const second = await spawnCliUntil(args, /task queues: /);
    try {
      const report = (await handle.result()) as RunbookReport;
      expect(report.findings).toHaveLength(6);
      expect(report.findings.find((f) => f.check === 'service.mcp-compliance')?.status).toBe('ok');
      expect(report.summary.fail).toBe(0);
    } finally {
      second.kill('SIGTERM');
      expect((await second.exited).exitCode).toBe(0);
    }
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 1] : []));
    expect(Math.max(...attempts), 'the interrupted activity was retried').toBeGreaterThan(1);
    await assertReplays(handle);
  }, 120_000);
});
