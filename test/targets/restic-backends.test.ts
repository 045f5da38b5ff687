/**
 * Off-host backups on every backend kind at once: the archive folder, an S3
 * bucket (SeaweedFS) and a REST repository (rclone serve restic), written by one
 * backup run and each restored from, file by file and row by row. The worker is
 * `mcp-runbooks worker` as an operator runs it, so its log lines and its
 * /metrics are the ones grepped for the secrets afterwards. A second test stops
 * an S3 server of its own: only that target fails.
 */
import { readFile, readdir, rm, unlink, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Config } from '../../src/config/config.js';
import { withPgClient } from '../../src/postgres/client.js';
import type { BackupResult, RecoveryResult } from '../../src/workflows/index.js';
import { spawnCliUntil, type RunningCli } from '../helpers/cli.js';
import { treesOf } from '../helpers/files.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { restRepository, s3Repository, type TestRepository } from '../helpers/offsite.js';
import { startS3Server } from '../helpers/offsite-servers.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { pollUntil, resultWithin, testClient } from '../helpers/temporal.js';
import { createWorkerMetrics } from '../../src/metrics/registry.js';
import { restoreRunbookOutcomes } from '../../src/metrics/restore-outcomes.js';

let work: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcp-backends-'));
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

const folderSources = (config: Config) => config.backup.sources.flatMap((s) => (s.mode === 'pg_dump' ? [] : [s.path]));
const rows = (config: Config) =>
  withPgClient(config.postgres!, async (c) => (await c.query<{ id: string; kind: string; payload: unknown }>('SELECT * FROM mcp_events ORDER BY id')).rows);

/** Every file under `dir` (recursively) whose content contains one of `needles`. */
async function filesContaining(dir: string, needles: string[]): Promise<string[]> {
  const hits: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    const text = await readFile(p).then((b) => b.toString('latin1')).catch(() => '');
    if (needles.some((n) => text.includes(n))) hits.push(p);
  }
  return hits;
}

/**
 * Every process on the machine whose environment holds one of `needles`, but
 * the test run's own S3 and REST servers (restic itself may, while it runs;
 * none should be left).
 */
async function processesHolding(needles: string[]): Promise<string[]> {
  const hits: string[] = [];
  const servers = new Set(inject('offsitePids').map(String));
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || servers.has(pid)) continue;
    const environ = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '');
    if (needles.some((n) => environ.includes(n))) hits.push(`${pid} ${(await readFile(`/proc/${pid}/cmdline`, 'latin1').catch(() => '')).replaceAll('\0', ' ')}`);
  }
  return hits;
}

