/** `mcp-runbooks recover <archive>`: restore a host from a backup, after approval. */
import type { Command } from 'commander';
import type { RestorePlan } from '../activities/restore.js';
import { UsageError } from '../common/errors.js';
import type { RecoveryDurations, RecoveryResult } from '../workflows/disaster-recovery.js';
import { connected, err, followResult, printReport, reconnectOption } from './shared.js';

/** "check and extract 3.1s, database staged 0.5s, restore (services down) 2.5s, …": only the steps that ran. */
function recoveryDurationsText(d: RecoveryDurations): string {
  const parts: Array<[string, number | undefined]> = [
    ['inspect', d.inspectSeconds],
    ['check and extract', d.stageSeconds],
    ['database staged', d.stageDatabaseSeconds],
    ['waiting for approval', d.approvalWaitSeconds],
    ['extract', d.extractSeconds],
    ['restore (services down)', d.restoreSeconds],
    ['emergency archive', d.emergencyBackupSeconds],
    ['total', d.totalSeconds],
  ];
  return parts.flatMap(([name, s]) => (s === undefined ? [] : [`${name} ${s}s`])).join(', ');
}

interface RecoverOptions {
  host?: string;
  yes?: boolean;
  dryRun?: boolean;
  approvalTimeout: string;
  json?: boolean;
  from?: string;
  only?: string;
  skipDatabase?: boolean;
  includeReports?: boolean;
  reconnectTimeout: string;
}

export function registerRecover(program: Command): void {
  program
    .command('recover')
    .description('restore a host from a backup archive (asks for approval unless --yes)')
    .argument('<archive>', 'archive name in the host\'s backups folder, e.g. mcp_backup_20261124_020000.tar.gz')
    .option('--host <id>', 'host to restore (default: this config\'s host)')
    .option('--yes', 'approve at once, without asking')
    .option('--dry-run', 'inspect the archive and show the plan; change nothing')
    .option('--approval-timeout <minutes>', 'how long the workflow waits for approval', '60')
    .option('--from <target>', 'restore from this backup target (a restic repository in config backup.targets), e.g. on a bare host')
    .option('--only <list>', 'restore only these, comma-separated: folders by path or last segments (memory_db,etc/kilocode/mcp) and `database`; only their owning services stop')
    .option('--skip-database', 'restore the folders, leave the database as it is')
    .option('--include-reports', 'also roll the reports folder back (the reports written since the backup are lost)')
    .option('--json', 'print the result as JSON')
    .addOption(reconnectOption())
    .action(async (archive: string, opts: RecoverOptions, cmd: Command) => {
      const { archiveNameProblem } = await import('../common/archive-names.js');
      const problem = archiveNameProblem(archive);
      if (problem) throw new UsageError(problem);
      const minutes = Number(opts.approvalTimeout);
      if (!(minutes > 0 && minutes <= 10080)) throw new UsageError(`--approval-timeout: expected minutes from 1 to 10080, found "${opts.approvalTimeout}"`);
      const only = opts.only?.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
      if (opts.only !== undefined && !only?.length) throw new UsageError('--only: a comma-separated list of folders (memory_db,etc/kilocode/mcp) and/or database');
      if (only?.includes('database') && opts.skipDatabase) throw new UsageError('--only names the database and --skip-database leaves it out: choose one');
      await connected(cmd, opts.host, async ({ config, client, hostId }) => {
        const { startRecovery } = await import('../client/operations.js');
        const { watchProgress } = await import('../client/progress.js');
        const handle = await startRecovery(client, config, { archive, hostId, approve: Boolean(opts.yes), dryRun: Boolean(opts.dryRun), approvalTimeoutMinutes: minutes, ...(opts.from ? { from: opts.from } : {}), ...(only ? { only } : {}), ...(opts.skipDatabase ? { skipDatabase: true } : {}), ...(opts.includeReports ? { includeReports: true } : {}) });
        if (!opts.json) err(`disasterRecovery of ${hostId} from ${archive}: ${handle.workflowId}`);
        let shownPhases = 0;
        if (!opts.yes && !opts.dryRun) {
          const p = await watchProgress(handle, { onUpdate: (line) => opts.json || err(`  ${line}`), until: (x) => x.phase === 'awaiting approval' });
          shownPhases = p?.phases.length ?? 0;
          if (p?.phase === 'awaiting approval') {
            const plan = await handle.query<RestorePlan | null>('plan');
            if (plan) {
              err(`\n${archive} (made ${plan.backupCreatedAt} on ${plan.backupHost}) passed every check. Restoring will:`);
              err(`  stop ${plan.services.join(', ') || 'no service'}`);
              for (const r of plan.roots) err(`  replace ${r.target} (${r.files} files, ${r.bytes} bytes)`);
              if (plan.dump) err(`  restore database ${plan.dump.database} from the dump`);
              for (const k of plan.kept ?? []) err(`  leave ${k.target} as it is: ${k.why}`);
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
        const result = await followResult<RecoveryResult>(config, handle, { quiet: Boolean(opts.json), shownPhases, reconnectTimeout: opts.reconnectTimeout });
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
}
