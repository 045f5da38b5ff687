/**
 * Recovery refuses what it must not restore before touching anything, waits
 * for approval, and rolls back when a post-recovery check fails.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, stat, symlink, writeFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as zlibModule from 'node:zlib';
import { gunzipSync, gzipSync } from 'node:zlib';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRestoreActivities } from '../../src/activities/restore.js';
import { withPgClient } from '../../src/postgres/client.js';
import { startWorker, type RunningWorker } from '../../src/worker.js';
import { manifestPath, readManifest } from '../../src/archive/manifest.js';
import type { BackupResult, RecoveryResult } from '../../src/workflows/index.js';
import { hardLinkToInRootSymlink, writeBombArchive, writeCraftedArchive, type CraftedEntry } from '../helpers/crafted-archive.js';
import { findMarker } from '../helpers/marker.js';
import { treesOf } from '../helpers/files.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { assertReplays, awaitPhase, testClient, testNativeConnection, workflowBundle } from '../helpers/temporal.js';

let sbx: TestSandbox;
let client: Client;
let connection: NativeConnection;
let worker: RunningWorker;
let folders: string[];
let good: string;
let validateMarker: string;
const handles: WorkflowHandle[] = [];

const pids = async () => Promise.all(sbx.manager.services.map((s) => readFile(join(sbx.root, 'run', `${s}.pid`), 'utf8')));
const rows = () => withPgClient(sbx.config.postgres!, async (c) => (await c.query('SELECT id, kind FROM mcp_events ORDER BY id')).rows);
const databaseOid = () => withPgClient(sbx.config.postgres!, async (c) => (await c.query<{ oid: number }>('SELECT oid::int AS oid FROM pg_database WHERE datname = current_database()')).rows[0]!.oid);
/** A recovery's staging and previous databases that exist (none once a recovery is over). */
/** This sandbox's staging and previous databases (other test files recover their own sandboxes at the same time). */
const recoveryDatabases = () =>
  withPgClient(sbx.config.postgres!, async (c) =>
    (await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE starts_with(datname, $1) AND substr(datname, length($1) + 1) ~ '^_(restore|previous)_[0-9a-f]{8}$'", [sbx.config.postgres!.database])).rows.map((r) => r.datname),
  );

async function start(type: string, input: unknown): Promise<WorkflowHandle> {
  const h = await client.workflow.start(type, { taskQueue: sbx.config.temporal.taskQueue, workflowId: `${type}-${Date.now()}-${handles.length}`, args: [input] });
  handles.push(h);
  return h;
}

/** A recovery that ended recovered, with nothing left behind: no warning (it names what was kept) and no staging or previous database. */
async function recovered(h: WorkflowHandle): Promise<RecoveryResult> {
  const r = (await h.result()) as RecoveryResult;
  expect(r.outcome).toBe('recovered');
  expect(r.findings.filter((f) => f.status !== 'ok').map((f) => f.message)).toEqual([]);
  expect(await recoveryDatabases()).toEqual([]);
  return r;
}

async function failure(h: WorkflowHandle): Promise<string> {
  const e = await h.result().catch((x: unknown) => x);
  expect(e).toBeInstanceOf(WorkflowFailedError);
  return String((e as WorkflowFailedError).cause?.message);
}

beforeAll(async () => {
  const root = await import('node:fs/promises').then((f) => f.mkdtemp('/tmp/mcp-marker-'));
  validateMarker = join(root, 'config-invalid');
  sbx = await createTestSandbox({
    hostId: 'safe-host',
    // Fails while the marker exists; with `<marker>.corrupt` too, it first spoils the emergency dump,
    // so putting the database back fails during the rollback.
    extra: {
      recovery: {
        validateCommand: ['sh', '-c', 'test ! -e "$0" || { test ! -e "$0.corrupt" || for f in "$1"/.recovery/*/emergency.dump; do printf junk > "$f"; done; exit 1; }', validateMarker, '/placeholder-backup-dir'],
      },
    },
  });
  folders = sbx.config.backup.sources.flatMap((s) => (s.mode === 'pg_dump' ? [] : [s.path]));
  sbx.config.recovery.validateCommand![4] = sbx.config.paths.backupDir;
  client = await testClient();
  connection = await testNativeConnection();
  worker = await startWorker({ config: sbx.config, role: 'all', connection, workflowBundle: workflowBundle(), serveMetrics: false });
  const b = (await (await start('backup', { hostId: 'safe-host' })).result()) as BackupResult;
  good = b.archive!.archive;
});
afterAll(async () => {
  await worker?.shutdown();
  await connection?.close();
  await client?.connection.close();
  await sbx?.cleanup();
});

/** A copy of the good archive named `name` with one byte flipped, beside the good manifest renamed to it. */
async function corruptCopy(name: string): Promise<void> {
  const bytes = await readFile(join(sbx.config.paths.backupDir, good));
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  await writeFile(join(sbx.config.paths.backupDir, name), bytes);
  await writeFile(join(sbx.config.paths.backupDir, `${name}.manifest.json`), (await readFile(join(sbx.config.paths.backupDir, `${good}.manifest.json`), 'utf8')).replace(good, name));
}

describe('refused before anything is touched', () => {
  it('a corrupted archive (one flipped byte)', async () => {
    const name = 'mcp_backup_20200101_000001.tar.gz';
    await corruptCopy(name);
    const before = { pids: await pids(), trees: await treesOf(folders) };
    const message = await failure(await start('disasterRecovery', { backup: name, hostId: 'safe-host', approve: true }));
    expect(message).toContain(`refusing to restore ${name}: the archive does not match its manifest`);
    expect(message).toContain('sha256');
    expect(message).toContain('Nothing was changed.');
    expect(await pids()).toEqual(before.pids);
    expect(await treesOf(folders)).toEqual(before.trees);
  });

  it('on a host missing the folders above a target, a refused pass removes the folders it made for its staging', async () => {
    const name = 'mcp_backup_20200101_000002.tar.gz';
    await corruptCopy(name);
    const config = folders.find((f) => f.endsWith('/etc/kilocode/mcp'))!;
    const above = dirname(config);
    const aside = `${above}.moved-aside`;
    await rename(above, aside);
    try {
      const message = await failure(await start('disasterRecovery', { backup: name, hostId: 'safe-host', approve: true }));
      expect(message).toContain(`refusing to restore ${name}: the archive does not match its manifest`);
      expect(existsSync(above)).toBe(false);
    } finally {
      await rm(above, { recursive: true, force: true });
      await rename(aside, above);
    }
  });

  const memDb = () => sbx.config.backup.sources.find((s) => s.mode === 'stop' && s.path.endsWith('memory_db')) as { path: string };
  const crafted: Array<[string, (root: string) => CraftedEntry[], string, (root: string) => string]> = [
    ['an absolute path', () => [{ path: '/tmp/mcp-evil-absolute', type: 'File', content: 'x' }], 'absolute path "/tmp/mcp-evil-absolute"', () => '/tmp/mcp-evil-absolute'],
    ['a ".." path', (r) => [{ path: `${r}/../../../mcp-evil-dotdot`, type: 'File', content: 'x' }], 'path with ".."', (r) => join('/', r, '..', '..', '..', 'mcp-evil-dotdot')],
    ['a symlink that leaves its root', (r) => [{ path: `${r}/escape`, type: 'SymbolicLink', linkpath: '../../../../../../etc' }], 'leaves its root', (r) => join('/', r, 'escape')],
    ['a hard link that leaves its root', (r) => [{ path: `${r}/hard`, type: 'Link', linkpath: 'etc/passwd' }], 'hard link', (r) => join('/', r, 'hard')],
    ['a device', (r) => [{ path: `${r}/null`, type: 'CharacterDevice' }], 'CharacterDevice entry', (r) => join('/', r, 'null')],
    ['a FIFO', (r) => [{ path: `${r}/pipe`, type: 'FIFO' }], 'FIFO entry', (r) => join('/', r, 'pipe')],
    [
      'a chain of symlinks, each spelled inside its root, that leads outside',
      (r) => [
        { path: `${r}/sub/`, type: 'Directory' },
        { path: `${r}/sub/a`, type: 'SymbolicLink', linkpath: '..' },
        { path: `${r}/esc`, type: 'SymbolicLink', linkpath: 'sub/a/..' },
        { path: `${r}/h`, type: 'Link', linkpath: `${r}/esc/outside-secret.txt` },
      ],
      '/esc" -> "sub/a/.." leads outside its root',
      (r) => join('/', r, 'esc'),
    ],
    [
      'a hard link through a symlink',
      (r) => [
        { path: `${r}/sub/`, type: 'Directory' },
        { path: `${r}/lnk`, type: 'SymbolicLink', linkpath: 'sub' },
        { path: `${r}/h`, type: 'Link', linkpath: `${r}/lnk/x` },
      ],
      'goes through a symlink',
      (r) => join('/', r, 'h'),
    ],
  ];
  it.each(crafted)('a crafted archive with %s', async (_what, entries, reason, wouldWrite) => {
    const root = memDb().path.slice(1);
    const name = `mcp_backup_20200102_${String(crafted.findIndex((c) => c[0] === _what)).padStart(6, '0')}.tar.gz`;
    await writeCraftedArchive(sbx.config.paths.backupDir, name, [{ archivePath: root, originalPath: memDb().path }], [
      { path: `${root}/`, type: 'Directory' },
      { path: `${root}/memories.json`, type: 'File', content: '{"memories":{}}' },
      ...entries(root),
    ]);
    const before = { pids: await pids(), trees: await treesOf(folders) };
    const message = await failure(await start('disasterRecovery', { backup: name, hostId: 'safe-host', approve: true }));
    expect(message).toContain(`refusing to restore ${name}: unsafe entries:`);
    expect(message).toContain(reason);
    expect(await pids()).toEqual(before.pids);
    expect(await treesOf(folders)).toEqual(before.trees);
    expect(existsSync(wouldWrite(root))).toBe(false);
  });

  it.each([
    ['a path', '../../etc/shadow', 'without "/"'],
    ['a parent reference', 'mcp_backup_..tar.gz', 'must not contain ".."'],
    ['not an archive', 'notes.txt', 'is not a .tar.gz archive'],
  ])('a backup name that is %s fails at once', async (_what, backup, message) => {
    expect(await failure(await start('disasterRecovery', { backup, hostId: 'safe-host' }))).toContain(message);
  });

  it('not enough free space beside a target', async () => {
    // The same host with a margin no disk can meet: only this worker polls while the test runs.
    await worker.shutdown();
    const tight = { ...sbx.config, recovery: { ...sbx.config.recovery, freeSpaceMarginPercent: 1e15 } };
    const w = await startWorker({ config: tight, role: 'all', connection, workflowBundle: workflowBundle(), serveMetrics: false });
    try {
      const before = await pids();
      const message = await failure(await start('disasterRecovery', { backup: good, hostId: 'safe-host', approve: true }));
      expect(message).toContain('not enough free space on the filesystem of');
      expect(message).toContain('bytes needed for staging');
      // PostgreSQL's disk is in the check: a second copy of the database and its restore's WAL.
      expect(message).toContain(`a second copy of database ${sbx.config.postgres!.database}`);
      expect(message).toContain('the WAL its restore writes');
      expect(await pids()).toEqual(before);
    } finally {
      await w.shutdown();
      worker = await startWorker({ config: sbx.config, role: 'all', connection, workflowBundle: workflowBundle(), serveMetrics: false });
    }
  });

  it("the plan counts a second copy of the database as it was dumped, and the WAL its restore writes, on PostgreSQL's disks", async () => {
    const restore = createRestoreActivities({ config: sbx.config, services: sbx.manager });
    const needed = async (select?: { skipDatabase: boolean }) =>
      (await restore.inspectRestore({ archive: good, workflowId: 'w', runId: `space-${String(!!select)}`, ...(select ? { select } : {}) })).space.reduce((n, s) => n + s.neededBytes, 0);
    const withDb = await needed();
    const without = await needed({ skipDatabase: true });
    const wal = Number((await withPgClient(sbx.config.postgres!, (c) => c.query<{ wal: string }>("SELECT pg_size_bytes(current_setting('max_wal_size'))::text AS wal"))).rows[0]!.wal);
    const dumped = (await readManifest(manifestPath(sbx.config.paths.backupDir, good))).roots.find((r) => r.kind === 'pg_dump')!;
    expect(dumped.databaseBytes).toBeGreaterThan(1_000_000);
    const margin = 1 + sbx.config.recovery.freeSpaceMarginPercent / 100;
    // The extracted and the emergency dump in the backups folder, the database's second copy and its WAL (each rounded up once).
    const expected = (2 * dumped.bytes + dumped.databaseBytes! + Math.min(wal, dumped.databaseBytes!)) * margin;
    expect(Math.abs(withDb - without - expected)).toBeLessThan(4);
  });

  it.each([
    ['far larger than the disk (a database that had grown with dead rows)', 1e15, true],
    ['not a byte count', -5, false],
  ])("a manifest whose database size as dumped is %s: the recovery is warned, not refused, or falls back to the dump's size", async (_what, databaseBytes, warned) => {
    const restore = createRestoreActivities({ config: sbx.config, services: sbx.manager });
    const dir = sbx.config.paths.backupDir;
    const name = `mcp_backup_20200105_00000${warned ? 1 : 2}.tar.gz`;
    await writeFile(join(dir, name), await readFile(join(dir, good)), { mode: 0o600 });
    const m = await readManifest(manifestPath(dir, good));
    await writeFile(manifestPath(dir, name), JSON.stringify({ ...m, archive: name, roots: m.roots.map((r) => (r.kind === 'pg_dump' ? { ...r, databaseBytes } : r)) }), { mode: 0o600 });
    try {
      const plan = await restore.inspectRestore({ archive: name, workflowId: 'w', runId: `bloat-${String(warned)}` });
      if (warned) expect(plan.dump?.spaceWarning).toMatch(new RegExp(`^database ${sbx.config.postgres!.database} as large as when it was dumped may not fit on PostgreSQL's disk: \\d+ bytes on the filesystem of .*; the recovery goes ahead`));
      else expect(plan.dump?.spaceWarning).toBeUndefined();
    } finally {
      await rm(join(dir, name), { force: true });
      await rm(manifestPath(dir, name), { force: true });
    }
  });

  it('inspection (the activity, on the real archive) refuses when an earlier recovery left its folders, naming them', async () => {
    const inspect = (runId: string) => createRestoreActivities({ config: sbx.config, services: sbx.manager }).inspectRestore({ archive: good, workflowId: 'w', runId });
    const plan = await inspect('run-1');
    const leftover = plan.roots[0]!.previous;
    await mkdir(leftover);
    try {
      await expect(inspect('run-1')).rejects.toThrow(`${leftover} already exists (left by an earlier recovery?): check it, then move it away`);
      // Another run has folders of its own.
      expect((await inspect('run-2')).roots[0]!.previous).not.toBe(leftover);
    } finally {
      await rm(leftover, { recursive: true, force: true });
    }
  });

  it('the emergency archive (the activity, retried) keeps one name per run: a retry after a crash rewrites it, after the commit returns it', async () => {
    const restore = createRestoreActivities({ config: sbx.config, services: sbx.manager });
    const inspected = await restore.inspectRestore({ archive: good, workflowId: 'w', runId: 'emergency-run' });
    // The live folders stand in for the preserved previous ones.
    const plan = { ...inspected, roots: inspected.roots.map((r) => ({ ...r, previous: r.target })) };
    delete (plan as { dump?: unknown }).dump;
    const dir = sbx.config.paths.backupDir;
    const emergencies = async () => (await readdir(dir)).filter((n) => n.startsWith('mcp_backup_') && !n.startsWith(good) && !n.startsWith('mcp_backup_2020'));
    try {
      const first = (await restore.archivePreviousState({ plan, workflowId: 'w' }))!;
      // A worker killed during compression: only a partial file is left.
      await rm(join(dir, first.archive));
      await rm(join(dir, `${first.archive}.manifest.json`));
      await writeFile(join(dir, `${first.archive}.partial`), 'half');
      const retried = (await restore.archivePreviousState({ plan, workflowId: 'w' }))!;
      expect(retried.archive).toBe(first.archive);
      const again = (await restore.archivePreviousState({ plan, workflowId: 'w' }))!;
      expect(again).toMatchObject({ archive: first.archive, sha256: retried.sha256, seconds: 0 });
      expect((await emergencies()).sort()).toEqual([first.archive, `${first.archive}.manifest.json`].sort());
    } finally {
      for (const n of await emergencies()) await rm(join(dir, n), { force: true });
      await rm(plan.recoveryDir, { recursive: true, force: true });
    }
  });

  /** What every refusal must leave: the services, the live folders and the folders beside them as they were. */
  async function unchanged(before: { pids: string[]; trees: Awaited<ReturnType<typeof treesOf>> }) {
    expect(await pids()).toEqual(before.pids);
    expect(await treesOf(folders)).toEqual(before.trees);
    const beside = (await Promise.all([...new Set(folders.map((f) => dirname(f)))].map((d) => readdir(d)))).flat();
    expect(beside.filter((n) => n.includes('.mcp-restore-') || n.includes('.mcp-previous-'))).toEqual([]);
  }
  const snapshot = async () => ({ pids: await pids(), trees: await treesOf(folders) });
  // Short: the crafted archives' link targets are plain tar header fields (100 bytes), and the sandbox paths are long.
  const marker = () => `mcp-esc-${randomUUID().slice(0, 12)}`;

  it.each([1, 3, 7])('the red team\'s hard link to an in-root symlink %i levels down, with an entry under it and a hard link through it', async (depth) => {
    const root = memDb().path.slice(1);
    const m = marker();
    const name = `mcp_backup_20200106_00000${depth}.tar.gz`;
    await writeCraftedArchive(sbx.config.paths.backupDir, name, [{ archivePath: root, originalPath: memDb().path }], [
      { path: `${root}/`, type: 'Directory' },
      { path: `${root}/memories.json`, type: 'File', content: '{"memories":{}}' },
      ...hardLinkToInRootSymlink(root, depth, m),
    ]);
    const before = await snapshot();
    const message = await failure(await start('disasterRecovery', { backup: name, hostId: 'safe-host', approve: true }));
    expect(message).toContain(`refusing to restore ${name}: unsafe entries: hard link "${root}/h" -> "`);
    expect(message).toContain('targets a symlink; only regular files inside the root are hard-linked');
    expect(message).toContain(`entry "${root}/h/${m}" lies under "${root}/h", which is not a folder (Link)`);
    expect(message).toContain(`hard link "${root}/h2" -> "${root}/h/${m}" goes through "${root}/h"`);
    expect(await findMarker(m, [sbx.root])).toEqual([]);
    await unchanged(before);
  });

  it('a bomb with an honest manifest is refused at inspection by its compression ratio', async () => {
    const name = 'mcp_backup_20200107_000000.tar.gz';
    await writeBombArchive(sbx.config.paths.backupDir, name, { archivePath: memDb().path.slice(1), originalPath: memDb().path }, 256 * 1024 * 1024);
    const size = (await stat(join(sbx.config.paths.backupDir, name))).size;
    const before = await snapshot();
    const message = await failure(await start('disasterRecovery', { backup: name, hostId: 'safe-host', approve: true }));
    expect(message).toContain(`refusing to restore ${name}: it decompresses to more than 200 times its ${size} compressed bytes`);
    expect(message).toContain('ratio limit 200), as a decompression bomb does (config recovery.maxCompressionRatio)');
    await unchanged(before);
  });

  it('a symbolic link in place of the archive', async () => {
    const dir = sbx.config.paths.backupDir;
    const name = 'mcp_backup_20200108_000000.tar.gz';
    await symlink(join(dir, good), join(dir, name));
    await writeFile(join(dir, `${name}.manifest.json`), (await readFile(join(dir, `${good}.manifest.json`), 'utf8')).replace(good, name));
    const before = await snapshot();
    const message = await failure(await start('disasterRecovery', { backup: name, hostId: 'safe-host', approve: true }));
    expect(message).toContain(`refusing to restore ${name}: ${join(dir, name)} is a symbolic link; refusing to read an archive through a link`);
    await unchanged(before);
  });

  it('a symbolic link in place of the manifest', async () => {
    const dir = sbx.config.paths.backupDir;
    const name = 'mcp_backup_20200109_000000.tar.gz';
    await writeFile(join(dir, name), await readFile(join(dir, good)), { mode: 0o600 });
    const elsewhere = join(sbx.root, 'planted.manifest.json');
    await writeFile(elsewhere, (await readFile(join(dir, `${good}.manifest.json`), 'utf8')).replace(good, name));
    await symlink(elsewhere, join(dir, `${name}.manifest.json`));
    const before = await snapshot();
    const message = await failure(await start('disasterRecovery', { backup: name, hostId: 'safe-host', approve: true }));
    expect(message).toContain(`refusing to restore ${name}: its manifest ${join(dir, `${name}.manifest.json`)} is a symbolic link; refusing to read a manifest through a link`);
    await unchanged(before);
  });

  /**
   * Stages a copy of the good archive, then lets `swap` change it while the recovery waits for approval, then approves:
   * what is restored is what the one pass checked and staged before the wait, whatever the archive became since.
   */
  async function swappedDuringApproval(n: number, swap: (path: string, name: string) => Promise<void>): Promise<void> {
    const name = `mcp_backup_20200104_00000${n}.tar.gz`;
    const dir = sbx.config.paths.backupDir;
    await writeFile(join(dir, name), await readFile(join(dir, good)), { mode: 0o600 });
    await writeFile(join(dir, `${name}.manifest.json`), (await readFile(join(dir, `${good}.manifest.json`), 'utf8')).replace(good, name));
    const restored = folders.filter((f) => f !== sbx.config.paths.reportsDir);
    const asBackedUp = await treesOf(restored);
    // Written after the backup: the recovery must take it away (memory_db is restored from the checked copy).
    await writeFile(join(memDb().path, `after-backup-${n}.json`), '{}');
    const h = await start('disasterRecovery', { backup: name, hostId: 'safe-host' });
    await awaitPhase(h, 'awaiting approval');
    await swap(join(dir, name), name);
    await h.executeUpdate('approve', { args: [{ by: 'test' }] });
    await recovered(h);
    expect(await treesOf(restored)).toEqual(asBackedUp);
  }

  it('an archive recompressed while the recovery waited for approval changes nothing: the copy checked before the wait is restored', async () => {
    const original = await readFile(join(sbx.config.paths.backupDir, good));
    // The same entries, compressed again: it still reads back, but it is not the file that was checked.
    await swappedDuringApproval(0, (path) => writeFile(path, gzipSync(gunzipSync(original), { level: 1 }), { mode: 0o600 }));
  });

  it.each([
    ['renamed over it (a new inode)', true],
    ['rewritten in place (the same inode)', false],
  ])('a malicious archive with a matching manifest %s while the recovery waited for approval is never read: the checked copy is restored', async (_what, byRename) => {
    const root = memDb().path.slice(1);
    const m = marker();
    const dir = sbx.config.paths.backupDir;
    await swappedDuringApproval(byRename ? 1 : 2, async (path, name) => {
      const ino = (await stat(path)).ino;
      // The attacker's archive (the red team's link at 7 levels) and its manifest, built elsewhere and moved in.
      const evilDir = await mkdtemp(join(sbx.root, 'evil-'));
      await writeCraftedArchive(evilDir, name, [{ archivePath: root, originalPath: memDb().path }], [{ path: `${root}/`, type: 'Directory' }, ...hardLinkToInRootSymlink(root, 7, m)]);
      await rename(join(evilDir, `${name}.manifest.json`), join(dir, `${name}.manifest.json`));
      if (byRename) await rename(join(evilDir, name), path);
      else await writeFile(path, await readFile(join(evilDir, name)));
      expect((await stat(path)).ino === ino).toBe(!byRename);
    });
    expect(await findMarker(m, [sbx.root])).toEqual([]);
  });

  it('an archive without its manifest', async () => {
    const name = 'mcp_backup_20200103_000000.tar.gz';
    await writeFile(join(sbx.config.paths.backupDir, name), await readFile(join(sbx.config.paths.backupDir, good)));
    expect(await failure(await start('disasterRecovery', { backup: name, hostId: 'safe-host', approve: true }))).toContain('manifest');
  });

  it('an archive that is not there names the newest ones that are', async () => {
    // Recoveries above left emergency archives, newer than the good one; it is still among the five named.
    const message = await failure(await start('disasterRecovery', { backup: 'mcp_backup_19990101_000000.tar.gz', hostId: 'safe-host' }));
    expect(message).toMatch(/\(newest: mcp_backup_\d{8}_\d{6}\.tar\.gz, /);
    expect(message).toContain(good);
  });
});

describe('approval', () => {
  it('waits for the approve update, showing the plan and progress; then recovers', async () => {
    const h = await start('disasterRecovery', { backup: good, hostId: 'safe-host' });
    const p = await awaitPhase(h, 'awaiting approval');
    // The folders checked and staged before the wait; the database only once approved (its dump's SQL runs with the role's rights).
    expect(p.phases.map((x) => x.phase)).toEqual(['starting', 'waiting for the host lock', 'check and extract', 'awaiting approval']);
    const plan = await h.query<{ roots: Array<{ target: string }>; kept?: Array<{ target: string }> }>('plan');
    // Every folder but the reports folder, which a whole-host recovery leaves alone unless asked.
    const reports = sbx.config.paths.reportsDir;
    expect(plan.roots.map((r) => r.target).sort()).toEqual(folders.filter((f) => f !== reports).sort());
    expect(plan.kept?.map((k) => k.target)).toEqual([reports]);
    const pidsBefore = await pids();
    // What the recovery replaces, kept in its emergency archive: the folders as they are and a row written since the backup.
    const restored = folders.filter((f) => f !== reports);
    await withPgClient(sbx.config.postgres!, (c) => c.query("INSERT INTO mcp_events (kind) VALUES ('written-before-the-recovery')"));
    const replaced = await treesOf(restored);
    const marked = () => withPgClient(sbx.config.postgres!, async (c) => Number((await c.query<{ n: string }>("SELECT count(*) AS n FROM mcp_events WHERE kind = 'written-before-the-recovery'")).rows[0]!.n));
    await new Promise((r) => setTimeout(r, 600)); // an operator reading the plan
    expect(await h.executeUpdate('approve', { args: [{ by: 'alice' }] })).toEqual({ approved: true, by: 'alice' });
    const r = await recovered(h);
    expect(await marked()).toBe(0);
    expect(r.approvedBy).toBe('alice');
    expect(await pids()).not.toEqual(pidsBefore);
    // Every step that ran has its duration; the wait for alice is counted apart from the work.
    expect(Object.keys(r.durations).sort()).toEqual(['approvalWaitSeconds', 'emergencyBackupSeconds', 'restoreSeconds', 'stageDatabaseSeconds', 'stageSeconds', 'totalSeconds']);
    const d = r.durations;
    expect(d.approvalWaitSeconds).toBeGreaterThanOrEqual(0.5);
    expect(d.totalSeconds).toBeGreaterThanOrEqual(d.stageSeconds! + d.stageDatabaseSeconds! + d.approvalWaitSeconds! + d.restoreSeconds! + d.emergencyBackupSeconds! - 0.5);
    expect(d.restoreSeconds).toBeGreaterThanOrEqual(Math.max(...r.downtime.map((x) => x.seconds)) - 0.2);

    // The emergency archive (packed by GNU tar from the renamed previous folders, the previous database dumped) restores what was replaced.
    const emergency = r.emergencyBackup!.archive;
    const m = await readManifest(manifestPath(sbx.config.paths.backupDir, emergency));
    expect(m.kind).toBe('emergency');
    expect(m.compressor).toBe(typeof (zlibModule as { crc32?: unknown }).crc32 === 'function' ? 'gzip -0 (stored)' : expect.stringMatching(/pigz|zlib/));
    // Its database's size when dumped, for the free-space check of a recovery from it.
    expect(m.roots.find((x) => x.kind === 'pg_dump')?.databaseBytes).toBeGreaterThan(1_000_000);
    // Packed by GNU tar: GNU format's header magic ("ustar  " and a NUL; node-tar writes POSIX's "ustar", NUL, "00").
    const tarBytes = gunzipSync(await readFile(join(sbx.config.paths.backupDir, emergency)));
    expect(tarBytes.subarray(257, 265).toString('latin1')).toBe('ustar  \0');
    await recovered(await start('disasterRecovery', { backup: emergency, hostId: 'safe-host', approve: true }));
    expect(await treesOf(restored)).toEqual(replaced);
    expect(await marked()).toBe(1);
  });

  it.each([
    ['times out', { approvalTimeoutMinutes: 0.05 }, 'not-approved'],
    ['is rejected', {}, 'rejected'],
  ] as const)('ends having changed nothing when approval %s', async (_what, extra, outcome) => {
    const before = { pids: await pids(), trees: await treesOf(folders) };
    const h = await start('disasterRecovery', { backup: good, hostId: 'safe-host', ...extra });
    if (outcome === 'rejected') {
      await awaitPhase(h, 'awaiting approval');
      await h.executeUpdate('reject', { args: [{ by: 'bob' }] });
    }
    const r = (await h.result()) as RecoveryResult;
    expect(r.outcome).toBe(outcome);
    expect(Object.keys(r.durations).sort()).toEqual(['approvalWaitSeconds', 'stageSeconds', 'totalSeconds']);
    expect(await pids()).toEqual(before.pids);
    expect(await treesOf(folders)).toEqual(before.trees);
    // What was staged before the wait is gone: the folders beside each target and the staging database.
    const beside = (await Promise.all([...new Set(folders.map((f) => dirname(f)))].map((d) => readdir(d)))).flat();
    expect(beside.filter((n) => n.includes('.mcp-restore-'))).toEqual([]);
    expect(await recoveryDatabases()).toEqual([]);
  });
});

describe('rollback', () => {
  it('a failing post-recovery check puts folders, database and services back, and says what was rolled back', async () => {
    await writeFile(join(sbx.config.paths.installRoot, 'memory_db', 'newer.json'), '{"newer": true}');
    await withPgClient(sbx.config.postgres!, (c) => c.query("INSERT INTO mcp_events (kind) VALUES ('newer')"));
    const before = { trees: await treesOf(folders), rows: await rows(), oid: await databaseOid() };
    await writeFile(validateMarker, 'the restored configuration is invalid');
    try {
      const message = await failure(await start('disasterRecovery', { backup: good, hostId: 'safe-host', approve: true }));
      expect(message).toContain('post-recovery checks failed');
      expect(message).toContain('Undone:');
      expect(message).toContain(`put back ${join(sbx.config.paths.installRoot, 'memory_db')}`);
      expect(message).toContain(`put back database ${sbx.config.postgres!.database} (kept as `);
    } finally {
      await rm(validateMarker, { force: true });
    }
    expect(await treesOf(folders)).toEqual(before.trees);
    // The database put back is the one that was live (swapped back by rename), with its rows; nothing staged is left.
    expect(await rows()).toEqual(before.rows);
    expect(await databaseOid()).toBe(before.oid);
    expect(await recoveryDatabases()).toEqual([]);
    for (const s of sbx.manager.services) expect((await sbx.manager.status(s)).state).toBe('active');
    await assertReplays(...handles);
  });

  it('restored in place (a database with its own settings is not swapped): when putting the database back fails, the recovery folder with the emergency dump is kept and named, and the rest is still undone', async () => {
    const before = { trees: await treesOf(folders) };
    const db = sbx.config.postgres!.database;
    // A per-database setting lives outside the dump: this database is restored in place (emergency dump, pg_restore), not swapped.
    await withPgClient(sbx.config.postgres!, (c) => c.query(`ALTER DATABASE "${db}" SET work_mem = '8MB'`));
    await writeFile(validateMarker, 'the restored configuration is invalid');
    await writeFile(`${validateMarker}.corrupt`, '');
    let message: string;
    try {
      message = await failure(await start('disasterRecovery', { backup: good, hostId: 'safe-host', approve: true }));
    } finally {
      await rm(validateMarker, { force: true });
      await rm(`${validateMarker}.corrupt`, { force: true });
      await withPgClient(sbx.config.postgres!, (c) => c.query(`ALTER DATABASE "${db}" RESET work_mem`));
    }
    expect(message).toContain(`put back database ${sbx.config.postgres!.database}`);
    expect(message).toMatch(/put back database \S+ from \S+ \(FAILED: /);
    const kept = /remove staging and recovery files \(skipped: an undo failed, kept ([^,)]+)/.exec(message);
    expect(kept, message).not.toBeNull();
    const recoveryDir = kept![1]!;
    expect(recoveryDir.startsWith(join(sbx.config.paths.backupDir, '.recovery'))).toBe(true);
    // The evidence is still there: the emergency dump an operator restores by hand.
    expect(existsSync(join(recoveryDir, 'emergency.dump'))).toBe(true);
    // Every other undo ran: folders back, services up.
    expect(await treesOf(folders)).toEqual(before.trees);
    for (const s of sbx.manager.services) expect((await sbx.manager.status(s)).state).toBe('active');
    await rm(recoveryDir, { recursive: true, force: true });
  });
});
