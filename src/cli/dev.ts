/** `mcp-runbooks dev`: embedded Temporal, sandbox fleet and worker on this machine. */
import type { Command } from 'commander';
import { installRuntime, load, out, stopSignal } from './shared.js';

export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('embedded Temporal dev server + sandbox fleet + worker; prints a health check, then runs until Ctrl-C')
    .option('--once', 'exit after the first health check report')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { once?: boolean; json?: boolean }, cmd: Command) => {
      const config = await load(cmd);
      const sdkMetricsUrl = await installRuntime(cmd, 'WARN', config.metrics.sdkPort);
      const { runDev } = await import('../dev/dev.js');
      const stop = stopSignal((s) => out(`\n${s}: stopping ...`));
      await runDev({ config, env: process.env, once: Boolean(opts.once), json: Boolean(opts.json), stop, out, ...(sdkMetricsUrl ? { sdkMetricsUrl } : {}) });
    });
}
