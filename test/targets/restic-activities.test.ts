/**
 * The restic activities against real repositories (restic 0.14): a backend
 * that does not answer is not "no repository"; a repository an attacker
 * wrote (a manifest that lies about the tar's size) is refused at the fetch,
 * leaving nothing behind; reads answer while another restic holds the
 * repository exclusively; retention forgets and prunes what its policy drops.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupActivities } from '../../src/activities/backup.js';
import { createOffsiteActivities } from '../../src/activities/offsite.js';
import type { Config, ResticTarget } from '../../src/config/config.js';
import { listSnapshots, RESTIC_FAILURES, runRestic, ResticError } from '../../src/targets/restic.js';
import { pollUntil } from '../helpers/temporal.js';
import { resolvedResticTarget } from '../helpers/offsite.js';

let work: string;
let password: string;

const target = (repository: string, name = 'offsite'): ResticTarget => resolvedResticTarget(repository, password, 'tar', name);

/** A host config with one online source folder and the restic target `t` (what the offsite activities read). */
async function hostOf(t: ResticTarget, dir: string, hostId = 'h1'): Promise<Config> {
  const data = join(dir, 'data');
  await mkdir(data, { recursive: true });
  await writeFile(join(data, 'a.txt'), randomBytes(200_000));
  const backupDir = join(dir, 'backups');
  return {
    hostId,
    paths: { backupDir },
    backup: { sources: [{ mode: 'online', path: data }], stagingDir: join(backupDir, '.staging'), targets: [t], compression: { program: 'gzip', level: 1 } },
    retention: { days: 30 },
    activities: { stallSeconds: 300 },
  } as unknown as Config;
}

/** Plain restic on `repository`, as an operator runs it; rejects when it fails. */
const plainRestic = (repository: string, args: string[], opts: { input?: Buffer } = {}) =>
  execa('restic', args, { env: { RESTIC_REPOSITORY: repository, RESTIC_PASSWORD: password, PATH: process.env.PATH ?? '', HOME: work }, extendEnv: false, ...(opts.input ? { input: opts.input } : {}) });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcp-restic-acts-'));
  password = randomBytes(16).toString('hex');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('restic failures', () => {
  it('a backend that does not answer is a retryable failure naming the target, not "create it with restic init"; the password is not in it', async () => {
    const err = await runRestic(target('rest:http://127.0.0.1:1/repo/'), ['snapshots', '--json']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResticError);
    expect((err as ResticError).name).toBe(RESTIC_FAILURES.failed);
    expect((err as Error).message).toContain('does not answer');
    expect((err as Error).message).toContain('target offsite');
    expect((err as Error).message).not.toContain('init');
    expect((err as Error).message).not.toContain(password);
  });

  it('a path with no repository is "no repository", naming the init command', async () => {
    const err = await runRestic(target(join(work, 'nothing-here')), ['snapshots', '--json']).catch((e: unknown) => e);
    expect((err as ResticError).name).toBe(RESTIC_FAILURES.noRepository);
    expect((err as Error).message).toContain(`restic -r ${join(work, 'nothing-here')} init`);
  });
});

