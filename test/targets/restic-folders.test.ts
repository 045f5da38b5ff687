/**
 * A restic target with layout `folders`, on a real local repository and real
 * files, through the offsite activities: restic reads the snapshot copy at the
 * folder's original path (a private mount namespace: the test runs as root, as
 * CI does), a second night stores only what changed, and a restore is packed
 * from what `restic restore` gives back and checked against the manifest
 * before anything else reads it. The repository is the attacker's: a manifest
 * that lies about a file, a root that is a symlink in the snapshot, a snapshot
 * that holds more than its manifest are all refused, leaving nothing behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupActivities } from '../../src/activities/backup.js';
import { createOffsiteActivities } from '../../src/activities/offsite.js';
import type { FoldersManifest } from '../../src/activities/offsite-folders.js';
import type { Config, ResticTarget } from '../../src/config/config.js';
import { runRestic } from '../../src/targets/restic.js';
import { manifestPath, readManifest } from '../../src/archive/manifest.js';
import { manifestName } from '../../src/common/archive-names.js';
import { layoutFor } from '../../src/targets/layout.js';
import { resolvedResticTarget } from '../helpers/offsite.js';

let work: string;
let password: string;

const target = (repository: string, layout: ResticTarget['layout'] = 'folders'): ResticTarget => resolvedResticTarget(repository, password, layout);

/** A host with one online folder of 40 files, a symlink and a hard link, and the restic target `t`. */
async function hostOf(t: ResticTarget, dir: string): Promise<{ config: Config; data: string }> {
  const data = join(dir, 'srv', 'data');
  await mkdir(join(data, 'sub'), { recursive: true });
  for (let i = 0; i < 40; i++) await writeFile(join(data, 'sub', `f${i}.bin`), randomBytes(20_000 + i));
  await symlink('sub/f1.bin', join(data, 'latest'));
  await execa('ln', [join(data, 'sub', 'f2.bin'), join(data, 'f2-again.bin')]);
  // Older than the snapshot copy's ctime margin (2 s) when the first backup starts: a file written in the
  // same seconds as a copy is copied again the next night, whatever it holds.
  await new Promise((r) => setTimeout(r, 2100));
  const backupDir = join(dir, 'backups');
  const config = {
    hostId: 'h1',
    paths: { backupDir },
    backup: { sources: [{ mode: 'online', path: data }], stagingDir: join(backupDir, '.staging'), incrementalSnapshot: true, targets: [t], compression: { program: 'gzip', level: 1 } },
    retention: { days: 30 },
    activities: { stallSeconds: 300 },
  } as unknown as Config;
  return { config, data };
}

const snapshotsOf = async (t: ResticTarget) => JSON.parse((await runRestic(t, ['snapshots', '--json'])).stdout) as Array<{ id: string; tags: string[]; paths: string[] }>;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Everything under `dir` as relative path -> content hash (files) or link target. */
async function contents(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath, e.name);
    const rel = p.slice(dir.length + 1);
    if (e.isFile()) out[rel] = sha(await readFile(p));
    else if (e.isSymbolicLink()) out[rel] = `-> ${(await execa('readlink', [p])).stdout}`;
    else if (e.isDirectory()) out[rel] = 'dir';
  }
  return out;
}

/**
 * Replaces the backup's snapshot with one plain restic makes of `paths` (as the attacker, who has the
 * password, can), with the manifest `m` beside them under its name and the original's tags.
 */
