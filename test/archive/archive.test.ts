/** Archive write, scan and extract on real files. */
import { createHash } from 'node:crypto';
import { chmod, link, lstat, mkdir, mkdtemp, readFile, readlink, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pickCompressor } from '../../src/archive/compress.js';
import { writeArchive } from '../../src/archive/create.js';
import { extractRoots } from '../../src/archive/extract.js';
import { MANIFEST_FORMAT, type BackupManifest } from '../../src/archive/manifest.js';
import { scanArchive } from '../../src/archive/scan.js';

let dir: string;
let src: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-archive-'));
  src = join(dir, 'srv', 'data');
  await mkdir(join(src, 'nested', 'deeper'), { recursive: true });
  await writeFile(join(src, 'a.txt'), 'alpha\n');
  await writeFile(join(src, 'nested', 'b.bin'), Buffer.alloc(200_000, 7));
  await writeFile(join(src, 'nested', 'deeper', 'c.json'), '{"c":1}\n');
  await writeFile(join(src, 'secret.key'), 'k\n', { mode: 0o600 });
  await chmod(join(src, 'secret.key'), 0o600);
  await symlink('nested/b.bin', join(src, 'link-to-b'));
  await link(join(src, 'a.txt'), join(src, 'hard-a.txt'));
  await utimes(join(src, 'a.txt'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
  await writeFile(join(dir, 'single.dump'), Buffer.from('PGDMP fake dump'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function treeDigest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath, e.name);
    const st = await lstat(p);
    const rel = relative(root, p);
    if (st.isSymbolicLink()) out[rel] = `link ${await readlink(p)}`;
    else if (st.isDirectory()) out[rel] = `dir ${(st.mode & 0o777).toString(8)}`;
    else out[rel] = `file ${(st.mode & 0o777).toString(8)} ${createHash('sha256').update(await readFile(p)).digest('hex')} ${Math.floor(st.mtimeMs / 1000)}`; // tar keeps whole seconds
  }
  return out;
}

describe.each(['gzip', 'pigz'] as const)('archives with %s', (program) => {
  it('write -> tar -tzf lists original paths -> scan matches -> extract restores byte for byte', async () => {
    const out = join(dir, `test-${program}.tar.gz`);
    const archivePath = src.slice(1);
    const compressor = await pickCompressor(program, 6);
    expect(compressor.name).toContain(program === 'gzip' ? 'zlib' : 'pigz');
    const r = await writeArchive({
      sources: [
        { archivePath, sourcePath: src },
        { archivePath: 'mcp-runbooks/pg_dump/db.dump', sourcePath: join(dir, 'single.dump') },
      ],
      outFile: out,
      compressor,
      signal: new AbortController().signal,
    });
    expect((await lstat(out)).mode & 0o777).toBe(0o600);
    const listed = (await execa('tar', ['-tzf', out])).stdout.split('\n');
    expect(listed).toContain(`${archivePath}/nested/deeper/c.json`);
    expect(listed).toContain('mcp-runbooks/pg_dump/db.dump');
    const [folder, dump] = r.roots;
    expect(folder!.tally.entries).toEqual({ files: 4, directories: 3, symlinks: 1, hardlinks: 1 });
    // Each regular file's sha256, hashed from the stream as it was written (the hard link has its target's).
    const sha = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex');
    expect(Object.fromEntries(folder!.tally.files)).toEqual({
      [`${archivePath}/a.txt`]: await sha(join(src, 'a.txt')),
      [`${archivePath}/nested/b.bin`]: await sha(join(src, 'nested', 'b.bin')),
      [`${archivePath}/nested/deeper/c.json`]: await sha(join(src, 'nested', 'deeper', 'c.json')),
      [`${archivePath}/secret.key`]: await sha(join(src, 'secret.key')),
    });
    expect(Object.fromEntries(dump!.tally.files)).toEqual({ 'mcp-runbooks/pg_dump/db.dump': await sha(join(dir, 'single.dump')) });
    const manifest: BackupManifest = {
      format: MANIFEST_FORMAT,
      archive: 'x',
      sha256: r.sha256,
      bytes: r.bytes,
      host: 'h',
      kind: 'backup',
      createdAt: '',
      finishedAt: '',
      toolVersion: '',
      compressor: compressor.name,
      totals: { entries: 0, bytes: 0 },
      downtime: [],
      roots: [
        { archivePath, kind: 'folder', originalPath: src, mode: 'stop', services: [], entries: folder!.tally.entries, bytes: folder!.tally.bytes, listingSha256: folder!.tally.digest() },
        { archivePath: 'mcp-runbooks/pg_dump/db.dump', kind: 'pg_dump', database: 'db', mode: 'pg_dump', services: [], entries: dump!.tally.entries, bytes: dump!.tally.bytes, listingSha256: dump!.tally.digest() },
      ],
    };
    const scan = await scanArchive({ archivePath: out, manifest });
    expect(scan.problems).toEqual([]);
    expect(scan.unsafe).toEqual([]);
    expect(scan.sha256).toBe(r.sha256);

    const restoreTo = join(dir, `restored-${program}`);
    const dumpTo = join(dir, `dump-${program}`, 'db.dump');
    const x = await extractRoots({
      archivePath: out,
      targets: [
        { archivePath, destination: restoreTo, kind: 'folder' },
        { archivePath: 'mcp-runbooks/pg_dump/db.dump', destination: dumpTo, kind: 'file' },
      ],
    });
    expect(x.refused).toEqual([]);
    expect(await treeDigest(restoreTo)).toEqual(await treeDigest(src));
    expect((await lstat(join(restoreTo, 'hard-a.txt'))).ino).toBe((await lstat(join(restoreTo, 'a.txt'))).ino);
    expect(await readFile(dumpTo, 'utf8')).toBe('PGDMP fake dump');
  });
});
