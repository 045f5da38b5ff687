/**
 * `mcp-runbooks doctor` as an operator runs it, against a real sandbox host: its
 * own folders and database, a local restic repository, the run's Temporal dev
 * server, this machine's real programs. Tools are "removed" by giving the CLI a
 * PATH of symlinks to every program on the real PATH except those.
 */
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import proto from '@temporalio/proto';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostTaskQueue } from '../../src/common/task-queues.js';
import { hostWorkerIdentity } from '../../src/common/worker-identity.js';
import type { CheckResult } from '../../src/doctor/check.js';
import type { DoctorReport } from '../../src/doctor/index.js';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';
import { CLI, cliEnv, runCli, spawnCliUntil, type RunningCli } from '../helpers/cli.js';
import { localRepository } from '../helpers/offsite.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { pollUntil, testClient, testNativeConnection } from '../helpers/temporal.js';

let sbx: TestSandbox;
let pathDir: string;

beforeAll(async () => {
  const root = await mkdtemp(join(tmpdir(), 'mcp-doctor-'));
  const repo = await localRepository({ name: 'offsite', dir: join(root, 'restic') });
  // Services are not started: doctor checks that their commands exist, not that they run.
  sbx = await createTestSandbox({ root, hostId: 'doctor-host', start: false, extra: { backup: { targets: [{ name: 'local', type: 'archive' }, repo.target] } } });
  pathDir = await mkdtemp(join(tmpdir(), 'mcp-doctor-path-'));
});
afterAll(async () => {
  await sbx?.cleanup();
  if (pathDir) await rm(pathDir, { recursive: true, force: true });
});

async function doctor(args: string[], env: Record<string, string> = cliEnv()): Promise<{ exitCode: number | undefined; report: DoctorReport; all: string }> {
  const r = await runCli(['--config', sbx.configPath, 'doctor', '--role', 'host', '--json', ...args], { env });
  let report: DoctorReport;
  try {
    report = JSON.parse(r.stdout) as DoctorReport;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${String(r.exitCode)}):\n${r.all}`);
  }
  return { exitCode: r.exitCode, report, all: r.all };
}

const byCheck = (report: DoctorReport, check: string): CheckResult | undefined => report.checks.find((c) => c.check === check);
const failed = (report: DoctorReport) => report.checks.filter((c) => c.status === 'fail');

/** A folder of symlinks to the first of each program name on `PATH`, minus `without`. */
async function pathWithout(without: readonly string[]): Promise<string> {
  const dir = join(pathDir, randomBytes(4).toString('hex'));
  await mkdir(dir);
  const seen = new Set<string>(without);
  for (const folder of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const names = await readdir(folder).catch(() => [] as string[]);
    for (const name of names) {
      if (seen.has(name)) continue;
      seen.add(name);
      await symlink(join(folder, name), join(dir, name));
    }
  }
  return dir;
}

describe('doctor on a sandbox host', () => {
  it('every check of the host role passes: one line each, exit 0', async () => {
    const { exitCode, report, all } = await doctor([]);
    expect(failed(report), all).toEqual([]);
    expect(exitCode).toBe(0);
    for (const check of [
      'node',
      'temporal',
      'temporal.hostQueue',
      'serviceManager',
      'postgres.server',
      'tools.pg_dump',
      'tools.pg_restore',
      'tools.logrotate',
      'logrotate.config',
      'tools.packages',
      'tools.pigz',
      'tools.restic',
      'restic.offsite',
      'tools.openssl',
      'folders.backupDir',
      'folders.stagingDir',
      'folders.installRoot',
      'folders.configDir',
      'folders.logDir',
    ]) {
      expect(byCheck(report, check)?.status, `${check} in ${all}`).toBe('ok');
    }
    expect(byCheck(report, 'tools.pg_dump')?.message).toMatch(/PostgreSQL\) \d+.*the server's major version/);
    expect(byCheck(report, 'folders.backupDir')?.message).toBe(`${sbx.config.paths.backupDir} is writable by root`);
    // The README's table explains every check an operator sees (folders and restic targets by pattern).
    const readme = (await readFile(join(PACKAGE_ROOT, 'README.md'), 'utf8')).split('### doctor: is this machine ready?')[1]?.split('\n## ')[0] ?? '';
    for (const { check } of report.checks) expect(readme, check).toContain(`\`${check.replace(/^folders\..*/, 'folders.*').replace(/^restic\..*/, 'restic.<target>')}\``);

    // The text form: a line per check, then the counts.
    const text = await runCli(['--config', sbx.configPath, 'doctor', '--role', 'host']);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/^ok {3}tools\.restic: restic \d+\.\d+\.\d+ at \//m);
    expect(text.stdout.trim().split('\n')).toHaveLength(report.checks.length + 2);
    expect(text.stdout).toMatch(/\n\d+ ok, \d+ warn, 0 FAIL$/);
  });

  it('pg_dump, restic and pigz removed from PATH: it names each, fails for the first two (pigz has a fallback), exit 3', async () => {
    const path = await pathWithout(['pg_dump', 'restic', 'pigz']);
    const { exitCode, report, all } = await doctor([], cliEnv({ PATH: path }));
    expect(exitCode).toBe(3);
    expect(failed(report).map((c) => c.check).sort(), all).toEqual(['tools.pg_dump', 'tools.restic']);
    expect(byCheck(report, 'tools.pg_dump')?.message).toContain(`pg_dump is not on PATH (${path})`);
    expect(byCheck(report, 'tools.pg_dump')?.fix).toMatch(/^install postgresql-client-\d+/);
    expect(byCheck(report, 'tools.restic')?.message).toContain('restic is not on PATH');
    expect(byCheck(report, 'tools.restic')?.message).toContain('backup.targets has offsite');
    expect(byCheck(report, 'tools.pigz')).toMatchObject({ status: 'warn', fix: 'install it (Debian/Ubuntu: apt-get install pigz)' });
    expect(byCheck(report, 'tools.pigz')?.message).toContain("Node's zlib");
    // Still there: the programs that were not taken away.
    expect(byCheck(report, 'tools.pg_restore')?.status).toBe('ok');
  });

  it('the staging folder\'s path is a file: it fails for root too (root ignores permission bits, not a file in the way), exit 3', async () => {
    const staging = sbx.config.backup.stagingDir;
    await writeFile(staging, 'not a folder\n');
    try {
      const { exitCode, report, all } = await doctor([]);
      expect(exitCode).toBe(3);
      expect(failed(report).map((c) => c.check), all).toEqual(['folders.stagingDir']);
      expect(byCheck(report, 'folders.stagingDir')).toMatchObject({
        message: `${staging} is a file, not a folder (backup.stagingDir)`,
        fix: 'move the file away (the folder is created when needed) or point backup.stagingDir at a folder',
      });
    } finally {
      await rm(staging, { force: true });
    }
  });
});

