/** `mcp-runbooks config`: the effective configuration, as a file `--config` loads back. */
import type { Command } from 'commander';
import { load, out } from './shared.js';

export function registerConfig(program: Command): void {
  program
    .command('config')
    .description('print the effective configuration as YAML that --config loads back (secrets as their references)')
    .action(async (_opts: unknown, cmd: Command) => {
      const config = await load(cmd);
      const { configYaml } = await import('../config/print.js');
      out(configYaml(config).trimEnd());
    });
}
