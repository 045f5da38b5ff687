/**
 * Backup and restore, ours against the seed's own method, on the same data set
 * (>= 500 MB of mixed files) and the same sandbox services.
 *
 * Seed backup (automated-backup.sh): stop every service, `tar -czf` the folders,
 * start every service, `tar -tzf` to check it. Seed restore: stop every service,
 * `tar -xzf` in place, start every service.
 * Ours: the `backup` and `disasterRecovery` workflows on an embedded dev server.
 *
 * Prints the ratios ours/seed; the last line is one JSON object.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { startDevServer } from '../src/dev/dev-server.js';
import { freePort } from '../src/dev/ports.js';
import { sandboxConfigObject } from '../src/dev/sandbox/layout.js';
import { dropSandboxDatabase, provisionSandbox } from '../src/dev/sandbox/provision.js';
import { startFleet, stopFleet } from '../src/dev/sandbox/fleet.js';
import { findTemporalBinary } from '../src/dev/temporal-binary.js';
import { withPgClient } from '../src/postgres/client.js';
import { createServiceManager } from '../src/services/index.js';
import { startWorker, WORKFLOWS_PATH } from '../src/worker.js';
import type { BackupResult, RecoveryResult } from '../src/workflows/index.js';
import { writeDataset } from './lib/dataset.js';

const MB = 1024 * 1024;
const log = (line: string) => process.stderr.write(`${line}\n`);
const secs = (ms: number) => Math.round(ms / 10) / 100;

export async function benchBackup(): Promise<Record<string, unknown>> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = await mkdtemp(join(tmpdir(), 'mcp-bench-'));
  const binary = await findTemporalBinary({ env: process.env, dataDir: join(process.cwd(), '.data'), provision: true });
  const server = await startDevServer({ binary, dataDir: join(dir, 'temporal'), port: 0, namespace: 'default', persist: false });
  const obj = sandboxConfigObject({ root: join(dir, 'sandbox'), memoryPort: await freePort(), database: `mcp_bench_${randomUUID().replaceAll('-', '').slice(0, 10)}` });
  obj.temporal = { address: server.address, taskQueue: 'bench' };
  obj.metrics = { port: 0, sdkPort: 0 };
  await writeFile(join(dir, 'config.yaml'), stringify(obj));
  const config = loadConfig({ path: join(dir, 'config.yaml'), env: {} });
  const manager = createServiceManager(config);
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  let connection: NativeConnection | undefined;
  let client: Client | undefined;
  try {
    await provisionSandbox(config);
    const root = config.paths.installRoot;
    log('writing the data set ...');
    const dataset = await writeDataset([
      { dir: join(root, 'memory_db'), smallTextFiles: 3000, smallTextBytes: 24_000, randomFiles: 12, randomBytes: 6 * MB, semiFiles: 4, semiBytes: 8 * MB },
      { dir: join(root, 'filesystem_data'), smallTextFiles: 2500, smallTextBytes: 40_000, randomFiles: 22, randomBytes: 6 * MB, semiFiles: 6, semiBytes: 10 * MB },
      { dir: join(root, 'compliance_data'), smallTextFiles: 800, smallTextBytes: 50_000, randomFiles: 0, randomBytes: 0, semiFiles: 0, semiBytes: 0 },
      { dir: join(root, 'reports'), smallTextFiles: 600, smallTextBytes: 80_000, randomFiles: 0, randomBytes: 0, semiFiles: 0, semiBytes: 0 },
      { dir: join(root, 'kilocode-mcp-installer'), smallTextFiles: 50, smallTextBytes: 5_000, randomFiles: 6, randomBytes: 5 * MB, semiFiles: 0, semiBytes: 0 },
    ]);
    await withPgClient(config.postgres!, (c) =>
      c.query("INSERT INTO mcp_events (kind, detail) SELECT 'bench', jsonb_build_object('n', g, 'pad', repeat('x', 200)) FROM generate_series(1, 50000) g"),
    );
    log(`data set: ${dataset.files} files, ${(dataset.bytes / MB).toFixed(0)} MiB`);
    await startFleet(manager);
    const folders = config.backup.sources.flatMap((s) => (s.mode === 'pg_dump' ? [] : [s.path]));
    const relative = folders.map((f) => f.slice(1));
    const seedArchive = join(dir, 'seed.tar.gz');

    // --- the seed's backup ---------------------------------------------------
    log('seed backup: stop all, tar -czf, start all, tar -tzf ...');
    const s0 = Date.now();
    for (const s of manager.services) await manager.stop(s);
    await execa('tar', ['-czf', seedArchive, '-C', '/', ...relative]);
    for (const s of manager.services) await manager.start(s);
    const sDown = Date.now() - s0;
    await execa('tar', ['-tzf', seedArchive], { stdout: 'ignore' });
    const seedTotal = Date.now() - s0;

    // --- ours ------------------------------------------------------------------
    connection = await NativeConnection.connect({ address: server.address });
    const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') });
    worker = await startWorker({ config, role: 'all', connection, workflowBundle: { code: bundle.code }, serveMetrics: false });
    client = new Client({ connection: await Connection.connect({ address: server.address }) });
    log('ours: backup workflow ...');
    const o0 = Date.now();
    const backup = (await client.workflow.execute('backup', { taskQueue: 'bench', workflowId: `bench-backup-${Date.now()}`, args: [{}] })) as BackupResult;
    const oursTotal = Date.now() - o0;
    const oursDown = Math.max(...backup.downtime.map((d) => d.seconds)) * 1000;

    // --- restore -------------------------------------------------------------
    log('seed restore: stop all, tar -xzf in place, start all ...');
    const r0 = Date.now();
    for (const s of manager.services) await manager.stop(s);
    await execa('tar', ['-xzf', seedArchive, '-C', '/']);
    for (const s of manager.services) await manager.start(s);
    const seedRestore = Date.now() - r0;
    log('ours: disasterRecovery workflow ...');
    const q0 = Date.now();
    const recovery = (await client.workflow.execute('disasterRecovery', {
      taskQueue: 'bench',
      workflowId: `bench-recover-${Date.now()}`,
      args: [{ backup: backup.archive!.archive, approve: true }],
    })) as RecoveryResult;
    const oursRestore = Date.now() - q0;
    const oursRestoreDown = Math.max(...recovery.downtime.map((d) => d.seconds)) * 1000;
    // Services are back once the last one started; the emergency archive of the old state is written after that.
    const oursRestoreUp = Math.max(...recovery.downtime.map((d) => Date.parse(d.startedAt))) - q0;

    const result = {
      bench: 'backup',
      dataset_bytes: dataset.bytes,
      dataset_files: dataset.files,
      compressor: backup.archive?.compressor,
      seed: { backup_total_s: secs(seedTotal), downtime_s: secs(sDown), restore_total_s: secs(seedRestore), restore_downtime_s: secs(seedRestore) },
      ours: {
        backup_total_s: secs(oursTotal),
        downtime_s: secs(oursDown),
        downtime_by_service_s: Object.fromEntries(backup.downtime.map((d) => [d.service, d.seconds])),
        steps_s: backup.durations,
        restore_total_s: secs(oursRestore),
        restore_downtime_s: secs(oursRestoreDown),
        restore_until_up_s: secs(oursRestoreUp),
        restore_steps_s: recovery.durations,
        archive_bytes: backup.archive?.bytes,
      },
      total_ratio: Math.round((oursTotal / seedTotal) * 1000) / 1000,
      downtime_ratio: Math.round((oursDown / sDown) * 1000) / 1000,
      restore_ratio: Math.round((oursRestore / seedRestore) * 1000) / 1000,
      restore_downtime_ratio: Math.round((oursRestoreDown / seedRestore) * 1000) / 1000,
      restore_until_up_ratio: Math.round((oursRestoreUp / seedRestore) * 1000) / 1000,
      targets: { total_ratio: 1.2, downtime_ratio: 0.25 },
    };
    log('');
    log(`                   seed      ours     ratio (ours/seed)`);
    log(`backup total   ${secs(seedTotal).toFixed(2).padStart(8)}s ${secs(oursTotal).toFixed(2).padStart(8)}s  ${result.total_ratio}  (target <= 1.2)`);
    log(`downtime       ${secs(sDown).toFixed(2).padStart(8)}s ${secs(oursDown).toFixed(2).padStart(8)}s  ${result.downtime_ratio}  (target <= 0.25; ours: the longest single service)`);
    log(`restore total  ${secs(seedRestore).toFixed(2).padStart(8)}s ${secs(oursRestore).toFixed(2).padStart(8)}s  ${result.restore_ratio}`);
    log(`restore up at  ${secs(seedRestore).toFixed(2).padStart(8)}s ${secs(oursRestoreUp).toFixed(2).padStart(8)}s  ${result.restore_until_up_ratio}  (ours: start of the workflow to the last service started)`);
    log(`restore down   ${secs(seedRestore).toFixed(2).padStart(8)}s ${secs(oursRestoreDown).toFixed(2).padStart(8)}s  ${result.restore_downtime_ratio}`);
    return result;
  } finally {
    await worker?.shutdown().catch(() => undefined);
    await client?.connection.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await stopFleet(manager).catch(() => undefined);
    await dropSandboxDatabase(config).catch(() => undefined);
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
