/**
 * The embedded Temporal: `temporal server start-dev` on 127.0.0.1, its state in
 * `<dataDir>/temporal/dev.db` so history survives a restart, its output in
 * `<dataDir>/temporal/server.log`. A server left behind by a killed earlier run
 * (recorded in `server.pid`) is stopped before a new one starts.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { execa, type ResultPromise } from 'execa';
import { errorMessage } from '../common/errors.js';
import { DEV_SERVER_SEARCH_ATTRIBUTES } from '../common/search-attributes.js';
import { childEnv } from '../config/secret.js';
import { freePort, isPortFree } from './ports.js';
import { identify, isAlive, type ProcessIdentity } from './process-identity.js';
import type { TemporalBinary } from './temporal-binary.js';

export interface DevServerOptions {
  /** The CLI binary; undefined falls back to the SDK's cached download (needs internet). */
  binary: TemporalBinary | undefined;
  /** State folder: `<dataDir>/temporal/`. */
  dataDir: string;
  /** gRPC port; 0 picks a free one. */
  port: number;
  /** Web UI port; 0 picks a free one; undefined runs headless. */
  uiPort?: number;
  namespace: string;
  /** Keep history in `dev.db`. @default true */
  persist?: boolean;
  /** @default 60 */
  startTimeoutSeconds?: number;
  /** Dynamic config values (`--dynamic-config-value KEY=VALUE`), e.g. `frontend.namespaceCount` for a thousand pollers. */
  dynamicConfig?: Record<string, string | number | boolean>;
}

export interface DevServer {
  address: string;
  namespace: string;
  uiUrl?: string;
  /** Where the server's own output goes. */
  logFile?: string;
  dbFile?: string;
  stop(): Promise<void>;
}

const IP = '127.0.0.1';

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const dir = join(opts.dataDir, 'temporal');
  await mkdir(dir, { recursive: true });
  const dbFile = opts.persist === false ? undefined : join(dir, 'dev.db');
  const pidFile = join(dir, 'server.pid');
  await stopLeftover(pidFile);

  const port = opts.port === 0 ? await freePort(IP) : opts.port;
  const uiPort = opts.uiPort === undefined ? undefined : opts.uiPort === 0 ? await freePort(IP) : opts.uiPort;
  for (const [what, p] of [['gRPC', port], ['Web UI', uiPort]] as const) {
    if (p !== undefined && !(await isPortFree(IP, p))) {
      throw new Error(
        `${IP}:${p} (Temporal ${what} port) is already in use. If a Temporal server runs there, use it: set ` +
          `temporal.address (or TEMPORAL_ADDRESS=${IP}:${port}); otherwise pick free ports with dev.temporalPort / dev.uiPort.`,
      );
    }
  }

  if (!opts.binary) return startWithSdkDownload({ ...opts, port, uiPort, dbFile });

  const args = ['server', 'start-dev', '--ip', IP, '--port', String(port), '--namespace', opts.namespace, '--log-level', 'warn'];
  // The runbooks set McpRunbook/McpHost/McpOutcome; a server without them fails every start that sets them.
  for (const attribute of DEV_SERVER_SEARCH_ATTRIBUTES) args.push('--search-attribute', attribute);
  if (dbFile) args.push('--db-filename', dbFile);
  for (const [key, value] of Object.entries(opts.dynamicConfig ?? {})) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  if (uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(uiPort), '--ui-disable-news-fetch');
  const logFile = join(dir, 'server.log');
  const child: ResultPromise = execa(opts.binary.path, args, {
    // The worker's secrets (database password, API key) are no business of the dev server.
    env: childEnv(),
    extendEnv: false,
    stdin: 'ignore',
    stdout: { file: logFile, append: true },
    stderr: { file: logFile, append: true },
    reject: false,
    cleanup: true,
  });
  let exited = false;
  void child.then(() => {
    exited = true;
  });
  await writeFile(pidFile, `${JSON.stringify({ ...(child.pid ? identify(child.pid) : {}), port, dbFile })}\n`);

  const address = `${IP}:${port}`;
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await child;
      clearTimeout(timer);
    }
    await rm(pidFile, { force: true });
  };
  try {
    await waitUntilServing(address, opts.namespace, (opts.startTimeoutSeconds ?? 60) * 1000, () => exited);
  } catch (err) {
    await stop();
    throw new Error(`Temporal dev server did not start: ${errorMessage(err)}. Its log (${logFile}):\n${tail(logFile)}`, { cause: err });
  }
  return {
    address,
    namespace: opts.namespace,
    ...(uiPort !== undefined ? { uiUrl: `http://${IP}:${uiPort}` } : {}),
    logFile,
    ...(dbFile ? { dbFile } : {}),
    stop,
  };
}

async function startWithSdkDownload(opts: DevServerOptions & { port: number; uiPort: number | undefined; dbFile: string | undefined }): Promise<DevServer> {
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download', downloadDir: join(opts.dataDir, 'tools') },
      ip: IP,
      port: opts.port,
      namespace: opts.namespace,
      ...(opts.dbFile ? { dbFilename: opts.dbFile } : {}),
      ...(opts.uiPort !== undefined ? { ui: true, uiPort: opts.uiPort } : { ui: false }),
      extraArgs: ['--log-level', 'warn', ...DEV_SERVER_SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', a])],
    },
  });
  return {
    address: `${IP}:${opts.port}`,
    namespace: opts.namespace,
    ...(opts.uiPort !== undefined ? { uiUrl: `http://${IP}:${opts.uiPort}` } : {}),
    ...(opts.dbFile ? { dbFile: opts.dbFile } : {}),
    stop: () => env.teardown(),
  };
}

async function waitUntilServing(address: string, namespace: string, timeoutMs: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (exited()) throw new Error('the server process exited');
    try {
      const connection = await Connection.connect({ address, connectTimeout: '2 seconds' });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`not serving ${address} after ${timeoutMs / 1000}s (${errorMessage(last)})`);
}

/** Stops the dev server an earlier, killed run left in `<dataDir>/temporal/`; true when there was one. */
export async function stopLeftoverDevServer(dataDir: string): Promise<boolean> {
  return stopLeftover(join(dataDir, 'temporal', 'server.pid'));
}

/** Stops a dev server an earlier, killed run left behind, if it is really ours. */
async function stopLeftover(pidFile: string): Promise<boolean> {
  let recorded: Partial<ProcessIdentity>;
  try {
    recorded = JSON.parse(await readFile(pidFile, 'utf8')) as Partial<ProcessIdentity>;
  } catch {
    return false;
  }
  const id = recorded.pid ? { pid: recorded.pid, ...(recorded.startTime ? { startTime: recorded.startTime } : {}) } : undefined;
  const found = id !== undefined && isOurServer(id);
  if (id && found) {
    process.kill(id.pid, 'SIGTERM');
    for (let i = 0; i < 100 && isOurServer(id); i++) await new Promise((r) => setTimeout(r, 100));
    if (isOurServer(id)) process.kill(id.pid, 'SIGKILL');
  }
  await rm(pidFile, { force: true });
  return found;
}

/** The recorded process, still alive (same start time where recorded) and a `temporal server start-dev`. */
function isOurServer(id: ProcessIdentity): boolean {
  if (!isAlive(id)) return false;
  try {
    return readFileSync(`/proc/${id.pid}/cmdline`, 'utf8').includes('start-dev');
  } catch {
    return false;
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}