describe('restic targets on S3 and REST', () => {
  let sbx: TestSandbox;
  let worker: RunningCli;
  let client: Client;
  let s3: TestRepository;
  let rest: TestRepository;
  let missing: TestRepository;
  const HOST = 'backends-host';
  const started: string[] = [];

  beforeAll(async () => {
    s3 = await s3Repository({ name: 's3', dir: join(work, 's3') });
    // One repository of each layout: S3 stores the folders (this worker can: it is root), REST the tar stream.
    rest = await restRepository({ name: 'rest', dir: join(work, 'rest'), extra: { layout: 'tar' } });
    // Never initialised: its failure puts restic's own words (and the URL with credentials it was given) through the redaction into the log.
    missing = await restRepository({ name: 'rest-missing', dir: join(work, 'rest-missing'), init: false });
    sbx = await createTestSandbox({ hostId: HOST, extra: { backup: { targets: [{ name: 'local', type: 'archive' }, s3.target, rest.target, missing.target] } } });
    cleanups.push(() => sbx.cleanup());
    worker = await spawnCliUntil(['--config', sbx.configPath, 'worker'], /metrics: http:\/\/\S+\/metrics/);
    cleanups.push(async () => {
      worker.kill('SIGTERM');
      await worker.exited;
    });
    client = await testClient();
    cleanups.push(() => client.connection.close());
  }, 120_000);

  async function start(type: string, input: Record<string, unknown>) {
    const handle = await client.workflow.start(type, { taskQueue: sbx.config.temporal.taskQueue, workflowId: `${type}-${HOST}-${Date.now()}`, args: [{ hostId: HOST, ...input }] });
    started.push(handle.workflowId);
    return handle;
  }
  const run = async <T>(type: string, input: Record<string, unknown>): Promise<T> => resultWithin<T>(await start(type, input), 150_000);

  it('one run stores the backup on all three, each verified; a restore from each target brings back every file and row; no secret anywhere', async () => {
    const { config } = sbx;
    const before = await treesOf(folderSources(config));
    const rowsBefore = await rows(config);
    expect(rowsBefore.length).toBeGreaterThan(0);

    const failed = await resultWithin(await start('backup', { reason: 'backends test' }), 150_000).then(
      () => undefined,
      (e: unknown) => (e as { cause?: { type?: string; message?: string; details?: unknown[] } }).cause,
    );
    expect(failed?.type).toBe('BackupTargetFailed');
    expect(failed?.message).toContain('failed on target rest-missing');
    expect(failed?.message).toContain('stored on local, s3, rest');
    const b = failed!.details![0] as BackupResult;
    const archive = b.archive!.archive;
    expect(b.targets?.map((t) => [t.target, t.ok])).toEqual([
      ['local', true],
      ['s3', true],
      ['rest', true],
      ['rest-missing', false],
    ]);
    for (const t of b.targets!.slice(1, 3)) {
      expect(t.restic!.backup.archive).toBe(archive);
      expect(t.restic!.backup.dataAdded).toBeGreaterThan(0);
      expect(t.restic!.verify).toMatchObject({ ok: true, problems: [] });
    }
    expect(b.targets!.slice(1, 3).map((t) => t.restic!.backup.layout)).toEqual(['folders', 'tar']);
    // S3 holds the folders (one snapshot), REST the tar and its manifest, each tagged with the archive and the host; no lock left.
    for (const [repo, parts] of [
      [s3, ['part=folders']],
      [rest, ['part=manifest', 'part=tar']],
    ] as const) {
      const snaps = JSON.parse((await repo.restic(['snapshots', '--json', '--host', HOST])).stdout) as Array<{ tags: string[] }>;
      expect(snaps.map((s) => s.tags.find((t) => t.startsWith('part='))).sort()).toEqual(parts);
      for (const s of snaps) expect(s.tags).toContain(`archive=${archive}`);
      expect((await repo.restic(['list', 'locks', '--no-lock'])).stdout.trim()).toBe('');
    }

    // Each target in turn: damage the host (a file gone from every folder, the table emptied), recover from it, compare.
    for (const from of ['s3', 'rest', 'local']) {
      for (const folder of folderSources(config)) {
        const first = (await readdir(folder, { recursive: true, withFileTypes: true })).find((e) => e.isFile());
        if (first) await unlink(join(first.parentPath, first.name));
      }
      await withPgClient(config.postgres!, (c) => c.query('DELETE FROM mcp_events'));
      const r = await run<RecoveryResult>('disasterRecovery', { backup: archive, approve: true, ...(from === 'local' ? {} : { from }) });
      expect(r.outcome, from).toBe('recovered');
      expect(r.checks.filter((c) => c.status !== 'ok'), from).toEqual([]);
      expect(await treesOf(folderSources(config)), `files restored from ${from}`).toEqual(before);
      expect(await rows(config), `rows restored from ${from}`).toEqual(rowsBefore);
      for (const s of sbx.manager.services) expect((await sbx.manager.status(s)).state, `${s} after recovery from ${from}`).toBe('active');
    }
    expect((await readdir(join(config.paths.backupDir, '.offsite')).catch(() => [])).length).toBe(0);

    // The secrets: the repository passwords, the S3 secret key, the REST password.
    const secrets = [...s3.secrets, ...rest.secrets, ...missing.secrets];
    const metricsUrl = /metrics: (http:\/\/\S+\/metrics)/.exec(worker.output())![1]!;
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toContain('mcp_runbooks_backup_target_runs_total{');
    for (const secret of secrets) {
      expect(worker.output(), 'worker log').not.toContain(secret);
      expect(metrics, 'metrics').not.toContain(secret);
    }
    // The log is not empty of what matters: the failed backup's line, restic's words on the missing repository in it.
    const failedLine = worker.output().split('\n').find((l) => l.includes('Workflow failed') && l.includes('rest-missing'));
    expect(failedLine).toBeDefined();
    expect(failedLine).toContain('restic -r');
    for (const id of started) {
      const history = JSON.stringify(await client.workflow.getHandle(id).fetchHistory());
      for (const secret of secrets) expect(history, `history of ${id}`).not.toContain(secret);
    }
    // Reports, manifests, logs and configs on the host; no program's environment.
    expect(await filesContaining(sbx.root, secrets)).toEqual([]);
    expect(await processesHolding(secrets)).toEqual([]);
  }, 600_000);
});

