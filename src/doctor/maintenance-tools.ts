/**
 * The programs the maintenance runbooks and backups run on a host: logrotate
 * (daily), the package commands (weekly, apt by default), pigz (archives),
 * auditctl (monthly) and openssl (not run by mcp-runbooks; the operator's tool
 * for the certificates the monthly check reads).
 */
import { access } from 'node:fs/promises';
import type { Config } from '../config/config.js';
import type { Env } from '../config/load.js';
import { fail, ok, warn, type CheckResult } from './check.js';
import { findProgram, pathOf, programVersion } from './programs.js';

/** Debian/Ubuntu package of each program, for the fix. */
const PACKAGE_OF: Record<string, string> = {
  logrotate: 'logrotate',
  apt: 'apt',
  'apt-get': 'apt',
  pigz: 'pigz',
  openssl: 'openssl',
  auditctl: 'auditd',
  restic: 'restic',
};

export function installHint(program: string): string {
  const pkg = PACKAGE_OF[program];
  return pkg ? `install it (Debian/Ubuntu: apt-get install ${pkg})` : `install ${program}`;
}

/** `program` found, with the first line of its version output when `versionArgv` is given. */
async function located(program: string, env: Env, versionArgv?: readonly string[]): Promise<{ path: string; version?: string } | undefined> {
  const path = findProgram(program, env);
  if (!path) return undefined;
  if (!versionArgv) return { path };
  const v = await programVersion([path, ...versionArgv]);
  return 'line' in v ? { path, version: v.line } : { path };
}

export async function checkLogrotate(config: Config, env: Env): Promise<CheckResult[]> {
  const found = await located('logrotate', env, ['--version']);
  if (!found) {
    return [fail('tools.logrotate', `logrotate is not on PATH (${pathOf(env)}): daily maintenance cannot rotate the services' logs`, installHint('logrotate'))];
  }
  const file = config.maintenance.logs.logrotateConfig;
  const hasFile = await access(file).then(() => true, () => false);
  return [
    ok('tools.logrotate', `${found.version ?? 'logrotate'} at ${found.path}`),
    hasFile
      ? ok('logrotate.config', `${file} exists`)
      : warn('logrotate.config', `no logrotate configuration at ${file}: daily maintenance will report the logs as not rotated`, `write a logrotate configuration for the services' logs at ${file}, or point maintenance.logs.logrotateConfig at yours`),
  ];
}

/** The package commands weekly maintenance runs: each one's program must be found. */
export function checkPackageCommands(config: Config, env: Env): CheckResult {
  const p = config.maintenance.packages;
  const commands = [...(p.refreshCommand ? [{ field: 'refreshCommand', argv: p.refreshCommand }] : []), { field: 'listCommand', argv: p.listCommand }, { field: 'upgradeCommand', argv: p.upgradeCommand }];
  const missing = commands.filter((c) => !findProgram(c.argv[0]!, env));
  if (missing.length > 0) {
    const programs = [...new Set(missing.map((c) => c.argv[0]!))];
    return fail(
      'tools.packages',
      `${missing.map((c) => `maintenance.packages.${c.field} (${c.argv[0]!})`).join(', ')} not found on PATH (${pathOf(env)}): weekly maintenance cannot check or install updates`,
      `${programs.map(installHint).join('; ')}; or set maintenance.packages.* to this host's package manager`,
    );
  }
  return ok('tools.packages', `package commands found: ${[...new Set(commands.map((c) => c.argv[0]!))].join(', ')}`);
}

/** pigz is optional with `compression.program: auto` (Node's zlib instead, single-threaded), required with `pigz`. */
export async function checkPigz(config: Config, env: Env): Promise<CheckResult> {
  const choice = config.backup.compression.program;
  if (choice === 'gzip') return ok('tools.pigz', 'not used: backup.compression.program is gzip (Node\'s zlib)');
  const found = await located('pigz', env, ['--version']);
  if (found) return ok('tools.pigz', `${found.version ?? 'pigz'} at ${found.path}`);
  if (choice === 'pigz') return fail('tools.pigz', `backup.compression.program is pigz but pigz is not on PATH (${pathOf(env)}): every backup will fail`, `${installHint('pigz')}, or set backup.compression.program: auto`);
  return warn('tools.pigz', `pigz is not on PATH (${pathOf(env)}): archives are compressed with Node's zlib on one core instead (slower, same .tar.gz)`, installHint('pigz'));
}

/** `auditctl -s` (or the configured command): monthly maintenance reports a missing one as a `warn`, so doctor does too. */
export function checkAudit(config: Config, env: Env): CheckResult {
  const program = config.maintenance.security.auditStatusCommand[0]!;
  if (findProgram(program, env)) return ok('tools.audit', `${program} found`);
  return warn('tools.audit', `${program} is not on PATH (${pathOf(env)}): monthly maintenance will report the audit subsystem as not checked`, `${installHint(program)}, or set maintenance.security.auditStatusCommand`);
}

/** openssl is not run by mcp-runbooks (certificates are read in-process); it is what an operator renews those certificates and makes gateway tokens with. */
export async function checkOpenssl(env: Env): Promise<CheckResult> {
  const found = await located('openssl', env, ['version']);
  if (found) return ok('tools.openssl', `${found.version ?? 'openssl'} at ${found.path}`);
  return warn('tools.openssl', `openssl is not on PATH (${pathOf(env)}); mcp-runbooks does not run it, but renewing the certificates the monthly check reads and making gateway tokens (\`openssl rand -hex 32\`) need it`, installHint('openssl'));
}
