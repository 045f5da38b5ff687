/** The folder check on real folders: what it finds, as root (which the tests run as) and in general. */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFolder } from '../../src/doctor/folders.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-folders-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const folder = (path: string) => ({ check: 'folders.backupDir', field: 'paths.backupDir', path });

describe('a managed folder', () => {
  it('an existing folder is written to for real, and the probe leaves nothing behind', async () => {
    const path = join(dir, 'backups');
    await mkdir(path);
    expect(await checkFolder(folder(path), 'root')).toEqual({ check: 'folders.backupDir', status: 'ok', message: `${path} is writable by root` });
    expect(await readdir(path)).toEqual([]);
  });

  it('a missing folder under a writable one is ok: it is created when needed', async () => {
    const path = join(dir, 'a', 'b', 'c');
    expect((await checkFolder(folder(path), 'root')).message).toBe(`${path} does not exist yet; root can create it in ${dir}`);
  });

  it('a file where the folder should be, or in its path, fails for root too', async () => {
    const file = join(dir, 'file');
    await writeFile(file, '');
    expect(await checkFolder(folder(file), 'root')).toMatchObject({ status: 'fail', message: `${file} is a file, not a folder (paths.backupDir)` });
    expect(await checkFolder(folder(join(file, 'backups')), 'root')).toMatchObject({ status: 'fail', message: `${join(file, 'backups')} cannot be a folder: a part of that path is a file` });
  });
});
