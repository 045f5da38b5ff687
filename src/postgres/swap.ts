/**
 * A recovery's database, restored beside the live one and swapped in by
 * rename. The dump is restored into a staging database while the services
 * still run; with the services stopped, one transaction renames the live
 * database aside (kept, closed to connections, as the state to undo to and to
 * archive) and the staging database into its place. The downtime holds two
 * renames instead of a `pg_dump` and a `pg_restore`.
 *
 * Only a database that nothing but its contents distinguishes is swapped: a
 * fresh database gets the live one's encoding, locale, connection limit,
 * grants and comment, but not what lives outside the dump and the database
 * row (per-database settings, a tablespace, logical replication slots). For
 * those, and when the role may not create or rename databases, {@link swapProblem}
 * says why and the recovery restores in place as before.
 */
import { statfs } from 'node:fs/promises';
import { resolve } from 'node:path';
import type pg from 'pg';
import type { PostgresConfig } from '../config/config.js';
import { quoteIdent, withPgClient } from './client.js';
import { pgRestore, type PgProgress } from './tools.js';

/** PostgreSQL cuts identifiers at 63 bytes, silently. */
const MAX_IDENTIFIER_BYTES = 63;

export interface SwapNames {
  /** Where the dump is restored, beside the live database. */
  staging: string;
  /** What the live database is renamed to while the recovery runs. */
  previous: string;
  /** Whether there was a live database when the recovery was planned (a bare host has none: undo then drops the restored one). @default true */
  liveExisted?: boolean;
}

/**
 * `<db>_restore_<tag>` and `<db>_previous_<tag>`, or `mcp_restore_<tag>` and
 * `mcp_previous_<tag>` when the live name is not plain ASCII or too long: a name
 * PostgreSQL would cut could come out as the live database's own.
 */
export function swapNames(database: string, tag: string): SwapNames {
  const plain = /^[A-Za-z0-9_]+$/.test(database) && database.length + `_previous_${tag}`.length <= MAX_IDENTIFIER_BYTES;
  const names = { staging: `${plain ? database : 'mcp'}_restore_${tag}`, previous: `${plain ? database : 'mcp'}_previous_${tag}` };
  for (const n of Object.values(names)) if (n === database || Buffer.byteLength(n) > MAX_IDENTIFIER_BYTES) throw new Error(`no safe staging database name for ${database}`);
  return names;
}

/** Names this module makes: nothing else is ever dropped or renamed as staging or previous. */
const OURS = /^[A-Za-z0-9_]{1,52}_(restore|previous)_[0-9a-f]{8}$/;

function assertOurs(name: string, live: string): void {
  if (!OURS.test(name) || name === live) throw new Error(`${name} is not a recovery's staging or previous database`);
}

interface LiveDatabase {
  oid: number;
  owner: string;
  encoding: string;
  collate: string;
  ctype: string;
  connLimit: number;
  acl: string[] | null;
  comment: string | null;
  ownerIsMe: boolean;
  tablespace: string;
  settings: number;
  slots: number;
  icuLocale?: string | null;
  icuRules?: string | null;
  provider?: string;
}

async function readLive(c: pg.Client, database: string): Promise<LiveDatabase | undefined> {
  const { rows } = await c.query<Record<string, unknown>>(
    `SELECT d.*, d.oid::int AS dboid, pg_encoding_to_char(d.encoding) AS enc, d.datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS mine,
            t.spcname AS tablespace, d.datacl::text[] AS acl, shobj_description(d.oid, 'pg_database') AS comment, pg_get_userbyid(d.datdba) AS owner,
            (SELECT count(*)::int FROM pg_db_role_setting s WHERE s.setdatabase = d.oid) AS settings,
            (SELECT count(*)::int FROM pg_replication_slots r WHERE r.database = d.datname) AS slots
       FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = $1`,
    [database],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    oid: r.dboid as number,
    owner: r.owner as string,
    encoding: r.enc as string,
    collate: r.datcollate as string,
    ctype: r.datctype as string,
    connLimit: r.datconnlimit as number,
    acl: (r.acl as string[] | null) ?? null,
    comment: (r.comment as string | null) ?? null,
    ownerIsMe: r.mine as boolean,
    tablespace: r.tablespace as string,
    settings: r.settings as number,
    slots: r.slots as number,
    // PostgreSQL 15 and 16 call the ICU locale daticulocale, 17 datlocale.
    ...('datlocprovider' in r ? { provider: r.datlocprovider as string, icuLocale: ((r.daticulocale ?? r.datlocale) as string | null) ?? null, icuRules: (r.daticurules as string | null | undefined) ?? null } : {}),
  };
}

