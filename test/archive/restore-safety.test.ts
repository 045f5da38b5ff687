/**
 * Nothing is ever written outside a staging root, whatever the archive holds: the
 * red team's hard link to an in-root symlink, archives swapped after inspection
 * (renamed over, rewritten in place), archives beyond the inspected counts, bombs
 * with honest manifests, and links where the archive or manifest should be. Real
 * files and archives; each case also searches the filesystem for its marker.
 */
import { randomUUID } from 'node:crypto';
import { open, lstat, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractRoots, type InspectedArchive } from '../../src/archive/extract.js';
import { readManifest } from '../../src/archive/manifest.js';
import { scanArchive } from '../../src/archive/scan.js';
import { verifyBackup } from '../../src/archive/verify.js';
import { hardLinkToInRootSymlink, writeBombArchive, writeCraftedArchive, type CraftedEntry } from '../helpers/crafted-archive.js';
import { findMarker } from '../helpers/marker.js';

const root = 'srv/data';
const roots = [{ archivePath: root, originalPath: `/${root}` }];
let base: string;
/** Seven folders deep, so an escape of up to seven levels lands inside `base`, where the search would find it. */
let parent: string;
let backups: string;

const marker = () => `mcp-escape-marker-${randomUUID()}`;
const staging = () => join(parent, `staging-${randomUUID().slice(0, 8)}`);
const folder = (destination: string) => [{ archivePath: root, destination, kind: 'folder' as const }];
const benign = (m = 'benign'): CraftedEntry[] => [
  { path: `${root}/`, type: 'Directory' },
  { path: `${root}/sub/`, type: 'Directory' },
  { path: `${root}/sub/a.json`, type: 'File', content: `{"a": "${m}"}` },
  { path: `${root}/b.txt`, type: 'File', content: 'b'.repeat(3000) },
  { path: `${root}/hard-b`, type: 'Link', linkpath: `${root}/b.txt` },
  { path: `${root}/to-sub`, type: 'SymbolicLink', linkpath: 'sub' },
];

async function inspect(name: string): Promise<InspectedArchive> {
  const manifest = await readManifest(join(backups, `${name}.manifest.json`));
  const s = await scanArchive({ archivePath: join(backups, name), manifest });
  expect(s.problems).toEqual([]);
  expect(s.unsafe).toEqual([]);
  return { sha256: s.sha256, bytes: s.bytes, entries: s.entries, fileBytes: s.fileBytes, tarBytes: s.tarBytes };
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'mcp-escape-'));
  parent = join(base, 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7');
  backups = join(base, 'backups');
  await mkdir(parent, { recursive: true });
  await mkdir(backups);
});
afterAll(() => rm(base, { recursive: true, force: true }));

it('the marker search finds a marker that is there (so an empty result means something)', async () => {
  const m = marker();
  await writeFile(join(base, 'p1', 'p2', m), 'planted');
  expect(await findMarker(m)).toEqual([join(base, 'p1', 'p2', m)]);
  await rm(join(base, 'p1', 'p2', m));
  expect(await findMarker(m)).toEqual([]);
});

describe.each([1, 3, 7])('a hard link to an in-root symlink %i levels down', (depth) => {
  const m = marker();
  const name = `hardlink-symlink-${depth}.tar.gz`;
  const up = `${root}/${'abcdefg'.slice(0, depth).split('').join('/')}/up`;
  beforeAll(() => writeCraftedArchive(backups, name, roots, [{ path: `${root}/`, type: 'Directory' }, ...hardLinkToInRootSymlink(root, depth, m)]));

  it('the scan refuses the link, the entry under it and the hard link through it, each named with why', async () => {
    const manifest = await readManifest(join(backups, `${name}.manifest.json`));
    const s = await scanArchive({ archivePath: join(backups, name), manifest });
    expect(s.problems).toEqual([]);
    expect(s.unsafe).toEqual([
      `hard link "${root}/h" -> "${up}" targets a symlink; only regular files inside the root are hard-linked`,
      `entry "${root}/h/${m}" lies under "${root}/h", which is not a folder (Link)`,
      `hard link "${root}/h2" -> "${root}/h/${m}" goes through "${root}/h", which is not a folder (Link)`,
    ]);
  });

  it('the extraction on its own (no scan before it) refuses it, leaves nothing, and nothing lands outside', async () => {
    const dest = staging();
    const r = await extractRoots({ archivePath: join(backups, name), targets: folder(dest) });
    expect(await findMarker(m, [base])).toEqual([]);
    expect(r.refused).toEqual([`hard link "${root}/h" -> "${up}" targets a symlink; only regular files inside the root are hard-linked`]);
    await expect(lstat(dest)).rejects.toThrow(/ENOENT/);
  });
});

