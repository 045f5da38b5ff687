/** `mcp-runbooks worker`: serve one role's task queues until SIGINT/SIGTERM. */
import { Option, type Command } from 'commander';
import { UsageError, errorMessage } from '../common/errors.js';
import { WORKER_ROLES, type WorkerRole } from '../common/roles.js';
import { VERSION } from '../version.js';
import { withScheduleClient } from './schedules.js';
import { err, installRuntime, load, out, stopSignal } from './shared.js';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run a worker: orchestrator (workflows), host (this host\'s activities) or all')
    .addOption(new Option('--role <role>', 'which task queues to poll').choices(WORKER_ROLES).default('all'))
    .option('--host-id <id>', 'this host\'s id (overrides hostId in config)')
    .option('--apply-schedules', 'apply the configured schedules at start (orchestrator or all)')
    .action(async (opts: { role: WorkerRole; hostId?: string; applySchedules?: boolean }, cmd: Command) => {
      if (opts.applySchedules && opts.role === 'host') {
        throw new UsageError('--apply-schedules needs --role orchestrator or all: schedules start workflows, which a host worker does not run');
      }
      const config = await load(cmd, opts.hostId ? { hostId: opts.hostId } : {});
      const sdkMetricsUrl = await installRuntime(cmd, 'INFO', config.metrics.sdkPort);
      const { startWorker } = await import('../worker.js');
      // The handler is in place before the worker starts: a SIGTERM from systemd (or a test) that arrives while it
      // starts, or just after it printed its task queues, stops it gracefully instead of killing it with the default action.
      const boundSeconds = config.worker.shutdownGraceSeconds + config.worker.shutdownForceSeconds + 5;
      const started: { stop?: () => void } = {};
      const stopping = stopSignal((signal) => {
        out(`${signal}: shutting down (in-flight activities get ${config.worker.shutdownGraceSeconds}s) ...`);
        setTimeout(() => {
          err(`worker did not stop within ${boundSeconds}s; exiting`);
          process.exit(1);
        }, boundSeconds * 1000).unref();
        started.stop?.();
      });
      const worker = await startWorker({ config, role: opts.role, ...(sdkMetricsUrl ? { sdkMetricsUrl } : {}) });
      started.stop = () => void worker.shutdown().catch(() => undefined);
      if (stopping.aborted) started.stop();
      out(`mcp-runbooks ${VERSION} worker: role ${worker.role}, host ${worker.hostId}`);
      out(`config: ${config.source}`);
      out(`temporal: ${config.temporal.address ?? '127.0.0.1:7233'} namespace ${config.temporal.namespace}`);
      out(`task queues: ${worker.taskQueues.join(', ')}`);
      if (worker.workflows) out(`workflows: ${worker.workflows}`);
      if (worker.metrics) out(`metrics: ${worker.metrics.url}/metrics${sdkMetricsUrl ? ` (with the SDK's from ${sdkMetricsUrl})` : ''}`);
      if (worker.gateway) out(`gateway: ${worker.gateway.url} (${config.gateway!.tokens.length} tokens); OpenAPI at ${worker.gateway.url}/v1/openapi.json`);
      if (opts.applySchedules && !stopping.aborted) {
        // A failed apply is reported, not fatal: the worker still serves the runs already scheduled.
        try {
          const lines = await withScheduleClient(config, async (client, s) => s.renderChanges(await s.applySchedules({ client, config })));
          for (const line of lines) out(line);
        } catch (e) {
          err(`schedules apply failed: ${errorMessage(e)}`);
        }
      }
      await worker.done;
      out('worker stopped');
      // Whatever else is still pending (a probe's command, an idle socket) must not keep a stopped worker alive.
      process.exit(0);
    });
}
