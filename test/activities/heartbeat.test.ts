/**
 * The stall watch on real activities in MockActivityEnvironment (heartbeats and
 * cancellation as a worker gives them): counters as heartbeat details, a step
 * whose counter stops moving fails as stalled within the bound and its child
 * program is killed, a retried snapshot resumes the copy.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupActivities, type PlannedSource } from '../../src/activities/backup.js';
import { activitySignal } from '../../src/activities/context.js';
import { StepStalledError, trackStep, withStallWatch } from '../../src/activities/heartbeat.js';
import { createMaintenancePackageActivities } from '../../src/activities/maintenance/packages.js';
import type { StepProgress } from '../../src/common/progress.js';
import type { Config, PostgresConfig } from '../../src/config/config.js';
import { quoteIdent, withPgClient } from '../../src/postgres/client.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-heartbeat-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `fn` as an activity; returns its outcome and every heartbeat it sent. */
async function runActivity<T>(fn: () => Promise<T>, info: ConstructorParameters<typeof MockActivityEnvironment>[0] = {}) {
  const env = new MockActivityEnvironment(info);
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  const t0 = Date.now();
  const outcome = await env.run(fn).then(
    (value) => ({ ok: true as const, value: value as T }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  return { outcome, beats, steps: beats.filter((b): b is StepProgress => typeof b === 'object' && b !== null), seconds: (Date.now() - t0) / 1000, env };
}

describe('withStallWatch', () => {
  it('a counter that keeps moving is never stalled; each value is a heartbeat `{ step, done, total, unit }`', async () => {
    const { work } = withStallWatch(
      {
        async work() {
          const report = trackStep('copy', 'bytes', 1000);
          for (let done = 100; done <= 1000; done += 100) {
            await new Promise((r) => setTimeout(r, 60));
            report(done);
          }
          return 'done';
        },
      },
      { stallSeconds: 0.3 },
    );
    const r = await runActivity(work);
    expect(r.outcome).toEqual({ ok: true, value: 'done' });
    // 600 ms of work, twice the stall window: every 60 ms the counter moved.
    expect(r.steps.map((s) => s.done).filter((d, i, a) => a.indexOf(d) === i)).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(r.steps[0]).toEqual({ step: 'copy', done: 100, total: 1000, unit: 'bytes' });
  });

  it('a counter that stops moving fails as StepStalledError within the bound, naming the step, its counter and how long; the work is aborted', async () => {
    let aborted: unknown;
    const { work } = withStallWatch(
      {
        async work() {
          const report = trackStep('copy /srv/data', 'bytes');
          report(4096);
          const signal = activitySignal()!;
          await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject((aborted = signal.reason))));
        },
      },
      { stallSeconds: 0.5 },
    );
    const r = await runActivity(work);
    expect(r.outcome.ok).toBe(false);
    const err = (r.outcome as { error: unknown }).error;
    expect(err).toBeInstanceOf(StepStalledError);
    expect(aborted).toBe(err);
    expect((err as StepStalledError).name).toBe('StepStalledError');
    expect((err as Error).message).toMatch(/^work stalled: copy \/srv\/data stayed at 4096 bytes for 0\.\d s/);
    expect((err as StepStalledError).progress).toEqual({ step: 'copy /srv/data', done: 4096, unit: 'bytes' });
    expect(r.seconds).toBeGreaterThanOrEqual(0.5);
    expect(r.seconds).toBeLessThan(1.5);
    // While inside the window the latest counter was re-sent; never after it.
    expect(r.steps.every((s) => s.done === 4096)).toBe(true);
  });

  it('work that ignores its signal still fails as stalled once the stop grace has passed', async () => {
    const { work } = withStallWatch({ work: () => new Promise<never>(() => undefined) }, { stallSeconds: 0.3, stopGraceMs: 200 });
    const r = await runActivity(work);
    expect((r.outcome as { error: unknown }).error).toBeInstanceOf(StepStalledError);
    expect(((r.outcome as { error: Error }).error).message).toMatch(/it reported no progress/);
    expect(r.seconds).toBeLessThan(1.5);
  });

  it('cancellation still reaches the work, with the SDK\'s CancelledFailure as the reason', async () => {
    const { work } = withStallWatch(
      {
        async work() {
          const signal = activitySignal()!;
          await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
        },
      },
      { stallSeconds: 30 },
    );
    const env = new MockActivityEnvironment();
    const running = env.run(work);
    setTimeout(() => env.cancel(), 100);
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
  });
});

/** Command lines of this machine's processes that mention `word` (this test's unique database name). */
async function processesNaming(word: string): Promise<string[]> {
  const out: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(word) && cmd.startsWith('pg_dump')) out.push(cmd.replaceAll('\0', ' '));
  }
  return out;
}