describe('writes are exclusive and never follow a link', () => {
  it('a dump destination that already exists as a link is not written through', async () => {
    const dir = join(base, 'dump-dir');
    await mkdir(dir);
    const victim = join(base, 'victim.txt');
    await writeFile(victim, 'untouched');
    await symlink(victim, join(dir, 'db.dump'));
    const name = 'dump.tar.gz';
    await writeCraftedArchive(backups, name, [{ archivePath: 'mcp-runbooks/pg_dump/db.dump', originalPath: '/x' }], [{ path: 'mcp-runbooks/pg_dump/db.dump', type: 'File', content: 'PGDMP evil' }]);
    await expect(extractRoots({ archivePath: join(backups, name), targets: [{ archivePath: 'mcp-runbooks/pg_dump/db.dump', destination: join(dir, 'db.dump'), kind: 'file' }] })).rejects.toThrow(/EEXIST/);
    expect(await readFile(victim, 'utf8')).toBe('untouched');
  });
});

describe('an archive swapped after inspection is refused before any byte is extracted', () => {
  // The destination's parent does not exist: had extraction started, making the staging folder would
  // fail with ENOENT instead of the refusal. So the refusal proves the check came first.
  const unreachable = () => join(base, `never-made-${randomUUID().slice(0, 8)}`, 'staging');
  const workDir = () => mkdtemp(join(base, 'work-'));

  async function swapCase(replace: (path: string, evil: Buffer) => Promise<void>) {
    const name = `swap-${randomUUID().slice(0, 8)}.tar.gz`;
    await writeCraftedArchive(backups, name, roots, benign());
    const inspected = await inspect(name);
    const m = marker();
    // The attacker's archive comes with a matching manifest, over the inspected one.
    await writeCraftedArchive(backups, `${name}.evil`, roots, [{ path: `${root}/`, type: 'Directory' }, ...hardLinkToInRootSymlink(root, 7, m)]);
    await rename(join(backups, `${name}.evil.manifest.json`), join(backups, `${name}.manifest.json`));
    await replace(join(backups, name), await readFile(join(backups, `${name}.evil`)));
    const work = await workDir();
    const r = await extractRoots({ archivePath: join(backups, name), targets: folder(unreachable()), inspected, workDir: work });
    expect(r.refused).toHaveLength(1);
    expect(r.refused[0]).toMatch(/^the archive changed since it was inspected: .*; nothing was extracted$/);
    // The private copy is never left behind.
    expect(await readdir(work)).toEqual([]);
    // With a reachable staging folder too: refused, nothing made, nothing outside.
    const dest = staging();
    expect((await extractRoots({ archivePath: join(backups, name), targets: folder(dest), inspected, workDir: work })).refused).toEqual(r.refused);
    await expect(lstat(dest)).rejects.toThrow(/ENOENT/);
    expect(await findMarker(m, [base])).toEqual([]);
    return r.refused[0]!;
  }

  it('replaced by rename (a new file at the same path)', async () => {
    const why = await swapCase(async (path, evil) => {
      const before = (await stat(path)).ino;
      await writeFile(`${path}.new`, evil);
      await rename(`${path}.new`, path);
      expect((await stat(path)).ino).not.toBe(before);
    });
    expect(why).toContain(' bytes, it was ');
  });

  it('rewritten in place (the same inode)', async () => {
    await swapCase(async (path, evil) => {
      const before = (await stat(path)).ino;
      await writeFile(path, evil);
      expect((await stat(path)).ino).toBe(before);
    });
  });

  it('rewritten in place to the same size (only the sha256 tells)', async () => {
    const why = await swapCase(async (path, evil) => {
      const size = (await stat(path)).size;
      const fh = await open(path, 'r+');
      try {
        // The evil archive's first bytes over the inspected ones, size kept: it no longer decompresses the same.
        await fh.write(evil.subarray(0, Math.min(size, evil.length) - 1), 0, undefined, 0);
      } finally {
        await fh.close();
      }
      expect((await stat(path)).size).toBe(size);
    });
    expect(why).toMatch(/sha256 is now [0-9a-f]{64} \(\d+ bytes\), it was [0-9a-f]{64}/);
  });

  it('a much larger file swapped in costs no copy: refused by its size, nothing written in the work folder', async () => {
    const why = await swapCase(async (path) => {
      await writeFile(`${path}.big`, Buffer.alloc(64 * 1024 * 1024));
      await rename(`${path}.big`, path);
    });
    expect(why).toContain(`is now ${64 * 1024 * 1024} bytes`);
  });
});

