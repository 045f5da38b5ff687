/** `mcp-runbooks approve <workflow-id>`: decide what a waiting run asks for. */
import type { Command } from 'commander';
import { load, out, withClient } from './shared.js';

export function registerApprove(program: Command): void {
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
}
