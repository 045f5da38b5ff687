/**
 * `mcp-runbooks dev`: the whole system on one machine. Embedded Temporal (unless
 * an address is configured), the sandbox fleet, a worker with role `all`, the
 * config's schedules applied, one health check printed; then it stays up until
 * stopped and stops what it started.
 */
import { BUILT_IN_SOURCE } from '../config/load.js';
import { connectClient } from '../temporal/connection.js';
import type { Config } from '../config/config.js';
import { createServiceManager } from '../services/index.js';
import { startWorker, type RunningWorker } from '../worker.js';
import { runRunbook } from '../client/run-runbook.js';
import type { RunbookReport } from '../common/report.js';
import { renderReportText } from '../report/render-text.js';
import { applySchedules, renderChanges } from '../schedules/index.js';
import { startDevServer, type DevServer } from './dev-server.js';
import { findTemporalBinary } from './temporal-binary.js';
import { provisionSandbox } from './sandbox/provision.js';
import type { RepositoryProvision } from './sandbox/offsite.js';
import { SANDBOX_OFFSITE_TARGET } from './sandbox/layout.js';
import { resolveProgram } from '../services/run-argv.js';
import { startFleet, stopFleet } from './sandbox/fleet.js';
import { clearDevRun, recordDevRun, stopLeftoverServices } from './leftovers.js';

export interface DevOptions {
  config: Config;
  env: Record<string, string | undefined>;
  /** Exit after the first report. */
  once: boolean;
  /** Print the report as JSON. */
  json: boolean;
  /** Aborted on SIGINT/SIGTERM. */
  stop: AbortSignal;
  out: (line: string) => void;
  /** The SDK runtime's metrics endpoint, merged into the worker's /metrics. */
  sdkMetricsUrl?: string;
}

export interface DevResult {
  report?: RunbookReport;
}

