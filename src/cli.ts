#!/usr/bin/env node
/**
 * `mcp-runbooks`: the operator's command. Exit codes: 0 success; 1 a runbook
 * reported `fail` findings or an operation failed; 2 bad configuration or usage.
 */
import { Command, CommanderError, Option } from 'commander';
import type { Client } from '@temporalio/client';
import type { LogLevel } from '@temporalio/worker';
import { ConfigError, UsageError, errorMessage } from './common/errors.js';
import type { Config } from './config/config.js';
import type * as Schedules from './schedules/index.js';
import { isRunbookName, RUNBOOKS } from './runbooks.js';
import { VERSION } from './version.js';

import { WORKER_ROLES, type WorkerRole } from './common/roles.js';

// Commands import what they need when they run, so `--help` does not load the Temporal SDK.

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

interface GlobalOptions {
  config?: string;
  logLevel?: LogLevel;
}

function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

async function load(cmd: Command, extra: { hostId?: string } = {}): Promise<Config> {
  const { loadConfig } = await import('./config/load.js');
  const g = globals(cmd);
  return loadConfig({ ...(g.config ? { path: g.config } : {}), env: process.env, ...extra });
}

async function installRuntime(cmd: Command, fallback: LogLevel): Promise<void> {
  const { installRuntime } = await import('./temporal/runtime.js');
  installRuntime(globals(cmd).logLevel ?? fallback);
}

/**
 * An AbortSignal that fires on the first SIGINT or SIGTERM; a second signal
 * exits at once. The listeners stay installed (not `once`): execa's exit hook
 * re-raises a signal that no other listener handles, which would kill the
 * process in the middle of a graceful shutdown.
 */
function stopSignal(onStop?: (signal: string) => void): AbortSignal {
  const controller = new AbortController();
  const handler = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      err(`${signal} again: exiting now`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    onStop?.(signal);
    controller.abort(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return controller.signal;
}

const program = new Command('mcp-runbooks')
  .description('Operations runbooks for MCP services as durable Temporal workflows')
  .version(VERSION)
  .option('--config <path>', 'config file (default: $MCP_RUNBOOKS_CONFIG, else the built-in sandbox)')
  .addOption(new Option('--log-level <level>', 'SDK log level').choices(LOG_LEVELS))
  .showHelpAfterError()
  .exitOverride();

program
  .command('dev')
  .description('embedded Temporal dev server + sandbox fleet + worker; prints a health check, then runs until Ctrl-C')
  .option('--once', 'exit after the first health check report')
  .option('--json', 'print the report as JSON')
  .action(async (opts: { once?: boolean; json?: boolean }, cmd: Command) => {
    await installRuntime(cmd, 'WARN');
    const config = await load(cmd);
    const { runDev } = await import('./dev/dev.js');
    const stop = stopSignal((s) => out(`\n${s}: stopping ...`));
    await runDev({ config, env: process.env, once: Boolean(opts.once), json: Boolean(opts.json), stop, out });
  });

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
    await installRuntime(cmd, 'INFO');
    const config = await load(cmd, opts.hostId ? { hostId: opts.hostId } : {});
    const { startWorker } = await import('./worker.js');
    const worker = await startWorker({ config, role: opts.role });
    out(`mcp-runbooks ${VERSION} worker: role ${worker.role}, host ${worker.hostId}`);
    out(`config: ${config.source}`);
    out(`temporal: ${config.temporal.address ?? '127.0.0.1:7233'} namespace ${config.temporal.namespace}`);
    out(`task queues: ${worker.taskQueues.join(', ')}`);
    if (worker.metrics) out(`metrics: ${worker.metrics.url}/metrics`);
    if (opts.applySchedules) {
      // A failed apply is reported, not fatal: the worker still serves the runs already scheduled.
      try {
        const lines = await withScheduleClient(config, async (client, s) => s.renderChanges(await s.applySchedules({ client, config })));
        for (const line of lines) out(line);
      } catch (e) {
        err(`schedules apply failed: ${errorMessage(e)}`);
      }
    }
    const boundSeconds = config.worker.shutdownGraceSeconds + config.worker.shutdownForceSeconds + 5;
    stopSignal((signal) => {
      out(`${signal}: shutting down (in-flight activities get ${config.worker.shutdownGraceSeconds}s) ...`);
      setTimeout(() => {
        err(`worker did not stop within ${boundSeconds}s; exiting`);
        process.exit(1);
      }, boundSeconds * 1000).unref();
      void worker.shutdown().catch(() => undefined);
    });
    await worker.done;
    out('worker stopped');
  });

