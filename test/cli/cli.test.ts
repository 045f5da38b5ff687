/** The CLI as a subprocess: exit codes, messages, and runbooks against a real worker. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunbookReport } from '../../src/common/report.js';
import { RUNBOOKS } from '../../src/runbooks.js';
import { freePort, isPortFree } from '../../src/dev/ports.js';
import { cliEnv, runCli } from '../helpers/cli.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import type { TestSandbox } from '../helpers/sandbox.js';

let host: TestHost;
let sbx: TestSandbox;

beforeAll(async () => {
  host = await startTestHost({ hostId: 'cli-host', extra: { thresholds: { diskPercent: 99, memoryPercent: 99 } } });
  sbx = host.sbx;
});
afterAll(() => host?.close());

describe('usage and configuration errors exit 2 and start nothing', () => {
  it('a bad config file: the message names the field; the worker never binds its port', async () => {
    const port = await freePort();
    const bad = join(sbx.root, 'bad.yaml');
    await writeFile(bad, `metrics: { port: ${port} }\nthresholds:\n  diskPercent: lots\n`);
    const r = await runCli(['--config', bad, 'worker', '--role', 'host']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`invalid configuration (${bad})`);
    expect(r.stderr).toContain('thresholds.diskPercent: expected a number from 1 to 100, found "lots"');
    expect(r.stdout).toBe('');
    expect(await isPortFree('127.0.0.1', port)).toBe(true);
  });

  it.each([
    [['run', 'defrag'], `unknown runbook "defrag" (known: ${Object.keys(RUNBOOKS).join(', ')})`],
    [['run', 'health-check', '--reason', 'x'], '--reason does not apply to health-check'],
    [['recover', '../x.tar.gz'], 'must be a plain archive name'],
    [['backups', 'verify'], 'name an archive or pass --all'],
    [['worker', '--role', 'boss'], "argument 'boss' is invalid"],
    [['frobnicate'], "unknown command 'frobnicate'"],
  ])('%j', async (args, message) => {
    const r = await runCli(['--config', sbx.configPath, ...args]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('an unknown host is refused before anything is started', async () => {
    const r = await runCli(['--config', sbx.configPath, 'run', 'health-check', '--host', 'db-9']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('unknown host "db-9": configured hosts are cli-host');
  });

  it('--help and --version exit 0', async () => {
    const help = await runCli(['--help']);
    expect(help.exitCode).toBe(0);
    // Each command as commander lists it: at the start of a line of the Commands section, not anywhere in the text.
    const commands = help.stdout.split('\nCommands:\n')[1] ?? '';
    for (const cmd of ['dev', 'worker', 'run', 'fleet', 'recover', 'approve', 'backups', 'status', 'schedules', 'config']) {
      expect(commands, cmd).toMatch(new RegExp(`^ {2}${cmd}(?: |$)`, 'm'));
    }
    const version = await runCli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('run health-check', () => {
  it('prints the report and exits 0 when nothing fails', async () => {
    const r = await runCli(['--config', sbx.configPath, 'run', 'health-check']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/^health-check-cli-host-\d{8}T/);
    for (const s of ['mcp-filesystem', 'mcp-postgres', 'mcp-memory', 'mcp-compliance']) {
      expect(r.stdout).toMatch(new RegExp(`ok\\s+service\\.${s}\\s+${s} is active`));
    }
    expect(r.stdout).toContain('summary: 6 ok, 0 warn, 0 fail');
  });

  it('--json prints the report object; a stopped service (a fail finding) makes the exit code 3', async () => {
    await sbx.manager.stop('mcp-postgres');
    try {
      const r = await runCli(['--config', sbx.configPath, 'run', 'health-check', '--json']);
      expect(r.exitCode).toBe(3);
      const report = JSON.parse(r.stdout) as RunbookReport;
      expect(report.runbook).toBe('healthCheck');
      expect(report.findings.find((f) => f.check === 'service.mcp-postgres')?.status).toBe('fail');
    } finally {
      await sbx.manager.start('mcp-postgres');
    }
  });

  it('with no worker polling, says which worker to start instead of waiting forever', async () => {
    const lonely = join(sbx.root, 'lonely.yaml');
    await writeFile(lonely, `temporal: { address: "${sbx.config.temporal.address}", taskQueue: nobody-polls-this }\nhostId: lonely\n`);
    const r = await runCli(['--config', lonely, 'run', 'health-check']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('no worker polls task queue "nobody-polls-this"');
    expect(r.stderr).toContain('mcp-runbooks worker --role host --host-id lonely');
  });
});

describe('config', () => {
  it('prints the effective config with each secret as its reference, never its value', async () => {
    const withSecret = join(sbx.root, 'secret.yaml');
    await writeFile(withSecret, 'postgres: { password: { env: MCP_PG_PASSWORD } }\n');
    const r = await runCli(['--config', withSecret, 'config'], { env: cliEnv({ MCP_PG_PASSWORD: 'pw-very-secret' }) });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('installRoot: /opt/kilocode/mcp-servers');
    expect(r.stdout).toMatch(/password:\n\s+env: MCP_PG_PASSWORD\n/);
    expect(r.all).not.toContain('pw-very-secret');
  });
});

describe('input the runbook refuses', () => {
  it('a backup reason longer than the schema allows fails the run as InvalidInput: exit 2', async () => {
    const r = await runCli(['--config', sbx.configPath, 'run', 'backup', '--reason', 'x'.repeat(501)]);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.stderr).toContain('input.reason: at most 500 characters (got 501)');
  });
});
