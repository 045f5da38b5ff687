/**
 * A folder tallied by walking it (the manifest of a restic `folders` backup)
 * counts exactly what GNU tar's stream of it is tallied as (what a restore
 * packs from restic's copy and checks against that manifest). Real files, real
 * GNU tar.
 */
import { createHash } from 'node:crypto';
import { link, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packWithGnuTar } from '../../src/archive/create.js';
import { tallyTree } from '../../src/archive/walk-tally.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-walk-tally-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function gnuTally(path: string, archivePath: string) {
  const packed = packWithGnuTar([{ archivePath, sourcePath: path }]);
  for await (const _ of packed.stream) void _;
  const [root] = packed.roots();
  return root!.tally;
}

const sha = (path: string) => readFile(path).then((b) => createHash('sha256').update(b).digest('hex'));

describe('tallyTree', () => {
  it('counts, sizes, listing digest and file digests equal GNU tar stream tallies on an odd tree (hard links across folders, symlinks, empty folders, a socket, odd and long names)', async () => {
    const root = join(dir, 'odd');
    await mkdir(join(root, 'a', 'deep', 'er'), { recursive: true });
    await mkdir(join(root, 'empty'));
    await mkdir(join(root, 'b c'));
    for (const name of ['a-b', 'a.b', 'A', 'z', 'ü', '日本', `${'long-'.repeat(40)}x`, '-dash', ' space', 'tab\tname']) await writeFile(join(root, name), `content of ${name}\n`);
    await writeFile(join(root, 'a', 'deep', 'er', 'x'), 'linked content\n'.repeat(100));
    // The same file under a name that sorts before its folder's walk reaches it: which name is the file decides the listing.
    await link(join(root, 'a', 'deep', 'er', 'x'), join(root, 'b c', 'y'));
    await link(join(root, 'a', 'deep', 'er', 'x'), join(root, 'a', 'zz'));
    await symlink('a/deep', join(root, 'to-deep'));
    await symlink('/etc/passwd', join(root, 'absolute'));
    await writeFile(join(root, 'empty-file'), '');
    const server = createServer();
    await new Promise<void>((r) => server.listen(join(root, 'sock'), r));
    try {
      const walked = await tallyTree(root, 'srv/odd', { digest: (p) => sha(p) });
      const tarred = await gnuTally(root, 'srv/odd');
      expect(walked.entries).toEqual(tarred.entries);
      expect(walked.entries.hardlinks).toBe(2);
      expect(walked.entries.symlinks).toBe(2);
      expect(walked.bytes).toBe(tarred.bytes);
      expect(walked.digest()).toBe(tarred.digest());
      expect(Object.fromEntries(walked.files)).toEqual(Object.fromEntries(tarred.files));
      expect(walked.files.size).toBeGreaterThan(10);
    } finally {
      server.close();
    }
  });

  it('a single file (a database dump) is one File entry', async () => {
    const file = join(dir, 'db.dump');
    await writeFile(file, 'PGDMP...');
    const walked = await tallyTree(file, 'mcp-runbooks/pg_dump/db.dump');
    const tarred = await gnuTally(file, 'mcp-runbooks/pg_dump/db.dump');
    expect(walked.entries).toEqual({ files: 1, directories: 0, symlinks: 0, hardlinks: 0 });
    expect(walked.digest()).toBe(tarred.digest());
  });

  it('refuses a FIFO and a name that is not UTF-8, naming them', async () => {
    const fifo = join(dir, 'with-fifo');
    await mkdir(fifo);
    await execa('mkfifo', [join(fifo, 'pipe')]);
    await expect(tallyTree(fifo, 'x')).rejects.toThrow(/pipe: unsupported type \(FIFO\)/);
    const bad = join(dir, 'bad-name');
    await mkdir(bad);
    await writeFile(Buffer.concat([Buffer.from(`${bad}/`), Buffer.from([0x66, 0xff, 0x6f])]), 'x');
    await expect(tallyTree(bad, 'x')).rejects.toThrow(/is not UTF-8/);
  });

  it('a changed file changes the digest; a changed mtime alone does not', async () => {
    const root = join(dir, 'change');
    await mkdir(root);
    await writeFile(join(root, 'f'), 'one');
    const before = (await tallyTree(root, 'r')).digest();
    await writeFile(join(root, 'f'), 'three');
    expect((await tallyTree(root, 'r')).digest()).not.toBe(before);
    await writeFile(join(root, 'f'), 'one');
    expect((await tallyTree(root, 'r')).digest()).toBe(before);
  });
});
