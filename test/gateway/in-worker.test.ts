/**
 * `gateway.inWorker`: `mcp-runbooks worker` (a subprocess, role all) serves the
 * gateway itself, on its own connection; a start through it runs and reports,
 * and the worker's SIGTERM stops the gateway with it.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort } from '../../src/dev/ports.js';
import { spawnCliUntil, type RunningCli } from '../helpers/cli.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { pollUntil } from '../helpers/temporal.js';

let sbx: TestSandbox;
let worker: RunningCli | undefined;
let url: string;
const token = randomBytes(24).toString('hex');

beforeAll(async () => {
  sbx = await createTestSandbox({ hostId: 'gw-in-worker' });
  await writeFile(join(sbx.root, 'ops.token'), `${token}\n`, { mode: 0o600 });
  const obj = parse(await readFile(sbx.configPath, 'utf8')) as Record<string, unknown>;
  obj.defaultSchedules = false;
  obj.gateway = { inWorker: true, port: await freePort(), tokens: [{ name: 'ops', token: { file: join(sbx.root, 'ops.token') }, runbooks: ['health-check'] }] };
  await writeFile(sbx.configPath, stringify(obj));
  worker = await spawnCliUntil(['--config', sbx.configPath, 'worker', '--role', 'all'], /gateway: http:\/\/\S+/);
  url = /gateway: (http:\/\/\S+)/.exec(worker.output())![1]!;
}, 120_000);
afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker?.exited;
  await sbx?.cleanup();
});

describe('the gateway inside a worker', () => {
  it('starts a runbook through it and reads the report; stops with the worker', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const started = await fetch(`${url}/v1/runbooks/health-check`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    expect(started.status).toBe(202);
    const { workflowId } = (await started.json()) as { workflowId: string };
    const done = await pollUntil(
      'the health check reported through the gateway',
      async () => (await (await fetch(`${url}/v1/runs/${encodeURIComponent(workflowId)}`, { headers: auth })).json()) as { status: string; report?: { runbook: string; hostId: string } },
      (r) => r.status !== 'RUNNING',
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(done).toMatchObject({ status: 'COMPLETED', report: { runbook: 'healthCheck', hostId: 'gw-in-worker' } });
    expect(worker!.output()).not.toContain(token);

    worker!.kill('SIGTERM');
    expect((await worker!.exited).exitCode).toBe(0);
    worker = undefined;
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  }, 120_000);
});
