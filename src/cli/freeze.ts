/**
 * `mcp-runbooks freeze` / `unfreeze`: an operator's change freeze on some
 * hosts. Runbooks that change a frozen host wait (a durable wait in their
 * host-lock request) until the freeze ends, or with `--skip` end at once as
 * `HostFrozen`; read-only runs (the health check, a restore drill) go on.
 * The freeze lives in each host's lock workflow: `status` shows it.
 */
import type { Command } from 'commander';
import { UsageError } from '../common/errors.js';
import { load, out, withClient } from './shared.js';

/** `--until`: an ISO time, or a duration from now such as `2h` or `90m`. */
export async function parseUntil(text: string, now = Date.now()): Promise<Date> {
  const { parseDuration } = await import('../schedules/duration.js');
  const ms = parseDuration(text);
  // An ISO time with its zone (Z or +01:00): a bare local time would be read in this machine's zone.
  const at = ms !== undefined ? new Date(now + ms) : /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(text) ? new Date(text) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) throw new UsageError(`--until: an ISO time with its zone such as 2026-12-27T08:00:00Z, or a duration from now such as 2h, not "${text}"`);
  if (at.getTime() <= now) throw new UsageError(`--until: ${at.toISOString()} is not in the future`);
  if (at.getTime() > now + 90 * 86_400_000) throw new UsageError(`--until: ${at.toISOString()} is more than 90 days away`);
  return at;
}

export function registerFreeze(program: Command): void {
  program
    .command('freeze')
    .description('freeze hosts: runbooks that change them wait until --until (or, --skip, end as HostFrozen); health checks still run')
    .requiredOption('--hosts <selector>', 'the hosts: ids, all, or labels such as role=db')
    .requiredOption('--until <time>', 'when the freeze ends: an ISO time, or a duration from now (2h)')
    .requiredOption('--note <text>', 'why, shown to everyone who waits')
    .option('--skip', 'runbooks that would change a frozen host end at once instead of waiting')
    .option('--by <name>', 'who froze them (default: your user name)')
    .action(async (opts: { hosts: string; until: string; note: string; skip?: boolean; by?: string }, cmd: Command) => {
      const config = await load(cmd);
      const until = await parseUntil(opts.until);
      if (opts.note.trim().length === 0 || opts.note.length > 500) throw new UsageError('--note: a reason of 1 to 500 characters');
      const { freezeHosts } = await import('../client/freeze.js');
      const { userInfo } = await import('node:os');
      let user = 'unknown';
      try {
        user = userInfo().username;
      } catch {
        // No passwd entry (a container): `--by` names who froze.
      }
      await withClient(config, async (client) => {
        const hosts = await freezeHosts(client, config, opts.hosts, { until: until.toISOString(), note: opts.note, by: opts.by ?? user, ...(opts.skip ? { skip: true } : {}) });
        for (const h of hosts) out(`${h}: frozen until ${until.toISOString()} (${opts.note})${opts.skip ? '; runbooks that change it are skipped' : '; runbooks that change it wait'}`);
      });
    });

  program
    .command('unfreeze')
    .description('lift a freeze: the runbooks waiting for those hosts go on')
    .requiredOption('--hosts <selector>', 'the hosts: ids, all, or labels such as role=db')
    .action(async (opts: { hosts: string }, cmd: Command) => {
      const config = await load(cmd);
      const { unfreezeHosts } = await import('../client/freeze.js');
      await withClient(config, async (client) => {
        for (const h of await unfreezeHosts(client, config, opts.hosts)) out(`${h}: not frozen`);
      });
    });
}
