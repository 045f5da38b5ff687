#!/usr/bin/env node
/**
 * `mcp-runbooks`: the operator's command. Exit codes: 0 success; 1 a runbook
 * reported `fail` findings or an operation failed; 2 bad configuration or usage.
 */
import { Command, CommanderError, Option } from 'commander';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { LogLevel } from '@temporalio/worker';
import type { RestorePlan } from './activities/restore.js';
import type { RunbookReport } from './common/report.js';
import type { RecoveryDurations, RecoveryResult } from './workflows/disaster-recovery.js';
import type { BackupResult } from './workflows/backup.js';
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

/** "inspect 3.1s, extract 4.2s, restore (services down) 2.5s, …": only the steps that ran. */
function recoveryDurationsText(d: RecoveryDurations): string {
  const parts: Array<[string, number | undefined]> = [
    ['inspect', d.inspectSeconds],
    ['waiting for approval', d.approvalWaitSeconds],
    ['extract', d.extractSeconds],
    ['restore (services down)', d.restoreSeconds],
    ['emergency archive', d.emergencyBackupSeconds],
    ['total', d.totalSeconds],
  ];
  return parts.flatMap(([name, s]) => (s === undefined ? [] : [`${name} ${s}s`])).join(', ');
}

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

async function installRuntime(cmd: Command, fallback: LogLevel, sdkMetricsPort = 0): Promise<string | undefined> {
  const { installRuntime } = await import('./temporal/runtime.js');
  const address = sdkMetricsPort > 0 ? `127.0.0.1:${sdkMetricsPort}` : undefined;
  installRuntime(globals(cmd).logLevel ?? fallback, address ? { sdkMetricsAddress: address } : {});
  return address ? `http://${address}/metrics` : undefined;
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
  .addOption(new Option('--log-level <level>', 'Temporal SDK log level of `dev` (default WARN) and `worker` (default INFO)').choices(LOG_LEVELS))
  .showHelpAfterError()
  .exitOverride();

program
  .command('dev')
  .description('embedded Temporal dev server + sandbox fleet + worker; prints a health check, then runs until Ctrl-C')
  .option('--once', 'exit after the first health check report')
  .option('--json', 'print the report as JSON')
  .action(async (opts: { once?: boolean; json?: boolean }, cmd: Command) => {
    const config = await load(cmd);
    const sdkMetricsUrl = await installRuntime(cmd, 'WARN', config.metrics.sdkPort);
    const { runDev } = await import('./dev/dev.js');
    const stop = stopSignal((s) => out(`\n${s}: stopping ...`));
    await runDev({ config, env: process.env, once: Boolean(opts.once), json: Boolean(opts.json), stop, out, ...(sdkMetricsUrl ? { sdkMetricsUrl } : {}) });
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
    const config = await load(cmd, opts.hostId ? { hostId: opts.hostId } : {});
    const sdkMetricsUrl = await installRuntime(cmd, 'INFO', config.metrics.sdkPort);
    const { startWorker } = await import('./worker.js');
    const worker = await startWorker({ config, role: opts.role, ...(sdkMetricsUrl ? { sdkMetricsUrl } : {}) });
    out(`mcp-runbooks ${VERSION} worker: role ${worker.role}, host ${worker.hostId}`);
    out(`config: ${config.source}`);
    out(`temporal: ${config.temporal.address ?? '127.0.0.1:7233'} namespace ${config.temporal.namespace}`);
    out(`task queues: ${worker.taskQueues.join(', ')}`);
    if (worker.metrics) out(`metrics: ${worker.metrics.url}/metrics${sdkMetricsUrl ? ` (with the SDK's from ${sdkMetricsUrl})` : ''}`);
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
    // Whatever else is still pending (a probe's command, an idle socket) must not keep a stopped worker alive.
    process.exit(0);
  });

interface Connected {
  config: Config;
  client: Client;
  hostId: string;
}

/**
 * Runs `fn` with a client connected to the config's Temporal; closes it after.
 * Client commands do not install the SDK Runtime (`--log-level`): only a worker logs through it.
 */
async function withClient<T>(config: Config, fn: (client: Client) => Promise<T>): Promise<T> {
  const { connectClient } = await import('./temporal/connection.js');
  const client = await connectClient(config.temporal);
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

/** Loads config, connects, resolves the host and checks that workers poll its queues. */
async function connected(cmd: Command, host: string | undefined, fn: (c: Connected) => Promise<void>): Promise<void> {
  const config = await load(cmd);
  const { missingWorkers, resolveHostForClient } = await import('./client/run-runbook.js');
  const hostId = resolveHostForClient(config, host);
  await withClient(config, async (client) => {
    const missing = await missingWorkers(client, config, hostId);
    if (missing.length) {
      for (const m of missing) err(m);
      process.exitCode = 1;
      return;
    }
    await fn({ config, client, hostId });
  });
}

/**
 * Prints a runbook's report: as JSON, or as `textLines` then the report's text.
 * Exit code 1 when it has `fail` findings, else 0.
 */
async function printReport(report: RunbookReport, json: boolean, textLines: readonly string[] = []): Promise<void> {
  if (json) out(JSON.stringify(report, null, 2));
  else {
    const { renderReportText } = await import('./report/render-text.js');
    for (const line of textLines) out(line);
    out(renderReportText(report).trimEnd());
  }
  process.exitCode = report.summary.fail > 0 ? 1 : 0;
}

/** Awaits a workflow's result; a failed workflow prints its reason and sets exit code 1. */
async function resultOf<T>(handle: WorkflowHandle, afterClose?: () => Promise<void>): Promise<T | undefined> {
  const { WorkflowFailedError } = await import('@temporalio/client');
  try {
    const result = (await handle.result()) as T;
    await afterClose?.();
    return result;
  } catch (e) {
    await afterClose?.();
    if (e instanceof WorkflowFailedError) {
      err(`${handle.workflowId} failed: ${e.cause?.message ?? e.message}`);
      process.exitCode = 1;
      return undefined;
    }
    throw e;
  }
}

/** Waits for a workflow's result while printing its progress on stderr; every phase is printed before the result returns. */
async function resultWithProgress<T>(handle: WorkflowHandle, quiet: boolean, shownPhases = 0): Promise<T | undefined> {
  if (quiet) return resultOf<T>(handle);
  const { followProgress } = await import('./client/progress.js');
  return resultOf<T>(handle, followProgress(handle, (line) => err(`  ${line}`), { shownPhases }));
}

program
  .command('run')
  .description(`run a runbook and print its report (${Object.keys(RUNBOOKS).join(', ')})`)
  .argument('<runbook>', 'runbook name')
  .option('--host <id>', 'host to run it on (default: this config\'s host)')
  .option('--reason <text>', 'backup: recorded in the manifest')
  .option('--dry-run', 'backup: report the plan, change nothing')
  .option('--json', 'print the report as JSON')
  .action(async (runbook: string, opts: { host?: string; reason?: string; dryRun?: boolean; json?: boolean }, cmd: Command) => {
    if (!isRunbookName(runbook)) throw new UsageError(`unknown runbook "${runbook}" (known: ${Object.keys(RUNBOOKS).join(', ')})`);
    const def = RUNBOOKS[runbook];
    const accepts = def.options as readonly string[];
    for (const [flag, key] of [['--reason', 'reason'], ['--dry-run', 'dryRun']] as const) {
      if (opts[key] !== undefined && !accepts.includes(key)) throw new UsageError(`${flag} does not apply to ${runbook}`);
    }
    await connected(cmd, opts.host, async ({ config, client, hostId }) => {
      const { startRunbook } = await import('./client/run-runbook.js');
      const handle = await startRunbook({
        client,
        config,
        runbook,
        hostId,
        input: { ...(opts.reason ? { reason: opts.reason } : {}), ...(opts.dryRun ? { dryRun: true } : {}) },
      });
      if (!opts.json) err(`${runbook} on ${hostId}: ${handle.workflowId}`);
      const report = await resultWithProgress<RunbookReport>(handle, Boolean(opts.json));
      if (!report) return;
      const b = report as Partial<BackupResult>;
      await printReport(report, Boolean(opts.json), [
        handle.workflowId,
        ...(b.archive ? [`archive: ${b.archive.path} (${b.archive.bytes} bytes, sha256 ${b.archive.sha256})`] : []),
        ...(b.downtime ?? []).map((d) => `downtime: ${d.service} ${d.seconds}s`),
        ...(b.durations ? [`took: snapshot ${b.durations.snapshotSeconds}s, archive ${b.durations.archiveSeconds}s, verify ${b.durations.verifySeconds}s, total ${b.durations.totalSeconds}s`] : []),
      ]);
    });
  });

program
  .command('recover')
  .description('restore a host from a backup archive (asks for approval unless --yes)')
  .argument('<archive>', 'archive name in the host\'s backups folder, e.g. mcp_backup_20261124_020000.tar.gz')
  .option('--host <id>', 'host to restore (default: this config\'s host)')
  .option('--yes', 'approve at once, without asking')
  .option('--dry-run', 'inspect the archive and show the plan; change nothing')
  .option('--approval-timeout <minutes>', 'how long the workflow waits for approval', '60')
  .option('--json', 'print the result as JSON')
  .action(async (archive: string, opts: { host?: string; yes?: boolean; dryRun?: boolean; approvalTimeout: string; json?: boolean }, cmd: Command) => {
    const { archiveNameProblem } = await import('./common/archive-names.js');
    const problem = archiveNameProblem(archive);
    if (problem) throw new UsageError(problem);
    const minutes = Number(opts.approvalTimeout);
    if (!(minutes > 0 && minutes <= 10080)) throw new UsageError(`--approval-timeout: expected minutes from 1 to 10080, found "${opts.approvalTimeout}"`);
    await connected(cmd, opts.host, async ({ config, client, hostId }) => {
      const { startRecovery } = await import('./client/operations.js');
      const { watchProgress } = await import('./client/progress.js');
      const handle = await startRecovery(client, config, { archive, hostId, approve: Boolean(opts.yes), dryRun: Boolean(opts.dryRun), approvalTimeoutMinutes: minutes });
      if (!opts.json) err(`disasterRecovery of ${hostId} from ${archive}: ${handle.workflowId}`);
      let shownPhases = 0;
      if (!opts.yes && !opts.dryRun) {
        const p = await watchProgress(handle, { onUpdate: (line) => opts.json || err(`  ${line}`), until: (x) => x.phase === 'awaiting approval' });
        shownPhases = p?.phases.length ?? 0;
        if (p?.phase === 'awaiting approval') {
          const plan = await handle.query<RestorePlan | null>('plan');
          if (plan) {
            err(`\n${archive} (made ${plan.backupCreatedAt} on ${plan.backupHost}) passed every check. Restoring will:`);
            err(`  stop ${plan.services.join(', ')}`);
            for (const r of plan.roots) err(`  replace ${r.target} (${r.files} files, ${r.bytes} bytes)`);
            if (plan.dump) err(`  restore database ${plan.dump.database} from the dump`);
            err('  keep the current state as an emergency archive; roll everything back if any step or check fails');
          }
          if (process.stdin.isTTY) {
            const { createInterface } = await import('node:readline/promises');
            const rl = createInterface({ input: process.stdin, output: process.stderr });
            const answer = (await rl.question(`Restore ${hostId} from ${archive}? Type "yes" to go on: `)).trim();
            rl.close();
            const { userInfo } = await import('node:os');
            const by = userInfo().username;
            if (answer === 'yes') await handle.executeUpdate('approve', { args: [{ by }] });
            else {
              await handle.executeUpdate('reject', { args: [{ by }] });
              err('rejected: nothing was changed');
            }
          } else {
            err(`\nWaiting for approval (up to ${minutes} minutes). Approve with either:`);
            err(`  mcp-runbooks approve ${handle.workflowId}`);
            err(`  temporal workflow update execute --name approve --workflow-id ${handle.workflowId} --input '{"by": "<you>"}'`);
            return;
          }
        }
      }
      const result = await resultWithProgress<RecoveryResult>(handle, Boolean(opts.json), shownPhases);
      if (!result) return;
      await printReport(result, Boolean(opts.json), [
        `${handle.workflowId}: ${result.outcome}`,
        ...(result.plan && result.outcome === 'dry-run' ? result.plan.roots.map((r) => `  would replace ${r.target} (${r.files} files, ${r.bytes} bytes)`) : []),
        ...(result.emergencyBackup ? [`  previous state archived as ${result.emergencyBackup.archive}`] : []),
        ...result.downtime.map((d) => `  ${d.service} down ${d.seconds}s`),
        ...(result.durations ? [`  took: ${recoveryDurationsText(result.durations)}`] : []),
      ]);
    });
  });

program
  .command('approve')
  .description('approve (or --reject) a disasterRecovery, or a weekly run\'s package upgrade, that waits for approval')
  .argument('<workflow-id>', 'the waiting workflow\'s id')
  .option('--reject', 'decline: the run ends having changed nothing')
  .option('--by <name>', 'who decides, for the record')
  .action(async (workflowId: string, opts: { reject?: boolean; by?: string }, cmd: Command) => {
    const config = await load(cmd);
    const { userInfo } = await import('node:os');
    await withClient(config, async (client) => {
      const r = await client.workflow.getHandle(workflowId).executeUpdate<{ approved: boolean; by?: string }, [{ by: string }]>(opts.reject ? 'reject' : 'approve', {
        args: [{ by: opts.by ?? userInfo().username }],
      });
      out(`${workflowId}: ${r.approved ? 'approved' : 'rejected'}${r.by ? ` by ${r.by}` : ''}`);
    });
  });

const backups = program.command('backups').description('list and verify backup archives on a host');

backups
  .command('list')
  .description('archives with age, size, kind and verification')
  .option('--host <id>', 'host (default: this config\'s host)')
  .option('--json', 'print as JSON')
  .action(async (opts: { host?: string; json?: boolean }, cmd: Command) => {
    await connected(cmd, opts.host, async ({ config, client, hostId }) => {
      const { listBackupsOn } = await import('./client/operations.js');
      const list = await listBackupsOn(client, config, hostId);
      if (opts.json) return void out(JSON.stringify(list, null, 2));
      if (!list.length) return void out(`no archives on ${hostId}`);
      const age = (s: number) => (s < 3600 ? `${Math.round(s / 60)}m` : s < 172800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86400)}d`);
      const size = (n: number) => (n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);
      out(`${'archive'.padEnd(36)} ${'age'.padStart(5)} ${'size'.padStart(11)}  ${'kind'.padEnd(9)} verified`);
      for (const b of list) {
        const v = b.verified ? (b.verified.ok ? `yes ${b.verified.at}` : `FAILED ${b.verified.at}`) : b.hasManifest ? 'not yet' : 'no manifest';
        out(`${b.archive.padEnd(36)} ${age(b.ageSeconds).padStart(5)} ${size(b.bytes).padStart(11)}  ${b.kind.padEnd(9)} ${v}`);
      }
    });
  });

backups
  .command('verify')
  .description('read archives back whole and check them against their manifests')
  .argument('[archive]', 'archive name')
  .option('--all', 'every archive')
  .option('--host <id>', 'host (default: this config\'s host)')
  .option('--json', 'print the report as JSON')
  .action(async (archive: string | undefined, opts: { all?: boolean; host?: string; json?: boolean }, cmd: Command) => {
    if (!archive && !opts.all) throw new UsageError('name an archive or pass --all');
    if (archive && opts.all) throw new UsageError('name an archive or pass --all, not both');
    await connected(cmd, opts.host, async ({ config, client, hostId }) => {
      const { verifyBackupsOn } = await import('./client/operations.js');
      const handle = await verifyBackupsOn(client, config, hostId, archive ? [archive] : 'all');
      const report = await resultWithProgress<RunbookReport>(handle, Boolean(opts.json));
      if (report) await printReport(report, Boolean(opts.json));
    });
  });

program
  .command('status')
  .description('who holds each host\'s lock, and who waits')
  .option('--json', 'print as JSON')
  .action(async (opts: { json?: boolean }, cmd: Command) => {
    const config = await load(cmd);
    const { hostLockStatus } = await import('./client/operations.js');
    await withClient(config, async (client) => {
      const status = await hostLockStatus(client, config);
      if (opts.json) return void out(JSON.stringify(status, null, 2));
      for (const s of status) {
        const h = s.state?.holder;
        out(h ? `${s.hostId}: held by ${h.runbook} ${h.workflowId} since ${h.grantedAt}` : `${s.hostId}: free`);
        for (const q of s.state?.queue ?? []) out(`  waiting: ${q.runbook} ${q.workflowId} since ${q.requestedAt}`);
      }
    });
  });

/** Runs `fn` with a client and the schedules module; closes the client. */
async function withScheduleClient<T>(config: Config, fn: (client: Client, s: typeof Schedules) => Promise<T>): Promise<T> {
  const s = await import('./schedules/index.js');
  return withClient(config, (client) => fn(client, s));
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
    // Checked before loading config and connecting: a typo must not wait for a connect timeout.
    const { backfillRange } = await import('./schedules/backfill-range.js');
    const { from, to } = backfillRange(opts.from, opts.to);
    const overlap = await overlapOption(opts.overlap);
    const config = await load(cmd);
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
    if (e instanceof ConfigError || e instanceof UsageError) {
      err(`mcp-runbooks: ${e.message}`);
      process.exitCode = 2;
      return;
    }
    err(`mcp-runbooks: ${errorMessage(e)}`);
    process.exitCode = 1;
  }
}

await main();
