/**
 * The database side of maintenance: slow statements from pg_stat_statements
 * (with the column names of the server's version), connection usage, and a
 * database-wide VACUUM ANALYZE. One operation per function, parameterised SQL.
 */
import type pg from 'pg';
import type { PostgresConfig } from '../config/config.js';
import { quoteIdent, withPgClient } from './client.js';

/** `server_version_num`, e.g. 150020 for 15.20. */
export async function serverVersionNum(c: pg.Client): Promise<number> {
  const r = await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  return Number(r.rows[0]?.v ?? 0);
}

/**
 * pg_stat_statements' timing columns: PostgreSQL 13 split planning from
 * execution and renamed `total_time`/`mean_time`/`max_time` to
 * `total_exec_time`/`mean_exec_time`/`max_exec_time` (seed defect 8 queried the old name).
 */
export function statStatementsColumns(versionNum: number): { total: string; mean: string; max: string } {
  return versionNum >= 130000
    ? { total: 'total_exec_time', mean: 'mean_exec_time', max: 'max_exec_time' }
    : { total: 'total_time', mean: 'mean_time', max: 'max_time' };
}

export interface StatStatementsState {
  /** `CREATE EXTENSION pg_stat_statements` ran in this database. */
  installed: boolean;
  /** Schema the extension's view lives in. */
  schema?: string;
  extensionVersion?: string;
  /** In `shared_preload_libraries`, without which the view cannot be read. */
  preloaded: boolean;
}

/** Whether pg_stat_statements can be read in this database: extension created, library preloaded. */
export async function statStatementsState(c: pg.Client): Promise<StatStatementsState> {
  const ext = await c.query<{ schema: string; version: string }>(
    'SELECT n.nspname AS schema, e.extversion AS version FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = $1',
    ['pg_stat_statements'],
  );
  const preload = await c.query<{ v: string }>("SELECT current_setting('shared_preload_libraries') AS v");
  const preloaded = (preload.rows[0]?.v ?? '')
    .split(',')
    .map((s) => s.trim().replace(/^"|"$/g, ''))
    .includes('pg_stat_statements');
  const row = ext.rows[0];
  return row ? { installed: true, schema: row.schema, extensionVersion: row.version, preloaded } : { installed: false, preloaded };
}

export interface SlowQuery {
  queryid: string;
  /** Normalised text (constants are `$n`), string literals blanked, at most 300 characters. */
  query: string;
  calls: number;
  meanMs: number;
  maxMs: number;
  totalMs: number;
  rows: number;
}

/** Blanks quoted literals (utility statements such as ALTER ROLE … PASSWORD are not normalised) and shortens the text. */
export function redactQuery(text: string): string {
  // E'…' strings take backslash escapes (E'hun\'ter2'), so an escaped quote does not end one; in a
  // plain string a backslash is an ordinary character (standard_conforming_strings, on since 9.1).
  const blanked = text.replace(/[Ee]'(?:[^'\\]|''|\\.)*'|'(?:[^']|'')*'/g, "'…'").replace(/\$([A-Za-z_]*)\$[\s\S]*?\$\1\$/g, "'…'").replace(/\s+/g, ' ').trim();
  return blanked.length > 300 ? `${blanked.slice(0, 299)}…` : blanked;
}

const ms = (v: unknown) => Math.round(Number(v) * 10) / 10;

/**
 * Statements of the current database whose mean execution time is above
 * `thresholdMs`, slowest first: at most `limit`, and how many there are in all.
 */
