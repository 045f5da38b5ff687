/** `mcp-runbooks backups list|verify`: a host's archives. */
import type { Command } from 'commander';
import { UsageError } from '../common/errors.js';
import type { RunbookReport } from '../common/report.js';
import { connected, followResult, out, printReport, reconnectOption } from './shared.js';

export function registerBackups(program: Command): void {
  const backups = program.command('backups').description('list and verify backup archives on a host');

  backups
    .command('list')
    .description('archives with age, size, kind and verification')
    .option('--host <id>', 'host (default: this config\'s host)')
    .option('--target <name>', 'list the host\'s backups in this backup target (config backup.targets), e.g. a restic repository')
    .option('--json', 'print as JSON')
    .action(async (opts: { host?: string; target?: string; json?: boolean }, cmd: Command) => {
      await connected(cmd, opts.host, async ({ config, client, hostId }) => {
        const { listBackupsOn } = await import('../client/operations.js');
        const list = await listBackupsOn(client, config, hostId, opts.target);
        if (opts.json) return void out(JSON.stringify(list, null, 2));
        if (!list.length) return void out(opts.target ? `no backups of ${hostId} in ${opts.target}` : `no archives on ${hostId}`);
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
    .option('--target <name>', 'a restic target: restic check --read-data, and the backup read back whole against its manifest')
    .option('--json', 'print the report as JSON')
    .addOption(reconnectOption())
    .action(async (archive: string | undefined, opts: { all?: boolean; host?: string; target?: string; json?: boolean; reconnectTimeout: string }, cmd: Command) => {
      if (!archive && !opts.all) throw new UsageError('name an archive or pass --all');
      if (archive && opts.all) throw new UsageError('name an archive or pass --all, not both');
      await connected(cmd, opts.host, async ({ config, client, hostId }) => {
        const { verifyBackupsOn } = await import('../client/operations.js');
        const handle = await verifyBackupsOn(client, config, hostId, archive ? [archive] : 'all', opts.target);
        const report = await followResult<RunbookReport>(config, handle, { quiet: Boolean(opts.json), reconnectTimeout: opts.reconnectTimeout });
        if (report) await printReport(report, Boolean(opts.json));
      });
    });
}
