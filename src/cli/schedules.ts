/** `mcp-runbooks schedules ...`: the config's Temporal Schedules. */
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { UsageError } from '../common/errors.js';
import type { Config } from '../config/config.js';
import type * as Schedules from '../schedules/index.js';
import { EXIT_CODES } from './exit-codes.js';
import { err, load, out, withClient } from './shared.js';

/** Runs `fn` with a client and the schedules module; closes the client. */
export async function withScheduleClient<T>(config: Config, fn: (client: Client, s: typeof Schedules) => Promise<T>): Promise<T> {
  const s = await import('../schedules/index.js');
  return withClient(config, (client) => fn(client, s));
}

/** The `--overlap` option, e.g. `buffer-all`. */
async function overlapOption(value: string | undefined): Promise<Schedules.OverlapPolicy | undefined> {
  if (value === undefined) return undefined;
  const { parseOverlapPolicy, OVERLAP_POLICIES } = await import('../schedules/index.js');
  const overlap = parseOverlapPolicy(value);
  if (!overlap) throw new UsageError(`--overlap: expected one of ${OVERLAP_POLICIES.map((p) => p.toLowerCase().replaceAll('_', '-')).join(', ')}, found "${value}"`);
  return overlap;
}

const ID_HELP = 'schedule id, <runbook>.<host>, or <runbook> for this host';

export function registerSchedules(program: Command): void {
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
      process.exitCode = changes.some((c) => c.error || c.kind === 'conflict') ? EXIT_CODES.failed : EXIT_CODES.ok;
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
        if (!opts.json && config.blackouts.length) {
          const { describeBlackout } = await import('../schedules/blackouts.js');
          out('blackouts (no runbook that changes a host starts inside one; health checks and restore drills do):');
          for (const b of config.blackouts) out(`  ${describeBlackout(b)}`);
        }
      });
    });

  schedules
    .command('pause')
    .description('pause a schedule; `apply` keeps it paused')
    .argument('<id>', ID_HELP)
    .requiredOption('--note <text>', 'why it is paused (shown by `schedules list` and in the Temporal UI)')
    .action(async (id: string, opts: { note: string }, cmd: Command) => {
      const config = await load(cmd);
      const own = await withScheduleClient(config, (client, s) => s.pauseSchedule(client, config, id, opts.note));
      out(`paused ${own.scheduleId}: ${opts.note}`);
    });

  schedules
    .command('unpause')
    .description('unpause a schedule')
    .argument('<id>', ID_HELP)
    .option('--note <text>', 'why it runs again')
    .action(async (id: string, opts: { note?: string }, cmd: Command) => {
      const config = await load(cmd);
      const own = await withScheduleClient(config, (client, s) => s.unpauseSchedule(client, config, id, opts.note));
      out(`unpaused ${own.scheduleId}${opts.note ? `: ${opts.note}` : ''}`);
    });

  schedules
    .command('trigger')
    .description('start the schedule\'s runbook now and print the workflow id; a run still running makes it skip (overlap policy)')
    .argument('<id>', ID_HELP)
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
        process.exitCode = EXIT_CODES.failed;
      }
    });

  schedules
    .command('backfill')
    .description('take now the runs that were due between --from and --to (e.g. after an outage longer than the catch-up window)')
    .argument('<id>', ID_HELP)
    .requiredOption('--from <time>', 'start, ISO 8601 (e.g. 2026-11-20T00:00:00Z)')
    .requiredOption('--to <time>', 'end, ISO 8601')
    .option('--overlap <policy>', 'overlap policy for these runs (default: the schedule\'s); buffer-all runs each one in turn')
    .action(async (id: string, opts: { from: string; to: string; overlap?: string }, cmd: Command) => {
      // Checked before loading config and connecting: a typo must not wait for a connect timeout.
      const { backfillRange } = await import('../schedules/backfill-range.js');
      const { from, to } = backfillRange(opts.from, opts.to);
      const overlap = await overlapOption(opts.overlap);
      const config = await load(cmd);
      const r = await withScheduleClient(config, (client, s) => s.backfillSchedule(client, config, id, { from, to, ...(overlap ? { overlap } : {}) }));
      out(`backfill of ${r.scheduleId} from ${from.toISOString()} to ${to.toISOString()} (overlap ${r.overlap}) requested; runs show in \`mcp-runbooks schedules list\``);
    });

  schedules
    .command('delete')
    .description('delete one of this config\'s schedules (set enabled: false in config to keep it deleted)')
    .argument('<id>', ID_HELP)
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const config = await load(cmd);
      const r = await withScheduleClient(config, (client, s) => s.deleteSchedule(client, config, id));
      out(`deleted ${r.scheduleId}`);
      if (r.stillDeclared) err('note: the config still declares it, so the next `schedules apply` creates it again; set `enabled: false` to keep it off');
    });
}
