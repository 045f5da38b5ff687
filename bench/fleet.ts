/**
 * A fleet health check over many hosts (issue 12): `npm run bench -- fleet`.
 *
 * Real parts: an embedded Temporal dev server (in-memory), the orchestrator as
 * an operator runs it (`mcp-runbooks worker --role orchestrator`, the built
 * CLI, a subprocess whose CPU time is read from /proc), and one real Temporal
 * host worker per simulated host, each polling its own task queue
 * (`<queue>.host.<id>`), all in this process on one connection. What is
 * simulated is only the host behind each worker: `ping` is the real activity,
 * and `checkServices`/`checkDisk`/`checkMemory` answer at once with an `ok`
 * finding (no services, no disk), so the bench measures the fleet workflow,
 * the liveness check, Temporal and the pollers, not `df`.
 *
 * Per size: the fleet (`health-check` on `all`, `maxParallel` of the option)
 * from start to its result; hosts per second; the orchestrator's CPU seconds
 * over that span; Temporal history events per host (every workflow on the
 * orchestrator's queue: the fleet's runs and each host's child, summed from
 * visibility once it has settled). The result has `ok: false` (exit 1) when a
 * host did not end `ok`.
 *
 * Options after the name: `--sizes 100,1000` (default), `--max-parallel 100`
 * (default), `--pollers 1` (activity pollers per host worker, default 1),
 * `--ping-timeout 30` (the fleet's `pingTimeoutSeconds`, default 30: a thousand
 * workers in one process on 2 busy cores pick a ping up later than the
 * fleet's default 5 s, and a real host has a machine of its own),
 * `--partitions N` (task-queue partitions on the dev server: default 1, the
 * setting the README gives a fleet's server; `--partitions 4` is the server's own default).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { createPingActivities } from '../src/activities/ping.js';
import { fleetInputFor, startFleet } from '../src/client/fleet.js';
import type { FleetResult } from '../src/common/fleet.js';
import { finding } from '../src/common/report.js';
import { hostTaskQueue } from '../src/common/task-queues.js';
import { queuePollers } from '../src/temporal/pollers.js';
import { loadConfig } from '../src/config/load.js';
import { startDevServer } from '../src/dev/dev-server.js';
import { findTemporalBinary } from '../src/dev/temporal-binary.js';
import { startBenchCli } from './lib/cli.js';
import { log, secs } from './lib/sandbox.js';

/** Everything the bench starts is killed after this long, whatever happens to the bench. */
const HARD_LIMIT_MS = 15 * 60_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const CLOCK_TICKS = 100;

/** utime + stime of a process, in seconds (Linux /proc; USER_HZ is 100 on every Linux this runs on). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** The activities of a simulated host: the real `ping`, and checks that answer `ok` at once. */
function simulatedHost(hostId: string) {
  return {
    ...createPingActivities({ hostId }),
    async checkServices() {
      return [finding('services', 'ok', 'simulated host: no services', {})];
    },
    async checkDisk() {
      return finding('system.disk', 'ok', 'simulated host: disk 10% used', {});
    },
    async checkMemory() {
      return finding('system.memory', 'ok', 'simulated host: memory 10% used', {});
    },
  };
}

/** `mcp-runbooks worker --role orchestrator`; resolves once it polls. Node itself (not under coreutils' timeout), so /proc/<pid> is the orchestrator. */
async function startOrchestrator(configPath: string): Promise<{ proc: ResultPromise; pid: number }> {
  const cli = await startBenchCli(['--config', configPath, 'worker', '--role', 'orchestrator'], /^task queues: /m, { hardLimitMs: HARD_LIMIT_MS });
  return { proc: cli.proc, pid: cli.proc.pid! };
}

