/**
 * `mcp-runbooks fleet run|status|pause|resume|abort`: one runbook over the hosts
 * a selector picks, a few at a time (the `fleet` workflow), and the operator's
 * hand on it while it rolls.
 */
import type { Command } from 'commander';
import { UsageError } from '../common/errors.js';
import type { FleetPolicy, FleetResult } from '../common/fleet.js';
import { isRunbookName, RUNBOOKS } from '../runbooks.js';
import { EXIT_CODES, exitCodeForFleet } from './exit-codes.js';
import { err, followResult, load, out, reconnectOption, withClient } from './shared.js';

interface FleetRunOptions {
  hosts: string;
  maxParallel?: string;
  canary?: string;
  maxFailures?: string;
  maxFailPercent?: string;
  order?: string;
  seed?: string;
  pingTimeout?: string;
  reason?: string;
  dryRun?: boolean;
  service?: string;
  json?: boolean;
  reconnectTimeout: string;
}

/** A flag's number as given; the fleet's schema says whether it is in range (and names the flag). */
function num(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag}: expected a number, found "${value}"`);
  return n;
}

function policyOf(opts: FleetRunOptions): FleetPolicy {
  const maxParallel = opts.maxParallel === undefined ? undefined : opts.maxParallel.trim().endsWith('%') ? opts.maxParallel.trim() : num('--max-parallel', opts.maxParallel);
  const entries = {
    maxParallel,
    canary: num('--canary', opts.canary),
    maxFailures: num('--max-failures', opts.maxFailures),
    maxFailPercent: num('--max-fail-percent', opts.maxFailPercent),
    order: opts.order,
    seed: num('--seed', opts.seed),
    pingTimeoutSeconds: num('--ping-timeout', opts.pingTimeout),
  };
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined)) as FleetPolicy;
}

const who = async (by?: string) => by ?? (await import('node:os')).userInfo().username;

export function registerFleet(program: Command): void {
  const fleet = program.command('fleet').description('run a runbook over many hosts a few at a time (selector, window, canary, failure budget); status, pause, resume, abort');

  fleet
    .command('run')
    .description(`run a runbook (${Object.keys(RUNBOOKS).join(', ')}) on the hosts a selector picks, printing each host's progress, then the per-host table`)
    .argument('<runbook>', 'runbook name, as in `mcp-runbooks run`')
    .requiredOption('--hosts <selector>', 'which hosts: `all`, labels such as `role=db,region=eu`, or ids such as `db-1,db-2`')
    .option('--max-parallel <n|p%>', 'most hosts at once: a number or a percentage of the hosts (default 1)')
    .option('--canary <n>', 'the first N hosts run alone; the rest start only if each ended ok or warn')
    .option('--max-failures <k>', 'stop starting hosts once more than K failed (default: 0 for a runbook that changes hosts, no limit for health-check)')
    .option('--max-fail-percent <p>', 'stop starting hosts once more than P% of them failed')
    .option('--order <order>', 'listed (default), shuffle, or label:KEY')
    .option('--seed <n>', 'the shuffle\'s seed (the result prints the one it used)')
    .option('--ping-timeout <seconds>', 'how long a host\'s worker has to answer the liveness ping (default 5)')
    .option('--reason <text>', 'backup, restart-service: recorded with each run')
    .option('--dry-run', 'backup: each host reports its plan, changes nothing')
    .option('--service <name>', 'restart-service: the service to restart on each host')
    .option('--json', 'print the result (per-host table and counts) as JSON, no progress lines')
    .addOption(reconnectOption())
    .action(async (runbook: string, opts: FleetRunOptions, cmd: Command) => {
      if (!isRunbookName(runbook)) throw new UsageError(`unknown runbook "${runbook}" (known: ${Object.keys(RUNBOOKS).join(', ')})`);
      const config = await load(cmd);
      const { fleetInputFor, renderFleetTable, startFleet, watchFleet } = await import('../client/fleet.js');
      const input = fleetInputFor(config, {
        runbook,
        selector: opts.hosts,
        input: { ...(opts.reason ? { reason: opts.reason } : {}), ...(opts.dryRun ? { dryRun: true } : {}), ...(opts.service ? { service: opts.service } : {}) },
        policy: policyOf(opts),
      });
      await withClient(config, async (client) => {
        const { queuePollers } = await import('../temporal/pollers.js');
        if (!(await queuePollers(client.workflowService, config.temporal.namespace, config.temporal.taskQueue, 'workflow')).length) {
          err(`no worker polls task queue "${config.temporal.taskQueue}": start \`mcp-runbooks worker --role orchestrator\` (or \`all\`)`);
          process.exitCode = EXIT_CODES.failed;
          return;
        }
        const handle = await startFleet(client, config, input);
        const n = input.hosts.length;
        if (!opts.json) err(`fleet of ${runbook} over ${input.selector ?? ''}: ${n} host${n === 1 ? '' : 's'} (${input.hosts.join(', ')}): ${handle.workflowId}`);
        let done = false;
        const watching = opts.json ? Promise.resolve() : watchFleet(handle, (line) => err(`  ${line}`), () => done);
        let result: FleetResult | undefined;
        try {
          result = await followResult<FleetResult>(config, handle, { quiet: true, reconnectTimeout: opts.reconnectTimeout });
        } finally {
          done = true;
          await watching;
        }
        if (!result) return;
        if (opts.json) out(JSON.stringify(result, null, 2));
        else for (const line of [handle.workflowId, ...renderFleetTable(result)]) out(line);
        process.exitCode = exitCodeForFleet(result);
      });
    });

  fleet
    .command('status')
    .description('a fleet\'s per-host table: each host\'s state, child workflow id and summary, the counts, paused, aborted or stopped by its policy')
    .argument('<workflow-id>', 'the fleet\'s workflow id')
    .option('--json', 'print as JSON')
    .action(async (workflowId: string, opts: { json?: boolean }, cmd: Command) => {
      const config = await load(cmd);
      const { fleetStatus, renderFleetTable } = await import('../client/fleet.js');
      await withClient(config, async (client) => {
        const s = await fleetStatus(client, workflowId);
        if (opts.json) return void out(JSON.stringify(s, null, 2));
        const state = 'phase' in s ? s.phase : 'done';
        out(`${workflowId}: fleet of ${s.target}${s.selector ? ` over ${s.selector}` : ''}, ${state}`);
        for (const line of renderFleetTable(s)) out(line);
      });
    });

  for (const [action, what] of [
    ['pause', 'start no new host until resume; running ones go on'],
    ['resume', 'start hosts again after a pause'],
    ['abort', 'start nothing new, ever; running hosts finish (or undo) on their own'],
  ] as const) {
    fleet
      .command(action)
      .description(what)
      .argument('<workflow-id>', 'the fleet\'s workflow id')
      .option('--by <name>', 'who, for the record (default: your user name)')
      .option('--reason <text>', 'why, for the record')
      .action(async (workflowId: string, opts: { by?: string; reason?: string }, cmd: Command) => {
        const config = await load(cmd);
        const { controlFleet } = await import('../client/fleet.js');
        const { describeCounts } = await import('../common/fleet.js');
        await withClient(config, async (client) => {
          const p = await controlFleet(client, workflowId, action, { by: await who(opts.by), ...(opts.reason ? { reason: opts.reason } : {}) });
          out(`${workflowId}: ${action === 'abort' ? 'aborted' : p.paused ? 'paused' : 'running'}; ${describeCounts(p.counts)}`);
        });
      });
  }
}
