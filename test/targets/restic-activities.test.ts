/**
 * The restic activities against real repositories (restic 0.14): a backend
 * that does not answer is not "no repository", and a repository an attacker
 * wrote (a manifest that lies about the tar's size) is refused at the fetch,
 * leaving nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupActivities } from '../../src/activities/backup.js';
import { createOffsiteActivities } from '../../src/activities/offsite.js';
import type { Config, ResticTarget } from '../../src/config/config.js';
import { Secret } from '../../src/config/secret.js';
import { RESTIC_FAILURES, runRestic, ResticError } from '../../src/targets/restic.js';

let work: string;
let password: string;

const target = (repository: string, name = 'offsite'): ResticTarget => ({
  name,
  type: 'restic',
  location: repository,
  repository: new Secret(repository, 'config'),
  password: new Secret(password, 'file:/test'),
  env: {},
  options: {},
  checkReadDataSubset: '100%',
  retention: { days: 30 },
  repositoryId: 'test',
});

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
    const repo = join(work, 'repo');
    const t = target(repo);
    await runRestic(t, ['init']);
    const data = join(work, 'data');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'a.txt'), randomBytes(200_000));
    const backupDir = join(work, 'backups');
    const config = {
      hostId: 'h1',
      paths: { backupDir },
      backup: { sources: [{ mode: 'online', path: data }], stagingDir: join(backupDir, '.staging'), targets: [t], compression: { program: 'gzip', level: 1 } },
      retention: { days: 30 },
      activities: { stallSeconds: 300 },
    } as unknown as Config;
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
    const lie = join(work, 'lie.json');
    await writeFile(lie, JSON.stringify(manifest));
    await execa('restic', ['backup', '--stdin', '--stdin-filename', plan.archive.replace('.tar.gz', '.manifest.json'), '--host', 'h1', ...manifestSnap.tags.flatMap((x) => ['--tag', x])], {
      env: { RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: password, PATH: process.env.PATH ?? '', HOME: work },
      extendEnv: false,
      inputFile: lie,
    });

    const err = await offsite.fetchFromTarget({ target: 'offsite', archive: plan.archive, workflowId: 'wf-2' }).then(() => undefined, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain('holds more than the 1024 bytes its manifest says');
    expect(await readdir(join(backupDir, '.offsite')).catch(() => [])).toEqual([]);
  }, 120_000);
});
