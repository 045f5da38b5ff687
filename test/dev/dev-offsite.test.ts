/**
 * The embedded default's off-host target: with restic on PATH the sandbox
 * config has an archive target and a local restic repository target (its
 * password generated into the dev data folder, 0600); `dev` creates the
 * repository, says what to keep safe, and a new user's first backup lands in
 * both. Real restic, real dev server, the CLI as a subprocess.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../../src/dev/ports.js';
import { sandboxConfigObject } from '../../src/dev/sandbox/layout.js';
import { devOffsite } from '../../src/dev/sandbox/offsite.js';
import { cliEnv, runCli, spawnCliUntil } from '../helpers/cli.js';
import { removeDevSandbox } from '../helpers/sandbox.js';

let dir: string;
let dataDir: string;
let configPath: string;
let temporalPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-dev-offsite-'));
  dataDir = join(dir, 'data');
  temporalPort = await freePort();
  const obj = sandboxConfigObject({
    root: join(dir, 'sandbox'),
    memoryPort: await freePort(),
    database: `mcp_test_devoff_${randomUUID().replaceAll('-', '').slice(0, 10)}`,
    offsite: devOffsite(dataDir),
  });
  obj.dev = { dataDir, temporalPort, uiPort: await freePort() };
  obj.metrics = { port: await freePort(), sdkPort: await freePort() };
  obj.schedules = [];
  obj.defaultSchedules = false;
  configPath = join(dir, 'dev.yaml');
  await writeFile(configPath, stringify(obj));
});
afterAll(() => removeDevSandbox(configPath, dir));

describe('dev with restic on PATH', () => {
  it('creates the local repository, names both targets and the password to keep; the first backup lands in both; a second start reuses repository and password', async () => {
    const passwordFile = join(dataDir, 'restic-password');
    const password = await readFile(passwordFile, 'utf8');
    expect((await stat(passwordFile)).mode & 0o777).toBe(0o600);
    expect(password.trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const dev = await spawnCliUntil(['--config', configPath, 'dev'], /Press Ctrl-C/);
    let devStopped = false;
    try {
      const out = dev.output();
      expect(out).toContain(`backup target local: archive folder ${join(dir, 'sandbox', 'opt', 'kilocode', 'mcp-servers', 'backups')}`);
      expect(out).toContain(`backup target offsite: restic repository ${join(dataDir, 'restic-repo')} (password ${passwordFile})`);
      expect(out).toContain(`restic repository offsite: created restic repository ${join(dataDir, 'restic-repo')} (restic init)`);
      expect(out).toContain('keep its password file safe');
      expect(out).toContain('npx mcp-runbooks backups list --target offsite');
      expect(out).not.toContain(password.trim());

      const env = cliEnv({ TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}` });
      const backup = await runCli(['--config', configPath, 'run', 'backup', '--json'], { env, timeout: 180_000 });
      expect(backup.exitCode, backup.all).toBe(0);
      const report = JSON.parse(backup.stdout) as { targets: Array<{ target: string; ok: boolean }>; plan: { archive: string } };
      expect(report.targets.map((t) => [t.target, t.ok])).toEqual([
        ['local', true],
        ['offsite', true],
      ]);
      const listed = await runCli(['--config', configPath, 'backups', 'list', '--target', 'offsite'], { env });
      expect(listed.exitCode, listed.all).toBe(0);
      expect(listed.stdout).toContain(report.plan.archive);
      // Plain restic with the generated password file sees the snapshot: the repository outlives this tool.
      const snaps = await execa('restic', ['-r', join(dataDir, 'restic-repo'), '--password-file', passwordFile, 'snapshots', '--json', '--host', 'local'], { extendEnv: false, env: { PATH: process.env.PATH ?? '' } });
      const tags = (JSON.parse(snaps.stdout) as Array<{ tags?: string[] }>).flatMap((s) => s.tags ?? []);
      expect(tags).toContain(`archive=${report.plan.archive}`);
      dev.kill('SIGINT');
      expect((await dev.exited).exitCode).toBe(0);
      devStopped = true;
    } finally {
      if (!devStopped) {
        dev.kill('SIGKILL');
        await dev.exited;
      }
    }

    const again = await runCli(['--config', configPath, 'dev', '--once'], { timeout: 150_000 });
    expect(again.exitCode, again.all).toBe(0);
    expect(again.stdout).toContain(`restic repository offsite: exists restic repository ${join(dataDir, 'restic-repo')}`);
    expect(await readFile(passwordFile, 'utf8')).toBe(password);
  }, 400_000);

  it('without restic on PATH, dev says the restic target will fail and how to install restic', async () => {
    // A PATH of node alone (the sandbox services are node programs): restic lives in /usr/bin beside everything else.
    const bin = join(dir, 'node-only-bin');
    await mkdir(bin);
    await symlink(process.execPath, join(bin, 'node'));
    const env = cliEnv({ PATH: bin });
    const r = await runCli(['--config', configPath, 'dev', '--once'], { env, timeout: 150_000 });
    expect(r.all).toContain('restic is not on PATH: the restic targets above will fail; install it (Debian/Ubuntu: apt-get install restic)');
  }, 200_000);
});
