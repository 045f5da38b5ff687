/**
 * The sandbox every backup benchmark runs in: an embedded Temporal dev server,
 * the sandbox services as real processes, the ~500 MB data set of
 * `bench/lib/dataset.ts` in their folders plus 50,000 database rows, and a
 * worker of role `all`. One definition, so the benchmarks measure the same thing.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { execa } from 'execa';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load.js';
import { startDevServer } from '../../src/dev/dev-server.js';
import { freePort } from '../../src/dev/ports.js';
import { sandboxConfigObject } from '../../src/dev/sandbox/layout.js';
import { dropSandboxDatabase, provisionSandbox } from '../../src/dev/sandbox/provision.js';
import { startFleet, stopFleet } from '../../src/dev/sandbox/fleet.js';
import { findTemporalBinary } from '../../src/dev/temporal-binary.js';
import { withPgClient } from '../../src/postgres/client.js';
import { createServiceManager, type ServiceManager } from '../../src/services/index.js';
import { startWorker, WORKFLOWS_PATH } from '../../src/worker.js';
import { type DatasetPart, type DatasetStats, writeDataset } from './dataset.js';

export const MB = 1024 * 1024;
export const log = (line: string) => process.stderr.write(`${line}\n`);
/** Milliseconds to seconds, two decimals. */
export const secs = (ms: number) => Math.round(ms / 10) / 100;
/** ours/seed, three decimals. */
export const ratio = (ours: number, seed: number) => Math.round((ours / seed) * 1000) / 1000;

/** The benchmark data set (7,000 files, about 498 MiB) in the sandbox's service folders. */
export function datasetParts(installRoot: string): DatasetPart[] {
  return [
    { dir: join(installRoot, 'memory_db'), smallTextFiles: 3000, smallTextBytes: 24_000, randomFiles: 12, randomBytes: 6 * MB, semiFiles: 4, semiBytes: 8 * MB },
    { dir: join(installRoot, 'filesystem_data'), smallTextFiles: 2500, smallTextBytes: 40_000, randomFiles: 22, randomBytes: 6 * MB, semiFiles: 6, semiBytes: 10 * MB },
    { dir: join(installRoot, 'compliance_data'), smallTextFiles: 800, smallTextBytes: 50_000, randomFiles: 0, randomBytes: 0, semiFiles: 0, semiBytes: 0 },
    { dir: join(installRoot, 'reports'), smallTextFiles: 600, smallTextBytes: 80_000, randomFiles: 0, randomBytes: 0, semiFiles: 0, semiBytes: 0 },
    { dir: join(installRoot, 'kilocode-mcp-installer'), smallTextFiles: 50, smallTextBytes: 5_000, randomFiles: 6, randomBytes: 5 * MB, semiFiles: 0, semiBytes: 0 },
  ];
}

export interface BenchSandbox {
  config: Config;
  manager: ServiceManager;
  dataset: DatasetStats;
  /** The backed-up folders (not the database dump), absolute. */
  folders: string[];
  /** A scratch folder removed with the sandbox. */
  dir: string;
  /** The seed's backup: stop every service, `tar -czf` the folders, start every service, `tar -tzf`. Milliseconds. */
  seedBackup(archive: string): Promise<{ totalMs: number; downMs: number }>;
  /** The seed's restore: stop every service, `tar -xzf` in place, start every service. Milliseconds. */
  seedRestore(archive: string): Promise<number>;
  /**
   * Bundles the workflows and starts the worker (role all); call it before timing a workflow.
   * `targets`: only these of the config's backup targets (by name), replacing a worker started before.
   */
  startWorker(targets?: string[]): Promise<void>;
  /** Runs one workflow to its end on the worker {@link BenchSandbox.startWorker} started. */
  run<T>(workflow: string, input: Record<string, unknown>): Promise<T>;
  /** The activities of the last {@link BenchSandbox.run}, in order, each from scheduled to completed. */
  lastActivities(): Promise<Array<{ activity: string; seconds: number }>>;
}

export interface BenchSandboxOptions {
  /** `backup.targets` of the config; default: none (the archive folder alone). */
  targets?: Record<string, unknown>[];
}

