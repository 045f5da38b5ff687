/**
 * The stop-mode snapshot copy kept between backups (`backup.incrementalSnapshot`),
 * through the backup activities on real files: the second backup copies only
 * what changed (a file rewritten with its size and mtime put back included),
 * hard links and planted folders cannot make it keep the wrong bytes, and it
 * holds only what the config still copies.
 */
import { existsSync } from 'node:fs';
import { chmod, chown, link, mkdir, mkdtemp, readFile, rename, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createBackupActivities, type PlannedSource } from '../../src/activities/backup.js';
import { MIRROR_CTIME_MARGIN_MS, MIRROR_FULL_COPY_EVERY_MS, MIRROR_MARKER, mirrorDir, staleStaging } from '../../src/archive/staging.js';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load.js';
import { treeHashes } from '../helpers/files.js';

let root: string;
let data: string;
let other: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcp-mirror-'));
  data = join(root, 'srv', 'memory_db');
  other = join(root, 'srv', 'memory_backups');
  await mkdir(join(data, 'sub'), { recursive: true });
  await mkdir(other, { recursive: true });
  for (let i = 0; i < 20; i++) await writeFile(join(data, i % 2 ? 'sub' : '', `f${i}.db`), `row ${i}\n`.repeat(100 + i));
  await writeFile(join(other, 'b.json'), '{}');
});
afterEach(() => rm(root, { recursive: true, force: true }));

async function configWith(opts: { incrementalSnapshot?: boolean; sources?: string[] } = {}): Promise<Config> {
  const incremental = opts.incrementalSnapshot ?? true;
  const sources = opts.sources ?? [data];
  const path = join(root, `config-${String(incremental)}-${sources.length}.yaml`);
  const doc = {
    hostId: 'mirror-host',
    paths: { installRoot: join(root, 'install') },
    services: [{ name: 'svc' }],
    backup: { stagingDir: join(root, 'staging'), incrementalSnapshot: incremental, sources: sources.map((p) => ({ mode: 'stop', path: p, services: ['svc'] })) },
  };
  await writeFile(path, stringify(doc));
  return loadConfig({ path, env: {} });
}

async function snapshot(config: Config, which = data): Promise<{ source: PlannedSource; files: number; reused: number; stagingDir: string }> {
  const acts = createBackupActivities({ config });
  const plan = await acts.planBackup();
  const source = plan.sources.find((s) => s.originalPath === which)!;
  const r = await acts.snapshotSource({ source });
  return { source, files: r.files, reused: r.reused, stagingDir: plan.stagingDir };
}

const mirrorOf = (config: Config) => mirrorDir(config.backup.stagingDir, 'mirror-host');
const recordOf = (config: Config, path: string) => join(mirrorOf(config), '.synced', `${Buffer.from(path.slice(1)).toString('hex')}.json`);

