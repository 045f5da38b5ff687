/**
 * What a `mcp-runbooks dev` run started, recorded in `<dev.dataDir>/dev-run.json`
 * (the dev process and each sandbox service it started, by pid and start time),
 * so the next run, or `dev --clean`, stops what a crashed run left behind, and
 * only that: a service someone else started, or a pid reused since, is left alone.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import { createServiceManager } from '../services/index.js';
import { stopLeftoverDevServer } from './dev-server.js';
import { identify, isAlive, readPidFile, type ProcessIdentity } from './process-identity.js';
import { sandboxLayout } from './sandbox/layout.js';

export interface DevRunRecord {
  dev: ProcessIdentity;
  /** Sandbox services this run started (not those it found running). */
  services: Array<ProcessIdentity & { service: string }>;
}

export function devRunFile(config: Config): string {
  return join(config.dev.dataDir, 'dev-run.json');
}

function servicePid(config: Config, service: string): number | undefined {
  return config.sandbox ? readPidFile(join(sandboxLayout(config.sandbox.root).runDir, `${service}.pid`)) : undefined;
}

/** Records this process and the services it started; call again as it starts more. */
export async function recordDevRun(config: Config, started: readonly string[]): Promise<void> {
  const services = started.flatMap((service) => {
    const pid = servicePid(config, service);
    return pid ? [{ service, ...identify(pid) }] : [];
  });
  const record: DevRunRecord = { dev: identify(process.pid), services };
  await mkdir(config.dev.dataDir, { recursive: true });
  await writeFile(devRunFile(config), `${JSON.stringify(record, null, 2)}\n`);
}

/** Removes the record: everything it names was stopped. */
export async function clearDevRun(config: Config): Promise<void> {
  await rm(devRunFile(config), { force: true });
}

export interface Leftovers {
  /** Sandbox services a crashed run started and that were still running; now stopped. */
  services: string[];
  /** Whether a dev server a crashed run left was stopped (only `cleanDev` looks). */
  devServer: boolean;
}

/**
 * Stops the sandbox services a crashed dev run started. Refuses while that run is
 * still alive: it is not a leftover but another `dev` using the same data folder.
 */
export async function stopLeftoverServices(config: Config): Promise<string[]> {
  let record: DevRunRecord;
  try {
    record = JSON.parse(await readFile(devRunFile(config), 'utf8')) as DevRunRecord;
  } catch {
    return [];
  }
  if (record.dev.pid !== process.pid && isAlive(record.dev)) {
    throw new Error(`another mcp-runbooks dev (pid ${record.dev.pid}) runs with ${config.dev.dataDir}; stop it first (Ctrl-C there, or kill ${record.dev.pid})`);
  }
  const manager = createServiceManager(config);
  const stopped: string[] = [];
  for (const s of [...record.services].reverse()) {
    // Still the very process that run started: same pid in the pid file, same start time.
    if (servicePid(config, s.service) !== s.pid || !isAlive(s) || !manager.services.includes(s.service)) continue;
    await manager.stop(s.service);
    stopped.push(s.service);
  }
  await clearDevRun(config);
  return stopped.reverse();
}

/** `dev --clean`: stops what a crashed dev run left behind (sandbox services, dev server). */
export async function cleanDev(config: Config): Promise<Leftovers> {
  const services = await stopLeftoverServices(config);
  const devServer = await stopLeftoverDevServer(config.dev.dataDir);
  return { services, devServer };
}
