/**
 * A CLI following a run while its Temporal server restarts (same port, same
 * dev.db): it says so once, reconnects and exits with the run's real result.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevServer, type DevServer } from '../../src/dev/dev-server.js';
import { freePort } from '../../src/dev/ports.js';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';
import { CLI, cliEnv, spawnCliUntil, type RunningCli } from '../helpers/cli.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

let dir: string;
let port: number;
let server: DevServer | undefined;
let sbx: TestSandbox;
let worker: RunningCli | undefined;
const binary = () => ({ path: inject('temporalBinary'), how: 'test', version: '' });
const start = () => startDevServer({ binary: binary(), dataDir: dir, port, namespace: 'default' });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-follow-restart-'));
  port = await freePort();
  server = await start();
  const state = join(dir, 'apt-state');
  const standIn = (...args: string[]) => [process.execPath, join(PACKAGE_ROOT, 'test', 'fixtures', 'apt-stand-in.mjs'), state, ...args];
  sbx = await createTestSandbox({
    hostId: 'follow-host',
    extra: {
      temporal: { address: server.address },
      maintenance: { packages: { refreshCommand: false, listCommand: standIn('list'), upgradeCommand: standIn('upgrade'), upgradeApprovalTimeoutMinutes: 10 } },
    },
  });
  worker = await spawnCliUntil(['--config', sbx.configPath, 'worker'], /task queues:/);
}, 120_000);
afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker?.exited;
  await server?.stop();
  await sbx?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** Resolves with the first match of `re` in the process's stderr. */
function waitFor(proc: ReturnType<typeof execa>, re: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    proc.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const m = re.exec(seen);
      if (m) resolve(m);
    });
    void proc.then(() => reject(new Error(`exited before ${what}:\n${seen}`)));
  });
}

describe('run weekly, followed through a Temporal restart', () => {
  it('prints "lost Temporal at ADDR, retrying", then the run\'s report; exit 0', async () => {
    const run = execa(process.execPath, [CLI, '--config', sbx.configPath, 'run', 'weekly'], { env: cliEnv(), extendEnv: false, reject: false, all: true, timeout: 240_000 });
    const [, workflowId] = await waitFor(run, /weekly on follow-host: (\S+)[\s\S]*awaiting upgrade approval/, 'waiting for approval');
    const lost = waitFor(run, /lost Temporal at 127\.0\.0\.1:\d+, retrying/, 'losing Temporal');
    await server!.stop();
    server = undefined;
    await lost;
    // Down for a while, then back on the same port with the same history.
    await new Promise((r) => setTimeout(r, 3000));
    server = await start();
    const connection = await Connection.connect({ address: server.address });
    try {
      await new Client({ connection }).workflow.getHandle(workflowId!).executeUpdate('approve', { args: [{ by: 'carol' }] });
    } finally {
      await connection.close();
    }
    const r = await run;
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stderr.match(/lost Temporal at/g)).toHaveLength(1);
    expect(r.stderr).toContain(`Temporal at ${server.address} is back`);
    expect(r.stdout).toMatch(/packages\.upgrade +updates installed \(approved by carol\)/);
    expect(r.stdout).toMatch(/summary: \d+ ok, \d+ warn, 0 fail/);
  }, 240_000);

  it('gives up after --reconnect-timeout with exit 7 when Temporal stays away', async () => {
    // Updates pending again: the first test's upgrade is recorded in the stand-in's state.
    await rm(join(dir, 'apt-state'), { force: true });
    const run = execa(process.execPath, [CLI, '--config', sbx.configPath, 'run', 'weekly', '--reconnect-timeout', '3'], { env: cliEnv(), extendEnv: false, reject: false, all: true, timeout: 120_000 });
    await waitFor(run, /awaiting upgrade approval/, 'waiting for approval');
    await server!.stop();
    server = undefined;
    const r = await run;
    expect(r.exitCode, r.all).toBe(7);
    expect(r.stderr).toContain('lost Temporal at');
    expect(r.stderr).toMatch(/mcp-runbooks: cannot reach Temporal at 127\.0\.0\.1:\d+/);
    server = await start();
  }, 120_000);
});
