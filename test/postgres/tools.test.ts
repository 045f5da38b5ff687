/**
 * pg_dump through the worker's one program runner, on the real local
 * PostgreSQL: a killed worker takes its pg_dump with it, and an attempt's dump
 * reaches its final name only when complete. Real processes.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresConfig } from '../../src/config/config.js';
import { quoteIdent, withPgClient } from '../../src/postgres/client.js';
import { pgDump, pgRestoreList } from '../../src/postgres/tools.js';

const CHILD = fileURLToPath(new URL('../fixtures/pg-dump-child.mjs', import.meta.url));
const server: PostgresConfig = { host: '127.0.0.1', port: 5432, database: 'postgres', user: 'postgres', statementTimeoutSeconds: 30 };
const db: PostgresConfig = { ...server, database: `mcp_pgtools_${randomUUID().slice(0, 8)}` };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-pgtools-'));
  await withPgClient(server, (c) => c.query(`CREATE DATABASE ${quoteIdent(db.database)}`));
  await withPgClient(db, (c) => c.query("CREATE TABLE t AS SELECT g AS id, 'row ' || g AS v FROM generate_series(1, 1000) g"));
});
afterAll(async () => {
  await withPgClient(server, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(db.database)} WITH (FORCE)`)).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

/** A session holding an exclusive lock on the table: pg_dump waits for it, so it runs as long as the test wants. */
async function holdLock(): Promise<pg.Client> {
  const c = new pg.Client({ host: db.host, port: db.port, user: db.user, database: db.database });
  await c.connect();
  await c.query('BEGIN');
  await c.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
  return c;
}

/** The running (not zombie) processes whose parent is `ppid` and whose program is pg_dump. */
async function pgDumpChildren(ppid: number): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const stat = await readFile(`/proc/${e}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (stat.includes('(pg_dump)') && fields[0] !== 'Z' && Number(fields[1]) === ppid) out.push(Number(e));
  }
  return out;
}

/** Whether `pid` still runs (a zombie, dead but not yet reaped by init, does not). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

describe('pg_dump and a killed worker', () => {
  it('dies with the worker that ran it; the dump never reached its name; the retry commits a whole one', async () => {
    const outFile = join(dir, 'db.dump');
    const lock = await holdLock();
    try {
      const child = execa(process.execPath, [CHILD, db.database, outFile], { reject: false, all: true });
      let dumps: number[] = [];
      for (let i = 0; i < 200 && dumps.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        dumps = await pgDumpChildren(child.pid!);
      }
      expect(dumps, 'pg_dump started under the child').toHaveLength(1);
      const dump = dumps[0]!;
      // Waiting on the lock: running, and nothing at the committed name yet.
      await new Promise((r) => setTimeout(r, 300));
      expect(running(dump)).toBe(true);
      expect(existsSync(outFile)).toBe(false);

      child.kill('SIGKILL');
      await child;
      const t0 = Date.now();
      while (running(dump) && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 20));
      expect(running(dump), `pg_dump ${dump} still runs ${Date.now() - t0} ms after its worker was killed`).toBe(false);
      expect(existsSync(outFile)).toBe(false);
    } finally {
      await lock.query('ROLLBACK');
      await lock.end();
    }

    // The retry: its own part file, renamed when complete; the killed attempt's part file is gone.
    const bytes = await pgDump({ pg: db, outFile });
    expect(bytes).toBeGreaterThan(0);
    expect(await readdir(dir)).toEqual(['db.dump']);
    expect((await pgRestoreList(outFile)).some((l) => l.includes('TABLE DATA public t'))).toBe(true);
  });

  it('a failed dump leaves neither a committed file nor its part file', async () => {
    const outFile = join(dir, 'missing.dump');
    await expect(pgDump({ pg: { ...db, database: 'mcp_no_such_database' }, outFile })).rejects.toThrow(/pg_dump failed/);
    expect((await readdir(dir)).filter((f) => f.startsWith('missing.dump'))).toEqual([]);
  });
});
