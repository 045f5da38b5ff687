/**
 * pg_dump / pg_restore, run as argv arrays through the one program runner (they
 * die with the worker). The password goes to the child only, through PGPASSWORD
 * in its environment: never on the command line, never logged.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type pg from 'pg';
import type { PostgresConfig } from '../config/config.js';
import { processIo } from '../system/proc-io.js';
import { runProgram } from '../services/run-argv.js';
import { ownerTag } from '../system/process-owner.js';
import { quoteIdent, withPgClient } from './client.js';

/**
 * Where a pg tool's progress goes (an activity's `trackStep` reporter fits):
 * the counter shown, and proof of work that does not move it. pg_dump and
 * pg_restore print no progress, so the counter is measured: the dump file's
 * size for pg_dump, the bytes pg_restore has read for pg_restore; their I/O in
 * `/proc/<pid>/io` (socket traffic with the server included) is the proof of work.
 */
export interface PgProgress {
  (done: number, total?: number): void;
  working?(marker: number): void;
}

/** How often a running pg tool's counters are read. */
const PROGRESS_EVERY_MS = 1000;

function watchTool(pid: number | undefined, progress: PgProgress | undefined, counter: (io: { read: number; written: number } | undefined) => Promise<number | undefined>): () => void {
  if (!progress) return () => undefined;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      const io = await processIo(pid);
      const done = await counter(io);
      if (done !== undefined) progress(done);
      if (io) progress.working?.(io.read + io.written);
    })().finally(() => {
      busy = false;
    });
  }, PROGRESS_EVERY_MS);
  return () => clearInterval(timer);
}

export class PgToolError extends Error {
  override readonly name = 'PgToolError';
  readonly tool: string;
  readonly exitCode: number | undefined;
  constructor(tool: string, exitCode: number | undefined, output: string) {
    super(`${tool} failed${exitCode === undefined ? '' : ` (exit ${exitCode})`}: ${output.trim().split('\n').slice(-5).join(' | ') || 'no output'}`);
    this.tool = tool;
    this.exitCode = exitCode;
  }
}

function connectionArgs(pg: PostgresConfig, database = pg.database): string[] {
  return ['--host', pg.host, '--port', String(pg.port), '--username', pg.user, '--dbname', database, '--no-password'];
}

/** This database's connection settings for the child, on top of the worker's environment without its secrets (the password only here). */
function pgEnv(pg: PostgresConfig): Record<string, string> {
  // The configured password, else a PGPASSWORD the worker was given (as node-postgres uses it for the checks).
  const password = pg.password?.reveal() ?? process.env.PGPASSWORD;
  return { PGCONNECT_TIMEOUT: '10', PGAPPNAME: 'mcp-runbooks', ...(password ? { PGPASSWORD: password } : {}) };
}

/** Each attempt's own file beside `outFile`: `<outFile>.part-<owner>-<random>`. */
const PART = '.part-';

/**
 * `pg_dump -Fc` of the configured database, online, into `outFile`. Reports the dump's growing size.
 *
 * The dump is written to this attempt's own file and renamed to `outFile` only
 * once pg_dump exited 0: a pg_dump left running by a killed worker (where it
 * could not be made to die with it) writes only its own file, so it can never
 * corrupt the committed dump or the retry's. Earlier attempts' files are
 * removed first.
 */
export async function pgDump(opts: { pg: PostgresConfig; outFile: string; signal?: AbortSignal; progress?: PgProgress; snapshot?: string }): Promise<number> {
  const dir = dirname(opts.outFile);
  const prefix = `${basename(opts.outFile)}${PART}`;
  for (const f of await readdir(dir).catch(() => [] as string[])) if (f.startsWith(prefix)) await rm(join(dir, f), { force: true });
  const part = join(dir, `${prefix}${ownerTag()}-${randomBytes(4).toString('hex')}`);
  const snapshot = opts.snapshot ? [`--snapshot=${opts.snapshot}`] : [];
  const child = runProgram(['pg_dump', '--format=custom', ...snapshot, '--file', part, ...connectionArgs(opts.pg)], { env: pgEnv(opts.pg), signal: opts.signal });
  const stop = watchTool(child.pid, opts.progress, () => stat(part).then((s) => s.size, () => undefined));
  try {
    const r = await child;
    if (r.isCanceled && opts.signal?.aborted) throw opts.signal.reason;
    if (r.exitCode !== 0) throw new PgToolError('pg_dump', r.exitCode, String(r.all ?? r.originalMessage ?? ''));
    await rename(part, opts.outFile);
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  } finally {
    stop();
  }
  const size = (await stat(opts.outFile)).size;
  opts.progress?.(size);
  return size;
}