async function forge(t: ResticTarget, dir: string, m: FoldersManifest, paths: string[]): Promise<void> {
  const [original] = (await snapshotsOf(t)).filter((s) => s.tags.includes('part=folders'));
  const forged = join(dir, `forged-${randomBytes(3).toString('hex')}`);
  await mkdir(forged);
  await writeFile(join(forged, 'mcp-runbooks-manifest.json'), JSON.stringify(m));
  await runRestic(t, ['forget', '--', original!.id]);
  await runRestic(t, ['backup', '--host', 'h1', ...original!.tags.flatMap((x) => ['--tag', x]), '--', ...paths, join(forged, 'mcp-runbooks-manifest.json')]);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcp-restic-folders-'));
  password = randomBytes(16).toString('hex');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function backedUp(name: string) {
  const dir = join(work, name);
  const t = target(join(dir, 'repo'));
  await runRestic(t, ['init']);
  const { config, data } = await hostOf(t, dir);
  const offsite = createOffsiteActivities({ config });
  const backup = async (workflowId: string) => {
    const plan = await createBackupActivities({ config }).planBackup();
    return { plan, stored: await offsite.resticBackup({ plan, target: 'offsite', workflowId, downtime: [] }) };
  };
  const first = await backup('wf-1');
  const manifest = JSON.parse((await runRestic(t, ['dump', '--', first.stored.snapshotId, (await snapshotsOf(t))[0]!.paths.find((p) => p.endsWith('/mcp-runbooks-manifest.json'))!])).stdout) as FoldersManifest;
  return { dir, t, config, data, offsite, backup, first, manifest };
}

describe('layout folders', () => {
  it('stores the folder at its original path without touching it, a second night only what changed, and restores it checked entry for entry', async () => {
    const { t, data, offsite, backup, first } = await backedUp('round-trip');
    const before = await contents(data);
    const inode = (await stat(join(data, 'sub', 'f3.bin'))).ino;
    expect(first.stored).toMatchObject({ layout: 'folders', reused: false, files: { new: 42, changed: 0, unmodified: 0 } });
    const [snap] = await snapshotsOf(t);
    expect(snap!.tags).toEqual(expect.arrayContaining(['mcp-runbooks', `archive=${first.plan.archive}`, 'part=folders', 'workflow=wf-1']));
    expect(snap!.paths).toContain(data);
    // The live folder was only read: same files, same inodes, and no mount of ours is left on this host.
    expect(await contents(data)).toEqual(before);
    expect((await stat(join(data, 'sub', 'f3.bin'))).ino).toBe(inode);
    expect(await readFile('/proc/self/mounts', 'utf8')).not.toContain(data);

    // A night later: one file rewritten, one added. restic reads only those, the manifest, and the two names
    // of the hard-linked file (the snapshot copy makes a hard-linked file again every night; restic finds its data stored).
    await writeFile(join(data, 'sub', 'f5.bin'), randomBytes(20_005));
    await writeFile(join(data, 'new.txt'), 'new\n');
    const second = await backup('wf-2');
    expect(second.stored.files).toEqual({ new: 1, changed: 4, unmodified: 38 });
    expect(second.stored.dataAdded).toBeLessThan(first.stored.dataAdded / 5);
    const after = await contents(data);

    // A retry of the same run finds the backup stored and stores nothing.
    expect((await offsite.resticBackup({ plan: second.plan, target: 'offsite', workflowId: 'wf-2', downtime: [] })).reused).toBe(true);
    expect(await snapshotsOf(t)).toHaveLength(2);

    // The manifest compared with what restic holds: counts and bytes match.
    expect(await offsite.resticVerify({ target: 'offsite', archive: second.plan.archive })).toMatchObject({ ok: true, problems: [] });

    // Fetched: a plain tar and its manifest, which the tar matches; extracted, it is the folder as it was.
    const fetched = await offsite.fetchFromTarget({ target: 'offsite', archive: second.plan.archive, workflowId: 'wf-3' });
    const tarFile = join(fetched.dir, second.plan.archive);
    const m = await readManifest(manifestPath(fetched.dir, second.plan.archive));
    expect(m).toMatchObject({ compressor: 'none', bytes: (await stat(tarFile)).size, sha256: sha(await readFile(tarFile)) });
    expect((await readdir(fetched.dir)).sort()).toEqual([second.plan.archive, manifestName(second.plan.archive)].sort());
    const out = join(work, 'round-trip', 'extracted');
    await mkdir(out);
    await execa('tar', ['-xf', tarFile, '-C', out]);
    expect(await contents(join(out, data.slice(1)))).toEqual(after);
    expect((await lstat(join(out, data.slice(1), 'latest'))).isSymbolicLink()).toBe(true);
    expect((await stat(join(out, data.slice(1), 'f2-again.bin'))).ino).toBe((await stat(join(out, data.slice(1), 'sub', 'f2.bin'))).ino);
    await offsite.removeFetched({ dir: fetched.dir });
  }, 120_000);

  it('a manifest that lies about one file: the fetch is refused naming it, and leaves nothing', async () => {
    const { dir, t, config, data, offsite, first, manifest } = await backedUp('lying-file');
    const root = manifest.roots[0]!;
    const victim = Object.keys(root.files!)[3]!;
    root.files![victim] = '0'.repeat(64);
    await forge(t, dir, manifest, [data]);
    const err = await offsite.fetchFromTarget({ target: 'offsite', archive: first.plan.archive, workflowId: 'wf-x' }).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toContain(`refusing to restore ${first.plan.archive} from target offsite: ${victim} in the snapshot does not match its manifest's sha256`);
    expect(await readdir(join(config.paths.backupDir, '.offsite')).catch(() => [])).toEqual([]);
  }, 120_000);

  it('a root that is a symlink in the snapshot (to the host\'s /etc): refused before anything is packed from it', async () => {
    const { dir, t, config, data, offsite, first, manifest } = await backedUp('symlink-root');
    // The attacker's snapshot holds a link to /etc where the folder should be.
    await rename(data, `${data}.away`);
    await symlink('/etc', data);
    try {
      await forge(t, dir, manifest, [data]);
    } finally {
      await rm(data);
      await rename(`${data}.away`, data);
    }
    const err = await offsite.fetchFromTarget({ target: 'offsite', archive: first.plan.archive, workflowId: 'wf-x' }).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toContain(`${data.slice(1)} on the way to root ${manifest.roots[0]!.archivePath} is a symbolic link in the snapshot`);
    expect(await readdir(join(config.paths.backupDir, '.offsite')).catch(() => [])).toEqual([]);
  }, 120_000);

  it('a manifest that puts a folder anywhere but its own path, or has no file sha256s: refused as unreadable', async () => {
    const { dir, t, offsite, first, manifest } = await backedUp('elsewhere');
    const other = join(dir, 'elsewhere');
    await mkdir(other);
    const moved = structuredClone(manifest);
    moved.stored.paths[manifest.roots[0]!.archivePath] = other;
    await forge(t, dir, moved, [other]);
    const err = await offsite.fetchFromTarget({ target: 'offsite', archive: first.plan.archive, workflowId: 'wf-x' }).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toContain(`root ${manifest.roots[0]!.archivePath} is said to be at ${other} in the snapshot, not at its own path`);
    const bare = structuredClone(manifest);
    delete bare.roots[0]!.files;
    await forge(t, dir, bare, [`/${manifest.roots[0]!.archivePath}`]);
    const err2 = await offsite.fetchFromTarget({ target: 'offsite', archive: first.plan.archive, workflowId: 'wf-x' }).then(() => undefined, (e: unknown) => e as Error);
    expect(err2?.message).toContain(`root ${manifest.roots[0]!.archivePath} lists no file sha256s`);
  }, 120_000);

  it('a snapshot that holds a file its manifest does not list: verify names it, and the fetch is refused', async () => {
    const { dir, t, config, data, offsite, first, manifest } = await backedUp('extra-file');
    await writeFile(join(data, 'planted.sh'), '#!/bin/sh\n');
    await forge(t, dir, manifest, [data]);
    const v = await offsite.resticVerify({ target: 'offsite', archive: first.plan.archive });
    expect(v.ok).toBe(false);
    expect(v.problems.join('; ')).toContain(`${manifest.roots[0]!.archivePath} holds 42 files, 2 folders, 1 symlinks in snapshot`);
    const err = await offsite.fetchFromTarget({ target: 'offsite', archive: first.plan.archive, workflowId: 'wf-x' }).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/root .* holds 41 files, 2 folders, 1 symlinks, 1 hard links in the snapshot; its manifest says 40, 2, 1, 1/);
    expect(await readdir(join(config.paths.backupDir, '.offsite')).catch(() => [])).toEqual([]);
  }, 120_000);

  it('a manifest whose root paths climb out (`..`) is refused as unreadable, and nothing is restored', async () => {
    const { dir, t, data, offsite, first, manifest } = await backedUp('climbing');
    manifest.stored.paths[manifest.roots[0]!.archivePath] = `${data}/../../..`;
    await forge(t, dir, manifest, [data]);
    const err = await offsite.fetchFromTarget({ target: 'offsite', archive: first.plan.archive, workflowId: 'wf-x' }).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toContain('has no plain absolute path in the snapshot');
  }, 120_000);
});

describe('layoutFor', () => {
  it('auto is folders where the worker can; folders without the snapshot copy kept between backups fails naming why; tar is tar', async () => {
    const config = { backup: { incrementalSnapshot: true, sources: [], targets: [] } } as unknown as Config;
    expect(await layoutFor(config, target('/r', 'auto'))).toBe('folders');
    expect(await layoutFor(config, target('/r', 'tar'))).toBe('tar');
    const off = { backup: { incrementalSnapshot: false, sources: [], targets: [] } } as unknown as Config;
    expect(await layoutFor(off, target('/r', 'auto'))).toBe('tar');
    await expect(layoutFor(off, target('/r', 'folders'))).rejects.toThrow('target offsite has layout folders, but backup.incrementalSnapshot is false');
  });
});