describe('a hostile repository', () => {
  it('a manifest that says the tar is smaller than it is: the fetch is refused and leaves no file', async () => {
    const dir = join(work, 'hostile');
    const repo = join(dir, 'repo');
    const t = target(repo);
    await runRestic(t, ['init']);
    const config = await hostOf(t, dir);
    const backupDir = config.paths.backupDir;
    const offsite = createOffsiteActivities({ config });
    const plan = await createBackupActivities({ config }).planBackup();
    const stored = await offsite.resticBackup({ plan, target: 'offsite', workflowId: 'wf-1', downtime: [] });
    expect(stored.tarBytes).toBeGreaterThan(200_000);

    // The attacker (who has the password) replaces the manifest snapshot with one that lies about the size.
    const list = JSON.parse((await runRestic(t, ['snapshots', '--json'])).stdout) as Array<{ id: string; tags: string[] }>;
    const manifestSnap = list.find((s) => s.tags.includes('part=manifest'))!;
    const manifest = JSON.parse((await runRestic(t, ['dump', manifestSnap.id, `/${plan.archive.replace('.tar.gz', '.manifest.json')}`])).stdout) as { bytes: number };
    manifest.bytes = 1024;
    await runRestic(t, ['forget', manifestSnap.id]);
    await plainRestic(repo, ['backup', '--stdin', '--stdin-filename', plan.archive.replace('.tar.gz', '.manifest.json'), '--host', 'h1', ...manifestSnap.tags.flatMap((x) => ['--tag', x])], { input: Buffer.from(JSON.stringify(manifest)) });

    const err = await offsite.fetchFromTarget({ target: 'offsite', archive: plan.archive, workflowId: 'wf-2' }).then(() => undefined, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain('holds more than the 1024 bytes its manifest says');
    expect(await readdir(join(backupDir, '.offsite')).catch(() => [])).toEqual([]);
  }, 120_000);
});

describe('a hostile repository: snapshot ids from its tags never become restic options', () => {
  it('a manifest whose tar tag (and stored id) is `--password-command=...`: verify and fetch refuse it, and the command never runs', async () => {
    const dir = join(work, 'hostile-tag');
    const repo = join(dir, 'repo');
    const t = target(repo);
    await runRestic(t, ['init']);
    const config = await hostOf(t, dir);
    const offsite = createOffsiteActivities({ config });
    const plan = await createBackupActivities({ config }).planBackup();
    await offsite.resticBackup({ plan, target: 'offsite', workflowId: 'wf-1', downtime: [] });

    // The attacker (who has the password) replaces the manifest snapshot: its tar tag and the manifest's own record
    // both name an "id" that restic would read as an option running a command of the attacker's.
    const marker = join(dir, 'pwned');
    const evil = `--password-command=touch ${marker}`;
    const manifestName = plan.archive.replace('.tar.gz', '.manifest.json');
    const list = JSON.parse((await runRestic(t, ['snapshots', '--json'])).stdout) as Array<{ id: string; tags: string[] }>;
    const manifestSnap = list.find((x) => x.tags.includes('part=manifest'))!;
    const manifest = JSON.parse((await runRestic(t, ['dump', manifestSnap.id, `/${manifestName}`])).stdout) as { stored: { snapshotId: string } };
    manifest.stored.snapshotId = evil;
    await runRestic(t, ['forget', manifestSnap.id]);
    const tags = [...manifestSnap.tags.filter((x) => !x.startsWith('tar=')), `tar=${evil}`];
    await plainRestic(repo, ['backup', '--stdin', '--stdin-filename', manifestName, '--host', 'h1', ...tags.flatMap((x) => ['--tag', x])], { input: Buffer.from(JSON.stringify(manifest)) });

    const verified = await offsite.resticVerify({ target: 'offsite', archive: plan.archive });
    const fetched = await offsite.fetchFromTarget({ target: 'offsite', archive: plan.archive, workflowId: 'wf-2' }).then(() => undefined, (e: unknown) => e as Error);
    expect(verified.ok).toBe(false);
    expect(verified.problems.join('; ')).toContain('names tar snapshot');
    expect(fetched).toBeInstanceOf(Error);
    await expect(stat(marker)).rejects.toThrow(/ENOENT/);
  }, 120_000);
});

describe('removeFetched', () => {
  it('removes only a folder directly below <backupDir>/.offsite: `..`, `.`, a deeper path or another folder is refused and nothing is removed', async () => {
    const dir = join(work, 'remove-fetched');
    const config = await hostOf(target(join(dir, 'repo')), dir);
    const backupDir = config.paths.backupDir;
    await mkdir(join(backupDir, '.offsite', 'f1', 'sub'), { recursive: true });
    await writeFile(join(backupDir, 'keep.tar.gz'), 'x');
    const offsite = createOffsiteActivities({ config });
    for (const bad of [`${join(backupDir, '.offsite')}/..`, `${join(backupDir, '.offsite')}/.`, join(backupDir, '.offsite', 'f1', 'sub'), backupDir, join(backupDir, '.offsite')]) {
      await expect(offsite.removeFetched({ dir: bad }), bad).rejects.toThrow(/is not a folder fetched from a target/);
    }
    expect((await readdir(backupDir)).sort()).toEqual(['.offsite', 'keep.tar.gz']);
    await offsite.removeFetched({ dir: join(backupDir, '.offsite', 'f1') });
    expect(await readdir(join(backupDir, '.offsite'))).toEqual([]);
  });
});

describe('reads take no restic lock', () => {
  it('snapshots, ls, dump, stats, a listing and a whole fetch answer while another restic holds the repository exclusively', async () => {
    const dir = join(work, 'locked');
    const repo = join(dir, 'repo');
    const t = target(repo);
    await runRestic(t, ['init']);
    const config = await hostOf(t, dir);
    const offsite = createOffsiteActivities({ config });
    const plan = await createBackupActivities({ config }).planBackup();
    const stored = await offsite.resticBackup({ plan, target: 'offsite', workflowId: 'wf-1', downtime: [] });

    // `restic key passwd` takes the exclusive lock, then waits on its stdin for the new password: a lock held
    // for as long as the test likes. Ending its stdin ends it with nothing changed.
    const holder = execa('restic', ['key', 'passwd'], { env: { RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: password, PATH: process.env.PATH ?? '', HOME: work }, extendEnv: false, stdin: 'pipe', reject: false });
    try {
      await pollUntil('the exclusive lock', () => readdir(join(repo, 'locks')), (l) => l.length === 1, { timeoutMs: 30_000 });
      // A command that locks is refused: the lock is real, and exclusive.
      expect(await runRestic(t, ['check']).catch((e: unknown) => e)).toMatchObject({ name: RESTIC_FAILURES.locked });

      // restic 0.14's backup summary names a snapshot by its short id.
      expect((await listSnapshots(t, { host: 'h1' })).map((s) => s.id.slice(0, 8)).sort()).toEqual([stored.snapshotId, stored.manifestSnapshotId].map((id) => id.slice(0, 8)).sort());
      const tarFile = `/${plan.archive.replace('.tar.gz', '.tar')}`;
      expect((await runRestic(t, ['ls', '--json', stored.snapshotId])).stdout).toContain(tarFile);
      expect(JSON.parse((await runRestic(t, ['stats', '--json', '--mode', 'raw-data'])).stdout)).toMatchObject({ snapshots_count: 2 });
      expect((await runRestic(t, ['list', 'locks'])).stdout.trim().split('\n')).toHaveLength(1);
      expect((await offsite.listTargetBackups({ target: 'offsite' })).map((b) => b.archive)).toEqual([plan.archive]);
      // The fetch of a recovery: the manifest and the whole tar, each a `restic dump`.
      const fetched = await offsite.fetchFromTarget({ target: 'offsite', archive: plan.archive, workflowId: 'wf-read' });
      expect(fetched.bytes).toBe(stored.tarBytes);
      await offsite.removeFetched({ dir: fetched.dir });
      // None of them left a lock of its own: only the holder's is there.
      expect(await readdir(join(repo, 'locks'))).toHaveLength(1);
    } finally {
      holder.stdin?.end();
      await holder;
    }
    expect(await readdir(join(repo, 'locks'))).toEqual([]);
  }, 120_000);
});

describe('retention against a real repository', () => {
  const HOST = 'h1';
  const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000);
  const archiveAt = (at: Date) => `mcp_backup_${at.toISOString().slice(0, 19).replace(/-/g, '').replace('T', '_').replace(/:/g, '')}.tar.gz`;
  const resticTime = (at: Date) => at.toISOString().slice(0, 19).replace('T', ' ');

  /**
   * One backup as the restic target stores it (a tar snapshot and a manifest snapshot naming it, both
   * tagged), made with plain restic at a past time: the run that made it is long over.
   */
  async function storeOld(repo: string, o: { at: Date; host?: string; verification?: 'ok' | 'failed'; manifest?: boolean; ours?: boolean }): Promise<{ archive: string; ids: string[] }> {
    const archive = archiveAt(o.at);
    const host = o.host ?? HOST;
    const base = o.ours === false ? [] : ['mcp-runbooks', `archive=${archive}`, `workflow=backup-${host}-${o.at.getTime()}`];
    const backup = async (file: string, tags: string[], input: Buffer) => {
      const r = await plainRestic(repo, ['backup', '--json', '--stdin', '--stdin-filename', file, '--host', host, '--time', resticTime(o.at), ...tags.flatMap((x) => ['--tag', x])], { input });
      return (r.stdout.split('\n').map((l) => JSON.parse(l) as { message_type: string; snapshot_id?: string }).find((m) => m.message_type === 'summary'))!.snapshot_id!;
    };
    const tar = await backup(archive.replace('.tar.gz', '.tar'), [...base, ...(o.ours === false ? [] : ['part=tar'])], randomBytes(200_000));
    if (o.manifest === false || o.ours === false) return { archive, ids: [tar] };
    const verified = o.verification === 'ok' ? [`verified=${o.at.toISOString()}`] : o.verification === 'failed' ? [`verify-failed=${o.at.toISOString()}`] : [];
    const manifest = await backup(archive.replace('.tar.gz', '.manifest.json'), [...base, 'part=manifest', `tar=${tar}`, ...verified], Buffer.from(JSON.stringify({ archive })));
    return { archive, ids: [tar, manifest] };
  }

  it('forgets both snapshots of the backups its policy drops and prunes their data; keeps the newest verified one although the policy would drop it; forgets a tar left without a manifest once it is a day old', async () => {
    const dir = join(work, 'retention');
    const repo = join(dir, 'repo');
    const t = { ...target(repo), retention: { days: 7 } };
    await runRestic(t, ['init']);
    const offsite = createOffsiteActivities({ config: await hostOf(t, dir, HOST) });

    const oldVerified = await storeOld(repo, { at: daysAgo(60), verification: 'ok' });
    // Older than the 7 days kept, but the newest backup that passed its verification: never forgotten.
    const newestVerified = await storeOld(repo, { at: daysAgo(30), verification: 'ok' });
    const failed = await storeOld(repo, { at: daysAgo(20), verification: 'failed' });
    const recent = await storeOld(repo, { at: daysAgo(2) });
    // A tar whose run was killed before its manifest was stored: forgotten a day later, not before.
    const orphan = await storeOld(repo, { at: daysAgo(3), manifest: false });
    const freshOrphan = await storeOld(repo, { at: new Date(Date.now() - 3_600_000), manifest: false });
    // Not ours to touch: another host's old backup in the shared repository, and a snapshot without our tag.
    const otherHost = await storeOld(repo, { at: daysAgo(60), host: 'h2', verification: 'ok' });
    const foreign = await storeOld(repo, { at: daysAgo(60), ours: false });
    const size = async () => (JSON.parse((await plainRestic(repo, ['stats', '--no-lock', '--json', '--mode', 'raw-data'])).stdout) as { total_size: number }).total_size;
    const sizeBefore = await size();

    const r = await offsite.resticRetention({ target: 'offsite' });
    expect(r.removed).toEqual([oldVerified.archive, failed.archive].sort());
    expect(r.orphans).toBe(1);
    expect(r.kept).toBe(2);

    // Short ids: restic 0.14's backup summary names a snapshot by its short id (and so do the `tar=` tags).
    const left = (JSON.parse((await plainRestic(repo, ['snapshots', '--no-lock', '--json'])).stdout) as Array<{ id: string }>).map((s) => s.id.slice(0, 8)).sort();
    expect(left).toEqual([...newestVerified.ids, ...recent.ids, ...freshOrphan.ids, ...otherHost.ids, ...foreign.ids].map((id) => id.slice(0, 8)).sort());
    for (const gone of [...oldVerified.ids, ...failed.ids, ...orphan.ids]) expect(left).not.toContain(gone.slice(0, 8));
    // Pruned: the data only the forgotten snapshots held (3 x 200 kB of random bytes) left the repository.
    expect(sizeBefore - (await size())).toBeGreaterThan(3 * 200_000 * 0.95);
    expect(r.repositoryBytes).toBe(await size());
    await plainRestic(repo, ['check']);
    expect(await readdir(join(repo, 'locks'))).toEqual([]);
  }, 180_000);
});