export async function runDev(opts: DevOptions): Promise<DevResult> {
  const { out } = opts;
  const cleanups: Array<{ what: string; run: () => Promise<void> }> = [];
  const result: DevResult = {};
  try {
    out(`config: ${opts.config.source}`);
    let config = opts.config;
    let server: DevServer | undefined;
    if (!config.temporal.address) {
      const binary = await findTemporalBinary({ env: opts.env, dataDir: config.dev.dataDir, log: out });
      out(binary ? `temporal: ${binary.path} (${binary.how}; ${binary.version.split('\n')[0] ?? ''})` : 'temporal: no local binary, using the SDK download');
      server = await startDevServer({
        binary,
        dataDir: config.dev.dataDir,
        port: config.dev.temporalPort,
        uiPort: config.dev.uiPort,
        namespace: config.temporal.namespace,
      });
      cleanups.push({ what: 'Temporal dev server', run: () => server!.stop() });
      config = { ...config, temporal: { ...config.temporal, address: server.address } };
      out(`Temporal dev server: ${server.address} (namespace ${server.namespace}; history in ${server.dbFile ?? 'memory'})`);
      if (server.uiUrl) out(`Temporal Web UI: ${server.uiUrl}`);
    } else {
      out(`Temporal: ${config.temporal.address} (namespace ${config.temporal.namespace}), from config`);
    }
    throwIfStopped(opts.stop);

    if (config.sandbox) {
      const provisioned = await provisionSandbox(config);
      out(`sandbox: ${provisioned.root} (${provisioned.created.length ? `${provisioned.created.length} paths created` : 'existing'})`);
      out(`sandbox database: ${provisioned.database.state} ${provisioned.database.detail}`);
      for (const line of targetLines(config, provisioned.repository, opts.env)) out(line);
      const manager = createServiceManager(config);
      // Services a crashed (SIGKILLed) dev run started would otherwise be adopted as
      // "already running" and never stopped: stop them, then start afresh.
      const leftover = await stopLeftoverServices(config);
      if (leftover.length) out(`stopped sandbox services a crashed dev run left running: ${leftover.join(', ')}`);
      const fleet = await startFleet(manager);
      await recordDevRun(config, fleet.started);
      const runConfig = config;
      cleanups.push({
        what: fleet.started.length ? 'sandbox services' : 'dev run record',
        run: async () => {
          if (fleet.started.length) await stopFleet(manager, fleet.started);
          await clearDevRun(runConfig);
        },
      });
      if (fleet.started.length) out(`sandbox services started: ${fleet.started.join(', ')}`);
      if (fleet.alreadyRunning.length) out(`sandbox services already running (left running on exit): ${fleet.alreadyRunning.join(', ')}`);
    }
    throwIfStopped(opts.stop);

    const worker: RunningWorker = await startWorker({ config, role: 'all', ...(opts.sdkMetricsUrl ? { sdkMetricsUrl: opts.sdkMetricsUrl } : {}) });
    cleanups.push({ what: 'worker', run: () => worker.shutdown() });
    out(`worker: role all, host ${worker.hostId}, task queues ${worker.taskQueues.join(', ')}`);
    if (worker.metrics) out(`metrics: ${worker.metrics.url}/metrics (also /healthz, /readyz)`);
    throwIfStopped(opts.stop);

    const client = await connectClient(config.temporal);
    cleanups.push({ what: 'client', run: () => client.connection.close() });
    // Dev mode applies the config's schedules, as `worker --apply-schedules` does.
    out('applying schedules ...');
    for (const line of renderChanges(await applySchedules({ client, config }))) out(line);
    throwIfStopped(opts.stop);

    out('running health check ...');
    const { workflowId, report } = await runRunbook({ client, config, runbook: 'health-check', hostId: config.hostId });
    result.report = report;
    out(`health check ${workflowId}:`);
    out(opts.json ? JSON.stringify(report, null, 2) : renderReportText(report).trimEnd());

    if (!opts.once) {
      out('');
      out('Up. Try, in another terminal:');
      out('  npx mcp-runbooks run health-check');
      out('  npx mcp-runbooks run backup && npx mcp-runbooks backups list');
      if (config.backup.targets.some((t) => t.name === SANDBOX_OFFSITE_TARGET && t.type === 'restic')) {
        out(`  npx mcp-runbooks backups list --target ${SANDBOX_OFFSITE_TARGET}`);
        out(`  npx mcp-runbooks recover <archive from the list> --from ${SANDBOX_OFFSITE_TARGET}`);
      } else {
        out('  npx mcp-runbooks recover <archive from the list>');
      }
      out('  npx mcp-runbooks schedules list');
      out(`  temporal workflow list --address ${config.temporal.address ?? ''}`);
      out('Press Ctrl-C to stop everything started here.');
      await new Promise<void>((resolve) => {
        if (opts.stop.aborted) resolve();
        opts.stop.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    return result;
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c.run();
        out(`stopped ${c.what}`);
      } catch (err) {
        out(`could not stop ${c.what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

/** What the dev run backs up to, and what to keep safe; without restic, how to get the off-host target. */
function targetLines(config: Config, repository: RepositoryProvision | undefined, env: Record<string, string | undefined>): string[] {
  const lines = config.backup.targets.map((t) =>
    t.type === 'archive' ? `backup target ${t.name}: archive folder ${config.paths.backupDir}` : `backup target ${t.name}: restic repository ${t.location} (password ${t.password.origin.replace(/^file:/, '')})`,
  );
  if (repository) {
    lines.push(`restic repository ${repository.target}: ${repository.state} ${repository.detail}`);
    if (repository.state !== 'unavailable') lines.push('  keep its password file safe (and a copy elsewhere): without it nothing in the repository can be restored');
  }
  const wantsRestic = config.backup.targets.some((t) => t.type === 'restic');
  if (!resolveProgram('restic', env)) {
    if (wantsRestic) lines.push('restic is not on PATH: the restic targets above will fail; install it (Debian/Ubuntu: apt-get install restic)');
    else if (config.source === BUILT_IN_SOURCE) lines.push('restic is not on PATH: backups go to the archive folder alone. Install it (Debian/Ubuntu: apt-get install restic) and start again for a restic repository target beside it');
  }
  return lines;
}

function throwIfStopped(signal: AbortSignal): void {
  if (signal.aborted) throw new Error('stopped by signal during startup');
}