program
  .command('run')
  .description(`run a runbook and print its report (${Object.keys(RUNBOOKS).join(', ')})`)
  .argument('<runbook>', 'runbook name')
  .option('--host <id>', 'host to run it on (default: this config\'s host)')
  .option('--json', 'print the report as JSON')
  .action(async (runbook: string, opts: { host?: string; json?: boolean }, cmd: Command) => {
    if (!isRunbookName(runbook)) throw new UsageError(`unknown runbook "${runbook}" (known: ${Object.keys(RUNBOOKS).join(', ')})`);
    await installRuntime(cmd, 'WARN');
    const config = await load(cmd);
    const { missingWorkers, resolveHostForClient, runRunbook } = await import('./client/run-runbook.js');
    const { connectClient } = await import('./temporal/connection.js');
    const { renderReportText } = await import('./report/render-text.js');
    const hostId = resolveHostForClient(config, opts.host);
    const client = await connectClient(config.temporal);
    try {
      const missing = await missingWorkers(client, config, hostId);
      if (missing.length) {
        for (const m of missing) err(m);
        process.exitCode = 1;
        return;
      }
      if (!opts.json) err(`running ${runbook} on ${hostId} ...`);
      const { workflowId, report } = await runRunbook({ client, config, runbook, hostId });
      out(opts.json ? JSON.stringify(report, null, 2) : `${workflowId}\n${renderReportText(report).trimEnd()}`);
      process.exitCode = report.summary.fail > 0 ? 1 : 0;
    } finally {
      await client.connection.close();
    }
  });

/** Runs `fn` with a client and the schedules module; closes the client. */
async function withScheduleClient<T>(config: Config, fn: (client: Client, s: typeof Schedules) => Promise<T>): Promise<T> {
  const [s, { connectClient }] = await Promise.all([import('./schedules/index.js'), import('./temporal/connection.js')]);
  const client = await connectClient(config.temporal);
  try {
    return await fn(client, s);
  } finally {
    await client.connection.close();
  }
}

/** The `--overlap` option, e.g. `buffer-all`. */
async function overlapOption(value: string | undefined): Promise<Schedules.OverlapPolicy | undefined> {
  if (value === undefined) return undefined;
  const { parseOverlapPolicy, OVERLAP_POLICIES } = await import('./schedules/index.js');
  const overlap = parseOverlapPolicy(value);
  if (!overlap) throw new UsageError(`--overlap: expected one of ${OVERLAP_POLICIES.map((p) => p.toLowerCase().replaceAll('_', '-')).join(', ')}, found "${value}"`);
  return overlap;
}

const schedules = program
  .command('schedules')
  .description('Temporal Schedules declared in config: apply, list, pause, unpause, trigger, backfill, delete');

schedules
  .command('apply')
  .description('create, update and delete schedules to match the config (never touches schedules it did not create); prints the diff')
  .option('--dry-run', 'print what would change, change nothing')
  .action(async (opts: { dryRun?: boolean }, cmd: Command) => {
    const config = await load(cmd);
    const changes = await withScheduleClient(config, async (client, s) => {
      const result = await s.applySchedules({ client, config, dryRun: Boolean(opts.dryRun) });
      for (const line of s.renderChanges(result, { dryRun: Boolean(opts.dryRun) })) out(line);
      return result;
    });
    process.exitCode = changes.some((c) => c.error || c.kind === 'conflict') ? 1 : 0;
  });

schedules
  .command('list')
  .description('this config\'s schedules: next runs, recent runs with outcome, paused and why, missed and skipped counts, last success')
  .option('--all', 'also schedules this config does not manage (marked as such)')
  .option('--json', 'print JSON')
  .action(async (opts: { all?: boolean; json?: boolean }, cmd: Command) => {
    const config = await load(cmd);
    await withScheduleClient(config, async (client, s) => {
      const statuses = await s.scheduleStatuses({ client, config, includeOthers: Boolean(opts.all) });
      if (opts.json) out(JSON.stringify(statuses, null, 2));
      else if (statuses.length === 0) out('no schedules (run `mcp-runbooks schedules apply`)');
      else for (const line of s.renderStatuses(statuses)) out(line);
    });
  });