describe('a target that is down', () => {
  let host: TestHost;

  it('an S3 server that stopped fails only its target, named in the message; the archive and the other targets still store the backup', async () => {
    const own = await startS3Server(join(work, 'own-s3'));
    cleanups.push(() => own.stop());
    const down = await s3Repository({ name: 'down', dir: join(work, 'down'), endpoint: own.endpoint, accessKey: own.accessKey, secretKey: own.secretKey });
    const up = await restRepository({ name: 'rest', dir: join(work, 'rest-up') });
    await own.stop();
    host = await startTestHost({ hostId: 'backends-down', extra: { backup: { targets: [{ name: 'local', type: 'archive' }, down.target, up.target] } } });
    cleanups.push(() => host.close());
    const handle = await host.client.workflow.start('backup', { taskQueue: host.sbx.config.temporal.taskQueue, workflowId: `backup-s3-down-${Date.now()}`, args: [{ hostId: 'backends-down' }] });
    const t0 = Date.now();
    const err = await resultWithin(handle, 150_000).then(
      () => undefined,
      (e: unknown) => e as { cause?: { message?: string; type?: string; details?: unknown[] } },
    );
    expect(err?.cause?.type).toBe('BackupTargetFailed');
    expect(err?.cause?.message).toContain('failed on target down');
    expect(err?.cause?.message).toMatch(/does not answer/);
    expect(err?.cause?.message).toContain('stored on local, rest');
    const report = err?.cause?.details?.[0] as BackupResult;
    expect(report.targets?.map((t) => [t.target, t.ok])).toEqual([
      ['local', true],
      ['down', false],
      ['rest', true],
    ]);
    // Bounded: the retries of the dead target, not restic's own minutes of back-off.
    expect(Date.now() - t0).toBeLessThan(120_000);
    for (const s of host.sbx.manager.services) expect((await host.sbx.manager.status(s)).state).toBe('active');
    const runs = (await host.worker.registry.targetRuns.get()).values.map((v) => `${String(v.labels.target)} ${String(v.labels.outcome)} ${v.value}`);
    expect(runs.sort()).toEqual(['down failure 1', 'local success 1', 'rest success 1']);

    // An orchestrator that starts afresh (empty registry) reads each target's last success and failure back from
    // the failed run's report, so OffsiteBackupFailed stays on after a restart; nothing is re-counted.
    const closedAt = (await handle.describe()).closeTime!.getTime() / 1000;
    const fresh = createWorkerMetrics({ role: 'orchestrator', hostId: 'backends-down' });
    const restored = await pollUntil(
      'the failed backup in visibility',
      () => restoreRunbookOutcomes({ client: host.client, hosts: ['backends-down'], metrics: fresh }),
      (r) => r.some((x) => x.runbook === 'backup' && x.targets?.length === 3),
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    expect(restored.find((x) => x.runbook === 'backup')?.targets).toEqual(['down', 'local', 'rest']);
    const gauge = async (g: { get(): Promise<{ values: Array<{ labels: Record<string, unknown>; value: number }> }> }, target: string) =>
      (await g.get()).values.find((v) => v.labels.target === target && v.labels.host === 'backends-down')?.value;
    expect(Math.abs((await gauge(fresh.targetLastFailure, 'down'))! - closedAt)).toBeLessThan(2);
    expect(await gauge(fresh.targetLastSuccess, 'down')).toBeUndefined();
    for (const t of ['local', 'rest']) expect(Math.abs((await gauge(fresh.targetLastSuccess, t))! - closedAt), t).toBeLessThan(2);
    expect(await gauge(fresh.targetBytesAdded, 'rest')).toBe(report.targets!.find((t) => t.target === 'rest')!.restic!.backup.dataAdded);
    expect(await gauge(fresh.targetVerificationOk, 'rest')).toBe(1);
    expect((await fresh.targetRuns.get()).values).toEqual([]);
  }, 300_000);
});
