/** `mcp-runbooks run daily|weekly|monthly` and `approve` as an operator runs them, against a real worker. */
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { readFile, rm } from 'node:fs/promises';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRunbook } from '../../src/client/run-runbook.js';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';
import { startWorker } from '../../src/worker.js';
import type { MaintenanceReport } from '../../src/workflows/index.js';
import { execa } from 'execa';
import { CLI, cliEnv, runCli } from '../helpers/cli.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { awaitPhase, within, workflowBundle } from '../helpers/temporal.js';
import { blockPort } from '../helpers/port-blocker.js';
import { SEED_SERVICES } from '../../src/common/seed.js';

let host: TestHost;
let sbx: TestSandbox;
let client: Client;
let connection: NativeConnection;

beforeAll(async () => {
  host = await startTestHost({ hostId: 'cli-maint', extra: { thresholds: { diskPercent: 99, memoryPercent: 99 } } });
  ({ sbx, client, connection } = host);
});
afterAll(() => host?.close());
const cli = (...args: string[]) => runCli(['--config', sbx.configPath, ...args]);

describe('mcp-runbooks run daily|weekly|monthly', () => {
  it('run daily --json prints the report; exit 0 without a fail finding', async () => {
    const r = await cli('run', 'daily', '--json');
    expect(r.exitCode, r.all).toBe(0);
    const report = JSON.parse(r.stdout) as MaintenanceReport;
    expect(report).toMatchObject({ runbook: 'dailyMaintenance', hostId: 'cli-maint', summary: { fail: 0 } });
    expect(report.steps.map((s) => s.step)).toEqual(['services', 'system.disk', 'system.memory', 'backup.status', 'logs.rotate']);
  });

  it('run daily with a service that cannot start: the report in text, FAIL named, exit 3', async () => {
    await within('stopping mcp-memory', sbx.manager.stop('mcp-memory'));
    const blocker = await blockPort(sbx.config.sandbox!.memoryPort);
    let r;
    try {
      // Bounded well inside the test's own timeout, so a run that hangs fails with its output so far.
      r = await runCli(['--config', sbx.configPath, 'run', 'daily'], { timeout: 90_000 });
    } finally {
      await within('releasing the memory port', blocker.release(), 20_000);
      await within('starting mcp-memory again', sbx.manager.start('mcp-memory'));
    }
    expect(r.exitCode, `run daily did not finish (exit ${String(r.exitCode)}); its output so far:\n${r.all}`).toBe(3);
    expect(r.stderr).toMatch(/daily on cli-maint: daily-cli-maint-\d{8}T/);
    // Progress from the query, step by step.
    expect(r.stderr).toContain('services (step 1 of 5)');
    expect(r.stdout).toMatch(/dailyMaintenance on host cli-maint/);
    expect(r.stdout).toMatch(/FAIL {2}service\.mcp-memory +mcp-memory was inactive and did not start/);
    expect(r.stdout).toMatch(/summary: \d+ ok, \d+ warn, 1 fail; failed: service\.mcp-memory/);
  }, 180_000);

  it('run monthly writes the report file (its paths in the JSON report); no fail finding on the sandbox host, exit 0', async () => {
    // Independent of the case before: every service is up whatever that case left behind.
    for (const s of SEED_SERVICES) await within(`starting ${s}`, sbx.manager.start(s));
    const r = await cli('run', 'monthly', '--json');
    const report = JSON.parse(r.stdout) as MaintenanceReport;
    const failed = report.findings.filter((f) => f.status === 'fail').map((f) => `${f.check}: ${f.message}`);
    expect(failed).toEqual([]);
    expect(report.summary.fail).toBe(0);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(report.reportFiles?.text).toMatch(/reports\/monthly-report-\d{6}\.txt$/);
    expect(await readFile(report.reportFiles!.text, 'utf8')).toMatch(/^MCP Monthly Maintenance Report\n/);
  });

  it('run weekly --dry-run is refused: maintenance takes no such option', async () => {
    const r = await cli('run', 'weekly', '--dry-run');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--dry-run does not apply to weekly');
  });
});

