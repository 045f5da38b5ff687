/** `mcp-runbooks run <runbook>`: start a runbook, follow it, print its report. */
import type { Command } from 'commander';
import { UsageError } from '../common/errors.js';
import type { RunbookReport } from '../common/report.js';
import type { BackupResult } from '../workflows/backup.js';
import type { RestoreDrillResult } from '../workflows/restore-drill.js';
import { isRunbookName, RUNBOOKS } from '../runbooks.js';
import { connected, err, followResult, printReport, reconnectOption } from './shared.js';

interface RunOptions {
  host?: string;
  reason?: string;
  dryRun?: boolean;
  service?: string;
  backup?: string;
  target?: string;
  json?: boolean;
  reconnectTimeout: string;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(`run a runbook and print its report (${Object.keys(RUNBOOKS).join(', ')})`)
    .argument('<runbook>', 'runbook name')
    .option('--host <id>', 'host to run it on (default: this config\'s host)')
    .option('--reason <text>', 'backup: recorded in the manifest')
    .option('--dry-run', 'backup: report the plan, change nothing')
    .option('--service <name>', 'restart-service: the service to restart')
    .option('--backup <name>', 'restore-drill: the archive to drill (default: the newest verified one)')
    .option('--target <name>', 'restore-drill: the backup target to read it from (default: the backups folder)')
    .option('--json', 'print the report as JSON')
    .addOption(reconnectOption())
    .action(async (runbook: string, opts: RunOptions, cmd: Command) => {
      if (!isRunbookName(runbook)) throw new UsageError(`unknown runbook "${runbook}" (known: ${Object.keys(RUNBOOKS).join(', ')})`);
      const def = RUNBOOKS[runbook];
      const accepts = def.options as readonly string[];
      for (const [flag, key] of [['--reason', 'reason'], ['--dry-run', 'dryRun'], ['--service', 'service'], ['--backup', 'backup'], ['--target', 'target']] as const) {
        if (opts[key] !== undefined && !accepts.includes(key)) throw new UsageError(`${flag} does not apply to ${runbook}`);
      }
      const required = ('required' in def ? def.required : []) as readonly string[];
      if (required.includes('service') && !opts.service) throw new UsageError(`${runbook} needs --service <name> (one of the host's services)`);
      await connected(cmd, opts.host, async ({ config, client, hostId }) => {
        const { startRunbook } = await import('../client/run-runbook.js');
        const handle = await startRunbook({
          client,
          config,
          runbook,
          hostId,
          input: {
            ...(opts.reason ? { reason: opts.reason } : {}),
            ...(opts.dryRun ? { dryRun: true } : {}),
            ...(opts.service ? { service: opts.service } : {}),
            ...(opts.backup ? { backup: opts.backup } : {}),
            ...(opts.target ? { target: opts.target } : {}),
          },
        });
        if (!opts.json) err(`${runbook} on ${hostId}: ${handle.workflowId}`);
        const report = await followResult<RunbookReport>(config, handle, { quiet: Boolean(opts.json), reconnectTimeout: opts.reconnectTimeout });
        if (!report) return;
        if (runbook === 'restore-drill') {
          const d = report as RestoreDrillResult;
          await printReport(report, Boolean(opts.json), [
            handle.workflowId,
            `drilled: ${d.archive} from ${d.target}: ${d.files} files, ${d.bytes} bytes`,
            `restore took ${d.restoreSeconds}s (extract ${d.durations.extractSeconds}s${d.durations.databaseSeconds !== undefined ? `, database ${d.durations.databaseSeconds}s` : ''}); drill total ${d.durations.totalSeconds}s`,
          ]);
          return;
        }
        const b = report as Partial<BackupResult>;
        await printReport(report, Boolean(opts.json), [
          handle.workflowId,
          ...(b.archive ? [`archive: ${b.archive.path} (${b.archive.bytes} bytes, sha256 ${b.archive.sha256})`] : []),
          ...(b.downtime ?? []).map((d) => `downtime: ${d.service} ${d.seconds}s`),
          ...(b.durations ? [`took: snapshot ${b.durations.snapshotSeconds}s, archive ${b.durations.archiveSeconds}s, verify ${b.durations.verifySeconds}s, total ${b.durations.totalSeconds}s`] : []),
        ]);
      });
    });
}
