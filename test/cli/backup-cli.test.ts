/** Backup and recovery from the CLI, as a subprocess, against a real worker. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import type { RunbookProgress } from '../../src/common/progress.js';
import { CLI, cliEnv, runCli } from '../helpers/cli.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import type { TestSandbox } from '../helpers/sandbox.js';

let host: TestHost;
let sbx: TestSandbox;
let archive: string;

beforeAll(async () => {
  host = await startTestHost({ hostId: 'cli-backup' });
  sbx = host.sbx;
});
afterAll(() => host?.close());

const cli = (...args: string[]) => runCli(['--config', sbx.configPath, ...args]);

describe('mcp-runbooks run backup / backups / recover / approve / status', () => {
  it('run backup --dry-run reports the plan and writes nothing', async () => {
    const r = await cli('run', 'backup', '--dry-run', '--json');
    expect(r.exitCode, r.all).toBe(0);
    const report = JSON.parse(r.stdout) as { dryRun: boolean; plan: { stopGroups: Array<{ services: string[] }> }; archive?: unknown };
    expect(report.dryRun).toBe(true);
    expect(report.archive).toBeUndefined();
    expect(report.plan.stopGroups.flatMap((g) => g.services).sort()).toEqual(['mcp-compliance', 'mcp-filesystem', 'mcp-memory']);
    expect((await cli('backups', 'list')).stdout).toContain('no archives on cli-backup');
  });

  it('run backup prints progress, the archive, downtime per service and the report', async () => {
    const r = await cli('run', 'backup', '--reason', 'before upgrade');
    expect(r.exitCode, r.all).toBe(0);
    const workflowId = /^backup on cli-backup: (backup-cli-backup-\S+)$/m.exec(r.stderr)?.[1];
    expect(workflowId, r.stderr).toBeDefined();
    // Every phase the finished workflow went through, printed once and in order, however fast each was
    // (host-side step lines are indented further and left out).
    const final = await host.client.workflow.getHandle(workflowId!).query<RunbookProgress>('progress');
    // The snapshot phase comes once per stop group, each with its own detail.
    const names = final.phases.map((p) => p.phase).filter((p, i, all) => p !== all[i - 1]);
    expect(names).toEqual(['starting', 'waiting for the host lock', 'plan', 'snapshot', 'archive', 'verify', 'retention', 'done']);
    const printed = r.stderr.split('\n').filter((l) => /^ {2}\S/.test(l)).map((l) => l.slice(2));
    expect(printed).toEqual(final.phases.map((p) => `${p.phase}${p.detail ? ` (${p.detail})` : ''}`));
    archive = /archive: .*\/(mcp_backup_\d{8}_\d{6}\.tar\.gz)/.exec(r.stdout)![1]!;
    expect(r.stdout).toMatch(/downtime: mcp-memory \d+(\.\d)?s/);
    expect(r.stdout).toContain('ok    backup.verify');
    // The Temporal UI's line for the run: the summary the CLI set at start, the details the workflow set as it ended.
    const handle = host.client.workflow.getHandle(workflowId!);
    expect(await (await handle.describe()).staticSummary()).toBe('backup on cli-backup');
    expect((await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails).toBe('backup on cli-backup: success');
  });

  it('backups list shows age, size, kind and verification; verify checks one or all', async () => {
    const list = await cli('backups', 'list');
    expect(list.stdout).toMatch(new RegExp(`${archive}\\s+\\d+m\\s+[\\d.]+ KiB\\s+backup\\s+yes `));
    const one = await cli('backups', 'verify', archive);
    expect(one.exitCode, one.all).toBe(0);
    expect(one.stdout).toContain(`${archive} reads back whole and matches its manifest`);
    const all = await cli('backups', 'verify', '--all', '--json');
    expect(JSON.parse(all.stdout)).toMatchObject({ summary: { ok: 1, fail: 0 } });
  });

  it('recover --dry-run shows what would be replaced and changes nothing', async () => {
    const r = await cli('recover', archive, '--dry-run');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain(': dry-run');
    expect(r.stdout).toContain(`would replace ${sbx.config.paths.configDir}`);
  });

  it('recover without a terminal waits for approval and says how to give it, holding no host lock meanwhile; approve finishes it', async () => {
    const r = await cli('recover', archive);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stderr).toContain('passed every check. Restoring will:');
    expect(r.stderr).toContain(`replace ${sbx.config.paths.configDir}`);
    const id = /mcp-runbooks approve (recover-cli-backup-\S+)/.exec(r.stderr)![1]!;
    expect(r.stderr).toContain(`temporal workflow update execute --name approve --workflow-id ${id}`);
    // The wait holds no lock: a nightly backup or daily run could go ahead.
    expect((await cli('status')).stdout).toContain('cli-backup: free');
    const approved = await cli('approve', id, '--by', 'carol');
    expect(approved.stdout).toContain(`${id}: approved by carol`);
    for (let i = 0; i < 100 && !(await cli('status')).stdout.includes('cli-backup: free'); i++) await new Promise((res) => setTimeout(res, 300));
    expect((await cli('status')).stdout).toContain('cli-backup: free');
  });

  it('recover --yes restores at once and prints downtime and checks', async () => {
    const r = await cli('recover', archive, '--yes');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain(': recovered');
    expect(r.stdout).toContain('previous state archived as mcp_backup_');
    expect(r.stdout).toMatch(/mcp-memory down \d/);
    expect(r.stdout).toMatch(/^ {2}took: check and extract [\d.]+s, database staged [\d.]+s, restore \(services down\) [\d.]+s, emergency archive [\d.]+s, total [\d.]+s$/m);
    expect(r.stdout).toContain('ok    postgres.select1');
  });

  it('a refused archive prints the reason and exits 6 (RestoreRefused)', async () => {
    const r = await cli('recover', 'mcp_backup_19990101_000000.tar.gz', '--yes');
    expect(r.exitCode, r.all).toBe(6);
    expect(r.stderr).toContain('refusing to restore mcp_backup_19990101_000000.tar.gz: no archive');
  });

  it('recover on a terminal asks, and an answer other than "yes" rejects with nothing changed: exit 5', async () => {
    // Python's pty module gives the CLI a real terminal (argv, no shell).
    const child = execa('python3', ['-c', 'import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)', process.execPath, CLI, '--config', sbx.configPath, 'recover', archive], {
      env: cliEnv(),
      extendEnv: false,
      stdin: 'pipe',
      all: true,
      reject: false,
      timeout: 90_000,
    });
    let output = '';
    let answered = false;
    child.all.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (!answered && output.includes('Type "yes" to go on:')) {
        answered = true;
        child.stdin.write('no\n');
      }
    });
    const r = await child;
    expect(answered, output).toBe(true);
    expect(r.exitCode, output).toBe(5);
    expect(output).toContain('rejected: nothing was changed');
    expect(output).toContain(': rejected');
  });
});