describe('mcp-runbooks approve (weekly upgrade; apt stand-in: a real apt-get upgrade would change this machine)', () => {
  it('approves the upgrade a waiting weekly run asks for', async () => {
    const state = join(tmpdir(), `mcp-apt-cli-${Date.now()}`);
    const standIn = (...args: string[]) => [process.execPath, join(PACKAGE_ROOT, 'test', 'fixtures', 'apt-stand-in.mjs'), state, ...args];
    const w = await createTestSandbox({
      hostId: 'cli-weekly',
      start: false,
      extra: { maintenance: { packages: { refreshCommand: false, listCommand: standIn('list'), upgradeCommand: standIn('upgrade'), upgradeApprovalTimeoutMinutes: 10 } } },
    });
    const ww = await startWorker({ config: w.config, role: 'all', connection, workflowBundle: workflowBundle(), serveMetrics: false });
    try {
      const handle = await startRunbook({ client, config: w.config, runbook: 'weekly', hostId: 'cli-weekly' });
      await awaitPhase(handle, 'awaiting upgrade approval');
      const r = await runCli(['--config', w.configPath, 'approve', handle.workflowId, '--by', 'carol']);
      expect(r.exitCode, r.all).toBe(0);
      expect(r.stdout).toBe(`${handle.workflowId}: approved by carol`);
      const report = (await handle.result()) as MaintenanceReport;
      expect(report.findings.find((f) => f.check === 'packages.upgrade')).toMatchObject({ status: 'ok', message: 'updates installed (approved by carol); 0 still pending' });
    } finally {
      await ww.shutdown();
      await w.cleanup();
      await rm(state, { force: true });
    }
  }, 90_000);
});

describe('exit codes of a weekly run whose upgrade waits for approval (apt stand-in)', () => {
  /** A weekly host whose upgrade waits `minutes` for approval, with its own worker; `fn` runs while it serves. */
  async function withWeeklyHost(hostId: string, minutes: number, fn: (configPath: string) => Promise<void>): Promise<void> {
    const state = join(tmpdir(), `mcp-apt-${hostId}-${Date.now()}`);
    const standIn = (...args: string[]) => [process.execPath, join(PACKAGE_ROOT, 'test', 'fixtures', 'apt-stand-in.mjs'), state, ...args];
    // Services running: a fail finding (memory.stats) would exit 3 and hide the code under test.
    const w = await createTestSandbox({
      hostId,
      extra: { maintenance: { packages: { refreshCommand: false, listCommand: standIn('list'), upgradeCommand: standIn('upgrade'), upgradeApprovalTimeoutMinutes: minutes } } },
    });
    const ww = await startWorker({ config: w.config, role: 'all', connection, workflowBundle: workflowBundle(), serveMetrics: false });
    try {
      await fn(w.configPath);
    } finally {
      await ww.shutdown();
      await w.cleanup();
      await rm(state, { force: true });
    }
  }

  it('not approved in time: exit 5; a long follow (many progress polls) prints no MaxListenersExceededWarning', async () => {
    // 0.25 minutes: about 15 progress polls while the run waits, more than Node's 10-listener warning threshold.
    await withWeeklyHost('cli-weekly-timeout', 0.25, async (configPath) => {
      const r = await runCli(['--config', configPath, 'run', 'weekly']);
      expect(r.exitCode, r.all).toBe(5);
      expect(r.stderr).toContain('awaiting upgrade approval');
      expect(r.stdout).toMatch(/packages\.upgrade +3 updates.* not installed: no approval within 0\.25 minutes/);
      expect(r.stderr).not.toContain('MaxListenersExceededWarning');
      expect(r.stderr).not.toContain('memory leak');
    });
  }, 120_000);

  it('rejected with `approve --reject`: the run exits 5', async () => {
    await withWeeklyHost('cli-weekly-reject', 10, async (configPath) => {
      const run = execa(process.execPath, [CLI, '--config', configPath, 'run', 'weekly'], { env: cliEnv(), extendEnv: false, reject: false, all: true, timeout: 90_000 });
      const id = await new Promise<string>((resolve, reject) => {
        let seen = '';
        run.stderr.on('data', (chunk: Buffer) => {
          seen += chunk.toString();
          const m = /weekly on cli-weekly-reject: (\S+)[\s\S]*awaiting upgrade approval/.exec(seen);
          if (m) resolve(m[1]!);
        });
        void run.then(() => reject(new Error(`the run ended before it waited for approval:\n${seen}`)));
      });
      const decided = await runCli(['--config', configPath, 'approve', id, '--reject', '--by', 'dave']);
      expect(decided.stdout).toBe(`${id}: rejected by dave`);
      const r = await run;
      expect(r.exitCode, r.all).toBe(5);
      expect(r.stdout).toMatch(/not installed: rejected by dave/);
    });
  }, 120_000);
});
