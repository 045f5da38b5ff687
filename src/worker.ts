/**
 * The worker: one binary, two roles. `orchestrator` runs the workflows on the
 * orchestration task queue; `host` runs a host's activities on that host's own
 * queue; `all` is both, the single-machine default.
 */
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, createOrchestratorActivities } from './activities/index.js';
import type { Faults } from './activities/faults.js';
import { hostTaskQueue } from './common/task-queues.js';
import { hostWorkerIdentity, orchestratorWorkerIdentity } from './common/worker-identity.js';
import type { Config } from './config/config.js';
import { Client } from '@temporalio/client';
import { activityMetricsInterceptor } from './metrics/activity-interceptor.js';
import { backupProbe, every, memoryProbe, scheduleProbe, serviceProbe, type Probe } from './metrics/probes.js';
import { createWorkerMetrics, type WorkerMetrics } from './metrics/registry.js';
import { restoreFreezes, restoreRunbookOutcomes, type RestoredOutcome } from './metrics/restore-outcomes.js';
import { runbookSinks } from './metrics/runbook-sink.js';
import { errorMessage } from './common/errors.js';
import { ensureSearchAttributes } from './temporal/search-attributes.js';
import { startMetricsServer, type MetricsServer } from './metrics/server.js';
import { createServiceManager, type ServiceManager } from './services/index.js';
import { connectWorker } from './temporal/connection.js';
import { removeVerifyLeftovers } from './archive/verify.js';

import type { WorkerRole } from './common/roles.js';
import { prebuiltWorkflowBundle } from './prebuilt-bundle.js';

export { WORKER_ROLES, type WorkerRole } from './common/roles.js';

/** The workflows module the worker bundles: `.ts` under vitest, `.js` from `dist/`. */
export const WORKFLOWS_PATH = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './workflows/index.ts' : './workflows/index.js', import.meta.url),
);

export interface StartWorkerOptions {
  config: Config;
  role: WorkerRole;
  /** @default a new connection from `config.temporal`, closed on shutdown */
  connection?: NativeConnection;
  /** A prebuilt workflow bundle (tests build one per run); @default bundles {@link WORKFLOWS_PATH} at start */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Serve `/metrics`, `/healthz`, `/readyz`. @default true */
  serveMetrics?: boolean;
  /** Replace the service manager the config describes (tests). */
  services?: ServiceManager;
  /** Fault points for kill tests (test/fixtures/fault-worker.mjs); the CLI never passes one. @default none */
  faults?: Faults;
  /** The SDK runtime's Prometheus endpoint, merged into `/metrics` (set when the runtime exports metrics). */
  sdkMetricsUrl?: string;
  /** Run the periodic probes (services, backups, memory service, schedules). @default true */
  probes?: boolean;
}

/** The HTTP gateway served by this process (config `gateway.inWorker`, orchestrator roles). */
export interface WorkerGateway {
  url: string;
  close(): Promise<void>;
}

export interface RunningWorker {
  role: WorkerRole;
  hostId: string;
  taskQueues: string[];
  identities: string[];
  metrics?: MetricsServer;
  gateway?: WorkerGateway;
  /** This process's metric objects (tests read them). */
  registry: WorkerMetrics;
  /** Settles once the outcome gauges were read back from Temporal (orchestrator roles; empty for a host worker). */
  restored: Promise<RestoredOutcome[]>;
  /** Scratch folders of verifications a killed worker left in the backups folder, removed at start (host role). */
  leftoversRemoved: string[];
  /** Where the workflow code came from (orchestrator roles): a bundle given or built with the package, or bundled at start. */
  workflows?: string;
  /** Settles when every worker in this process has stopped; rejects if one failed. */
  done: Promise<void>;
  /** Graceful shutdown: stop polling, let in-flight activities finish within the grace time, close. */
  shutdown(): Promise<void>;
}

