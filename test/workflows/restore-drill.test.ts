/**
 * Restore drills on the real dev server, real sandbox services, real files and
 * the real PostgreSQL: a good backup passes and reports its restore time; an
 * archive altered after its verification (a file's bytes changed, recompressed,
 * checksum fixed) fails naming that file; a dump whose rows do not match its
 * recorded counts fails naming the table; scratch folders and the scratch
 * database are gone after success, failure and cancellation; the live services
 * were never stopped (their pids are unchanged) and the live folders untouched.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDrillActivities } from '../../src/activities/drill.js';
import { manifestPath, readManifest, writeManifest } from '../../src/archive/manifest.js';
import { withPgClient } from '../../src/postgres/client.js';
import type { BackupResult, RestoreDrillResult } from '../../src/workflows/index.js';
import { runCli } from '../helpers/cli.js';
import { treesOf } from '../helpers/files.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { assertReplays, pollUntil, resultWithin } from '../helpers/temporal.js';

const HOST = 'drill-host';
let host: TestHost;
let scratch: string;
let validateLog: string;
let slowMarker: string;
let folders: string[];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'mcp-drill-test-'));
  validateLog = join(scratch, 'validate.log');
  slowMarker = join(scratch, 'slow');
  // The drill's validate command: records what it was given, sleeps while the marker exists (the cancel case),
  // and passes only when the restored memory folder is where {root} says.
  const script = join(scratch, 'validate.mjs');
  await writeFile(
    script,
    [
      "import { appendFileSync, existsSync, readdirSync } from 'node:fs';",
      'const [root, database] = process.argv.slice(2);',
      `appendFileSync(${JSON.stringify(validateLog)}, JSON.stringify({ root, database, env: process.env.MCP_DRILL_ROOT }) + '\\n');`,
      `if (existsSync(${JSON.stringify(slowMarker)})) await new Promise((r) => setTimeout(r, 120000));`,
      'process.exit(readdirSync(root, { recursive: true }).some((p) => String(p).endsWith("memory_db")) ? 0 : 3);',
    ].join('\n'),
  );
  host = await startTestHost({ hostId: HOST, extra: { recovery: { drillValidateCommand: [process.execPath, script, '{root}', '{database}'] } } });
  folders = host.sbx.config.backup.sources.flatMap((s) => (s.mode === 'pg_dump' ? [] : [s.path]));
}, 120_000);
afterAll(async () => {
  await host?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const handles: WorkflowHandle[] = [];
async function start(type: string, input: unknown, tag: string): Promise<WorkflowHandle> {
  const handle = await host.client.workflow.start(type, { taskQueue: host.sbx.config.temporal.taskQueue, workflowId: `drill-${tag}-${Date.now()}`, args: [input] });
  handles.push(handle);
  return handle;
}

const pids = async () => {
  const runDir = join(host.sbx.config.sandbox!.root, 'run');
  const out: Record<string, string> = {};
  for (const f of (await readdir(runDir)).filter((n) => n.endsWith('.pid')).sort()) out[f] = (await readFile(join(runDir, f), 'utf8')).trim();
  return out;
};
const drillDir = () => join(host.sbx.config.paths.backupDir, '.drill');
const scratchDatabases = () =>
  withPgClient(host.sbx.config.postgres!, async (c) => (await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE '%\\_drill\\_%'")).rows.map((r) => r.datname), { database: 'postgres' });
async function expectNoScratch(): Promise<void> {
  expect(existsSync(drillDir()) ? await readdir(drillDir()) : []).toEqual([]);
  expect((await scratchDatabases()).filter((d) => d.startsWith(host.sbx.config.postgres!.database))).toEqual([]);
}

let archive: string;

describe('restoreDrill', () => {
  it('a good backup passes: every file and table checked, the restore time reported, scratch copies gone, live services and folders untouched', async () => {
    const b = (await resultWithin<BackupResult>(await start('backup', { hostId: HOST }, 'backup'), 120_000));
    archive = b.archive!.archive;
    const manifest = await readManifest(manifestPath(host.sbx.config.paths.backupDir, archive));
    // Every folder file and the dump file itself.
    const digests = manifest.roots.reduce((n, r) => n + Object.keys(r.files ?? {}).length, 0);
    expect(digests).toBeGreaterThan(5);
    expect(manifest.roots.find((r) => r.kind === 'pg_dump')?.tables).toMatchObject({ 'public.mcp_events': expect.any(Number) });
    // The database's size as dumped, for the free-space checks of a drill or a recovery of it.
    expect(manifest.roots.find((r) => r.kind === 'pg_dump')?.databaseBytes).toBeGreaterThan(1_000_000);

    const pidsBefore = await pids();
    const trees = await treesOf(folders);
    const r = await resultWithin<RestoreDrillResult>(await start('restoreDrill', { hostId: HOST }, 'good'), 120_000);
    expect(r.archive).toBe(archive);
    expect(r.target).toBe('archive');
    expect(r.mismatches).toEqual([]);
    expect(r.restoreSeconds).toBeGreaterThan(0);
    expect(r.findings.filter((f) => f.status !== 'ok')).toEqual([]);
    expect(r.findings.find((f) => f.check === 'drill.files')?.message).toBe(`all ${digests} files match their sha256 in the manifest`);
    expect(r.findings.find((f) => f.check === 'drill.database')?.status).toBe('ok');
    // The validate command ran against the scratch copy, not the live folders.
    const ran = (await readFile(validateLog, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { root: string; database: string; env: string });
    expect(ran.at(-1)!.root.startsWith(join(drillDir(), ''))).toBe(true);
    expect(ran.at(-1)!.env).toBe(ran.at(-1)!.root);
    expect(ran.at(-1)!.database).toMatch(new RegExp(`^${host.sbx.config.postgres!.database}_drill_[0-9a-f]{8}$`));
    await expectNoScratch();
    expect(await pids()).toEqual(pidsBefore);
    expect(await treesOf(folders)).toEqual(trees);
    // The metrics: the drill's target and its measured restore time.
    const m = host.worker.registry;
    expect((await m.drillRestoreSeconds.get()).values.find((v) => v.labels.host === HOST && v.labels.target === 'archive')?.value).toBe(r.restoreSeconds);
    expect((await m.drillLastSuccess.get()).values.find((v) => v.labels.host === HOST && v.labels.target === 'archive')?.value).toBeGreaterThan(0);
  }, 300_000);

  it('mcp-runbooks run restore-drill (a subprocess) drills the named backup and prints the restore time; a flag it does not take is refused', async () => {
    const cli = (...args: string[]) => runCli(['--config', host.sbx.configPath, ...args]);
    const ok = await cli('run', 'restore-drill', '--backup', archive);
    expect(ok.exitCode, ok.all).toBe(0);
    expect(ok.stdout).toContain(`drilled: ${archive} from archive: `);
    expect(ok.stdout).toMatch(/restore took \d+(\.\d)?s \(extract \d+(\.\d)?s, database \d+(\.\d)?s\)/);
    const refused = await cli('run', 'restore-drill', '--service', 'mcp-memory');
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('--service does not apply to restore-drill');
    await expectNoScratch();
  }, 300_000);

  it('a scratch copy that would not fit is refused before anything is written, naming the bytes needed and available', async () => {
    const config = { ...host.sbx.config, recovery: { ...host.sbx.config.recovery, freeSpaceMarginPercent: 1e12 } };
    const acts = createDrillActivities({ config });
    await expect(acts.inspectDrill({ archive, workflowId: 'drill-space', runId: 'drill-space-run' })).rejects.toThrow(
      new RegExp(`refusing to restore ${archive.replaceAll('.', '\\.')}: the scratch copy does not fit: \\d+ bytes needed on the filesystem of ${host.sbx.config.paths.backupDir.replaceAll('/', '\\/')}.*, \\d+ available`),
    );
    await expectNoScratch();
  });

  it("the space needed counts the scratch database and its restore's WAL on PostgreSQL's disks (wherever they are)", async () => {
    const acts = createDrillActivities({ config: host.sbx.config });
    const plan = await acts.inspectDrill({ archive, workflowId: 'drill-space2', runId: 'drill-space2-run' });
    const pg = await withPgClient(host.sbx.config.postgres!, async (c) => (await c.query<{ dir: string; wal: string }>("SELECT current_setting('data_directory') AS dir, pg_size_bytes(current_setting('max_wal_size'))::text AS wal")).rows[0]!);
    const manifest = await readManifest(manifestPath(host.sbx.config.paths.backupDir, archive));
    const dumped = manifest.roots.find((r) => r.kind === 'pg_dump')!;
    const margin = 1 + host.sbx.config.recovery.freeSpaceMarginPercent / 100;
    const here = (await stat(host.sbx.config.paths.backupDir)).dev;
    // What lands on the backups folder's file system: the files, plus the scratch database and its WAL where PostgreSQL keeps them there.
    let expected = Math.ceil((plan.roots.reduce((n, r) => n + r.bytes, 0) + dumped.bytes + plan.inspected.bytes) * margin);
    if ((await stat(pg.dir)).dev === here) expected += Math.ceil(dumped.databaseBytes! * margin);
    if ((await stat(join(pg.dir, 'pg_wal'))).dev === here) expected += Math.ceil(Math.min(Number(pg.wal), dumped.databaseBytes!) * margin);
    expect(plan.space.neededBytes).toBe(expected);
    expect(plan.databaseSpaceUnchecked).toBeUndefined();
    await expectNoScratch();
  });

  it('an archive altered after its verification (one file changed, recompressed, checksum fixed) fails naming that file; nothing is left', async () => {
    const dir = host.sbx.config.paths.backupDir;
    const altered = archive.replace(/_(\d{6})\.tar\.gz$/, (_m, t: string) => `_${String((Number(t) + 1) % 1_000_000).padStart(6, '0')}.tar.gz`);
    const work = await mkdtemp(join(scratch, 'alter-'));
    await execa('tar', ['-xzf', join(dir, archive), '-C', work]);
    const manifest = await readManifest(manifestPath(dir, archive));
    const memory = manifest.roots.find((r) => r.originalPath?.endsWith('memory_db'))!;
    const [victim] = Object.keys(memory.files!).filter((p) => p.endsWith('.json'));
    const bytes = await readFile(join(work, victim!));
    bytes[0] = bytes[0] === 0x41 ? 0x42 : 0x41; // same size, different bytes: the listing still matches
    await writeFile(join(work, victim!), bytes);
    // Repacked from the roots themselves (no parent folders: those would be entries outside every root).
    await execa('tar', ['-czf', join(dir, altered), '-C', work, ...manifest.roots.map((r) => r.archivePath)]);
    const sha = createHash('sha256').update(await readFile(join(dir, altered))).digest('hex');
    await writeManifest(manifestPath(dir, altered), { ...manifest, archive: altered, sha256: sha, bytes: (await stat(join(dir, altered))).size });

    try {
      const pidsBefore = await pids();
      const failed = resultWithin(await start('restoreDrill', { hostId: HOST, backup: altered }, 'altered'), 120_000);
      const cause = (await failed.then(
        () => undefined,
        (e: WorkflowFailedError) => e.cause,
      )) as { type?: string; message: string; details?: Array<{ mismatches?: string[] }> } | undefined;
      expect(cause?.message).toContain(`/${victim}: restored bytes differ from the backup's sha256`);
      expect(cause?.type).toBe('RestoreDrillFailed');
      expect(cause?.details?.[0]?.mismatches).toEqual([`/${victim}: restored bytes differ from the backup's sha256`]);
      await expectNoScratch();
      expect(await pids()).toEqual(pidsBefore);
    } finally {
      await rm(join(dir, altered), { force: true });
      await rm(manifestPath(dir, altered), { force: true });
    }
  }, 300_000);

  it('a dump whose restored rows differ from the counts taken with it fails naming the table', async () => {
    const dir = host.sbx.config.paths.backupDir;
    const path = manifestPath(dir, archive);
    const original = await readManifest(path);
    const tables = original.roots.find((r) => r.kind === 'pg_dump')!.tables!;
    const rows = tables['public.mcp_events']!;
    // The counts say one row more than the dump holds: as if the dump had lost a row.
    await writeManifest(path, { ...original, roots: original.roots.map((r) => (r.kind === 'pg_dump' ? { ...r, tables: { ...tables, 'public.mcp_events': rows + 1 } } : r)) });
    try {
      const failed = resultWithin(await start('restoreDrill', { hostId: HOST, backup: archive }, 'rows'), 120_000);
      const cause = await failed.then(
        () => undefined,
        (e: WorkflowFailedError) => e.cause as { type?: string; message: string },
      );
      expect(cause?.type).toBe('RestoreDrillFailed');
      expect(cause?.message).toContain(`public.mcp_events: ${rows} rows restored, ${rows + 1} in the dump's snapshot`);
      await expectNoScratch();
    } finally {
      await writeManifest(path, original);
    }
  }, 300_000);

  it('a cancelled drill removes its scratch folder and database', async () => {
    await writeFile(slowMarker, '');
    const validated = async () => (await readFile(validateLog, 'utf8')).trim().split('\n').length;
    const before = await validated();
    try {
      const handle = await start('restoreDrill', { hostId: HOST }, 'cancel');
      // The validate command sleeps: the scratch copies exist until the cancel.
      await pollUntil('the drill\'s scratch database exists', scratchDatabases, (dbs) => dbs.some((d) => d.startsWith(`${host.sbx.config.postgres!.database}_drill_`)), { timeoutMs: 90_000 });
      await pollUntil('the validate command running', validated, (n) => n === before + 1, { timeoutMs: 30_000 });
      expect((await readdir(drillDir())).length).toBe(1);
      await handle.cancel();
      await expect(resultWithin(handle, 90_000)).rejects.toBeInstanceOf(WorkflowFailedError);
      await expectNoScratch();
    } finally {
      await rm(slowMarker, { force: true });
    }
    await assertReplays(...handles);
  }, 300_000);
});
