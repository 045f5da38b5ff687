/**
 * The service manager of the config: systemd (systemctl and journalctl present,
 * systemd running, every service's unit known) or the command backend (every
 * argv template's program found).
 */
import { access } from 'node:fs/promises';
import type { Config } from '../config/config.js';
import type { Env } from '../config/load.js';
import type { CommandTemplates } from '../config/schema.js';
import { expandTemplate, runProgram } from '../services/run-argv.js';
import { fail, ok, type CheckResult } from './check.js';
import { findProgram, pathOf } from './programs.js';

const CHECK = 'serviceManager';

/** Where systemd keeps its runtime state when it is the running init (sd_booted(3)). */
export const SYSTEMD_RUNTIME_DIR = '/run/systemd/system';

export async function checkServiceManager(config: Config, env: Env): Promise<CheckResult[]> {
  return config.serviceManager.type === 'systemd' ? checkSystemd(config, env) : [checkCommands(config, env)];
}

async function checkSystemd(config: Config, env: Env): Promise<CheckResult[]> {
  const missing = ['systemctl', 'journalctl'].filter((p) => !findProgram(p, env));
  if (missing.length > 0) {
    return [fail(CHECK, `serviceManager.type is systemd but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not on PATH (${pathOf(env)})`, 'install systemd, or use serviceManager.type: command with argv templates for this host\'s service manager')];
  }
  const running = await access(SYSTEMD_RUNTIME_DIR).then(() => true, () => false);
  if (!running) {
    return [fail(CHECK, `serviceManager.type is systemd but systemd is not running on this machine (no ${SYSTEMD_RUNTIME_DIR}; a container?)`, 'run the host worker where systemd manages the services, or use serviceManager.type: command')];
  }
  const results: CheckResult[] = [ok(CHECK, 'systemd is running; systemctl and journalctl are on PATH')];
  const problems: string[] = [];
  for (const s of config.services) {
    // LoadState: `loaded`, or `not-found` for a unit systemd has no file for (a typo, a service not installed yet).
    const r = await runProgram(['systemctl', 'show', '--property=LoadState', '--value', s.unit], { timeoutMs: 10_000 });
    const state = String(r.stdout ?? '').trim();
    if (r.exitCode !== 0 || state !== 'loaded') problems.push(`${s.unit} (${s.name}): ${state || `systemctl exited ${String(r.exitCode)}`}`);
  }
  results.push(
    problems.length > 0
      ? fail('services.units', `units systemd does not know: ${problems.join('; ')}`, 'install the services, or set services[].unit to the unit each one runs as')
      : ok('services.units', `units loaded: ${config.services.map((s) => s.unit).join(', ')}`),
  );
  return results;
}

function checkCommands(config: Config, env: Env): CheckResult {
  if (config.serviceManager.type !== 'command') throw new TypeError('not the command backend');
  const shared = config.serviceManager.commands;
  const missing: string[] = [];
  const found = new Set<string>();
  for (const s of config.services) {
    for (const action of ['start', 'stop', 'status', 'restart'] as const satisfies readonly (keyof CommandTemplates)[]) {
      const template = s.commands[action] ?? shared[action];
      if (!template) continue;
      const program = expandTemplate(template, s.name)[0]!;
      if (findProgram(program, env)) found.add(program);
      else missing.push(`${program} (${action} of ${s.name})`);
    }
  }
  if (missing.length > 0) {
    return fail(CHECK, `command backend: not found${missing.some((m) => !m.startsWith('/')) ? ` on PATH (${pathOf(env)})` : ''}: ${[...new Set(missing)].join(', ')}`, 'install those programs, or correct serviceManager.commands / services[].commands (argv arrays, the program first)');
  }
  return ok(CHECK, `command backend: every start/stop/status program is found (${[...found].join(', ')})`);
}