export async function startWorker(opts: StartWorkerOptions): Promise<RunningWorker> {
  const { config, role } = opts;
  const ownConnection = !opts.connection;
  const connection = opts.connection ?? (await connectWorker(config.temporal));
  const common = {
    connection,
    namespace: config.temporal.namespace,
    shutdownGraceTime: `${config.worker.shutdownGraceSeconds} seconds`,
    shutdownForceTime: `${config.worker.shutdownForceSeconds} seconds`,
  } as const;
  const workers: Worker[] = [];
  const taskQueues: string[] = [];
  const identities: string[] = [];
  const leftoversRemoved: string[] = [];

  // The HTTP endpoints come first: a busy port must fail before any Worker holds the connection.
  const metrics = createWorkerMetrics({ role, hostId: config.hostId });
  const interceptors = { activity: [activityMetricsInterceptor(metrics)] };
  const services = opts.services ?? createServiceManager(config);
  const allRunning = () => workers.length > 0 && workers.every((w) => w.getState() === 'RUNNING');
  metrics.setReadiness(allRunning);
  const readiness = () => {
    const states = workers.map((w, i) => `${taskQueues[i]}: ${w.getState()}`);
    return { ready: allRunning(), detail: states.join('\n') || 'starting' };
  };
  let server: MetricsServer | undefined;
  let workflows: string | undefined;
  let gateway: WorkerGateway | undefined;
  try {
    if (opts.serveMetrics !== false) {
      server = await startMetricsServer({
        host: config.metrics.host,
        port: config.metrics.port,
        registry: metrics.registry,
        readiness,
        ...(opts.sdkMetricsUrl ? { sdkMetricsUrl: opts.sdkMetricsUrl } : {}),
      });
    }
    if (role === 'orchestrator' || role === 'all') {
      // The bundle built with the package, unless stale or a caller gave one: no webpack run at start.
      const workflowBundle = opts.workflowBundle ?? (await prebuiltWorkflowBundle());
      workflows = workflowBundle ? `bundle ${'codePath' in workflowBundle ? workflowBundle.codePath : '(given in code)'}` : `bundled at start from ${WORKFLOWS_PATH}`;
      // Before the first workflow task: a run that upserts an unknown search attribute gets stuck.
      await ensureSearchAttributes(new Client({ connection, namespace: config.temporal.namespace }), config.temporal.namespace);
      const identity = orchestratorWorkerIdentity(hostname(), process.pid);
      workers.push(
        await Worker.create({
          ...common,
          identity,
          taskQueue: config.temporal.taskQueue,
          ...(workflowBundle ? { workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
          activities: createOrchestratorActivities({ config, metrics }),
          sinks: runbookSinks(metrics),
          interceptors,
        }),
      );
      taskQueues.push(config.temporal.taskQueue);
      identities.push(identity);
    }
    if (role === 'host' || role === 'all') {
      // A worker killed mid-verification left a full copy of each dump behind: remove it before serving.
      leftoversRemoved.push(...(await removeVerifyLeftovers(config.paths.backupDir)));
      // `doctor` reads this back (src/doctor/host-queue.ts) to find another machine's worker on this host's queue.
      const identity = hostWorkerIdentity(config.hostId, hostname(), process.pid);
      const taskQueue = hostTaskQueue(config.temporal.taskQueue, config.hostId);
      workers.push(
        await Worker.create({
          ...common,
          identity,
          taskQueue,
          activities: createActivities({ config, services, ...(opts.faults ? { faults: opts.faults } : {}) }),
          interceptors,
        }),
      );
      taskQueues.push(taskQueue);
      identities.push(identity);
    }
    if (config.gateway?.inWorker && (role === 'orchestrator' || role === 'all')) gateway = await startGateway(config, new Client({ connection, namespace: config.temporal.namespace }));
  } catch (err) {
    await gateway?.close();
    await server?.close();
    // A Worker already created keeps the connection; the process is about to report the error and exit.
    if (ownConnection) await connection.close().catch(() => undefined);
    throw err;
  }

  const probes: Probe[] = [];
  if (opts.probes !== false) {
    const { probeSeconds, backupProbeSeconds, scheduleProbeSeconds } = config.metrics;
    if (role === 'host' || role === 'all') {
      if (probeSeconds > 0) probes.push(every(probeSeconds, serviceProbe(config, services, metrics)));
      if (backupProbeSeconds > 0) probes.push(every(backupProbeSeconds, backupProbe(config, metrics)));
      if (probeSeconds > 0 && services.services.includes('mcp-memory')) probes.push(every(probeSeconds, memoryProbe(config, metrics)));
    }
    if ((role === 'orchestrator' || role === 'all') && config.schedules.length > 0 && scheduleProbeSeconds > 0) {
      const client = new Client({ connection, namespace: config.temporal.namespace });
      probes.push(every(config.metrics.scheduleProbeSeconds, scheduleProbe(config, client, metrics)));
    }
  }

  const runs = workers.map((w) => w.run());
  // Failure signals that must survive a restart (BackupFailed, MaintenanceFailFindings) come back from Temporal.
  const restored =
    role === 'orchestrator' || role === 'all'
      ? restoreRunbookOutcomes({ client: new Client({ connection, namespace: config.temporal.namespace }), hosts: config.hosts, metrics }).catch((err: unknown) => {
          console.error(`could not read earlier runbook outcomes back from Temporal (the outcome metrics start empty): ${errorMessage(err)}`);
          return [];
        })
      : Promise.resolve([]);
  // The freezes in force, beside it (each lock's query is bounded; nothing waits for this).
  if (role === 'orchestrator' || role === 'all') {
    void restoreFreezes({ client: new Client({ connection, namespace: config.temporal.namespace }), hosts: config.hosts, metrics, taskQueue: config.temporal.taskQueue }).catch((err: unknown) => {
      console.error(`could not read the hosts' freezes back from Temporal (mcp_runbooks_host_frozen_until_timestamp_seconds starts empty): ${errorMessage(err)}`);
    });
  }
  const done = (async () => {
    try {
      const results = await Promise.allSettled(runs);
      // One worker failing stops the others: a half-running process is worse than none.
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      for (const p of probes) p.stop();
      await gateway?.close();
      await server?.close();
      if (ownConnection) await connection.close();
    }
  })();
  void Promise.race(runs).catch(() => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  });

  return {
    role,
    hostId: config.hostId,
    taskQueues,
    identities,
    ...(server ? { metrics: server } : {}),
    ...(gateway ? { gateway } : {}),
    registry: metrics,
    restored,
    leftoversRemoved,
    ...(workflows ? { workflows } : {}),
    done,
    async shutdown() {
      for (const w of workers) {
        if (w.getState() === 'RUNNING') w.shutdown();
      }
      await done;
    },
  };
}

/** The gateway in the worker's process, on the worker's connection. */
async function startGateway(config: Config, client: Client): Promise<WorkerGateway> {
  const { buildGateway } = await import('./gateway/server.js');
  const { app } = buildGateway({ config, client });
  const g = config.gateway!;
  const url = await app.listen({ host: g.host, port: g.port });
  return { url, close: () => app.close() };
}
