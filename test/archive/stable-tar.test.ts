/**
 * The tar stream of an unchanged folder is the same bytes every night, even
 * read from a fresh staging copy (new ctime, atime, inode): restic's chunker
 * then finds it all again. Real files, real copies, real tar streams.
 */
import { createHash } from 'node:crypto';
import { link, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Parser } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyTree } from '../../src/archive/copy-tree.js';
import { packTar, packWithGnuTar } from '../../src/archive/create.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-stable-tar-'));
  const live = join(dir, 'live');
  await mkdir(join(live, 'sub', 'deep'), { recursive: true });
  for (let i = 0; i < 50; i++) await writeFile(join(live, 'sub', `f${i}.log`), `line ${i}\n`.repeat(50 + i));
  await writeFile(join(live, 'sub', 'deep', `${'long-name-'.repeat(12)}.json`), '{"a":1}\n');
  await link(join(live, 'sub', 'f1.log'), join(live, 'sub', 'hard-f1.log'));
  await symlink('sub/f2.log', join(live, 'latest'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function tarOf(from: string, pack: typeof packTar = packTar): Promise<Buffer> {
  const packed = pack([{ archivePath: 'srv/data', sourcePath: from }]);
  const chunks: Buffer[] = [];
  for await (const c of packed.stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('packTar of an unchanged folder', () => {
  it.each([
    ['node-tar', packTar],
    // What a restic target's stream and the archive target are packed with where GNU tar is found.
    ['GNU tar', packWithGnuTar],
  ] as const)('is the same bytes from two fresh staging copies made a second apart (new ctime, atime, inodes), packed by %s', async (name, pack) => {
    const [one, two] = [join(dir, `staging-1-${name}`), join(dir, `staging-2-${name}`)];
    await copyTree(join(dir, 'live'), one);
    await new Promise((r) => setTimeout(r, 1100));
    // Read every file of the live folder (new atime), then copy again: new inodes and ctimes.
    for (let i = 0; i < 50; i++) await readFile(join(dir, 'live', 'sub', `f${i}.log`));
    await copyTree(join(dir, 'live'), two);
    const [a, b] = [await tarOf(one, pack), await tarOf(two, pack)];
    expect(a.length).toBeGreaterThan(50 * 1024);
    expect(createHash('sha256').update(a).digest('hex')).toBe(createHash('sha256').update(b).digest('hex'));
  });

  it('still carries mode, owner, size, mtime, the hard link and the symlink', async () => {
    const entries: Array<{ path: string; type: string; mode?: number; uid?: number; mtime?: Date; linkpath?: string }> = [];
    const parser = new Parser({ onReadEntry: (e) => {
      entries.push({ path: e.path, type: e.type, ...(e.mode !== undefined ? { mode: e.mode } : {}), ...(e.uid !== undefined ? { uid: e.uid } : {}), ...(e.mtime ? { mtime: e.mtime } : {}), ...(e.linkpath ? { linkpath: e.linkpath } : {}) });
      e.resume();
    } });
    const tar = await tarOf(join(dir, 'live'));
    const done = new Promise((r) => parser.on('finish', r));
    parser.end(tar);
    await done;
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get('srv/data/sub/hard-f1.log')?.type === 'Link' || byPath.get('srv/data/sub/f1.log')?.type === 'Link').toBe(true);
    expect(byPath.get('srv/data/latest')).toMatchObject({ type: 'SymbolicLink', linkpath: 'sub/f2.log' });
    expect(byPath.get('srv/data/sub/f3.log')).toMatchObject({ type: 'File', uid: process.getuid!(), mode: 0o644 });
    expect(byPath.get('srv/data/sub/f3.log')?.mtime?.getTime()).toBeGreaterThan(Date.now() - 3_600_000);
  });
});
