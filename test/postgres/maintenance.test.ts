/** Slow queries, connection usage and VACUUM on the real local PostgreSQL, in databases made for the test. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresConfig } from '../../src/config/config.js';
import { createMaintenancePostgresActivities, type MaintenancePostgresDeps } from '../../src/activities/maintenance/postgres.js';
import { quoteIdent, withPgClient } from '../../src/postgres/client.js';
import {
  connectionUsage,
  redactQuery,
  serverVersionNum,
  slowQueries,
  statStatementsColumns,
  statStatementsState,
  vacuumAnalyze,
} from '../../src/postgres/maintenance.js';

const server: PostgresConfig = { host: '127.0.0.1', port: 5432, database: 'postgres', user: 'postgres', statementTimeoutSeconds: 30 };
const withExt: PostgresConfig = { ...server, database: `mcp_pgm_ext_${randomUUID().slice(0, 8)}` };
const without: PostgresConfig = { ...server, database: `mcp_pgm_none_${randomUUID().slice(0, 8)}` };

beforeAll(async () => {
  for (const db of [withExt, without]) await withPgClient(server, (c) => c.query(`CREATE DATABASE ${quoteIdent(db.database)}`));
  await withPgClient(withExt, async (c) => {
    await c.query('CREATE EXTENSION pg_stat_statements');
    await c.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
    await c.query("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 2000) g");
    await c.query('DELETE FROM t WHERE id % 2 = 0');
    // The slow query: twice 400 ms, so its mean is well above a 200 ms threshold.
    await c.query('SELECT pg_sleep(0.4)');
    await c.query('SELECT pg_sleep(0.4)');
  });
});
afterAll(async () => {
  for (const db of [withExt, without]) await withPgClient(server, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(db.database)} WITH (FORCE)`)).catch(() => undefined);
});

describe('pg_stat_statements', () => {
  it.each([
    [150020, { total: 'total_exec_time', mean: 'mean_exec_time', max: 'max_exec_time' }],
    [130000, { total: 'total_exec_time', mean: 'mean_exec_time', max: 'max_exec_time' }],
    [120022, { total: 'total_time', mean: 'mean_time', max: 'max_time' }],
    [110005, { total: 'total_time', mean: 'mean_time', max: 'max_time' }],
  ])('server %i uses %o', (version, columns) => {
    expect(statStatementsColumns(version)).toEqual(columns);
  });

  it('the machine\'s server preloads it (see .ci/run); the test database has the extension, the other does not', async () => {
    const a = await withPgClient(withExt, statStatementsState);
    expect(a).toMatchObject({ installed: true, schema: 'public', preloaded: true });
    expect(await withPgClient(without, statStatementsState)).toEqual({ installed: false, preloaded: true });
  });

  it('a query made slow with pg_sleep is listed with the server version\'s columns, only for this database', async () => {
    // 350 ms: above anything else this database ran (its CREATE EXTENSION on a cold server included), below the 400 ms sleeps.
    const r = await withPgClient(withExt, async (c) => slowQueries(c, { versionNum: await serverVersionNum(c), schema: 'public', thresholdMs: 350, limit: 10 }));
    expect(r.total).toBe(1);
    expect(r.queries[0]).toMatchObject({ query: 'SELECT pg_sleep($1)', calls: 2 });
    expect(r.queries[0]!.meanMs).toBeGreaterThanOrEqual(400);
    expect(r.queries[0]!.maxMs).toBeGreaterThanOrEqual(400);
    const none = await withPgClient(withExt, async (c) => slowQueries(c, { versionNum: await serverVersionNum(c), schema: 'public', thresholdMs: 5000, limit: 10 }));
    expect(none).toEqual({ total: 0, queries: [] });
  });

  const checkConfig = (pg: PostgresConfig, slowQueryMs: number) =>
    ({ postgres: pg, thresholds: { dbConnectionsPercent: 99 }, maintenance: { postgres: { slowQueryMs, slowQueryLimit: 10, vacuumTimeoutMinutes: 10 } } }) as unknown as MaintenancePostgresDeps['config'];

  it('the weekly check on a database without the extension is a warn that says how to enable it, and connections are still checked', async () => {
    const findings = await createMaintenancePostgresActivities({ config: checkConfig(without, 200) }).checkPostgres();
    expect(findings.map((f) => [f.check, f.status])).toEqual([
      ['postgres.slow-queries', 'warn'],
      ['postgres.connections', 'ok'],
    ]);
    expect(findings[0]!.message).toBe(
      `pg_stat_statements is not installed in ${without.database}, so slow queries cannot be listed: add pg_stat_statements to shared_preload_libraries (ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', then restart PostgreSQL) and run CREATE EXTENSION pg_stat_statements in the database`,
    );
    expect(findings[0]!.data).toMatchObject({ extension: false, preloaded: true, thresholdMs: 200 });
  });

  it('the weekly check on a database with the extension lists the slow statement', async () => {
    const [slow] = await createMaintenancePostgresActivities({ config: checkConfig(withExt, 350) }).checkPostgres();
    expect(slow).toMatchObject({ check: 'postgres.slow-queries', status: 'warn', data: { extension: true, count: 1 } });
    expect(slow!.message).toMatch(new RegExp(`^1 statement in ${withExt.database} takes more than 350 ms on average; slowest: 4\\d\\d(\\.\\d)? ms SELECT pg_sleep\\(\\$1\\)$`));
  });

  it.each([
    ["ALTER ROLE app PASSWORD 'hunter2'", "ALTER ROLE app PASSWORD '…'"],
    ["SELECT 'it''s'   ,\n  $1", "SELECT '…' , $1"],
    ["ALTER ROLE app PASSWORD E'hun\\'ter2secret'", "ALTER ROLE app PASSWORD '…'"],
    ["SELECT e'a\\\\', 'plain\\', 'secret'", "SELECT '…', '…', '…'"],
    ['DO $$ BEGIN PERFORM 1; END $$', "DO '…'"],
    ['x'.repeat(400), `${'x'.repeat(299)}…`],
  ])('query text is blanked and shortened: %s', (text, expected) => {
    expect(redactQuery(text)).toBe(expected);
  });
});

describe('connection usage', () => {
  it('counts client connections of the whole server against max_connections', async () => {
    const u = await withPgClient(withExt, async (c) => {
      const extra = await Promise.all([1, 2, 3].map(async () => {
        const { default: pg } = await import('pg');
        const x = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: withExt.database });
        await x.connect();
        return x;
      }));
      try {
        return await connectionUsage(c);
      } finally {
        await Promise.all(extra.map((x) => x.end()));
      }
    });
    expect(u.connections).toBeGreaterThanOrEqual(4);
    expect(u.byDatabase[withExt.database]).toBe(4);
    expect(u.maxConnections).toBe(Number((await withPgClient(server, (c) => c.query<{ max_connections: string }>('SHOW max_connections'))).rows[0]!.max_connections));
    expect(u.usedPercent).toBeCloseTo((u.connections / u.maxConnections) * 100, 0);
  });
});

describe('VACUUM ANALYZE', () => {
  it('runs outside a transaction with SKIP_LOCKED and clears the dead rows', async () => {
    const r = await vacuumAnalyze(withExt, { timeoutMinutes: 10 });
    expect(r.command).toBe('VACUUM (ANALYZE, SKIP_LOCKED)');
    expect(r.deadRowsBefore).toBeGreaterThanOrEqual(1000);
    expect(r.deadRowsAfter).toBe(0);
    expect(r.skipped).toEqual([]);
  });

  it('uses its own statement timeout, not the 30-second one for checks', async () => {
    // 0.5 ms: a database-wide VACUUM cannot finish, so the error proves which timeout applied.
    await expect(vacuumAnalyze(withExt, { timeoutMinutes: 0.5 / 60_000 })).rejects.toThrow(/canceling statement due to statement timeout/);
  });

  it('a signal aborted before the call is not missed: the VACUUM is not run', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled before it started'));
    // Without the check, the listener attached to an aborted signal never fires and the VACUUM runs to the end.
    await expect(vacuumAnalyze(withExt, { timeoutMinutes: 10, signal: controller.signal })).rejects.toThrow('cancelled before it started');
  });

  it('a cancelled activity cancels the statement on the server', async () => {
    const controller = new AbortController();
    const table = `big_${randomUUID().slice(0, 6)}`;
    await withPgClient(withExt, (c) => c.query(`CREATE TABLE ${table} AS SELECT g AS id, repeat('x', 200) AS v FROM generate_series(1, 300000) g`));
    // 60 MB never vacuumed: VACUUM runs long enough to be seen in pg_stat_activity, and is cancelled then.
    const running = vacuumAnalyze(withExt, { timeoutMinutes: 10, signal: controller.signal });
    let settled = false;
    running.then(() => (settled = true), () => (settled = true));
    const vacuuming = () =>
      withPgClient(server, async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'VACUUM%' AND state = 'active' AND datname = $1", [withExt.database])).rows[0]!.n);
    const deadline = Date.now() + 20_000;
    while ((await vacuuming()) === 0) {
      if (settled) throw new Error('vacuumAnalyze ended before its VACUUM was ever seen running');
      if (Date.now() > deadline) throw new Error('no VACUUM showed in pg_stat_activity within 20 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    controller.abort(new Error('cancelled by test'));
    await expect(running).rejects.toThrow('canceling statement due to user request');
    const left = await withPgClient(server, async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'VACUUM%' AND datname = $1", [withExt.database])).rows[0]!.n);
    expect(left).toBe(0);
  });
});
