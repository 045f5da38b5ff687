/** `mcp-runbooks status`: each host's lock holder and queue. */
import type { Command } from 'commander';
import { load, out, withClient } from './shared.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('for each host: whether its worker polls, who holds its lock, and who waits')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = await load(cmd);
      const { hostLockStatus } = await import('../client/operations.js');
      await withClient(config, async (client) => {
        const status = await hostLockStatus(client, config);
        if (opts.json) return void out(JSON.stringify(status, null, 2));
        for (const s of status) {
          const h = s.state?.holder;
          const worker = s.worker.state === 'polling' ? `worker polling${s.worker.lastSeen ? ` (last poll ${s.worker.lastSeen})` : ''}` : 'worker absent';
          out(`${s.hostId}: ${h ? `held by ${h.runbook} ${h.workflowId} since ${h.grantedAt}` : 'free'}; ${worker}`);
          const f = s.state?.frozen;
          if (f && Date.parse(f.until) > Date.now()) out(`  frozen until ${f.until}: ${f.note}${f.by ? ` (by ${f.by})` : ''}; runbooks that change it ${f.skip ? 'are skipped' : 'wait'}`);
          if (h && s.holderPhase) out(`  now: ${s.holderPhase.phase}${s.holderPhase.detail ? ` (${s.holderPhase.detail})` : ''}`);
          for (const q of s.state?.queue ?? []) out(`  waiting: ${q.runbook} ${q.workflowId} since ${q.requestedAt}`);
        }
      });
    });
}