describe('doctor for the other roles', () => {
  it('gateway: a namespace Temporal does not have and no gateway section are two FAILs, each with its fix; no host checks run', async () => {
    const config = join(sbx.root, 'gateway.yaml');
    await writeFile(config, `hostId: ops-1\nhosts: [doctor-host]\ntemporal: {address: "${sbx.config.temporal.address!}", namespace: no-such-namespace}\n`);
    const r = await runCli(['--config', config, 'doctor', '--role', 'gateway']);
    expect(r.exitCode, r.all).toBe(3);
    const lines = r.stdout.split('\n');
    expect(lines.slice(1, -1).map((l) => l.split(':')[0])).toEqual(['ok   node', 'FAIL temporal', 'FAIL gateway.config']);
    expect(r.stdout).toContain(`FAIL temporal: Temporal at ${sbx.config.temporal.address!} has no namespace no-such-namespace -> fix: create it (\`temporal operator namespace create --namespace no-such-namespace\``);
    expect(r.stdout).toContain(`FAIL gateway.config: ${config} has no gateway section`);
    expect(lines.at(-1)).toBe('1 ok, 0 warn, 2 FAIL: fix the FAIL lines and run doctor again');
  });
});

describe('doctor and the host task queue', () => {
  let connection: NativeConnection | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let cliWorker: RunningCli | undefined;
  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await connection?.close();
    if (cliWorker) {
      cliWorker.kill('SIGTERM');
      await cliWorker.exited;
    }
  });

  /** Waits until Temporal lists a poller on the host's queue (a new worker's first poll takes a moment to show). */
  async function polled(hostId: string): Promise<void> {
    const client = await testClient();
    try {
      await pollUntil(
        `a poller on ${hostId}'s queue`,
        () => client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: hostTaskQueue(sbx.config.temporal.taskQueue, hostId) }, taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY }),
        (r) => (r.pollers?.length ?? 0) > 0,
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    } finally {
      await client.connection.close();
    }
  }

  it('a worker of another machine on this host\'s queue (same host id, copied config): fails, naming that machine', async () => {
    connection = await testNativeConnection();
    // A real poller; only its identity says it runs elsewhere, as a copied config on another machine would.
    worker = await Worker.create({
      connection,
      taskQueue: hostTaskQueue(sbx.config.temporal.taskQueue, 'q-foreign'),
      identity: hostWorkerIdentity('q-foreign', 'elsewhere.example', 4242),
      activities: { noop: async () => undefined },
    });
    running = worker.run();
    await polled('q-foreign');
    const { exitCode, report, all } = await doctor(['--host-id', 'q-foreign']);
    expect(exitCode).toBe(3);
    expect(failed(report).map((c) => c.check), all).toEqual(['temporal.hostQueue']);
    expect(byCheck(report, 'temporal.hostQueue')?.message).toMatch(/polled by a worker on machine elsewhere\.example \(pid 4242, last polled \d+s ago\)$/);
    expect(byCheck(report, 'temporal.hostQueue')?.fix).toContain('give each host its own hostId');
  });

  it('a worker on this machine with another config file fails; run with that worker\'s own config, it is this host\'s worker (ok)', async () => {
    const other = join(sbx.root, 'other.yaml');
    await copyFile(sbx.configPath, other);
    cliWorker = await spawnCliUntil(['--config', other, 'worker', '--role', 'host', '--host-id', 'q-local'], /task queues: /);
    await polled('q-local');
    const theirs = await doctor(['--host-id', 'q-local']);
    expect(theirs.exitCode).toBe(3);
    expect(byCheck(theirs.report, 'temporal.hostQueue')?.message, theirs.all).toContain(`a worker on this machine, pid ${String(cliWorker.pid)}, with config ${other}`);

    const own = await runCli(['--config', other, 'doctor', '--role', 'host', '--host-id', 'q-local', '--json']);
    const report = JSON.parse(own.stdout) as DoctorReport;
    expect(byCheck(report, 'temporal.hostQueue'), own.all).toMatchObject({ status: 'ok' });
    expect(byCheck(report, 'temporal.hostQueue')?.message).toContain(`this host's worker, pid ${String(cliWorker.pid)}, with this config`);
    expect(own.exitCode).toBe(0);
  });
});