/** Sets up the sandbox, runs `body`, and removes everything (worker, fleet, database, dev server, files) however `body` ends. */
export async function withBenchSandbox<T>(opts: BenchSandboxOptions, body: (sandbox: BenchSandbox) => Promise<T>): Promise<T> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = await mkdtemp(join(tmpdir(), 'mcp-bench-'));
  let server: Awaited<ReturnType<typeof startDevServer>> | undefined;
  let config: Config | undefined;
  let manager: ServiceManager | undefined;
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  let connection: NativeConnection | undefined;
  let client: Client | undefined;
  let bundle: string | undefined;
  try {
    const binary = await findTemporalBinary({ env: process.env, dataDir: join(process.cwd(), '.data'), provision: true });
    server = await startDevServer({ binary, dataDir: join(dir, 'temporal'), port: 0, namespace: 'default', persist: false });
    const address = server.address;
    const obj = sandboxConfigObject({ root: join(dir, 'sandbox'), memoryPort: await freePort(), database: `mcp_bench_${randomUUID().replaceAll('-', '').slice(0, 10)}` });
    obj.temporal = { address, taskQueue: 'bench' };
    obj.metrics = { port: 0, sdkPort: 0 };
    if (opts.targets) obj.backup = { ...(obj.backup as Record<string, unknown>), targets: opts.targets };
    await writeFile(join(dir, 'config.yaml'), stringify(obj));
    const cfg = loadConfig({ path: join(dir, 'config.yaml'), env: {} });
    const mgr = createServiceManager(cfg);
    config = cfg;
    manager = mgr;
    await provisionSandbox(cfg);
    log('writing the data set ...');
    const dataset = await writeDataset(datasetParts(cfg.paths.installRoot));
    await withPgClient(cfg.postgres!, (c) =>
      c.query("INSERT INTO mcp_events (kind, detail) SELECT 'bench', jsonb_build_object('n', g, 'pad', repeat('x', 200)) FROM generate_series(1, 50000) g"),
    );
    log(`data set: ${dataset.files} files, ${(dataset.bytes / MB).toFixed(0)} MiB`);
    await startFleet(mgr);
    const folders = cfg.backup.sources.flatMap((s) => (s.mode === 'pg_dump' ? [] : [s.path]));
    const relative = folders.map((f) => f.slice(1));
    const stopAll = async () => {
      for (const s of mgr.services) await mgr.stop(s);
    };
    const startAll = async () => {
      for (const s of mgr.services) await mgr.start(s);
    };
    let lastWorkflowId: string | undefined;
    const sandbox: BenchSandbox = {
      config: cfg,
      manager: mgr,
      dataset,
      folders,
      dir,
      async seedBackup(archive) {
        const t0 = Date.now();
        await stopAll();
        await execa('tar', ['-czf', archive, '-C', '/', ...relative]);
        await startAll();
        const downMs = Date.now() - t0;
        await execa('tar', ['-tzf', archive], { stdout: 'ignore' });
        return { totalMs: Date.now() - t0, downMs };
      },
      async seedRestore(archive) {
        const t0 = Date.now();
        await stopAll();
        await execa('tar', ['-xzf', archive, '-C', '/']);
        await startAll();
        return Date.now() - t0;
      },
      async startWorker(targets) {
        await worker?.shutdown();
        connection ??= await NativeConnection.connect({ address });
        bundle ??= (await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') })).code;
        const only = targets ? cfg.backup.targets.filter((t) => targets.includes(t.name)) : cfg.backup.targets;
        if (targets && only.length !== targets.length) throw new Error(`no such targets among ${cfg.backup.targets.map((t) => t.name).join(', ')}: ${targets.join(', ')}`);
        worker = await startWorker({ config: { ...cfg, backup: { ...cfg.backup, targets: only } }, role: 'all', connection, workflowBundle: { code: bundle }, serveMetrics: false });
        client ??= new Client({ connection: await Connection.connect({ address }) });
      },
      async run<R>(workflow: string, input: Record<string, unknown>): Promise<R> {
        if (!client) throw new Error('startWorker() first');
        lastWorkflowId = `bench-${workflow}-${randomUUID()}`;
        return (await client.workflow.execute(workflow, { taskQueue: 'bench', workflowId: lastWorkflowId, args: [input] })) as R;
      },
      async lastActivities() {
        if (!client || !lastWorkflowId) return [];
        const history = await client.workflow.getHandle(lastWorkflowId).fetchHistory();
        const ms = (t: unknown) => Number((t as { seconds?: { toNumber(): number } | number }).seconds?.valueOf() ?? 0) * 1000 + Math.round(Number((t as { nanos?: number }).nanos ?? 0) / 1e6);
        const scheduled = new Map<string, { activity: string; at: number }>();
        const out: Array<{ activity: string; seconds: number }> = [];
        for (const e of history.events ?? []) {
          const a = e.activityTaskScheduledEventAttributes;
          if (a) scheduled.set(String(e.eventId), { activity: a.activityType?.name ?? '?', at: ms(e.eventTime) });
          const done = e.activityTaskCompletedEventAttributes;
          const s = done && scheduled.get(String(done.scheduledEventId));
          if (s) out.push({ activity: s.activity, seconds: Math.round((ms(e.eventTime) - s.at) / 100) / 10 });
        }
        return out;
      },
    };
    return await body(sandbox);
  } finally {
    await worker?.shutdown().catch(() => undefined);
    await client?.connection.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    if (manager) await stopFleet(manager).catch(() => undefined);
    if (config) await dropSandboxDatabase(config).catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
