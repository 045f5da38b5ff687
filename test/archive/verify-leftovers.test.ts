/**
 * A verification killed half way leaves its scratch folder (with a full copy of
 * each dump) in the backups folder; the next verification and the next host
 * worker remove it, and name what they removed. Real processes, real archive.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createBackupActivities } from '../../src/activities/backup.js';
import { verifyBackup } from '../../src/archive/verify.js';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load.js';
import { ownerTag } from '../../src/system/process-owner.js';
import { startTestHost } from '../helpers/host.js';

const CHILD = fileURLToPath(new URL('../fixtures/verify-child.mjs', import.meta.url));
let root: string;
let config: Config;
let archive: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcp-verify-leftovers-'));
  const path = join(root, 'config.yaml');
  await writeFile(path, stringify({ paths: { installRoot: join(root, 'install') } }));
  config = loadConfig({ path, env: {} });
  await mkdir(join(config.paths.installRoot, 'memory_db'), { recursive: true });
  await writeFile(join(config.paths.installRoot, 'memory_db', 'memory.json'), randomBytes(4 * 1024 * 1024));
  const backups = createBackupActivities({ config });
  const plan = await backups.planBackup();
  for (const source of plan.sources.filter((s) => s.mode === 'stop')) await backups.snapshotSource({ source });
  archive = (await backups.createArchive({ plan, workflowId: 'verify-leftovers', downtime: [] })).archive;
  await backups.removeStaging({ stagingDir: plan.stagingDir });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const scratch = async () => (await readdir(config.paths.backupDir)).filter((f) => f.startsWith('.verify-')).sort();

/** A verification in its own process, SIGKILLed half way; returns the scratch folder it left. */
async function killedVerification(): Promise<string> {
  const before = await scratch();
  const child = execa(process.execPath, [CHILD, config.paths.backupDir, archive], { reject: false, all: true });
  await new Promise<void>((resolve, reject) => {
    child.all.on('data', (b: Buffer) => b.toString().includes('mid-verification') && resolve());
    void child.then((r) => reject(new Error(`verify child ended before it was killed: ${r.all}`)));
  });
  child.kill('SIGKILL');
  await child;
  const left = (await scratch()).filter((f) => !before.includes(f));
  expect(left, 'the killed verification left its scratch folder').toHaveLength(1);
  expect(left[0]).toMatch(new RegExp(`^\\.verify-${child.pid}\\.\\d+-`));
  return join(config.paths.backupDir, left[0]!);
}

describe('scratch folders of killed verifications', () => {
  it('the next verification removes them and names them; a running one\'s and anything else stay', async () => {
    const dead = await killedVerification();
    const live = join(config.paths.backupDir, `.verify-${ownerTag()}-Abc123`); // this process: still running
    const unowned = join(config.paths.backupDir, '.verify-Xyz789'); // an older version's, two days old
    const file = join(config.paths.backupDir, '.verify-notes'); // not a folder
    await mkdir(live);
    await mkdir(unowned);
    await writeFile(file, 'x');
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await utimes(unowned, twoDaysAgo, twoDaysAgo);

    const outcome = await verifyBackup({ backupDir: config.paths.backupDir, archive });
    expect(outcome.status).toBe('ok');
    expect(outcome.leftoversRemoved?.sort()).toEqual([dead, unowned].sort());
    expect(existsSync(dead)).toBe(false);
    expect(await scratch()).toEqual(['.verify-notes', basename(live)].sort());
    await rm(live, { recursive: true });
  });

  it('a host worker removes them when it starts', async () => {
    const dead = await killedVerification();
    const host = await startTestHost({
      hostId: 'verify-leftovers',
      prepare: async (sbx) => {
        await mkdir(sbx.config.paths.backupDir, { recursive: true });
        // The sandbox's own backups folder gets the same leftover, moved over from the killed run.
        await rename(dead, join(sbx.config.paths.backupDir, basename(dead)));
      },
    });
    try {
      const moved = join(host.sbx.config.paths.backupDir, basename(dead));
      expect(host.worker.leftoversRemoved).toEqual([moved]);
      expect(existsSync(moved)).toBe(false);
    } finally {
      await host.close();
    }
  });
});