describe('doctor as the unprivileged user a misconfigured unit runs it as', () => {
  it('a backups folder of mode 0500 is not writable by nobody: named, with what to do, exit 3', async () => {
    // Root's writes ignore mode bits, so this runs doctor as nobody (setpriv, util-linux), owning the whole sandbox but the backups folder's write bit.
    await execa('chown', ['-R', 'nobody:nogroup', sbx.root]);
    await chmod(sbx.config.paths.backupDir, 0o500);
    try {
      const env = cliEnv({ HOME: sbx.root });
      const r = await execa('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', process.execPath, CLI, '--config', sbx.configPath, 'doctor', '--role', 'host', '--json'], {
        env,
        extendEnv: false,
        reject: false,
        all: true,
        timeout: 60_000,
      });
      const report = JSON.parse(r.stdout) as DoctorReport;
      expect(r.exitCode, r.all).toBe(3);
      expect(failed(report).map((c) => c.check).sort(), r.all).toEqual(['folders.backupDir', 'folders.stagingDir']);
      const backups = sbx.config.paths.backupDir;
      expect(byCheck(report, 'folders.backupDir')).toMatchObject({
        message: `${backups} is not writable by nobody (EACCES creating a file in it)`,
        fix: `give nobody write access (chown or chmod ${backups}), or run the host worker as root as deploy/systemd/mcp-runbooks-host.service does`,
      });
      expect(byCheck(report, 'folders.stagingDir')?.message).toBe(`${sbx.config.backup.stagingDir} does not exist and nobody cannot create it in ${backups} (EACCES)`);
      expect(byCheck(report, 'folders.logDir')).toMatchObject({ status: 'ok', message: `${sbx.config.paths.logDir} is writable by nobody` });
    } finally {
      // Back to root's, so the sandbox's cleanup (and anything after) sees it as created.
      await chmod(sbx.config.paths.backupDir, 0o700);
      await execa('chown', ['-R', 'root:root', sbx.root]);
    }
  });
});
