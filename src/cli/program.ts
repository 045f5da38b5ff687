/** The `mcp-runbooks` command tree: global options and one module per command group. */
import { Command, Option } from 'commander';
import { VERSION } from '../version.js';
import { registerApprove } from './approve.js';
import { registerGateway } from './gateway.js';
import { registerBackups } from './backups.js';
import { registerConfig } from './config.js';
import { registerDev } from './dev.js';
import { registerDoctor } from './doctor.js';
import { registerFleet } from './fleet.js';
import { registerFreeze } from './freeze.js';
import { registerRecover } from './recover.js';
import { registerRun } from './run.js';
import { registerSchedules } from './schedules.js';
import { LOG_LEVELS, reportError } from './shared.js';
import { registerStatus } from './status.js';
import { registerWorker } from './worker.js';

export function buildProgram(): Command {
  const program = new Command('mcp-runbooks')
    .description('Operations runbooks for MCP services as durable Temporal workflows')
    .version(VERSION)
    .option('--config <path>', 'config file (default: $MCP_RUNBOOKS_CONFIG, else the built-in sandbox)')
    .addOption(new Option('--log-level <level>', 'Temporal SDK log level of `dev` (default WARN) and `worker` (default INFO)').choices(LOG_LEVELS))
    .showHelpAfterError()
    .exitOverride();
  for (const register of [registerDev, registerWorker, registerGateway, registerRun, registerFleet, registerRecover, registerApprove, registerFreeze, registerBackups, registerStatus, registerSchedules, registerConfig, registerDoctor]) {
    register(program);
  }
  return program;
}

/** Parses `argv` and runs the command; every error ends in {@link reportError}, which sets the exit code. */
export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (e) {
    reportError(e);
  }
}
