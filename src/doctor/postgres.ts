/**
 * PostgreSQL on a host: the server answers (the health and maintenance checks
 * query it), and pg_dump / pg_restore are installed in the server's major
 * version. A pg_dump older than the server refuses to dump it ("server version
 * mismatch"); a newer pg_restore writes settings an older server rejects (17's
 * `transaction_timeout` on 15), and restores run with `--exit-on-error`.
 */
import type { Config, PostgresConfig } from '../config/config.js';
import type { Env } from '../config/load.js';
import { errorMessage } from '../common/errors.js';
import { withPgClient } from '../postgres/client.js';
import { fail, ok, type CheckResult } from './check.js';
import { compareVersions, findProgram, parseVersion, pathOf, programVersion } from './programs.js';

/** A PostgreSQL major version: 15 from 150020; 9.6 from 90624 (before 10 the major had two parts). */
export function majorFromVersionNum(num: number): string {
  return num >= 100_000 ? String(Math.floor(num / 10_000)) : `${Math.floor(num / 10_000)}.${Math.floor(num / 100) % 100}`;
}

/** The major version in a tool's `--version` line, e.g. `pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)` -> 15. */
export function majorFromToolVersion(line: string): string | undefined {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(line);
  if (!m) return undefined;
  const first = Number(m[1]);
  return first >= 10 ? String(first) : `${first}.${m[2] ?? '0'}`;
}

export async function serverMajor(pg: PostgresConfig): Promise<{ major: string; version: string } | { error: string }> {
  try {
    const num = await withPgClient(pg, async (client) => {
      const r = await client.query<{ server_version_num: string }>('SHOW server_version_num');
      return Number(r.rows[0]?.server_version_num);
    });
    const major = majorFromVersionNum(num);
    return { major, version: `${major}${num >= 100_000 ? `.${num % 10_000}` : `.${num % 100}`}` };
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

/** Why a tool of major version `tool` does not fit a server of `server`, or undefined when they are the same major version. */
export function versionMismatch(toolName: 'pg_dump' | 'pg_restore', tool: string, server: string): string | undefined {
  if (tool === server) return undefined;
  const older = compareVersions(parseVersion(tool) ?? [0], parseVersion(server) ?? [0]) < 0;
  if (older) return toolName === 'pg_dump' ? `pg_dump ${tool} refuses to dump a newer server` : `pg_restore ${tool} cannot read the dumps a ${server} pg_dump writes`;
  return `${toolName} ${tool} ${toolName === 'pg_dump' ? 'writes dumps' : 'sends settings'} a ${server} server may reject, and restores run with --exit-on-error`;
}

const clientPackage = (major: string) => `postgresql-client-${major}`;

export async function checkPostgres(config: Config, env: Env): Promise<CheckResult[]> {
  const pg = config.postgres;
  if (!pg) return [];
  const where = `${pg.user}@${pg.host}:${pg.port}/${pg.database}`;
  const server = await serverMajor(pg);
  const results: CheckResult[] = [
    'error' in server
      ? fail('postgres.server', `cannot query PostgreSQL as ${where}: ${server.error}`, 'check postgres.host, port, user, database and password in the config, that the server runs, and that pg_hba.conf lets this host in')
      : ok('postgres.server', `PostgreSQL ${server.version} answers as ${where}`),
  ];
  // pg_dump and pg_restore are run only for a pg_dump backup source (backup, and its restore in a recovery).
  if (!config.backup.sources.some((s) => s.mode === 'pg_dump')) return results;
  const wanted = 'error' in server ? undefined : server.major;
  for (const tool of ['pg_dump', 'pg_restore'] as const) results.push(await checkTool(tool, pg, wanted, env));
  return results;
}

async function checkTool(tool: 'pg_dump' | 'pg_restore', pg: PostgresConfig, serverMajorVersion: string | undefined, env: Env): Promise<CheckResult> {
  const check = `tools.${tool}`;
  const install = serverMajorVersion ? `install ${clientPackage(serverMajorVersion)} (Debian/Ubuntu: apt-get install ${clientPackage(serverMajorVersion)}; PGDG for other versions)` : 'install the PostgreSQL client programs of the server\'s major version';
  const path = findProgram(tool, env);
  if (!path) return fail(check, `${tool} is not on PATH (${pathOf(env)}): backups with a pg_dump source${tool === 'pg_restore' ? ' cannot be restored' : ' fail'}`, install);
  // `--version` must be the first argument. PGHOST/PGPORT make Debian's pg_wrapper pick the version it picks for the real run (which passes --host).
  const v = await programVersion([path, '--version'], { PGHOST: pg.host, PGPORT: String(pg.port) });
  if ('error' in v) return fail(check, `${tool} at ${path} does not run: ${v.error}`, install);
  const major = majorFromToolVersion(v.line);
  if (!major) return fail(check, `${tool} at ${path} printed no PostgreSQL version: "${v.line}"`, install);
  if (!serverMajorVersion) return ok(check, `${v.line} at ${path} (the server's version is unknown: it did not answer)`);
  const mismatch = versionMismatch(tool, major, serverMajorVersion);
  if (!mismatch) return ok(check, `${v.line} at ${path}, the server's major version`);
  return fail(check, `${tool} at ${path} is PostgreSQL ${major}, the server is ${serverMajorVersion}: ${mismatch}`, `${install}, and put its bin folder (Debian: /usr/lib/postgresql/${serverMajorVersion}/bin) first on the worker's PATH`);
}
