/**
 * The backups folder on disk, through the backup activities: retention deletes
 * real files by what verification recorded, staging cleanup touches only what
 * the tool created, and killed verifications leave nothing behind.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createBackupActivities } from '../../src/activities/backup.js';
import { createMaintenanceBackupActivities } from '../../src/activities/maintenance/backups.js';
import { buildReport } from '../../src/common/report.js';
import { buildMonthlyReport } from '../../src/report/monthly.js';
import { MANIFEST_FORMAT, manifestPath, writeManifest, type BackupManifest } from '../../src/archive/manifest.js';
import { archiveName } from '../../src/common/archive-names.js';
import { STAGING_MARKER } from '../../src/archive/staging.js';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load.js';

let root: string;
let config: Config;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcp-backup-folder-'));
  const path = join(root, 'config.yaml');
  // Each run copies into its own staging folder (the copy kept between backups is test/activities/snapshot-mirror.test.ts).
  await writeFile(path, stringify({ paths: { installRoot: join(root, 'install') }, backup: { stagingDir: join(root, 'staging'), incrementalSnapshot: false }, retention: { days: 30, keepDaily: 2 } }));
  config = loadConfig({ path, env: {} });
  await mkdir(config.paths.backupDir, { recursive: true, mode: 0o700 });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const DAY = 86_400_000;

/** An archive file and its manifest, `days` old, with the verification verifyBackup would have recorded. */
/** `hour` o'clock UTC, `days` calendar days before today: whatever the time of day the test runs at. */
const dayAt = (days: number, hour: number) => {
  const d = new Date();
  d.setUTCHours(hour, 0, 0, 0);
  return new Date(d.getTime() - days * DAY);
};

async function putArchive(days: number | Date, verification: 'ok' | 'failed' | 'none', kind: BackupManifest['kind'] = 'backup'): Promise<string> {
  const at = days instanceof Date ? days : new Date(Math.floor((Date.now() - days * DAY) / 1000) * 1000);
  const name = archiveName(at);
  await writeFile(join(config.paths.backupDir, name), 'not really gzip', { mode: 0o600 });
  const manifest: BackupManifest = {
    format: MANIFEST_FORMAT,
    archive: name,
    sha256: '0'.repeat(64),
    bytes: 15,
    host: config.hostId,
    kind,
    createdAt: at.toISOString(),
    finishedAt: at.toISOString(),
    toolVersion: 'test',
    compressor: 'gzip',
    roots: [],
    totals: { entries: 0, bytes: 0 },
    downtime: [],
    ...(verification === 'none' ? {} : { verification: { verifiedAt: at.toISOString(), ok: verification === 'ok', problems: verification === 'ok' ? [] : ['sha256 mismatch'] } }),
  };
  await writeManifest(manifestPath(config.paths.backupDir, name), manifest);
  return name;
}

const onDisk = async () => (await readdir(config.paths.backupDir)).filter((f) => f.endsWith('.tar.gz')).sort();

describe('retention on the backups folder', () => {
  it('deletes by what verification recorded: a failed archive never takes a verified one\'s day', async () => {
    const recentFailed = await putArchive(1, 'failed');
    // On calendar days (not hours before now): run just after midnight, "40.2 days ago" and "41 days ago" were the same day.
    const d40ok = await putArchive(dayAt(40, 9), 'ok');
    const d40failed = await putArchive(dayAt(40, 12), 'failed'); // later the same day as d40ok: the slots are the same
    const d41ok = await putArchive(dayAt(41, 12), 'ok');
    const d42ok = await putArchive(dayAt(42, 12), 'ok');
    const d35none = await putArchive(dayAt(35, 12), 'none');
    const r = await createBackupActivities({ config }).applyRetention();
    // keepDaily 2 among verified: 40 and 41 days old. 35 is unverified and newer than the newest verified: kept.
    expect(await onDisk()).toEqual([d35none, d40ok, d41ok, recentFailed].sort());
    expect(r.removed.map((x) => x.archive).sort()).toEqual([d40failed, d42ok].sort());
    expect(existsSync(manifestPath(config.paths.backupDir, d40failed))).toBe(false);
    expect(r.kept.find((k) => k.archive === d40ok)?.why).toContain('newest verified backup');
  });

  it('keeps an old archive whose manifest exists but cannot be read: it is not "never verified"', async () => {
    await putArchive(1, 'ok');
    await putArchive(2, 'ok'); // with the one above, the two daily keepers (keepDaily: 2)
    const old = await putArchive(60, 'ok');
    const plain = await putArchive(61, 'ok');
    // A folder where the manifest should be: reading it fails with EISDIR, not ENOENT.
    await rm(manifestPath(config.paths.backupDir, old));
    await mkdir(manifestPath(config.paths.backupDir, old));
    const r = await createBackupActivities({ config }).applyRetention();
    expect(await onDisk()).toContain(old);
    expect(r.removed.map((x) => x.archive)).toEqual([plain]);
  });
});