/** Whether the configured database exists (a bare host's does not). */
export async function databaseExists(pgc: PostgresConfig): Promise<boolean> {
  return withPgClient(pgc, async (c) => (await present(c, [pgc.database])).has(pgc.database), { database: 'postgres' });
}

/** Why the database cannot be swapped by rename (the recovery restores it in place), or undefined when it can. */
export async function swapProblem(pgc: PostgresConfig): Promise<string | undefined> {
  // The maintenance database is where the swap works from: a role that cannot reach it restores in place.
  return withPgClient(
    pgc,
    async (c) => {
      const version = Number((await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v ?? 0);
      if (version < 130000) return `PostgreSQL ${version} is older than 13 (DROP DATABASE ... WITH (FORCE))`;
      const me = (
        await c.query<{ rolname: string; rolsuper: boolean; rolcreatedb: boolean; signal: boolean }>(
          "SELECT rolname, rolsuper, rolcreatedb, pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') AS signal FROM pg_roles WHERE rolname = current_user",
        )
      ).rows[0];
      if (!me) return 'the connecting role is not in pg_roles';
      if (!me.rolsuper && !me.rolcreatedb) return `role ${me.rolname} may not create databases (CREATEDB)`;
      // The rename needs every session of the live database ended, other roles' too.
      if (!me.rolsuper && !me.signal) return `role ${me.rolname} may not end other roles' sessions (pg_signal_backend), which the rename needs`;
      // The connection that renames sits in the maintenance database: that one cannot be renamed.
      if (pgc.database === 'postgres') return 'the configured database is the maintenance database postgres, which the swap connects to';
      const live = await readLive(c, pgc.database);
      if (!live) return undefined;
      if (!me.rolsuper && !live.ownerIsMe) return `role ${me.rolname} does not own database ${pgc.database}`;
      if (live.provider !== undefined && live.provider !== 'c' && live.provider !== 'i') return `database ${pgc.database} uses locale provider ${live.provider}, which a staging database is not created with`;
      if (live.icuRules) return `database ${pgc.database} has ICU collation rules, which a staging database is not created with`;
      if (live.settings > 0) return `database ${pgc.database} has per-database settings (ALTER DATABASE/ROLE ... SET), which live outside its dump`;
      if (live.tablespace !== 'pg_default') return `database ${pgc.database} lives in tablespace ${live.tablespace}`;
      if (live.slots > 0) return `database ${pgc.database} has ${live.slots} replication slot(s), which stay with the database they were made in`;
      return undefined;
    },
    { database: 'postgres' },
  ).catch((err: unknown) => `the maintenance database postgres could not be checked (${err instanceof Error ? err.message : String(err)})`);
}

/** Where a restore of the database writes on PostgreSQL's disks, or why that could not be learned. */
export type DatabaseSpace = { dataDirectory: string; databaseDirectory: string; walDirectory: string; walBytes: number } | { unchecked: string };

/** A server this host's file system can see: reached over loopback or a Unix socket. */
function onThisHost(host: string): boolean {
  return host.startsWith('/') || host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * Where a restore of the database writes: a copy of it where the live database lives (its
 * tablespace, else PostgreSQL's `data_directory`; a new database made without a tablespace, as
 * a drill's scratch one, goes to `data_directory`), and the WAL it writes (up to `max_wal_size`
 * before checkpoints recycle it) into `pg_wal`. Learned on this host only, from PostgreSQL's own
 * settings, which a superuser or a member of pg_read_all_settings may read.
 */
export async function databaseSpace(pgc: PostgresConfig): Promise<DatabaseSpace> {
  if (!onThisHost(pgc.host)) return { unchecked: `PostgreSQL at ${pgc.host} is not on this host, so its free space is not known here` };
  return withPgClient(
    pgc,
    async (c): Promise<DatabaseSpace> => {
      const dir = (await c.query<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = 'data_directory'")).rows[0]?.setting;
      if (!dir) return { unchecked: `role ${pgc.user} may not read PostgreSQL's data_directory (superuser or pg_read_all_settings)` };
      const location = (await c.query<{ location: string }>('SELECT pg_tablespace_location(dattablespace) AS location FROM pg_database WHERE datname = $1', [pgc.database])).rows[0]?.location;
      const wal = (await c.query<{ wal: string }>("SELECT pg_size_bytes(current_setting('max_wal_size'))::text AS wal")).rows[0]!.wal;
      // An in-place tablespace (PostgreSQL 16's allow_in_place_tablespaces) is named relative to the data directory.
      return { dataDirectory: dir, databaseDirectory: location ? resolve(dir, location) : dir, walDirectory: `${dir}/pg_wal`, walBytes: Number(wal) };
    },
    { database: 'postgres' },
  ).catch((err: unknown) => ({ unchecked: `PostgreSQL could not be asked for its data directory (${err instanceof Error ? err.message : String(err)})` }));
}

/**
 * What restoring a copy of `copyBytes` adds on PostgreSQL's disks, by folder: where the live database
 * lives (`live`: a recovery's staging or in-place restore) or in the default tablespace (`default`:
 * a drill's scratch database); or why that is not known.
 */
export async function databaseRestoreNeeds(pgc: PostgresConfig, copyBytes: number, where: 'live' | 'default' = 'live'): Promise<{ needs: Array<{ path: string; bytes: number; what: string }> } | { unchecked: string }> {
  const pg = await databaseSpace(pgc);
  if ('unchecked' in pg) return pg;
  const copyAt = where === 'live' ? pg.databaseDirectory : pg.dataDirectory;
  for (const p of [copyAt, pg.walDirectory]) {
    if (!(await statfs(p).then(() => true, () => false))) return { unchecked: `PostgreSQL's ${p} cannot be looked at from here` };
  }
  return {
    needs: [
      { path: copyAt, bytes: copyBytes, what: `a second copy of database ${pgc.database}` },
      { path: pg.walDirectory, bytes: Math.min(pg.walBytes, copyBytes), what: 'the WAL its restore writes' },
    ],
  };
}

/** The size on disk of `database` now (`pg_database_size`): recorded beside a dump of it for the manifest. */
export async function databaseSize(pgc: PostgresConfig, database: string): Promise<number> {
  return withPgClient(pgc, async (c) => Number((await c.query<{ size: string }>('SELECT pg_database_size(oid)::text AS size FROM pg_database WHERE datname = $1', [database])).rows[0]?.size ?? 0), { database: 'postgres' });
}

/**
 * Creates the staging database like the live one (encoding, locale, connection limit,
 * grants, comment) and restores the dump into it in one transaction; afterwards it
 * takes no connections until it is swapped in. Starts over from an empty database.
 */
export async function stageDatabase(opts: { pg: PostgresConfig; staging: string; file: string; signal?: AbortSignal; progress?: PgProgress }): Promise<void> {
  const { pg: pgc, staging } = opts;
  assertOurs(staging, pgc.database);
  await withPgClient(
    pgc,
    async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(staging)} WITH (FORCE)`);
      const live = await readLive(c, pgc.database);
      // The locale provider is always given (template0's may differ from the live database's).
      const provider = live?.provider === 'i' ? ` LOCALE_PROVIDER icu ICU_LOCALE ${literal(live.icuLocale ?? '')}` : live?.provider === 'c' ? ' LOCALE_PROVIDER libc' : '';
      const like = live ? ` ENCODING ${literal(live.encoding)} LC_COLLATE ${literal(live.collate)} LC_CTYPE ${literal(live.ctype)}${provider} CONNECTION LIMIT ${live.connLimit}` : '';
      await c.query(`CREATE DATABASE ${quoteIdent(staging)} TEMPLATE template0${like}`);
      // Owned like the live one (a superuser's staging database would otherwise be the superuser's, and with it schema public).
      if (live && !live.ownerIsMe) await c.query(`ALTER DATABASE ${quoteIdent(staging)} OWNER TO ${quoteIdent(live.owner)}`);
      if (live?.acl) {
        // The live grants exactly: nothing for PUBLIC unless it had it.
        await c.query(`REVOKE ALL ON DATABASE ${quoteIdent(staging)} FROM PUBLIC`);
        const { rows } = await c.query<{ grantee: string | null; privilege_type: string; is_grantable: boolean }>(
          `SELECT r.rolname AS grantee, a.privilege_type, a.is_grantable FROM pg_database d, aclexplode(d.datacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE d.datname = $1`,
          [pgc.database],
        );
        for (const g of rows) {
          await c.query(`GRANT ${g.privilege_type} ON DATABASE ${quoteIdent(staging)} TO ${g.grantee === null ? 'PUBLIC' : quoteIdent(g.grantee)}${g.is_grantable ? ' WITH GRANT OPTION' : ''}`);
        }
      }
      if (live?.comment) await c.query(`COMMENT ON DATABASE ${quoteIdent(staging)} IS ${literal(live.comment)}`);
    },
    { database: 'postgres' },
  );
  await pgRestore({ pg: { ...pgc, database: staging }, file: opts.file, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.progress ? { progress: opts.progress } : {}) });
  await withPgClient(pgc, (c) => c.query(`ALTER DATABASE ${quoteIdent(staging)} ALLOW_CONNECTIONS false`), { database: 'postgres' });
}

/**
 * Closes a database to new connections and ends the sessions it has (the services are stopped; anything else is
 * cut off). Each session on its own: one the role may not end (a superuser's, autovacuum's) does not stop the
 * others; the rename then fails and is tried again, and the database is opened again whatever happens.
 */
async function closeAndEmpty(c: pg.Client, name: string): Promise<void> {
  await c.query(`ALTER DATABASE ${quoteIdent(name)} ALLOW_CONNECTIONS false`);
  const { rows } = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
  for (const { pid } of rows) await c.query('SELECT pg_terminate_backend($1)', [pid]).catch(() => undefined);
}

/** Opens a database to connections again, if it exists. */
async function reopen(c: pg.Client, name: string): Promise<void> {
  if ((await present(c, [name])).has(name)) await c.query(`ALTER DATABASE ${quoteIdent(name)} ALLOW_CONNECTIONS true`);
}

async function present(c: pg.Client, names: string[]): Promise<Set<string>> {
  const { rows } = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1)', [names]);
  return new Set(rows.map((r) => r.datname));
}

/**
 * Live -> previous and staging -> live in one transaction. Idempotent: a swap that
 * already happened (staging gone, previous there) reports so; a live database that
 * did not exist (a bare host) just gets the staging one. Whatever happens, the live
 * name is left open to connections (a failed attempt must not leave it closed).
 */
export async function swapInDatabase(pgc: PostgresConfig, names: SwapNames): Promise<'swapped' | 'already swapped'> {
  const live = pgc.database;
  assertOurs(names.staging, live);
  assertOurs(names.previous, live);
  const liveExisted = names.liveExisted ?? true;
  return withPgClient(
    pgc,
    async (c) => {
      try {
        const have = await present(c, [live, names.staging, names.previous]);
        if (!have.has(names.staging)) {
          if (have.has(live) && (have.has(names.previous) || !liveExisted)) return 'already swapped';
          throw new Error(`cannot swap in database ${live}: its staging database ${names.staging} is missing`);
        }
        if (have.has(names.previous)) throw new Error(`cannot swap in database ${live}: ${names.previous} already exists`);
        // A client that reconnects between the terminate and the rename makes the rename fail: close, end, try again.
        for (let attempt = 1; ; attempt++) {
          if (have.has(live)) await closeAndEmpty(c, live);
          try {
            await c.query('BEGIN');
            if (have.has(live)) await c.query(`ALTER DATABASE ${quoteIdent(live)} RENAME TO ${quoteIdent(names.previous)}`);
            await c.query(`ALTER DATABASE ${quoteIdent(names.staging)} RENAME TO ${quoteIdent(live)}`);
            await c.query('COMMIT');
            break;
          } catch (err) {
            await c.query('ROLLBACK').catch(() => undefined);
            if (attempt >= 5) throw err;
            await new Promise((r) => setTimeout(r, 200 * attempt));
          }
        }
        return 'swapped';
      } finally {
        await reopen(c, live);
      }
    },
    { database: 'postgres' },
  );
}

/**
 * Puts the previous database back (the restored one is dropped); on a host that had none, drops the
 * restored one. Idempotent; nothing to undo when the swap never happened. The live name is left open.
 */
export async function undoDatabaseSwap(pgc: PostgresConfig, names: SwapNames): Promise<'restored previous' | 'nothing to undo'> {
  const live = pgc.database;
  assertOurs(names.previous, live);
  assertOurs(names.staging, live);
  const liveExisted = names.liveExisted ?? true;
  return withPgClient(
    pgc,
    async (c) => {
      try {
        const have = await present(c, [live, names.previous, names.staging]);
        if (!have.has(names.previous)) {
          // A bare host: the restored database is the only one; taking it back means removing it.
          if (!liveExisted && have.has(live) && !have.has(names.staging)) {
            await closeAndEmpty(c, live);
            await c.query(`DROP DATABASE ${quoteIdent(live)} WITH (FORCE)`);
            return 'restored previous';
          }
          return 'nothing to undo';
        }
        // The restored database goes under the staging name (ours, dropped below), the previous one back in its place.
        if (have.has(live)) await closeAndEmpty(c, live);
        await c.query('BEGIN');
        if (have.has(live)) await c.query(`ALTER DATABASE ${quoteIdent(live)} RENAME TO ${quoteIdent(names.staging)}`);
        await c.query(`ALTER DATABASE ${quoteIdent(names.previous)} RENAME TO ${quoteIdent(live)}`);
        await c.query('COMMIT');
        await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(names.staging)} WITH (FORCE)`);
        return 'restored previous';
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        await reopen(c, live);
      }
    },
    { database: 'postgres' },
  );
}

/** Opens the previous database to this tool's `pg_dump` (the emergency archive); nobody else connects to a name like it. */
export async function openPrevious(pgc: PostgresConfig, names: SwapNames): Promise<boolean> {
  assertOurs(names.previous, pgc.database);
  return withPgClient(
    pgc,
    async (c) => {
      if (!(await present(c, [names.previous])).has(names.previous)) return false;
      await c.query(`ALTER DATABASE ${quoteIdent(names.previous)} ALLOW_CONNECTIONS true`);
      return true;
    },
    { database: 'postgres' },
  );
}

/** Drops the given staging or previous databases that exist; returns those dropped. */
export async function dropOurs(pgc: PostgresConfig, names: string[]): Promise<string[]> {
  for (const n of names) assertOurs(n, pgc.database);
  return withPgClient(
    pgc,
    async (c) => {
      const had = await present(c, names);
      for (const n of had) await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(n)} WITH (FORCE)`);
      return [...had];
    },
    { database: 'postgres' },
  );
}

function literal(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
