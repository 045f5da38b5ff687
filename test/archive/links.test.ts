/**
 * Links judged by where they really lead: the pure resolver, and the scan and the
 * extraction (each on its own) refusing a crafted archive on real files.
 */
import { lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractRoots } from '../../src/archive/extract.js';
import { resolveThroughLinks } from '../../src/archive/listing.js';
import { readManifest } from '../../src/archive/manifest.js';
import { scanArchive } from '../../src/archive/scan.js';
import { writeCraftedArchive, type CraftedEntry } from '../helpers/crafted-archive.js';

describe('resolveThroughLinks', () => {
  const links = new Map([
    ['r/sub/a', '..'],
    ['r/esc', 'sub/a/..'],
    ['r/in', 'sub'],
    ['r/loop1', 'loop2'],
    ['r/loop2', 'loop1'],
    ['r/abs', '/etc'],
  ]);
  it.each([
    ['r/sub/x', 'r/sub/x'],
    ['r/sub/a', 'r'],
    ['r/esc', ''], // r/sub/a/.. is r/.. : the archive's top, outside root r
    ['r/esc/outside', 'outside'],
    ['r/in/x', 'r/sub/x'],
    ['r/sub/a/../..', undefined], // above the archive's top
    ['r/loop1', undefined],
    ['r/abs/passwd', undefined],
    ['r/./sub//x', 'r/sub/x'],
  ])('%s -> %s', (path, expected) => {
    expect(resolveThroughLinks(path, links)).toBe(expected);
  });
});

describe('a symlink chain and a hard link through it', () => {
  let dir: string;
  const root = 'srv/data';
  const chain: CraftedEntry[] = [
    { path: `${root}/`, type: 'Directory' },
    { path: `${root}/sub/`, type: 'Directory' },
    { path: `${root}/sub/a`, type: 'SymbolicLink', linkpath: '..' },
    { path: `${root}/esc`, type: 'SymbolicLink', linkpath: 'sub/a/..' },
    { path: `${root}/h`, type: 'Link', linkpath: `${root}/esc/outside-secret.txt` },
  ];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-links-'));
    await writeCraftedArchive(dir, 'chain.tar.gz', [{ archivePath: root, originalPath: `/${root}` }], chain);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('the scan refuses the chain and the hard link, though each is spelled inside the root', async () => {
    const manifest = await readManifest(join(dir, 'chain.tar.gz.manifest.json'));
    const scan = await scanArchive({ archivePath: join(dir, 'chain.tar.gz'), manifest });
    expect(scan.problems).toEqual([]);
    expect(scan.unsafe).toEqual([
      `symlink "${root}/esc" -> "sub/a/.." leads outside its root ${root} through the archive's other symlinks`,
      `hard link "${root}/h" -> "${root}/esc/outside-secret.txt" goes through a symlink ("${root}/esc")`,
    ]);
  });

  it('the extraction on its own refuses the chain at its first link, writes nothing outside staging and removes staging', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'outside-secret.txt'), 'secret');
    const staging = join(dir, 'staging');
    const r = await extractRoots({ archivePath: join(dir, 'chain.tar.gz'), targets: [{ archivePath: root, destination: staging, kind: 'folder' }] });
    expect(r.refused).toEqual([`symlink "${root}/esc" -> "sub/a/.." leads outside its root ${root} through the archive's other symlinks`]);
    expect((await lstat(join(outside, 'outside-secret.txt'))).nlink).toBe(1);
    expect((await readdir(dir)).sort()).toEqual(['chain.tar.gz', 'chain.tar.gz.manifest.json', 'outside']);
  });
});