describe('extraction stops at the inspected counts and removes what it wrote', () => {
  it.each<[string, (i: InspectedArchive) => InspectedArchive, RegExp]>([
    ['entries', (i) => ({ ...i, entries: i.entries - 1 }), /^the archive holds more than the \d+ entries inspected$/],
    ['bytes of files', (i) => ({ ...i, fileBytes: i.fileBytes - 1 }), /^the archive holds more than the \d+ bytes of files inspected$/],
    ['tar bytes', (i) => ({ ...i, tarBytes: 2048 }), /^the archive decompresses to more than the 2048 bytes inspected$/],
  ])('%s', async (_what, shrink, expected) => {
    const name = `limits-${randomUUID().slice(0, 8)}.tar.gz`;
    await writeCraftedArchive(backups, name, roots, benign());
    const inspected = shrink(await inspect(name));
    const dest = staging();
    const work = await mkdtemp(join(base, 'work-'));
    const r = await extractRoots({ archivePath: join(backups, name), targets: folder(dest), inspected, workDir: work });
    expect(r.refused).toHaveLength(1);
    expect(r.refused[0]).toMatch(expected);
    await expect(lstat(dest)).rejects.toThrow(/ENOENT/);
    expect(await readdir(work)).toEqual([]);
  });

  it('within them, the verified copy restores the tree (and its hard link and symlink)', async () => {
    const name = `ok-${randomUUID().slice(0, 8)}.tar.gz`;
    await writeCraftedArchive(backups, name, roots, benign());
    const dest = staging();
    const work = await mkdtemp(join(base, 'work-'));
    const r = await extractRoots({ archivePath: join(backups, name), targets: folder(dest), inspected: await inspect(name), workDir: work });
    expect(r).toEqual({ files: 3, bytes: 3000 + '{"a": "benign"}'.length, refused: [] });
    expect((await lstat(join(dest, 'hard-b'))).ino).toBe((await lstat(join(dest, 'b.txt'))).ino);
    expect((await lstat(join(dest, 'to-sub'))).isSymbolicLink()).toBe(true);
    expect(await readdir(work)).toEqual([]);
  });
});

describe('limits refuse at inspection', () => {
  it('a 1 GiB bomb with an honest manifest stops at the ratio limit, quickly', async () => {
    const name = 'bomb.tar.gz';
    await writeBombArchive(backups, name, roots[0]!, 1024 * 1024 * 1024);
    const size = (await stat(join(backups, name))).size;
    expect(size).toBeLessThan(2 * 1024 * 1024);
    const manifest = await readManifest(join(backups, `${name}.manifest.json`));
    const t0 = Date.now();
    const s = await scanArchive({ archivePath: join(backups, name), manifest, limits: { maxCompressionRatio: 50 } });
    expect(s.limitExceeded).toEqual({
      limit: 'maxCompressionRatio',
      message: `it decompresses to more than 50 times its ${size} compressed bytes (more than ${50 * size} bytes; ratio limit 50), as a decompression bomb does`,
    });
    expect(s.tarBytes).toBeLessThan(50 * size + 4 * 1024 * 1024);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('an archive with more entries than the cap', async () => {
    const name = 'many.tar.gz';
    await writeCraftedArchive(backups, name, roots, benign());
    const s = await scanArchive({ archivePath: join(backups, name), limits: { maxEntries: 3 } });
    expect(s.limitExceeded).toEqual({ limit: 'maxEntries', message: 'it holds more than 3 entries (entry limit 3)' });
  });
});

describe('links in place of the archive or its manifest are refused, not followed', () => {
  let name: string;
  beforeAll(async () => {
    name = 'real.tar.gz';
    await writeCraftedArchive(backups, name, roots, benign());
    await symlink(join(backups, name), join(backups, 'linked.tar.gz'));
    await symlink(join(backups, `${name}.manifest.json`), join(backups, 'linked.tar.gz.manifest.json'));
  });
  const linked = () => join(backups, 'linked.tar.gz');

  it('the scan', async () => {
    await expect(scanArchive({ archivePath: linked() })).rejects.toThrow(`${linked()} is a symbolic link; refusing to read an archive through a link`);
  });
  it('the manifest', async () => {
    await expect(readManifest(`${linked()}.manifest.json`)).rejects.toThrow(`${linked()}.manifest.json is a symbolic link; refusing to read a manifest through a link`);
  });
  it('the extraction: refused, nothing made', async () => {
    const dest = staging();
    expect((await extractRoots({ archivePath: linked(), targets: folder(dest) })).refused).toEqual([`${linked()} is a symbolic link; refusing to read an archive through a link`]);
    await expect(lstat(dest)).rejects.toThrow(/ENOENT/);
  });
  it('verification', async () => {
    const v = await verifyBackup({ backupDir: backups, archive: 'linked.tar.gz', record: false });
    expect(v.status).toBe('failed');
    expect(v.problems).toEqual([`${linked()} is a symbolic link; refusing to read an archive through a link`]);
  });
});
