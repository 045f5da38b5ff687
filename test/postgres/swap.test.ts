/** A recovery's database swap (src/postgres/swap.ts) on the real local PostgreSQL, in databases and roles made for the test. */
import { randomUUID } from 'node:crypto';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresConfig } from '../../src/config/config.js';
import { quoteIdent, withPgClient } from '../../src/postgres/client.js';
import { databaseRestoreNeeds, databaseSize, databaseSpace, dropOurs, openPrevious, stageDatabase, swapInDatabase, swapNames, swapProblem, undoDatabaseSwap } from '../../src/postgres/swap.js';
import { pgDump } from '../../src/postgres/tools.js';

const id = randomUUID().replaceAll('-', '').slice(0, 8);
const server: PostgresConfig = { host: '127.0.0.1', port: 5432, database: 'postgres', user: 'postgres', statementTimeoutSeconds: 30 };
const live: PostgresConfig = { ...server, database: `mcp_swap_${id}` };
const reader = `mcp_swap_reader_${id}`;
const plain = `mcp_swap_plain_${id}`;
const names = swapNames(live.database, 'abcdef01');
let dir: string;
let dump: string;

const admin = <T>(sql: string) => withPgClient(server, (c) => c.query(sql)) as Promise<T>;
const liveRows = (pg: PostgresConfig = live) => withPgClient(pg, async (c) => (await c.query<{ v: string }>('SELECT v FROM t ORDER BY id')).rows.map((r) => r.v));
const databases = async () =>
  (await withPgClient(server, (c) => c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1', [`mcp_swap_${id}%`]))).rows.map((r) => r.datname);
const oidOf = async (name: string) => (await withPgClient(server, (c) => c.query<{ oid: number }>('SELECT oid::int AS oid FROM pg_database WHERE datname = $1', [name]))).rows[0]?.oid;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-swap-'));
  dump = join(dir, 'backup.dump');
  await admin(`CREATE ROLE ${quoteIdent(reader)} LOGIN`);
  await admin(`CREATE ROLE ${quoteIdent(plain)} LOGIN`);
  // The live database as a backup found it: grants beyond the defaults, a comment, a connection limit.
  await admin(`CREATE DATABASE ${quoteIdent(live.database)} CONNECTION LIMIT 40`);
  await admin(`REVOKE ALL ON DATABASE ${quoteIdent(live.database)} FROM PUBLIC`);
  await admin(`GRANT CONNECT ON DATABASE ${quoteIdent(live.database)} TO ${quoteIdent(reader)}`);
  await admin(`COMMENT ON DATABASE ${quoteIdent(live.database)} IS 'the memory service''s events'`);
  await withPgClient(live, async (c) => {
    await c.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
    await c.query("INSERT INTO t VALUES (1, 'backed up'), (2, 'backed up too')");
  });
  await pgDump({ pg: live, outFile: dump });
  // Written after the backup: the swap replaces it, the undo brings it back.
  await withPgClient(live, (c) => c.query("INSERT INTO t VALUES (3, 'written since')"));
});
afterAll(async () => {
  await withPgClient(server, async (c) => {
    for (const d of await databases()) await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(d)} WITH (FORCE)`);
    for (const r of [reader, plain]) await c.query(`DROP ROLE IF EXISTS ${quoteIdent(r)}`);
  }).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('swapping a database in by rename', () => {
  it('stages the dump beside the live database, like it and closed; swaps it in; the previous one is kept closed and can be dumped; undo puts it back', async () => {
    expect(await swapProblem(live)).toBeUndefined();
    const liveOid = await oidOf(live.database);
    await stageDatabase({ pg: live, staging: names.staging, file: dump });
    // Like the live one: grants exactly (no PUBLIC connect), comment, connection limit; closed until swapped in.
    const props = async (name: string) =>
      (
        await withPgClient(server, (c) =>
          c.query<{ acl: string; comment: string; connlimit: number; allow: boolean }>(
            `SELECT array_to_string(ARRAY(SELECT a.privilege_type || ':' || coalesce(r.rolname, 'PUBLIC') FROM aclexplode(d.datacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee ORDER BY 1), ',') AS acl,
                    shobj_description(d.oid, 'pg_database') AS comment, d.datconnlimit AS connlimit, d.datallowconn AS allow
               FROM pg_database d WHERE d.datname = $1`,
            [name],
          ),
        )
      ).rows[0]!;
    const before = await props(live.database);
    expect(before.acl).toContain(`CONNECT:${reader}`);
    expect(before.acl).not.toContain('PUBLIC');
    const staged = await props(names.staging);
    expect({ ...staged, allow: undefined }).toEqual({ ...before, allow: undefined });
    expect(staged.allow).toBe(false);
    // The live database is untouched meanwhile.
    expect(await liveRows()).toEqual(['backed up', 'backed up too', 'written since']);

    // A client still connected (a service that did not stop) is cut off; the swap is one transaction.
    const straggler = withPgClient(live, (c) => c.query('SELECT pg_sleep(30)')).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 300));
    expect(await swapInDatabase(live, names)).toBe('swapped');
    expect(String(await straggler)).toMatch(/terminat/);
    expect(await liveRows()).toEqual(['backed up', 'backed up too']);
    expect(await oidOf(names.previous)).toBe(liveOid);
    expect((await props(live.database)).allow).toBe(true);
    expect((await props(names.previous)).allow).toBe(false);
    // A retry after a killed worker finds it done.
    expect(await swapInDatabase(live, names)).toBe('already swapped');

    // The emergency archive's dump of the previous database.
    expect(await openPrevious(live, names)).toBe(true);
    const emergency = join(dir, 'emergency.dump');
    await pgDump({ pg: { ...live, database: names.previous }, outFile: emergency });

    expect(await undoDatabaseSwap(live, names)).toBe('restored previous');
    expect(await oidOf(live.database)).toBe(liveOid);
    expect(await liveRows()).toEqual(['backed up', 'backed up too', 'written since']);
    expect(await databases()).toEqual([live.database]);
    expect(await undoDatabaseSwap(live, names)).toBe('nothing to undo');
  });

  it('after a swap that is kept, the cleanup drops the previous and staging databases and nothing else', async () => {
    await stageDatabase({ pg: live, staging: names.staging, file: dump });
    await swapInDatabase(live, names);
    expect(await dropOurs(live, [names.staging, names.previous])).toEqual([names.previous]);
    expect(await databases()).toEqual([live.database]);
    await expect(dropOurs(live, [live.database])).rejects.toThrow(`${live.database} is not a recovery's staging or previous database`);
    await expect(dropOurs(live, ['postgres'])).rejects.toThrow("is not a recovery's staging or previous database");
  });

  it('a live database that a fresh one could not stand in for is restored in place, and says why', async () => {
    await admin(`ALTER DATABASE ${quoteIdent(live.database)} SET work_mem = '8MB'`);
    try {
      expect(await swapProblem(live)).toBe(`database ${live.database} has per-database settings (ALTER DATABASE/ROLE ... SET), which live outside its dump`);
    } finally {
      await admin(`ALTER DATABASE ${quoteIdent(live.database)} RESET work_mem`);
    }
    // A role that may not create databases, and one that may but does not own the live one.
    expect(await swapProblem({ ...live, user: plain })).toBe(`role ${plain} may not create databases (CREATEDB)`);
    await admin(`ALTER ROLE ${quoteIdent(plain)} CREATEDB`);
    expect(await swapProblem({ ...live, user: plain })).toBe(`role ${plain} may not end other roles' sessions (pg_signal_backend), which the rename needs`);
    await admin(`GRANT pg_signal_backend TO ${quoteIdent(plain)}`);
    expect(await swapProblem({ ...live, user: plain })).toBe(`role ${plain} does not own database ${live.database}`);
    // A server the role cannot reach from the maintenance database: in place, saying why.
    expect(await swapProblem({ ...live, port: 1 })).toMatch(/^the maintenance database postgres could not be checked \(/);
  });

  it("finds where a restore writes on PostgreSQL's disks (the database's tablespace, pg_wal), where it can see them; says why where it cannot", async () => {
    const truth = (await withPgClient(server, (c) => c.query<{ dir: string; wal: string }>("SELECT current_setting('data_directory') AS dir, pg_size_bytes(current_setting('max_wal_size'))::text AS wal"))).rows[0]!;
    expect(await databaseSpace(live)).toEqual({ dataDirectory: truth.dir, databaseDirectory: truth.dir, walDirectory: `${truth.dir}/pg_wal`, walBytes: Number(truth.wal) });
    expect(await databaseSize(live, live.database)).toBe(Number((await withPgClient(server, (c) => c.query<{ s: string }>('SELECT pg_database_size($1)::text AS s', [live.database]))).rows[0]!.s));
    expect(await databaseRestoreNeeds(live, 5_000_000)).toEqual({
      needs: [
        { path: truth.dir, bytes: 5_000_000, what: `a second copy of database ${live.database}` },
        { path: `${truth.dir}/pg_wal`, bytes: Math.min(5_000_000, Number(truth.wal)), what: 'the WAL its restore writes' },
      ],
    });
    // A database in its own tablespace is restored there.
    // Where the postgres user can reach it (the test's own folder is root's, 0700).
    const location = await mkdtemp(join(tmpdir(), 'mcp-swap-tablespace-'));
    const { stdout: pgUid } = await execa('id', ['-u', 'postgres']);
    await chown(location, Number(pgUid), Number(pgUid));
    await chmod(location, 0o700);
    const tablespace = `mcp_swap_ts_${id}`;
    const inTablespace = { ...live, database: `mcp_swap_${id}_ts` };
    await admin(`CREATE TABLESPACE ${quoteIdent(tablespace)} LOCATION '${location}'`);
    try {
      await admin(`CREATE DATABASE ${quoteIdent(inTablespace.database)} TABLESPACE ${quoteIdent(tablespace)}`);
      // A recovery restores it there (in place); a drill's scratch database, made without a tablespace, goes to data_directory.
      expect(await databaseSpace(inTablespace)).toMatchObject({ dataDirectory: truth.dir, databaseDirectory: location });
      expect(await databaseRestoreNeeds(inTablespace, 7, 'live')).toMatchObject({ needs: [{ path: location, bytes: 7 }, { path: `${truth.dir}/pg_wal` }] });
      expect(await databaseRestoreNeeds(inTablespace, 7, 'default')).toMatchObject({ needs: [{ path: truth.dir, bytes: 7 }, { path: `${truth.dir}/pg_wal` }] });
    } finally {
      await admin(`DROP DATABASE IF EXISTS ${quoteIdent(inTablespace.database)}`);
      await admin(`DROP TABLESPACE IF EXISTS ${quoteIdent(tablespace)}`);
      await rm(location, { recursive: true, force: true });
    }
    // A role that may not read where PostgreSQL keeps its data, a server elsewhere, a server that does not answer.
    expect(await databaseSpace({ ...live, user: reader })).toEqual({ unchecked: `role ${reader} may not read PostgreSQL's data_directory (superuser or pg_read_all_settings)` });
    expect(await databaseRestoreNeeds({ ...live, host: 'db.internal.example' }, 1)).toEqual({ unchecked: 'PostgreSQL at db.internal.example is not on this host, so its free space is not known here' });
    expect(await databaseSpace({ ...live, port: 1 })).toMatchObject({ unchecked: expect.stringMatching(/^PostgreSQL could not be asked for its data directory \(/) });
  });

  it('names: the live name with a suffix, or mcp_ when the live name could be cut to something else', () => {
    expect(swapNames('mcp', '0123abcd')).toEqual({ staging: 'mcp_restore_0123abcd', previous: 'mcp_previous_0123abcd' });
    expect(swapNames('x'.repeat(60), '0123abcd')).toEqual({ staging: 'mcp_restore_0123abcd', previous: 'mcp_previous_0123abcd' });
    expect(swapNames('événements', '0123abcd').staging).toBe('mcp_restore_0123abcd');
  });
});