schedules
  .command('pause')
  .description('pause a schedule; `apply` keeps it paused')
  .argument('<id>', 'schedule id, <runbook>.<host>, or <runbook> for this host')
  .requiredOption('--note <text>', 'why it is paused (shown by `schedules list` and in the Temporal UI)')
  .action(async (id: string, opts: { note: string }, cmd: Command) => {
    const config = await load(cmd);
    const own = await withScheduleClient(config, (client, s) => s.pauseSchedule(client, config, id, opts.note));
    out(`paused ${own.scheduleId}: ${opts.note}`);
  });

schedules
  .command('unpause')
  .description('unpause a schedule')
  .argument('<id>', 'schedule id, <runbook>.<host>, or <runbook> for this host')
  .option('--note <text>', 'why it runs again')
  .action(async (id: string, opts: { note?: string }, cmd: Command) => {
    const config = await load(cmd);
    const own = await withScheduleClient(config, (client, s) => s.unpauseSchedule(client, config, id, opts.note));
    out(`unpaused ${own.scheduleId}${opts.note ? `: ${opts.note}` : ''}`);
  });

schedules
  .command('trigger')
  .description('start the schedule\'s runbook now and print the workflow id; a run still running makes it skip (overlap policy)')
  .argument('<id>', 'schedule id, <runbook>.<host>, or <runbook> for this host')
  .option('--overlap <policy>', 'overlap policy for this run (default: the schedule\'s); allow-all starts it beside a running one')
  .action(async (id: string, opts: { overlap?: string }, cmd: Command) => {
    const config = await load(cmd);
    const overlap = await overlapOption(opts.overlap);
    const r = await withScheduleClient(config, (client, s) => s.triggerSchedule(client, config, id, overlap ? { overlap } : {}));
    if (r.workflowId) {
      out(`triggered ${r.scheduleId}: started ${r.workflowId}`);
      out(`  result: temporal workflow result --workflow-id ${r.workflowId}`);
    } else {
      err(
        r.skipped
          ? `triggered ${r.scheduleId}: skipped, a run is still running (overlap ${r.overlap}; --overlap allow-all starts one beside it)`
          : `triggered ${r.scheduleId}: no run reported yet; see \`mcp-runbooks schedules list\``,
      );
      process.exitCode = 1;
    }
  });

schedules
  .command('backfill')
  .description('take now the runs that were due between --from and --to (e.g. after an outage longer than the catch-up window)')
  .argument('<id>', 'schedule id, <runbook>.<host>, or <runbook> for this host')
  .requiredOption('--from <time>', 'start, ISO 8601 (e.g. 2026-11-20T00:00:00Z)')
  .requiredOption('--to <time>', 'end, ISO 8601')
  .option('--overlap <policy>', 'overlap policy for these runs (default: the schedule\'s); buffer-all runs each one in turn')
  .action(async (id: string, opts: { from: string; to: string; overlap?: string }, cmd: Command) => {
    const config = await load(cmd);
    const overlap = await overlapOption(opts.overlap);
    const from = new Date(opts.from);
    const to = new Date(opts.to);
    const r = await withScheduleClient(config, (client, s) => s.backfillSchedule(client, config, id, { from, to, ...(overlap ? { overlap } : {}) }));
    out(`backfill of ${r.scheduleId} from ${from.toISOString()} to ${to.toISOString()} (overlap ${r.overlap}) requested; runs show in \`mcp-runbooks schedules list\``);
  });

schedules
  .command('delete')
  .description('delete one of this config\'s schedules (set enabled: false in config to keep it deleted)')
  .argument('<id>', 'schedule id, <runbook>.<host>, or <runbook> for this host')
  .action(async (id: string, _opts: unknown, cmd: Command) => {
    const config = await load(cmd);
    const r = await withScheduleClient(config, (client, s) => s.deleteSchedule(client, config, id));
    out(`deleted ${r.scheduleId}`);
    if (r.stillDeclared) err('note: the config still declares it, so the next `schedules apply` creates it again; set `enabled: false` to keep it off');
  });

program
  .command('config')
  .description('show the effective configuration (secrets redacted)')
  .action(async (_opts: unknown, cmd: Command) => {
    const config = await load(cmd);
    const { redactedConfig } = await import('./config/config.js');
    const { stringify } = await import('yaml');
    out(stringify(redactedConfig(config)).trimEnd());
  });

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    if (e instanceof ConfigError) {
      err(`mcp-runbooks: ${e.message}`);
      process.exitCode = 2;
      return;
    }
    if (e instanceof UsageError) {
      err(`mcp-runbooks: ${e.message}`);
      process.exitCode = 2;
      return;
    }
    err(`mcp-runbooks: ${errorMessage(e)}`);
    process.exitCode = 1;
  }
}

await main();