/** Sum of history events of the workflows on `taskQueue`, once visibility shows `expected` closed runs and has stopped moving. */
async function historyEvents(client: Client, taskQueue: string, expected: number): Promise<{ workflows: number; events: number }> {
  const t0 = Date.now();
  let last = -1;
  let stableSince = Date.now();
  for (;;) {
    let workflows = 0;
    let events = 0;
    for await (const wf of client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND ExecutionStatus != 'Running'` })) {
      workflows++;
      events += wf.historyLength;
    }
    if (workflows !== last) {
      last = workflows;
      stableSince = Date.now();
    }
    if ((workflows >= expected && Date.now() - stableSince >= 2_000) || Date.now() - t0 > 60_000) return { workflows, events };
    await sleep(500);
  }
}

interface SizeResult {
  hosts: number;
  seconds: number;
  hosts_per_s: number;
  max_parallel: number;
  ok_hosts: number;
  orchestrator_cpu_s: number;
  dev_server_cpu_s: number;
  host_workers_cpu_s: number;
  history_events_per_host: number;
  fleet_runs: number;
  /** From creating the host workers until the server lists a poller on every host queue. */
  workers_start_s: number;
}

/** The dev server's pid, from the pid file it records (`<dataDir>/temporal/server.pid`). */
function devServerPid(dataDir: string): number {
  return (JSON.parse(readFileSync(join(dataDir, 'temporal', 'server.pid'), 'utf8')) as { pid: number }).pid;
}

/** CPU seconds of this process (the host workers), user + system. */
const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function runSize(address: string, dir: string, client: Client, size: number, opts: { maxParallel: number; pollers: number; pingTimeoutSeconds: number; serverPid: number }): Promise<SizeResult> {
  const { maxParallel, pollers, pingTimeoutSeconds, serverPid } = opts;
  const tag = `bf${randomBytes(3).toString('hex')}`;
  const taskQueue = `bench-fleet-${tag}`;
  const hosts = Array.from({ length: size }, (_, i) => `${tag}-h${String(i).padStart(4, '0')}`);
  const configPath = join(dir, `orchestrator-${size}.yaml`);
  await writeFile(
    configPath,
    stringify({
      hostId: `${tag}-orchestrator`,
      hosts: hosts.map((id) => ({ id, labels: { role: 'sim' } })),
      temporal: { address, taskQueue },
      metrics: { port: 0, sdkPort: 0, scheduleProbeSeconds: 0 },
      worker: { shutdownGraceSeconds: 2, shutdownForceSeconds: 5 },
      defaultSchedules: false,
    }),
  );
  const config = loadConfig({ path: configPath, env: {} });

  log(`${size} hosts: starting ${size} host workers (${pollers} activity poller(s) each) ...`);
  const w0 = Date.now();
  const connection = await NativeConnection.connect({ address });
  const workers: Worker[] = [];
  for (const hostId of hosts) {
    workers.push(
      await Worker.create({
        connection,
        namespace: 'default',
        taskQueue: hostTaskQueue(taskQueue, hostId),
        activities: simulatedHost(hostId),
        identity: `bench-host:${hostId}`,
        maxConcurrentActivityTaskPolls: pollers,
        maxConcurrentActivityTaskExecutions: 4,
        shutdownGraceTime: '1 second',
      }),
    );
  }
  const running = workers.map((w) => w.run());
  // A real fleet's workers have polled long before a rollout: wait until the server lists a poller on every
  // host queue (else the first window's liveness check rightly finds a worker that has not polled yet).
  for (const hostId of hosts) {
    const queue = hostTaskQueue(taskQueue, hostId);
    for (let i = 0; (await queuePollers(client.workflowService, 'default', queue, 'activity')).length === 0; i++) {
      if (i >= 600) throw new Error(`no poller on ${queue} after 60 s`);
      await sleep(100);
    }
  }
  const workersStart = Date.now() - w0;
  const orchestrator = await startOrchestrator(configPath);
  try {
    const input = fleetInputFor(config, { runbook: 'health-check', selector: 'all', policy: { maxParallel, pingTimeoutSeconds } });
    const cpu0 = cpuSeconds(orchestrator.pid);
    const server0 = cpuSeconds(serverPid);
    const hosts0 = ownCpuSeconds();
    log(`${size} hosts: fleet health-check, maxParallel ${maxParallel} ...`);
    const t0 = Date.now();
    const handle = await startFleet(client, config, input);
    let done = false;
    const progress = (async () => {
      while (!done) {
        await sleep(5_000);
        if (done) break;
        const p = await handle.query<{ counts: Record<string, number> }>('progress').catch(() => undefined);
        if (p) log(`  ${secs(Date.now() - t0)} s: ${Object.entries(p.counts).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(', ')}; load ${loadavg()[0]!.toFixed(1)}`);
      }
    })();
    const result = await handle.result() as FleetResult;
    const ms = Date.now() - t0;
    done = true;
    const cpu = cpuSeconds(orchestrator.pid) - cpu0;
    const serverCpu = cpuSeconds(serverPid) - server0;
    const hostsCpu = ownCpuSeconds() - hosts0;
    await progress;
    const okHosts = result.hosts.filter((h) => h.state === 'ok').length;
    const history = await historyEvents(client, taskQueue, size + result.runs);
    log(
      `${size} hosts: ${secs(ms)} s, ${okHosts} ok, ${result.runs} fleet run(s), CPU: orchestrator ${cpu.toFixed(1)} s, dev server ${serverCpu.toFixed(1)} s, ` +
        `host workers ${hostsCpu.toFixed(1)} s; ${history.events} history events in ${history.workflows} workflows`,
    );
    const notOk = result.hosts.filter((h) => h.state !== 'ok');
    for (const h of notOk.slice(0, 5)) log(`  not ok: ${h.host} ${h.state}: ${h.summary ?? ''}`);
    return {
      hosts: size,
      seconds: secs(ms),
      hosts_per_s: Math.round((size / (ms / 1000)) * 10) / 10,
      max_parallel: maxParallel,
      ok_hosts: okHosts,
      orchestrator_cpu_s: Math.round(cpu * 10) / 10,
      dev_server_cpu_s: Math.round(serverCpu * 10) / 10,
      host_workers_cpu_s: Math.round(hostsCpu * 10) / 10,
      history_events_per_host: Math.round((history.events / size) * 10) / 10,
      fleet_runs: result.runs,
      workers_start_s: secs(workersStart),
    };
  } finally {
    orchestrator.proc.kill('SIGTERM');
    await orchestrator.proc;
    for (const w of workers) w.shutdown();
    await Promise.allSettled(running);
    await connection.close();
  }
}

export async function benchFleet(): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args: process.argv.slice(3),
    options: {
      sizes: { type: 'string', default: '100,1000' },
      'max-parallel': { type: 'string', default: '100' },
      pollers: { type: 'string', default: '1' },
      'ping-timeout': { type: 'string', default: '30' },
      partitions: { type: 'string', default: '1' },
    },
  });
  const sizes = values.sizes.split(',').map(Number);
  if (!sizes.every((n) => Number.isInteger(n) && n >= 1 && n <= 5000)) throw new Error(`--sizes: whole numbers of hosts from 1 to 5000, comma-separated, not ${values.sizes}`);
  const maxParallel = Number(values['max-parallel']);
  if (!(Number.isInteger(maxParallel) && maxParallel >= 1 && maxParallel <= 1000)) throw new Error(`--max-parallel: a whole number from 1 to 1000, not ${values['max-parallel']}`);
  const pollers = Number(values.pollers);
  if (!(Number.isInteger(pollers) && pollers >= 1 && pollers <= 10)) throw new Error(`--pollers: a whole number from 1 to 10, not ${values.pollers}`);

  const pingTimeoutSeconds = Number(values['ping-timeout']);
  if (!(Number.isInteger(pingTimeoutSeconds) && pingTimeoutSeconds >= 1 && pingTimeoutSeconds <= 300)) throw new Error(`--ping-timeout: whole seconds from 1 to 300, not ${values['ping-timeout']}`);

  const partitions = Number(values.partitions);
  if (!(Number.isInteger(partitions) && partitions >= 1 && partitions <= 16)) throw new Error(`--partitions: a whole number from 1 to 16, not ${values.partitions}`);

  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const dir = await mkdtemp(join(tmpdir(), 'mcp-bench-fleet-'));
  const hardStop = setTimeout(() => {
    log(`bench still running after ${HARD_LIMIT_MS / 60_000} minutes: exiting`);
    process.exit(1);
  }, HARD_LIMIT_MS);
  hardStop.unref();
  let server: Awaited<ReturnType<typeof startDevServer>> | undefined;
  try {
    const binary = await findTemporalBinary({ env: process.env, dataDir: join(process.cwd(), '.data'), provision: true });
    log('starting the Temporal dev server on 127.0.0.1 (in memory) ...');
    // A host worker keeps at least one activity long-poll open; the frontend's default limit of concurrent
    // polls per namespace (frontend.namespaceCount, 1200) refuses the rest with ResourceExhausted. A cluster
    // serving a fleet this size needs the same setting.
    const namespaceCount = Math.max(1200, 5 * pollers * Math.max(...sizes) + 200);
    // --partitions: task-queue partitions of every queue (the server's default is 4); one host's queue sees a
    // task or two a minute, and each partition is polled and forwarded on its own.
    const partitionConfig: Record<string, number> = { 'matching.numTaskqueueReadPartitions': partitions, 'matching.numTaskqueueWritePartitions': partitions };
    server = await startDevServer({
      binary,
      dataDir: join(dir, 'temporal'),
      port: 0,
      namespace: 'default',
      persist: false,
      dynamicConfig: { 'frontend.namespaceCount': namespaceCount, ...partitionConfig },
    });
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });
    const results: SizeResult[] = [];
    const serverPid = devServerPid(join(dir, 'temporal'));
    for (const size of sizes) results.push(await runSize(server.address, dir, client, size, { maxParallel, pollers, pingTimeoutSeconds, serverPid }));
    const largest = results[results.length - 1]!;
    return {
      bench: 'fleet',
      ok: results.every((r) => r.ok_hosts === r.hosts),
      cores: cpus().length,
      sizes: results,
      task_queue_partitions: partitions,
      target: '1000 hosts within 60 s',
      target_met: largest.hosts >= 1000 ? largest.seconds <= 60 : undefined,
    };
  } finally {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
