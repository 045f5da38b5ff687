/** `mcp-runbooks doctor`: this machine's prerequisites for its config and role, one line per check. */
import { Option, type Command } from 'commander';
import { DOCTOR_ROLES, type DoctorRole } from '../doctor/check.js';
import { EXIT_CODES } from './exit-codes.js';
import { globals, load, out } from './shared.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check this machine\'s prerequisites for its config and role (programs, versions, folders, Temporal); exit 3 when a check fails')
    .addOption(new Option('--role <role>', 'what this machine runs: a worker role, or the gateway').choices(DOCTOR_ROLES).default('all'))
    .option('--host-id <id>', 'this host\'s id (overrides hostId in config), as given to `worker --host-id`')
    .option('--json', 'print the checks as JSON')
    .action(async (opts: { role: DoctorRole; hostId?: string; json?: boolean }, cmd: Command) => {
      const config = await load(cmd, opts.hostId ? { hostId: opts.hostId } : {});
      const { configFilePath } = await import('../config/load.js');
      const { runDoctor, renderCheck } = await import('../doctor/index.js');
      const g = globals(cmd);
      const report = await runDoctor({
        config,
        role: opts.role,
        configFile: configFilePath({ ...(g.config ? { path: g.config } : {}), env: process.env }),
        env: process.env,
      });
      if (opts.json) out(JSON.stringify(report, null, 2));
      else {
        out(`mcp-runbooks doctor: config ${report.config}, role ${report.role}, host ${report.hostId}`);
        for (const c of report.checks) out(renderCheck(c));
        const { ok, warn, fail } = report.summary;
        out(`${ok} ok, ${warn} warn, ${fail} FAIL${fail > 0 ? ': fix the FAIL lines and run doctor again' : ''}`);
      }
      process.exitCode = report.summary.fail > 0 ? EXIT_CODES.failFindings : EXIT_CODES.ok;
    });
}
