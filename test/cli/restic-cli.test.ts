/**
 * A restic target through the CLI, as an operator runs it (a subprocess,
 * against a real worker and a real local restic repository):
 * `backups verify --target` runs `restic check --read-data` and reads the
 * backup back whole against its manifest's sha256, and fails naming the
 * target when the manifest's sha256 is not the tar's or a pack file is
 * damaged on disk; `recover --from <target> --yes` restores a host whose
 * backups folder is gone.
 */
import { readdir, readFile, mkdtemp, open, rm, stat, unlink, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/common/failures.js';
import type { RunbookReport } from '../../src/common/report.js';
import type { Config } from '../../src/config/config.js';
import { withPgClient } from '../../src/postgres/client.js';
import type { BackupResult, RecoveryResult } from '../../src/workflows/index.js';
import { runCli } from '../helpers/cli.js';
import { treesOf } from '../helpers/files.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { localRepository, type TestRepository } from '../helpers/offsite.js';
import { resultWithin } from '../helpers/temporal.js';

const HOST = 'cli-restic';
let work: string;
let host: TestHost;
let repo: TestRepository;
let repoDir: string;
let archive: string;
let before: Awaited<ReturnType<typeof treesOf>>;
let rowsBefore: unknown[];

const folderSources = (config: Config) => config.backup.sources.flatMap((s) => (s.mode === 'pg_dump' ? [] : [s.path]));
const rows = (config: Config) => withPgClient(config.postgres!, async (c) => (await c.query('SELECT * FROM mcp_events ORDER BY id')).rows);
const cli = (...args: string[]) => runCli(['--config', host.sbx.configPath, ...args], { timeout: 240_000 });

/** Plain restic on the repository with `input` on its stdin, as an operator (or an attacker with the password) would run it. */
async function resticWithInput(args: string[], input: Buffer): Promise<void> {
  const password = (await readFile(String((repo.target.password as { file: string }).file), 'utf8')).trim();
  await execa('restic', args, { env: { RESTIC_REPOSITORY: repoDir, RESTIC_PASSWORD: password, PATH: process.env.PATH ?? '', HOME: work }, extendEnv: false, input });
}

interface Snapshot {
  id: string;
  tags: string[];
}
const snapshots = async () => JSON.parse((await repo.restic(['snapshots', '--no-lock', '--json', '--host', HOST])).stdout) as Snapshot[];
const manifestSnapshot = async () => (await snapshots()).find((s) => s.tags.includes('part=manifest') && s.tags.includes(`archive=${archive}`))!;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcp-restic-cli-'));
  // After each backup only the structure is checked: `backups verify --target` is what reads every byte.
  repo = await localRepository({ name: 'offsite', dir: join(work, 'offsite'), extra: { checkReadDataSubset: '0%', layout: 'tar' } });
  repoDir = String(repo.target.repository);
  host = await startTestHost({ hostId: HOST, extra: { backup: { targets: [{ name: 'local', type: 'archive' }, repo.target] } } });
  const { config } = host.sbx;
  before = await treesOf(folderSources(config));
  rowsBefore = await rows(config);
  const handle = await host.client.workflow.start('backup', { taskQueue: config.temporal.taskQueue, workflowId: `backup-${HOST}-${Date.now()}`, args: [{ hostId: HOST }] });
  const b = await resultWithin<BackupResult>(handle, 180_000);
  expect(b.targets?.map((t) => [t.target, t.ok])).toEqual([
    ['local', true],
    ['offsite', true],
  ]);
  archive = b.archive!.archive;
}, 300_000);
afterAll(async () => {
  await host?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('mcp-runbooks backups verify --target / recover --from', () => {
  it('backups verify --target reads every byte (restic check --read-data) and the backup back whole against its manifest', async () => {
    const r = await cli('backups', 'verify', '--all', '--target', 'offsite', '--json');
    expect(r.exitCode, r.all).toBe(EXIT_CODES.ok);
    const report = JSON.parse(r.stdout) as RunbookReport;
    expect(report.findings).toEqual([
      expect.objectContaining({ check: `verify.offsite.${archive}`, status: 'ok', data: expect.objectContaining({ target: 'offsite', archive, ok: true, readData: 'all', problems: [] }) }),
    ]);
    expect((await manifestSnapshot()).tags.some((t) => t.startsWith('verified='))).toBe(true);
  }, 240_000);

  it('recover --from offsite --yes restores a host whose backups folder is gone: every file and row', async () => {
    const { config } = host.sbx;
    // The host lost its backups folder and some of its data.
    await rm(config.paths.backupDir, { recursive: true, force: true });
    for (const folder of folderSources(config)) {
      const first = (await readdir(folder, { recursive: true, withFileTypes: true })).find((e) => e.isFile());
      if (first) await unlink(join(first.parentPath, first.name));
    }
    await withPgClient(config.postgres!, (c) => c.query('DELETE FROM mcp_events'));

    const listed = await cli('backups', 'list', '--target', 'offsite');
    expect(listed.exitCode, listed.all).toBe(EXIT_CODES.ok);
    expect(listed.stdout).toContain(archive);

    const r = await cli('recover', archive, '--from', 'offsite', '--yes', '--json');
    expect(r.exitCode, r.all).toBe(EXIT_CODES.ok);
    const result = JSON.parse(r.stdout) as RecoveryResult;
    expect(result.outcome).toBe('recovered');
    expect(result.findings.find((f) => f.check === 'recovery.fetch')?.status).toBe('ok');
    expect(await treesOf(folderSources(config))).toEqual(before);
    expect(await rows(config)).toEqual(rowsBefore);
    for (const s of host.sbx.manager.services) expect((await host.sbx.manager.status(s)).state, s).toBe('active');
    expect((await readdir(join(config.paths.backupDir, '.offsite')).catch(() => [])).length).toBe(0);
  }, 240_000);

  it('a manifest whose sha256 is not the stored tar\'s fails the full verify: the tar was read back and hashed', async () => {
    // Right size, wrong sha256: restic check and the size comparison pass; only the read-back can tell.
    const m = await manifestSnapshot();
    const file = `/${archive.replace('.tar.gz', '.manifest.json')}`;
    const manifest = JSON.parse((await repo.restic(['dump', '--no-lock', m.id, file])).stdout) as { sha256: string };
    manifest.sha256 = `${manifest.sha256[0] === '0' ? '1' : '0'}${manifest.sha256.slice(1)}`;
    expect((await repo.restic(['forget', m.id])).exitCode).toBe(0);
    await resticWithInput(['backup', '--stdin', '--stdin-filename', file.slice(1), '--host', HOST, ...m.tags.flatMap((t) => ['--tag', t])], Buffer.from(JSON.stringify(manifest)));

    const r = await cli('backups', 'verify', '--all', '--target', 'offsite');
    expect(r.exitCode, r.all).toBe(EXIT_CODES.failFindings);
    expect(r.stdout).toContain(`verify.offsite.${archive}`);
    expect(r.stdout).toContain(`offsite: ${archive.replace('.tar.gz', '.tar')} reads back as`);
    expect(r.stdout).toContain("that do not hash to its manifest's sha256");
    expect((await manifestSnapshot()).tags.some((t) => t.startsWith('verify-failed='))).toBe(true);
  }, 240_000);

  it('a pack file damaged on disk fails the full verify, naming the target; exit 3', async () => {
    // The largest pack holds the tar's data: flip bytes in its middle, as a failing disk would.
    const packs = await readdir(join(repoDir, 'data'), { recursive: true, withFileTypes: true });
    const sized = await Promise.all(packs.filter((e) => e.isFile()).map(async (e) => ({ path: join(e.parentPath, e.name), size: (await stat(join(e.parentPath, e.name))).size })));
    const pack = sized.sort((a, b) => b.size - a.size)[0]!;
    await chmod(pack.path, 0o600);
    const fh = await open(pack.path, 'r+');
    try {
      const at = Math.floor(pack.size / 2);
      const bytes = Buffer.alloc(16);
      await fh.read(bytes, 0, 16, at);
      await fh.write(bytes.map((b) => b ^ 0xff), 0, 16, at);
    } finally {
      await fh.close();
    }

    const r = await cli('backups', 'verify', '--all', '--target', 'offsite');
    expect(r.exitCode, r.all).toBe(EXIT_CODES.failFindings);
    expect(r.stdout).toMatch(new RegExp(`FAIL\\s+verify\\.offsite\\.${archive.replaceAll('.', '\\.')}`));
    expect(r.stdout).toContain('restic check on target offsite');
  }, 240_000);
});