export async function slowQueries(
  c: pg.Client,
  opts: { versionNum: number; schema: string; thresholdMs: number; limit: number },
): Promise<{ total: number; queries: SlowQuery[] }> {
  const col = statStatementsColumns(opts.versionNum);
  // Column and schema names come from the fixed table above and pg_extension, not from input.
  const r = await c.query<{ queryid: string; query: string; calls: string; mean: number; max: number; total: number; rows: string; n: string }>(
    `SELECT queryid::text AS queryid, query, calls::text AS calls, ${col.mean} AS mean, ${col.max} AS max, ${col.total} AS total,
            rows::text AS rows, count(*) OVER ()::text AS n
       FROM ${quoteIdent(opts.schema)}.pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ${col.mean} > $1
      ORDER BY ${col.mean} DESC
      LIMIT $2`,
    [opts.thresholdMs, opts.limit],
  );
  return {
    total: Number(r.rows[0]?.n ?? 0),
    queries: r.rows.map((x) => ({
      queryid: x.queryid,
      query: redactQuery(x.query),
      calls: Number(x.calls),
      meanMs: ms(x.mean),
      maxMs: ms(x.max),
      totalMs: ms(x.total),
      rows: Number(x.rows),
    })),
  };
}

export interface ConnectionUsage {
  /** Client connections to the whole server (every database), ours included. */
  connections: number;
  maxConnections: number;
  /** Slots only superusers may use. */
  superuserReserved: number;
  usedPercent: number;
  /** Client connections by state (`active`, `idle`, `idle in transaction`, …). */
  byState: Record<string, number>;
  /** Client connections per database. */
  byDatabase: Record<string, number>;
}

/** Client connections of the whole server against `max_connections`, by state and database. */
export async function connectionUsage(c: pg.Client): Promise<ConnectionUsage> {
  const settings = await c.query<{ max: string; reserved: string }>(
    "SELECT current_setting('max_connections') AS max, current_setting('superuser_reserved_connections') AS reserved",
  );
  // backend_type (10+) separates client sessions from the server's own background processes.
  const rows = await c.query<{ state: string | null; datname: string | null; n: string }>(
    "SELECT state, datname, count(*)::text AS n FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY state, datname",
  );
  const byState: Record<string, number> = {};
  const byDatabase: Record<string, number> = {};
  let connections = 0;
  for (const r of rows.rows) {
    const n = Number(r.n);
    connections += n;
    byState[r.state ?? 'unknown'] = (byState[r.state ?? 'unknown'] ?? 0) + n;
    byDatabase[r.datname ?? '(none)'] = (byDatabase[r.datname ?? '(none)'] ?? 0) + n;
  }
  const maxConnections = Number(settings.rows[0]?.max ?? 0);
  return {
    connections,
    maxConnections,
    superuserReserved: Number(settings.rows[0]?.reserved ?? 0),
    usedPercent: maxConnections > 0 ? Math.round((connections / maxConnections) * 1000) / 10 : 0,
    byState,
    byDatabase,
  };
}

export interface VacuumResult {
  database: string;
  command: string;
  seconds: number;
  /** Bytes of the database before and after. */
  sizeBefore: number;
  sizeAfter: number;
  /** Dead rows in user tables before and after. */
  deadRowsBefore: number;
  deadRowsAfter: number;
  /** Tables VACUUM skipped (not their owner, or locked): the server's WARNING lines. */
  skipped: string[];
}

export interface VacuumOptions {
  /** The VACUUM's own statement timeout. */
  timeoutMinutes: number;
  signal?: AbortSignal;
  /**
   * The VACUUM's own progress, read each second from another connection:
   * `done` is the heap blocks scanned and vacuumed plus the blocks ANALYZE sampled,
   * summed over the tables done so far (pg_stat_progress_vacuum / _analyze);
   * `working` gets a number that changes with each new phase, table or index
   * pass, which moves while the counter cannot (index vacuuming).
   */
  progress?: { (done: number): void; working?(marker: number): void };
}