describe('incremental snapshot copy', () => {
  it('the second backup keeps unchanged files, copies changed, new and rewritten-in-place ones, removes deleted ones', async () => {
    const config = await configWith();
    await pastMargin();
    const first = await snapshot(config);
    expect(first.source.archiveFrom).toBe(join(mirrorOf(config), 'root', data.slice(1)));
    expect(first).toMatchObject({ files: 20, reused: 0 });
    expect(await treeHashes(first.source.archiveFrom)).toEqual(await treeHashes(data));

    // Same size and the old mtime put back: only the ctime says it changed.
    const sneaky = join(data, 'f2.db');
    const before = await stat(sneaky);
    await writeFile(sneaky, (await readFile(sneaky, 'utf8')).replace('row 2', 'ROW 2'));
    await utimes(sneaky, before.atime, before.mtime);
    await writeFile(join(data, 'sub', 'f3.db'), 'grown\n'.repeat(1000));
    await writeFile(join(data, 'new.db'), 'new\n');
    await unlink(join(data, 'f4.db'));

    const second = await snapshot(config);
    expect(second.source.archiveFrom).toBe(first.source.archiveFrom);
    // 20 - 1 deleted + 1 new; kept: all but the rewritten, the grown and the new one.
    expect(second).toMatchObject({ files: 20, reused: 17 });
    expect(await treeHashes(second.source.archiveFrom)).toEqual(await treeHashes(data));
    expect(await readFile(join(second.source.archiveFrom, 'f2.db'), 'utf8')).toContain('ROW 2');
    expect(existsSync(join(second.source.archiveFrom, 'f4.db'))).toBe(false);

    // The copy is not a run's staging folder: never removed as a stale one, whatever its age.
    expect(await staleStaging(config.backup.stagingDir, new Date(Date.now() + 30 * 86_400_000), 86_400_000)).toEqual([]);
  });

  it('hard links: a name replaced by a rename gets its new bytes, and the other name keeps its own', async () => {
    const config = await configWith();
    await writeFile(join(data, 'a.db'), 'AAAA-original\n');
    await link(join(data, 'a.db'), join(data, 'b.db'));
    await pastMargin();
    await snapshot(config);
    // An editor's save: a new file renamed over one of the two names.
    await writeFile(join(data, 'b.tmp'), 'BBBB-new-content\n');
    await rename(join(data, 'b.tmp'), join(data, 'b.db'));
    const second = await snapshot(config);
    expect(await readFile(join(second.source.archiveFrom, 'a.db'), 'utf8')).toBe('AAAA-original\n');
    expect(await readFile(join(second.source.archiveFrom, 'b.db'), 'utf8')).toBe('BBBB-new-content\n');
    expect(await treeHashes(second.source.archiveFrom)).toEqual(await treeHashes(data));
  });

  it('copies everything again when the record is from the future (clock set back) or the last whole copy is a week old', async () => {
    const config = await configWith();
    await pastMargin();
    await snapshot(config);
    const record = recordOf(config, data);
    const r = JSON.parse(await readFile(record, 'utf8')) as { startedAt: number; fullAt: number };
    await writeFile(record, JSON.stringify({ ...r, startedAt: Date.now() + 3_600_000 }));
    expect(await snapshot(config)).toMatchObject({ files: 20, reused: 0 });
    const now = Date.now();
    await writeFile(record, JSON.stringify({ archivePath: data.slice(1), startedAt: now - 60_000, fullAt: now - MIRROR_FULL_COPY_EVERY_MS - 60_000 }));
    expect(await snapshot(config)).toMatchObject({ files: 20, reused: 0 });
    // That copy was whole: the next one keeps what did not change.
    expect(await snapshot(config)).toMatchObject({ files: 20, reused: 20 });
  });

  it('a folder not made by this worker for this host is refused, naming why, and left as it is', async () => {
    const config = await configWith();
    const dir = mirrorOf(config);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, MIRROR_MARKER), JSON.stringify({ host: 'other-host' }));
    await expect(snapshot(config)).rejects.toThrow(`${dir} is not this host's snapshot copy (its marker names host other-host, this is mirror-host)`);
    await rm(dir, { recursive: true });

    // Planted where another local user could write: open mode, another owner, a link.
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o755);
    await expect(snapshot(config)).rejects.toThrow(`${dir} is not this worker's snapshot copy: its mode is 755, not 700`);
    await chmod(dir, 0o700);
    await chown(dir, 65534, 65534);
    await expect(snapshot(config)).rejects.toThrow(`${dir} is not this worker's snapshot copy: it is owned by uid 65534`);
    await rm(dir, { recursive: true });
    await mkdir(join(root, 'elsewhere'), { mode: 0o700 });
    await symlink(join(root, 'elsewhere'), dir);
    await expect(snapshot(config)).rejects.toThrow(`${dir} is not this worker's snapshot copy: it is not a folder (a link or a file)`);
    expect(existsSync(join(root, 'elsewhere', 'root'))).toBe(false);
  });

  it('two stop groups claiming a new copy at once both go on', async () => {
    const config = await configWith({ sources: [data, other] });
    const acts = createBackupActivities({ config });
    const plan = await acts.planBackup();
    const results = await Promise.all(plan.sources.map((source) => acts.snapshotSource({ source })));
    expect(results.map((r) => r.files)).toEqual([20, 1]);
  });

  it('holds only what the config still copies: a dropped folder loses its copy; incrementalSnapshot false removes it all', async () => {
    const both = await configWith({ sources: [data, other] });
    await snapshot(both, other);
    await snapshot(both, data);
    const otherCopy = join(mirrorOf(both), 'root', other.slice(1));
    expect(existsSync(otherCopy)).toBe(true);
    await createBackupActivities({ config: await configWith({ sources: [data] }) }).planBackup();
    expect(existsSync(otherCopy)).toBe(false);
    expect(existsSync(recordOf(both, other))).toBe(false);
    expect(existsSync(join(mirrorOf(both), 'root', data.slice(1), 'f0.db'))).toBe(true);

    const off = await configWith({ incrementalSnapshot: false });
    const run = await snapshot(off);
    expect(existsSync(mirrorOf(off))).toBe(false);
    expect(run.source.archiveFrom.startsWith(`${run.stagingDir}/`)).toBe(true);
    expect(run).toMatchObject({ files: 20, reused: 0 });
    expect(await createBackupActivities({ config: off }).removeStaging({ stagingDir: run.stagingDir })).toEqual({ removed: true });
  });
});

/**
 * Waits out the ctime margin: files written before this are older than the bound of any update
 * that starts after it (MIRROR_CTIME_MARGIN_MS).
 */
const pastMargin = () => new Promise((r) => setTimeout(r, MIRROR_CTIME_MARGIN_MS + 100));