describe('a hung child program', () => {
  it('a package upgrade that stops printing is killed and fails as stalled, not after its 1-minute timeout', async () => {
    const pidFile = join(dir, 'apt.pid');
    const hang = [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); console.log('Reading package lists...'); setInterval(() => {}, 1000);`];
    const settings = { allowUpgrades: true, upgradeApprovalTimeoutMinutes: 0, listCommand: hang, upgradeCommand: hang, timeoutMinutes: 1 };
    const { upgradePackages } = withStallWatch(createMaintenancePackageActivities({ config: { maintenance: { packages: settings } as Config['maintenance'] } }), { stallSeconds: 2 });
    const r = await runActivity(() => upgradePackages({ by: 'test' }));
    const err = (r.outcome as { error: Error }).error;
    expect(err).toBeInstanceOf(StepStalledError);
    // 0 lines when a loaded machine starts the stand-in later than the bound; 1 once it printed its line.
    expect(err.message).toMatch(/stayed at [01] lines for 2\.\d s/);
    expect(r.seconds).toBeLessThan(10);
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0), 'the child was killed').toThrow();
  });

  describe('pg_dump waiting on a locked table (real PostgreSQL)', () => {
    const server: PostgresConfig = { host: '127.0.0.1', port: 5432, database: 'postgres', user: 'postgres', statementTimeoutSeconds: 30 };
    const pg: PostgresConfig = { ...server, database: `mcp_hb_${randomUUID().slice(0, 8)}` };
    beforeAll(async () => {
      await withPgClient(server, (c) => c.query(`CREATE DATABASE ${quoteIdent(pg.database)}`));
      await withPgClient(pg, (c) => c.query('CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g'));
    });
    afterAll(async () => {
      await withPgClient(server, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(pg.database)} WITH (FORCE)`)).catch(() => undefined);
    });

    it('fails as stalled within the bound and pg_dump is gone', async () => {
      const config = { paths: { backupDir: dir }, backup: { stagingDir: join(dir, 'staging'), sources: [], compression: { program: 'gzip', level: 1 } }, postgres: pg } as unknown as Config;
      const { dumpDatabase } = withStallWatch(createBackupActivities({ config }), { stallSeconds: 1.5 });
      await withPgClient(pg, async (c) => {
        await c.query('BEGIN');
        await c.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
        const r = await runActivity(() => dumpDatabase({ dump: { archivePath: 'x', stagingPath: join(dir, 'staging', 'mcp_backup_20261202_000000', 'db.dump'), database: pg.database } }));
        const err = (r.outcome as { error: Error }).error;
        expect(err).toBeInstanceOf(StepStalledError);
        expect(err.message).toMatch(/^dumpDatabase stalled: pg_dump mcp_hb_\w+ stayed at \d+ bytes for 1\.\d s/);
        expect(r.seconds).toBeLessThan(5);
        // The server's backend waits on the lock until it is released (it notices its client gone only then): look for the program itself.
        expect(await processesNaming(pg.database), 'pg_dump was killed').toEqual([]);
        await c.query('ROLLBACK');
      });
    }, 30_000);
  });
});

describe('snapshotSource on a retry', () => {
  async function makeSource(): Promise<{ source: PlannedSource; config: Config }> {
    const root = await mkdtemp(join(dir, 'snap-'));
    const originalPath = join(root, 'data');
    await mkdir(join(originalPath, 'sub'), { recursive: true });
    for (let i = 0; i < 20; i++) await writeFile(join(originalPath, i % 2 ? 'sub' : '', `f${i}.bin`), Buffer.alloc(10_000 + i, i));
    const staging = join(root, 'staging');
    const config = { paths: { backupDir: root }, backup: { stagingDir: staging, sources: [], compression: { program: 'gzip', level: 1 } } } as unknown as Config;
    return { config, source: { archivePath: originalPath.slice(1), originalPath, archiveFrom: join(staging, 'mcp_backup_20261202_000000', originalPath.slice(1)), mode: 'stop', services: [] } };
  }

  it('resumes from its previous attempt\'s heartbeat: whole copies are kept, the rest copied again, stale entries removed', async () => {
    const { config, source } = await makeSource();
    const { snapshotSource } = withStallWatch(createBackupActivities({ config }), { stallSeconds: 30 });
    const first = await runActivity(() => snapshotSource({ source }));
    expect(first.outcome.ok && first.outcome.value).toMatchObject({ files: 20, reused: 0 });
    const last = first.steps.at(-1)!;
    expect(last).toMatchObject({ step: `snapshot ${source.originalPath}`, unit: 'bytes', done: first.outcome.ok ? first.outcome.value.bytes : -1 });

    // What a killed attempt leaves: some files not copied yet, one cut short, one the source no longer has.
    const kept = join(source.archiveFrom, 'f0.bin');
    const keptIno = (await stat(kept)).ino;
    await rm(join(source.archiveFrom, 'f2.bin'));
    await rm(join(source.archiveFrom, 'sub', 'f3.bin'));
    await writeFile(join(source.archiveFrom, 'f4.bin'), 'cut short');
    await writeFile(join(source.archiveFrom, 'stale.bin'), 'gone from the source');

    const second = await runActivity(() => snapshotSource({ source }), { attempt: 2, heartbeatDetails: last });
    expect(second.outcome.ok && second.outcome.value).toMatchObject({ files: 20, reused: 17 });
    expect((await stat(kept)).ino, 'a whole copy is not rewritten').toBe(keptIno);
    expect((await stat(join(source.archiveFrom, 'f4.bin'))).size).toBe(10_004);
    await expect(stat(join(source.archiveFrom, 'stale.bin'))).rejects.toThrow(/ENOENT/);

    // Without a heartbeat from the previous attempt there is nothing to trust: a fresh copy.
    const third = await runActivity(() => snapshotSource({ source }), { attempt: 3 });
    expect(third.outcome.ok && third.outcome.value).toMatchObject({ files: 20, reused: 0 });
  });
});