/** Reads a VACUUM's progress views for backend `pid` every second until stopped. */
function watchVacuum(config: PostgresConfig, pid: number, version: number, progress: NonNullable<VacuumOptions['progress']>): () => Promise<void> {
  const blocks = new Map<string, number>();
  let marker = 0;
  let lastAt = '';
  let stopped = false;
  const views = [
    "SELECT 'v' || relid AS key, phase || ':' || index_vacuum_count AS at, heap_blks_scanned + heap_blks_vacuumed AS n FROM pg_stat_progress_vacuum WHERE pid = $1",
    ...(version >= 130000 ? ["SELECT 'a' || relid AS key, phase AS at, sample_blks_scanned AS n FROM pg_stat_progress_analyze WHERE pid = $1"] : []),
  ];
  const done = withPgClient(
    config,
    async (c) => {
      while (!stopped) {
        const r = await c.query<{ key: string; at: string; n: string }>(views.join(' UNION ALL '), [pid]);
        for (const row of r.rows) {
          blocks.set(row.key, Math.max(blocks.get(row.key) ?? 0, Number(row.n)));
          const at = `${row.key}:${row.at}`;
          if (at !== lastAt) marker += 1;
          lastAt = at;
        }
        progress([...blocks.values()].reduce((a, b) => a + b, 0));
        progress.working?.(marker);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    },
    { connectTimeoutMs: 3000 },
  ).catch(() => undefined);
  return async () => {
    stopped = true;
    await done;
  };
}

/**
 * `VACUUM (ANALYZE, SKIP_LOCKED)` of the whole database (plain `VACUUM ANALYZE`
 * before PostgreSQL 12), outside any transaction, as VACUUM requires. The
 * connection's statement timeout is raised to `timeoutMinutes` for this
 * statement only: the 30-second default meant for checks would cancel the
 * VACUUM of any real database. SKIP_LOCKED passes over a table another session
 * holds instead of queueing behind it. A cancelled activity cancels the
 * statement on the server (`pg_cancel_backend`), not just the socket.
 */
export async function vacuumAnalyze(config: PostgresConfig, opts: VacuumOptions): Promise<VacuumResult> {
  return withPgClient(config, async (c) => {
    const skipped: string[] = [];
    c.on('notice', (n) => {
      if (n.message && /skipping/i.test(n.message)) skipped.push(n.message);
    });
    const facts = async () => {
      const r = await c.query<{ size: string; dead: string }>(
        'SELECT pg_database_size(current_database())::text AS size, (SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables)::text AS dead',
      );
      return { size: Number(r.rows[0]?.size ?? 0), dead: Number(r.rows[0]?.dead ?? 0) };
    };
    const version = await serverVersionNum(c);
    const before = await facts();
    const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await c.query("SELECT set_config('statement_timeout', $1, false)", [`${Math.round(opts.timeoutMinutes * 60_000)}`]);
    const command = version >= 120000 ? 'VACUUM (ANALYZE, SKIP_LOCKED)' : 'VACUUM ANALYZE';
    const onAbort = () => {
      void withPgClient(config, (admin) => admin.query('SELECT pg_cancel_backend($1)', [pid]), { connectTimeoutMs: 3000 }).catch(() => undefined);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const t0 = Date.now();
    const stopWatching = opts.progress ? watchVacuum(config, pid, version, opts.progress) : async () => undefined;
    try {
      // A signal aborted before the listener was attached never fires it.
      opts.signal?.throwIfAborted();
      await c.query(command);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      await stopWatching();
    }
    const seconds = Math.round((Date.now() - t0) / 100) / 10;
    await c.query("SELECT set_config('statement_timeout', $1, false)", [`${Math.round(config.statementTimeoutSeconds * 1000)}`]);
    // The statistics collector reports the vacuum's effect asynchronously; a fresh snapshot is enough here.
    await c.query('SELECT pg_stat_clear_snapshot()');
    const after = await facts();
    return {
      database: config.database,
      command,
      seconds,
      sizeBefore: before.size,
      sizeAfter: after.size,
      deadRowsBefore: before.dead,
      deadRowsAfter: after.dead,
      skipped,
    };
  });
}