/** `pg_restore --list`: the dump's table of contents; throws when the dump is unreadable. */
export async function pgRestoreList(file: string, signal?: AbortSignal): Promise<string[]> {
  const r = await runProgram(['pg_restore', '--list', file], { signal });
  if (r.exitCode !== 0) throw new PgToolError('pg_restore --list', r.exitCode, String(r.all ?? r.originalMessage ?? ''));
  return String(r.stdout)
    .split('\n')
    .filter((l) => l && !l.startsWith(';'));
}

/**
 * Restores a custom-format dump into the configured database in one
 * transaction (`--clean --if-exists --single-transaction`): all or nothing.
 */
export async function pgRestore(opts: { pg: PostgresConfig; file: string; signal?: AbortSignal; progress?: PgProgress }): Promise<void> {
  const total = opts.progress ? (await stat(opts.file)).size : undefined;
  const child = runProgram(['pg_restore', '--clean', '--if-exists', '--single-transaction', '--no-owner', '--exit-on-error', ...connectionArgs(opts.pg), opts.file], {
    env: pgEnv(opts.pg),
    signal: opts.signal,
  });
  // Bytes read by pg_restore: the dump itself, plus the server's short replies.
  const progress = opts.progress && Object.assign((done: number) => opts.progress?.(done, total), { working: opts.progress.working?.bind(opts.progress) });
  const stop = watchTool(child.pid, progress, async (io) => io?.read);
  const r = await child.finally(stop);
  if (r.isCanceled && opts.signal?.aborted) throw opts.signal.reason;
  if (r.exitCode !== 0) throw new PgToolError('pg_restore', r.exitCode, String(r.all ?? r.originalMessage ?? ''));
}

/** Tables whose rows a dump holds: ordinary tables outside the system schemas, not an extension's own (pg_dump leaves their rows out). */
const DUMPED_TABLES = `
  SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r'
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  ORDER BY 1, 2`;

/** Rows of every dumped table (`schema.table`), read by `client` (in whatever snapshot it is in). */
export async function countTables(client: pg.Client, onTable?: (counted: number, of: number) => void, opts: { lockFirst?: boolean } = {}): Promise<Record<string, number>> {
  const tables: Record<string, number> = {};
  // Only pg_catalog resolves unqualified names: a restored database's own functions (a `count` in a schema
  // on its search_path, a database-level search_path setting) never run here.
  await client.query('SET search_path = pg_catalog');
  const { rows } = await client.query<{ schema: string; name: string }>(DUMPED_TABLES);
  const names = rows.map((t) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`);
  // Every table locked at once, as pg_dump locks them: a TRUNCATE queued meanwhile cannot empty one before it is counted.
  if (opts.lockFirst && names.length) await client.query(`LOCK TABLE ${names.join(', ')} IN ACCESS SHARE MODE`);
  for (const [i, t] of rows.entries()) {
    const r = await client.query<{ n: string }>(`SELECT pg_catalog.count(*) AS n FROM ${names[i]!}`);
    tables[`${t.schema}.${t.name}`] = Number(r.rows[0]!.n);
    onTable?.(Object.keys(tables).length, rows.length);
  }
  return tables;
}

/**
 * {@link pgDump}, plus each table's rows counted in the very snapshot the dump is taken from: a
 * repeatable-read transaction exports its snapshot, counts, and stays open while pg_dump
 * (`--snapshot`) runs, so the counts are what the dump holds, whatever is written meanwhile.
 */
export async function pgDumpCounted(opts: { pg: PostgresConfig; outFile: string; signal?: AbortSignal; progress?: PgProgress }): Promise<{ bytes: number; tables: Record<string, number>; databaseBytes: number }> {
  return withPgClient(opts.pg, async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      // Counting a large table, and waiting idle in the transaction while pg_dump runs, take as long as they take.
      await client.query('SET LOCAL statement_timeout = 0');
      await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
      const snapshot = (await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
      // Its size on disk as dumped: what a restore of this dump needs on PostgreSQL's disk (a recovery's free-space check).
      const databaseBytes = Number((await client.query<{ size: string }>('SELECT pg_catalog.pg_database_size(pg_catalog.current_database())::text AS size')).rows[0]!.size);
      // Side by side: pg_dump reads the snapshot on its own connection while this one counts in it. The dump's
      // progress is the step's; a count that fails waits for the dump (which must import the snapshot first).
      // A dump that fails (stalled, cancelled) ends this connection too: a count waiting on a lock must not outlive it.
      const dump = pgDump({ ...opts, snapshot }).catch((err: unknown) => {
        void client.end().catch(() => undefined);
        throw err;
      });
      const [dumped, counted] = await Promise.allSettled([dump, countTables(client, undefined, { lockFirst: true })]);
      if (dumped.status === 'rejected') throw dumped.reason;
      if (counted.status === 'rejected') throw counted.reason;
      await client.query('COMMIT');
      return { bytes: dumped.value, tables: counted.value, databaseBytes };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}
