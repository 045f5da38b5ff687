/**
 * `mcp-runbooks dev`: the embedded path on its own dev server (not the shared
 * test server), as an operator runs it with `npm start`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../../src/config/load.js';
import { startDevServer } from '../../src/dev/dev-server.js';
import { freePort, isPortFree } from '../../src/dev/ports.js';
import { sandboxConfigObject } from '../../src/dev/sandbox/layout.js';
import { startFleet, stopFleet } from '../../src/dev/sandbox/fleet.js';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';
import { execa } from 'execa';
import { pollUntil } from '../helpers/temporal.js';
import { createServiceManager } from '../../src/services/index.js';
import { cliEnv, runCli, spawnCliUntil } from '../helpers/cli.js';
import { removeDevSandbox } from '../helpers/sandbox.js';
import { inject } from 'vitest';

let dir: string;
let configPath: string;
let ports: { temporal: number; ui: number; metrics: number; sdk: number; memory: number };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-dev-'));
  ports = { temporal: await freePort(), ui: await freePort(), metrics: await freePort(), sdk: await freePort(), memory: await freePort() };
  const obj = sandboxConfigObject({
    root: join(dir, 'sandbox'),
    memoryPort: ports.memory,
    database: `mcp_test_dev_${randomUUID().replaceAll('-', '').slice(0, 10)}`,
  });
  obj.dev = { dataDir: join(dir, 'data'), temporalPort: ports.temporal, uiPort: ports.ui };
  obj.metrics = { port: ports.metrics, sdkPort: ports.sdk };
  configPath = join(dir, 'dev.yaml');
  await writeFile(configPath, stringify(obj));
});
afterAll(() => removeDevSandbox(configPath, dir));

describe('dev', () => {
  it('--once: embedded Temporal, sandbox fleet, worker, a report naming every service; then stops all it started', async () => {
    const r = await runCli(['--config', configPath, 'dev', '--once'], { timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain(`Temporal dev server: 127.0.0.1:${ports.temporal}`);
    expect(r.stdout).toContain(`Temporal Web UI: http://127.0.0.1:${ports.ui}`);
    expect(r.stdout).toContain('sandbox services started: mcp-filesystem, mcp-postgres, mcp-memory, mcp-compliance');
    expect(r.stdout).toContain('sandbox database: created');
    // Dev mode applies the sandbox's schedules and prints the diff.
    expect(r.stdout).toMatch(/\+ create\s+mcp-runbooks\.health-check\.local health-check on local: every 15m/);
    for (const s of ['mcp-filesystem', 'mcp-postgres', 'mcp-memory', 'mcp-compliance']) {
      expect(r.stdout).toMatch(new RegExp(`ok\\s+service\\.${s}\\s+${s} is active`));
    }
    expect(r.stdout).toMatch(/summary: \d+ ok/);
    expect(r.stdout).toContain('stopped Temporal dev server');
    // Everything it started is stopped again.
    const config = loadConfig({ path: configPath, env: {} });
    const manager = createServiceManager(config);
    for (const s of manager.services) expect((await manager.status(s)).state).toBe('inactive');
    for (const p of Object.values(ports)) expect(await isPortFree('127.0.0.1', p)).toBe(true);
    expect(existsSync(join(dir, 'data', 'temporal', 'dev.db'))).toBe(true);
  }, 150_000);

  it('after a crash (SIGKILL), the next run stops the dev server and the sandbox services left behind and starts cleanly', async () => {
    const first = await spawnCliUntil(['--config', configPath, 'dev'], /Press Ctrl-C/);
    first.kill('SIGKILL');
    await first.exited;
    // The orphaned server still holds the port; the orphaned services still run.
    expect(await isPortFree('127.0.0.1', ports.temporal)).toBe(false);
    const manager = createServiceManager(loadConfig({ path: configPath, env: {} }));
    for (const s of manager.services) expect((await manager.status(s)).state).toBe('active');
    const r = await runCli(['--config', configPath, 'dev', '--once'], { timeout: 120_000 });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('stopped sandbox services a crashed dev run left running: mcp-filesystem, mcp-postgres, mcp-memory, mcp-compliance');
    expect(r.stdout).toContain('sandbox services started: mcp-filesystem, mcp-postgres, mcp-memory, mcp-compliance');
    expect(r.stdout).not.toContain('already running');
    for (const s of manager.services) expect((await manager.status(s)).state, s).toBe('inactive');
    // The history survived, and so did the schedule: applying again changes nothing.
    expect(r.stdout).toMatch(/= unchanged\s+mcp-runbooks\.health-check\.local/);
    expect(r.stdout).toContain('summary:');
    expect(await isPortFree('127.0.0.1', ports.temporal)).toBe(true);
  }, 150_000);

  it('dev --clean stops what a crashed run left (dev server, sandbox services) and exits', async () => {
    const first = await spawnCliUntil(['--config', configPath, 'dev'], /Press Ctrl-C/);
    first.kill('SIGKILL');
    await first.exited;
    const r = await runCli(['--config', configPath, 'dev', '--clean']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('stopped the Temporal dev server a crashed dev run left running');
    expect(r.stdout).toContain('stopped sandbox services a crashed dev run left running: mcp-filesystem, mcp-postgres, mcp-memory, mcp-compliance');
    const manager = createServiceManager(loadConfig({ path: configPath, env: {} }));
    for (const s of manager.services) expect((await manager.status(s)).state, s).toBe('inactive');
    for (const p of Object.values(ports)) expect(await isPortFree('127.0.0.1', p), String(p)).toBe(true);
    const again = await runCli(['--config', configPath, 'dev', '--clean']);
    expect(again.stdout).toContain('no sandbox services left running by a crashed dev run');
  }, 150_000);

  it('dev --clean leaves alone a service whose pid no longer is the process the crashed run started (start time differs)', async () => {
    const config = loadConfig({ path: configPath, env: {} });
    const manager = createServiceManager(config);
    // Started by someone else; a stale record names the same pids with other start times.
    await startFleet(manager);
    try {
      const runDir = join(config.sandbox!.root, 'run');
      const services = await Promise.all(
        manager.services.map(async (service) => ({ service, pid: Number((await readFile(join(runDir, `${service}.pid`), 'utf8')).trim()), startTime: '1' })),
      );
      await writeFile(join(config.dev.dataDir, 'dev-run.json'), JSON.stringify({ dev: { pid: 2 ** 22 + 1, startTime: '1' }, services }));
      const r = await runCli(['--config', configPath, 'dev', '--clean']);
      expect(r.exitCode, r.all).toBe(0);
      expect(r.stdout).toContain('no sandbox services left running by a crashed dev run');
      for (const s of manager.services) expect((await manager.status(s)).state, s).toBe('active');
    } finally {
      await stopFleet(manager);
    }
  }, 60_000);

  it.each(['SIGINT', 'SIGTERM'] as const)('`npm start` stops everything it started on %s sent to the npm process', async (signal) => {
    const config = loadConfig({ path: configPath, env: {} });
    const manager = createServiceManager(config);
    const npm = execa('npm', ['start'], { cwd: PACKAGE_ROOT, env: cliEnv({ MCP_RUNBOOKS_CONFIG: configPath }), extendEnv: false, reject: false, all: true, timeout: 150_000 });
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      npm.all.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('Press Ctrl-C')) resolve();
      });
      void npm.then(() => reject(new Error(`npm start exited before it was up:\n${seen}`)));
    });
    for (const s of manager.services) expect((await manager.status(s)).state, s).toBe('active');
    process.kill(npm.pid!, signal);
    const ended = await npm;
    // The signal itself stopped dev (npm forwards it; the start script execs node, so no shell swallows
    // SIGINT): not the parent-gone check after the test's own timeout killed npm.
    expect(ended.timedOut, ended.all).toBe(false);
    expect(ended.all).toContain(`${signal}: stopping`);
    // Whatever path the signal took (npm forwards it, or the dev process sees its parent go), everything stops.
    await pollUntil('the sandbox services stopping', async () => Promise.all(manager.services.map(async (s) => (await manager.status(s)).state)), (states) => states.every((x) => x === 'inactive'), { timeoutMs: 60_000, intervalMs: 500 });
    await pollUntil('the Temporal port freed', () => isPortFree('127.0.0.1', ports.temporal), (free) => free, { timeoutMs: 30_000, intervalMs: 500 });
    for (const p of Object.values(ports)) expect(await isPortFree('127.0.0.1', p), String(p)).toBe(true);
  }, 200_000);

  it('Ctrl-C (SIGINT) stops everything and exits 0', async () => {
    const config = loadConfig({ path: configPath, env: {} });
    await stopFleet(createServiceManager(config));
    const run = await spawnCliUntil(['--config', configPath, 'dev'], /Press Ctrl-C/);
    run.kill('SIGINT');
    const r = await run.exited;
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('SIGINT: stopping');
    const manager = createServiceManager(config);
    for (const s of manager.services) expect((await manager.status(s)).state).toBe('inactive');
    expect(await isPortFree('127.0.0.1', ports.temporal)).toBe(true);
  }, 150_000);
});

describe('embedded dev server state', () => {
  it('history survives a restart: the state lives in <dataDir>/temporal/dev.db', async () => {
    const binary = { path: inject('temporalBinary'), how: 'test', version: '' };
    const dataDir = join(dir, 'persist');
    const port = await freePort();
    const workflowId = `persist-${randomUUID()}`;
    let server = await startDevServer({ binary, dataDir, port, namespace: 'default' });
    try {
      const connection = await Connection.connect({ address: server.address });
      // No worker: the execution just waits in history, which is what must survive.
      await new Client({ connection }).workflow.start('healthCheck', { taskQueue: 'nobody', workflowId, args: [{}] });
      await connection.close();
    } finally {
      await server.stop();
    }
    server = await startDevServer({ binary, dataDir, port, namespace: 'default' });
    try {
      const connection = await Connection.connect({ address: server.address });
      const d = await new Client({ connection }).workflow.getHandle(workflowId).describe();
      expect(d.status.name).toBe('RUNNING');
      await connection.close();
    } finally {
      await server.stop();
    }
  }, 120_000);
});
