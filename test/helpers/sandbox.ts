/** A real sandbox host per test: its own folder, memory port, database and task queue. */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load.js';
import { sandboxConfigObject } from '../../src/dev/sandbox/layout.js';
import { dropSandboxDatabase, provisionSandbox } from '../../src/dev/sandbox/provision.js';
import { startFleet, stopFleet } from '../../src/dev/sandbox/fleet.js';
import { freePort } from '../../src/dev/ports.js';
import { createServiceManager, type ServiceManager } from '../../src/services/index.js';
import { temporalAddress, uniqueTaskQueue } from './temporal.js';

/** The sandboxes' `activities.heartbeatTimeoutSeconds`: how soon a SIGKILLed worker's step is retried. */
export const TEST_HEARTBEAT_TIMEOUT_SECONDS = 10;

export interface TestSandbox {
  root: string;
  configPath: string;
  config: Config;
  manager: ServiceManager;
  cleanup(): Promise<void>;
}

export interface TestSandboxOptions {
  hostId?: string;
  hosts?: string[];
  taskQueue?: string;
  /** Start the four services. @default true */
  start?: boolean;
  /** Config fields merged over the generated ones (one level deep). */
  extra?: Record<string, unknown>;
  /** Point the config at the shared test dev server. @default true */
  withTemporalAddress?: boolean;
  /** The sandbox's folder (a host rebuilt at the same paths); created if missing. @default a new temporary folder */
  root?: string;
  /** The memory service's port (a rebuilt host keeps the old one: its restored config names it). @default a free port */
  memoryPort?: number;
}

export async function createTestSandbox(opts: TestSandboxOptions = {}): Promise<TestSandbox> {
  const root = opts.root ?? (await mkdtemp(join(tmpdir(), 'mcp-sbx-')));
  await mkdir(root, { recursive: true });
  const obj = sandboxConfigObject({
    root,
    hostId: opts.hostId ?? 'test-host',
    memoryPort: opts.memoryPort ?? (await freePort()),
    database: `mcp_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`,
  });
  obj.temporal = {
    ...(opts.withTemporalAddress === false ? {} : { address: temporalAddress() }),
    taskQueue: opts.taskQueue ?? uniqueTaskQueue('test'),
  };
  obj.metrics = { port: 0, sdkPort: 0 };
  obj.worker = { shutdownGraceSeconds: 2, shutdownForceSeconds: 5 };
  // A killed worker's step is retried after 10 s instead of the default 30 (kill tests wait for it).
  obj.activities = { heartbeatTimeoutSeconds: TEST_HEARTBEAT_TIMEOUT_SECONDS };
  if (opts.hosts) obj.hosts = opts.hosts;
  for (const [key, value] of Object.entries(opts.extra ?? {})) {
    const current = obj[key];
    obj[key] =
      current && typeof current === 'object' && !Array.isArray(current) && value && typeof value === 'object' && !Array.isArray(value)
        ? { ...current, ...value }
        : value;
  }
  const configPath = join(root, 'mcp-runbooks.yaml');
  await writeFile(configPath, stringify(obj));
  const config = loadConfig({ path: configPath, env: {} });
  await provisionSandbox(config);
  const manager = createServiceManager(config);
  if (opts.start !== false) await startFleet(manager);
  return {
    root,
    configPath,
    config,
    manager,
    async cleanup() {
      await stopFleet(manager).catch(() => undefined);
      await dropSandboxDatabase(config).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** After a test of `dev` with its own config file: stops the sandbox services, drops its database, removes `dir`. */
export async function removeDevSandbox(configPath: string, dir: string): Promise<void> {
  const config = loadConfig({ path: configPath, env: {} });
  await stopFleet(createServiceManager(config)).catch(() => undefined);
  await dropSandboxDatabase(config).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
