/**
 * deploy/systemd units. systemd cannot run here (no systemd as PID 1), so the
 * units are not started: they are parsed, their ExecStart is checked against
 * the CLI's own command tree (the installed binary, an existing subcommand,
 * known flags with allowed values), and systemd's own `systemd-analyze` rates
 * the hardening. `systemd-analyze verify` with ExecStart resolved in an
 * installed copy of the package runs in test/deploy/package.test.ts.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { EXIT_CODES } from '../../src/common/failures.js';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';
import { argvProblems, INSTALLED_BIN, parseUnit, type Unit } from '../helpers/systemd-units.js';

const SYSTEMD = join(PACKAGE_ROOT, 'deploy', 'systemd');

const ROLES = {
  'mcp-runbooks-host.service': { role: 'host', user: 'root', args: ['worker', '--role', 'host'] },
  'mcp-runbooks-orchestrator.service': { role: 'orchestrator', user: 'mcp-runbooks', args: ['worker', '--role', 'orchestrator', '--apply-schedules'] },
  'mcp-runbooks-gateway.service': { role: 'gateway', user: 'mcp-runbooks', args: ['gateway'] },
} as const;
type UnitName = keyof typeof ROLES;

async function unit(name: string): Promise<Unit> {
  return parseUnit(await readFile(join(SYSTEMD, name), 'utf8'));
}

describe('the argv check itself', () => {
  it.each<[string[], string]>([
    [['wrker'], 'no command "wrker" under "mcp-runbooks"'],
    [['worker', '--role', 'boss'], '--role boss: not one of orchestrator, host, all'],
    [['gateway', '--role', 'host'], '"gateway" has no option --role'],
    [['--config'], '--config needs a value'],
  ])('%j is refused', (args, problem) => {
    expect(argvProblems(buildProgram(), args)).toContain(problem);
  });
});

describe('systemd units (systemd cannot run here: parsed and checked against the CLI, not started)', () => {
  it('one unit per role, and nothing else', async () => {
    expect((await readdir(SYSTEMD)).sort()).toEqual(Object.keys(ROLES).sort());
  });

  it.each(Object.keys(ROLES) as UnitName[])('%s: ExecStart runs the installed binary with its config and an existing subcommand', async (name) => {
    const { role, args } = ROLES[name];
    const service = (await unit(name)).Service!;
    expect(service.ExecStart).toHaveLength(1);
    const argv = service.ExecStart![0]!.split(/\s+/);
    expect(argv[0]).toBe(INSTALLED_BIN);
    expect(argv.slice(1)).toEqual(['--config', `/etc/mcp-runbooks/${role}.yaml`, ...args]);
    expect(argvProblems(buildProgram(), argv.slice(1))).toEqual([]);
    expect(service.EnvironmentFile).toEqual([`-/etc/mcp-runbooks/${role}.env`]);
  });

  it.each(Object.keys(ROLES) as UnitName[])('%s: restarts on failure for as long as it takes (no start limit), but not after a config error (exit 2)', async (name) => {
    const u = await unit(name);
    expect(u.Service!.Restart).toEqual(['on-failure']);
    // A worker exits 7 while Temporal is unreachable: a start limit would leave it stopped after a long outage.
    expect(u.Unit!.StartLimitIntervalSec).toEqual(['0']);
    expect(u.Service!.RestartSec).toEqual(['15']);
    expect(u.Service!.RestartPreventExitStatus).toEqual([String(EXIT_CODES.usage)]);
    expect(u.Service!.KillSignal).toEqual(['SIGTERM']);
    expect(u.Install!.WantedBy).toEqual(['multi-user.target']);
    expect(u.Unit!.After).toContain('network-online.target');
  });

  it.each(Object.keys(ROLES) as UnitName[])('%s: its user, and no hardening that breaks Node or the role', async (name) => {
    const { user } = ROLES[name];
    const service = (await unit(name)).Service!;
    expect(service.User).toEqual([user]);
    expect(service.Group).toEqual([user]);
    // V8 compiles code at run time into memory it then executes.
    expect(service.MemoryDenyWriteExecute).toBeUndefined();
    if (user === 'root') {
      // Weekly maintenance cleans the real /tmp; restores write /etc and /opt; apt writes /usr and installs setuid programs.
      for (const key of ['PrivateTmp', 'ProtectSystem', 'ProtectHome', 'NoNewPrivileges', 'RestrictSUIDSGID', 'CapabilityBoundingSet']) expect(service[key], key).toBeUndefined();
    } else {
      expect(service.ProtectSystem).toEqual(['strict']);
      expect(service.NoNewPrivileges).toEqual(['yes']);
      expect(service.CapabilityBoundingSet).toEqual(['']);
    }
  });

  it('the unprivileged units\' user is the one deploy/sysusers.d creates', async () => {
    const sysusers = await readFile(join(PACKAGE_ROOT, 'deploy', 'sysusers.d', 'mcp-runbooks.conf'), 'utf8');
    const line = sysusers.split('\n').find((l) => l.startsWith('u '));
    expect(line?.split(/\s+/)[1]).toBe('mcp-runbooks');
  });

  it.each(['mcp-runbooks-orchestrator.service', 'mcp-runbooks-gateway.service'])('%s: systemd-analyze security rates it 2.0 or less ("OK")', async (name) => {
    // --threshold is in tenths; the command exits non-zero when the exposure is above it.
    const r = await execa('systemd-analyze', ['security', '--offline=true', '--threshold=20', '--no-pager', join(SYSTEMD, name)], { reject: false, all: true });
    const level = /Overall exposure level for \S+: ([\d.]+)/.exec(r.all)?.[1];
    expect(r.exitCode, r.all.split('\n').slice(-3).join('\n')).toBe(0);
    expect(Number(level)).toBeLessThanOrEqual(2);
  });
});
