/**
 * `mcp-runbooks doctor`: checks a machine's prerequisites for its config and
 * role, each check in the module named for what it looks at. The checks only
 * read (a folder's write test creates and removes its own file); nothing here
 * starts, stops or changes anything.
 */
import type { Client } from '@temporalio/client';
import type { Config } from '../config/config.js';
import type { Env } from '../config/load.js';
import { errorMessage } from '../common/errors.js';
import { fail, summarize, type CheckResult, type DoctorRole, type DoctorSummary } from './check.js';
import { checkFolders } from './folders.js';
import { checkGateway } from './gateway.js';
import { checkHostQueue } from './host-queue.js';
import { checkAudit, checkLogrotate, checkOpenssl, checkPackageCommands, checkPigz } from './maintenance-tools.js';
import { checkNode } from './node-version.js';
import { checkPostgres } from './postgres.js';
import { checkRestic } from './restic.js';
import { checkServiceManager } from './service-manager.js';
import { checkTemporal } from './temporal.js';

export { DOCTOR_ROLES, renderCheck, type CheckResult, type DoctorRole } from './check.js';

export interface DoctorOptions {
  config: Config;
  role: DoctorRole;
  /** The config file this doctor read (absolute), undefined for the built-in sandbox: compared with the host queue's workers' files. */
  configFile: string | undefined;
  /** The environment programs are looked up in (PATH): the process's own, which the programs doctor runs also get (without secrets). */
  env: Env;
}

export interface DoctorReport {
  config: string;
  role: DoctorRole;
  hostId: string;
  summary: DoctorSummary;
  checks: CheckResult[];
}

/** Runs every check for the role; checks that wait on a program or the network run side by side, results stay in a fixed order. */
export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const { config, role, env } = opts;
  const host = role === 'host' || role === 'all';
  const groups: [string, Promise<CheckResult[]>][] = [
    ['node', Promise.resolve([checkNode()])],
    ['temporal', temporalChecks(opts, host)],
  ];
  if (host) {
    groups.push(
      ['serviceManager', checkServiceManager(config, env)],
      ['postgres', checkPostgres(config, env)],
      ['tools.logrotate', checkLogrotate(config, env)],
      ['tools.packages', Promise.resolve([checkPackageCommands(config, env)])],
      ['tools.pigz', checkPigz(config, env).then((r) => [r])],
      ['restic', checkRestic(config, env)],
      ['tools.openssl', checkOpenssl(env).then((r) => [r])],
      ['tools.audit', Promise.resolve([checkAudit(config, env)])],
      ['folders', checkFolders(config)],
    );
  }
  // The gateway's own process, or the gateway served inside an orchestrator worker (gateway.inWorker).
  if (role === 'gateway' || (role !== 'host' && config.gateway?.inWorker)) groups.push(['gateway', checkGateway(config)]);
  // A check that throws is a bug in the check, but the others' results still count: it becomes a failed line of its own.
  const checks = (
    await Promise.all(groups.map(([name, g]) => g.catch((err: unknown) => [fail(name, `the check itself failed: ${errorMessage(err)}`, 'report this as a bug in mcp-runbooks doctor')])))
  ).flat();
  return { config: config.source, role, hostId: config.hostId, summary: summarize(checks), checks };
}

/** Temporal reachable; for a host role, its queue free of another config's worker. */
async function temporalChecks(opts: DoctorOptions, host: boolean): Promise<CheckResult[]> {
  const { result, client } = await checkTemporal(opts.config);
  if (!client) return [result];
  try {
    return host ? [result, await hostQueueOrFailure(client, opts)] : [result];
  } finally {
    await client.connection.close().catch(() => undefined);
  }
}

async function hostQueueOrFailure(client: Client, opts: DoctorOptions): Promise<CheckResult> {
  try {
    return await checkHostQueue(client, opts.config, opts.configFile);
  } catch (err) {
    return fail('temporal.hostQueue', `cannot describe this host's task queue: ${errorMessage(err)}`, 'check that this config\'s API key or certificate may describe task queues in the namespace');
  }
}