describe('staging cleanup', () => {
  const old = async (...paths: string[]) => {
    const t = new Date(Date.now() - 3 * DAY);
    for (const p of paths) await utimes(p, t, t);
  };

  it('a backup\'s own staging folder carries the owner marker, and removeStaging removes it', async () => {
    await mkdir(join(config.paths.installRoot, 'memory_db'), { recursive: true });
    await writeFile(join(config.paths.installRoot, 'memory_db', 'memory.json'), '{}');
    const backups = createBackupActivities({ config });
    const plan = await backups.planBackup();
    const source = plan.sources.find((s) => s.mode === 'stop')!;
    await backups.snapshotSource({ source });
    expect(existsSync(join(plan.stagingDir, STAGING_MARKER))).toBe(true);
    expect(await backups.removeStaging({ stagingDir: plan.stagingDir })).toEqual({ removed: true });
    expect(existsSync(plan.stagingDir)).toBe(false);
  });

  it('deletes only what the tool created, however old the foreign entries in a shared staging folder are', async () => {
    const staging = config.backup.stagingDir;
    const ours = join(staging, 'mcp_backup_20200101_000000');
    const oursFresh = join(staging, 'mcp_backup_20200102_000000');
    const lookalike = join(staging, 'mcp_backup_20200103_000000'); // our name, no marker: not ours
    const foreignDir = join(staging, 'other-tool-cache');
    const foreignFile = join(staging, 'notes.txt');
    for (const d of [ours, oursFresh, lookalike, foreignDir]) await mkdir(join(d, 'root'), { recursive: true });
    for (const d of [ours, oursFresh]) await writeFile(join(d, STAGING_MARKER), '{}');
    await writeFile(join(lookalike, 'root', 'data'), 'someone else\'s');
    await writeFile(foreignFile, 'keep me');
    const ourPartial = join(config.paths.backupDir, 'mcp_backup_20200101_000000.tar.gz.partial');
    const foreignPartial = join(config.paths.backupDir, 'download.partial');
    await writeFile(ourPartial, 'half');
    await writeFile(foreignPartial, 'half');
    await old(join(ours, STAGING_MARKER), ours, lookalike, foreignDir, foreignFile, ourPartial, foreignPartial);

    const backups = createBackupActivities({ config });
    const r = await backups.applyRetention();
    expect(r.leftovers.sort()).toEqual([ours, ourPartial].sort());
    expect((await readdir(staging)).sort()).toEqual(['mcp_backup_20200102_000000', 'mcp_backup_20200103_000000', 'notes.txt', 'other-tool-cache']);
    expect(existsSync(foreignPartial)).toBe(true);

    // removeStaging, whatever path a workflow passes, removes only a folder of ours inside the staging folder.
    expect(await backups.removeStaging({ stagingDir: lookalike })).toEqual({ removed: false });
    expect(await backups.removeStaging({ stagingDir: foreignDir })).toEqual({ removed: false });
    expect(await backups.removeStaging({ stagingDir: config.paths.installRoot })).toEqual({ removed: false });
    expect(await backups.removeStaging({ stagingDir: oursFresh })).toEqual({ removed: true });
    expect((await readdir(staging)).sort()).toEqual(['mcp_backup_20200103_000000', 'notes.txt', 'other-tool-cache']);
  });
});

describe('a recovery\'s emergency archive is not a backup', () => {
  const status = () => createMaintenanceBackupActivities({ config, listBackups: createBackupActivities({ config }).listBackups }).backupStatus();

  it('daily\'s backup.status and the monthly report name the newest backup, not a newer emergency archive', async () => {
    const backup = await putArchive(0.5, 'ok');
    await putArchive(0.1, 'none', 'emergency');
    const f = await status();
    expect(f).toMatchObject({ status: 'ok', data: { count: 1, emergencyCount: 1, newest: backup } });
    expect(f.message).toContain('1 emergency archive');
    const report = buildReport({ runbook: 'monthlyMaintenance', hostId: config.hostId, startedAt: new Date(), finishedAt: new Date(), findings: [f] });
    expect(buildMonthlyReport(report, 'monthly-x').backups).toMatchObject({ status: 'ok', count: 1, latest: backup });
  });

  it('an emergency archive does not hide that the last backup is too old or failed verification', async () => {
    const stale = await putArchive(3, 'ok');
    await putArchive(0.1, 'ok', 'emergency');
    expect(await status()).toMatchObject({ status: 'warn', data: { newest: stale }, message: expect.stringContaining('older than 26 h') as unknown });
    await putArchive(0.5, 'failed');
    expect((await status()).message).toContain('its last verification failed');
  });

  it('with only emergency archives there is no backup', async () => {
    await putArchive(0.1, 'ok', 'emergency');
    expect(await status()).toMatchObject({ status: 'warn', data: { count: 0, emergencyCount: 1 } });
  });
});
