/** Archive write, scan and extract on real files. */
import { createHash } from 'node:crypto';
import { chmod, link, lstat, mkdir, mkdtemp, readFile, readlink, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { createWriteStream, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import * as zlibModule from 'node:zlib';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { Parser, type ReadEntry } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pickCompressor } from '../../src/archive/compress.js';
import { canPackWithGnuTar, changedFiles, packTar, packWithGnuTar, tarSucceeded, writeArchive, type PackedTar } from '../../src/archive/create.js';
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

/** Level 0's compressor: stored blocks framed in process where Node has zlib.crc32 (20.15 on), else pigz like any level. */
const STORED = typeof (zlibModule as { crc32?: unknown }).crc32 === 'function' ? 'gzip -0 (stored)' : 'pigz';

describe.each([
  ['gzip', 6, 'node-tar', 'zlib -6'],
  ['pigz', 6, 'node-tar', 'pigz'],
  // The emergency archive's: GNU tar packing, gzip's stored blocks framed in process.
  ['pigz', 0, 'gnu-tar', STORED],
] as const)('archives with %s -%i packed by %s', (program, level, packer, name) => {
  it('write -> tar -tzf lists original paths -> scan matches -> extract restores byte for byte', async () => {
    const out = join(dir, `test-${program}-${level}-${packer}.tar.gz`);
    const archivePath = src.slice(1);
    const compressor = await pickCompressor(program, level);
    expect(compressor.name).toContain(name);
    const r = await writeArchive({
      packer,
      sources: [
        { archivePath, sourcePath: src },
        { archivePath: 'mcp-runbooks/pg_dump/db.dump', sourcePath: join(dir, 'single.dump') },
      ],
      outFile: out,
      compressor,
      signal: new AbortController().signal,
    });
    expect((await lstat(out)).mode & 0o777).toBe(0o600);
    expect(r.packer).toBe(packer);
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

    // gzip itself reads it whole (the CRC and the size in the trailer).
    await execa('gzip', ['-t', out]);
    const restoreTo = join(dir, `restored-${program}-${level}-${packer}`);
    const dumpTo = join(dir, `dump-${program}-${level}-${packer}`, 'db.dump');
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

/** Every entry of a packed stream as `type path [-> link] size`, and each root's tally. */
async function entriesOf(packed: PackedTar): Promise<{ entries: string[]; roots: Array<[string, unknown, number, string]> }> {
  const entries: string[] = [];
  const parser = new Parser({
    onReadEntry: (e: ReadEntry) => {
      entries.push(`${e.type} ${e.path.replace(/\/$/, '')}${e.linkpath ? ` -> ${e.linkpath}` : ''} ${e.type === 'File' ? e.size : 0}`);
      e.resume();
    },
  });
  await new Promise<void>((resolve, reject) => {
    packed.stream.on('error', reject).pipe(parser).on('error', reject);
    parser.on('end', resolve);
  });
  return { entries: entries.sort(), roots: packed.roots().map((r) => [r.archivePath, r.tally.entries, r.tally.bytes, r.tally.digest()]) };
}

describe('the GNU tar packer (every archive, where GNU tar is found)', () => {
  let prev: string;
  let sources: Array<{ archivePath: string; sourcePath: string }>;
  beforeAll(async () => {
    // Preserved folders as a recovery leaves them, one name with what a regular expression or a replacement would read as syntax.
    prev = join(dir, 'opt', 'k');
    const odd = join(prev, '.a b,[x]&\\1.*.mcp-previous-1');
    const plain = join(prev, '.a.mcp-previous-1');
    await mkdir(join(odd, 'sub'), { recursive: true });
    await mkdir(plain, { recursive: true });
    await writeFile(join(odd, 'sub', 'f'), 'odd file\n');
    await link(join(odd, 'sub', 'f'), join(odd, 'hard'));
    // A symbolic link's target is stored as written, even one spelled through the preserved name.
    await symlink(join(odd, 'sub', 'f'), join(odd, 'abs-link'));
    await symlink('sub/f', join(odd, 'rel-link'));
    await writeFile(join(plain, 'g'), Buffer.alloc(70_000, 3));
    // Names past the old 100-byte header field, and a hard link to one.
    const deep = join(odd, 'd'.repeat(90), 'e'.repeat(90));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, 'f'.repeat(120)), 'long name\n');
    await link(join(deep, 'f'.repeat(120)), join(odd, `a-long-hard-${'h'.repeat(100)}`));
    await writeFile(join(prev, '.single.mcp-previous-1'), 'one file\n');
    sources = [
      { archivePath: join(prev, 'a b,[x]&\\1.*').slice(1), sourcePath: odd },
      { archivePath: join(prev, 'a').slice(1), sourcePath: plain },
      { archivePath: join(prev, 'single').slice(1), sourcePath: join(prev, '.single.mcp-previous-1') },
    ];
  });

  it('packs the same entries, links and tallies as node-tar, each under its archive path', async () => {
    expect(await canPackWithGnuTar(sources)).toBe(true);
    const gnu = await entriesOf(packWithGnuTar(sources));
    expect(gnu).toEqual(await entriesOf(packTar(sources)));
    const odd = sources[0]!.archivePath;
    expect(gnu.entries).toContain(`Link ${odd}/sub/f -> ${odd}/hard 0`);
    expect(gnu.entries).toContain(`SymbolicLink ${odd}/abs-link -> ${sources[0]!.sourcePath}/sub/f 0`);
    expect(gnu.entries.filter((e) => e.includes('.mcp-previous-') && !e.startsWith('SymbolicLink'))).toEqual([]);
  });

  it('refuses what node-tar refuses: a FIFO fails the archive, and the partial file is removed', async () => {
    const withFifo = await mkdtemp(join(dir, 'fifo-'));
    await execa('mkfifo', [join(withFifo, 'pipe')]);
    const out = join(dir, 'fifo.tar.gz');
    const write = writeArchive({ packer: 'gnu-tar', sources: [{ archivePath: 'srv/fifo', sourcePath: withFifo }], outFile: out, compressor: await pickCompressor('pigz', 0), signal: new AbortController().signal });
    await expect(write).rejects.toThrow('cannot archive srv/fifo/pipe: unsupported type FIFO');
    expect(existsSync(out) || existsSync(`${out}.partial`)).toBe(false);
  });

  it('a name that is not UTF-8 fails the archive (it would read back as another name), as with node-tar', async () => {
    const bad = await mkdtemp(join(dir, 'bytes-'));
    await writeFile(Buffer.concat([Buffer.from(`${bad}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]), 'latin-1 name');
    const out = join(dir, 'bytes.tar.gz');
    const write = writeArchive({ packer: 'gnu-tar', sources: [{ archivePath: 'srv/bytes', sourcePath: bad }], outFile: out, compressor: await pickCompressor('pigz', 0), signal: new AbortController().signal });
    await expect(write).rejects.toThrow(/cannot archive "srv\/bytes\/caf\uFFFD\.txt": its name \(or its link's target\) is not UTF-8/);
    expect(existsSync(out) || existsSync(`${out}.partial`)).toBe(false);
  });

  it('TAR_OPTIONS in the worker\'s environment does not reach it (it could leave files out, and tar would still succeed)', async () => {
    const before = process.env.TAR_OPTIONS;
    process.env.TAR_OPTIONS = '--exclude=*.bin';
    try {
      const { entries } = await entriesOf(packWithGnuTar([{ archivePath: 'srv/data', sourcePath: src }]));
      expect(entries).toContain('File srv/data/nested/b.bin 200000');
    } finally {
      if (before === undefined) delete process.env.TAR_OPTIONS;
      else process.env.TAR_OPTIONS = before;
    }
  });

  it('a file written to while it is read (an online root) does not fail the archive; every other warning does', () => {
    expect(tarSucceeded(0, '')).toBe(true);
    expect(tarSucceeded(1, 'tar: srv/data/app.log: file changed as we read it\n')).toBe(true);
    expect(tarSucceeded(1, 'tar: srv/a.log: file changed as we read it\ntar: srv/b.log: file changed as we read it\n')).toBe(true);
    expect(tarSucceeded(1, 'tar: srv/data/gone: File removed before we read it\n')).toBe(false);
    expect(tarSucceeded(1, 'tar: srv/a.log: file changed as we read it\ntar: srv/b: File shrank by 10 bytes; padding with zeros\n')).toBe(false);
    expect(tarSucceeded(1, '')).toBe(false);
    expect(tarSucceeded(2, 'tar: srv/x: Cannot open: Permission denied\n')).toBe(false);
    expect(tarSucceeded(undefined, '')).toBe(false);
    expect(changedFiles('tar: srv/a.log: file changed as we read it\ntar: srv/b: Cannot stat\n')).toEqual(['/srv/a.log']);
  });

  it('a socket in a folder is skipped without a word (a warning beside a changed file would otherwise fail the archive)', async () => {
    const withSocket = await mkdtemp(join(dir, 'socket-'));
    await writeFile(join(withSocket, 'data'), 'd');
    const server = createServer();
    await new Promise<void>((r) => server.listen(join(withSocket, 's.sock'), r));
    try {
      const out = join(dir, 'socket.tar.gz');
      const r = await writeArchive({ packer: 'gnu-tar', sources: [{ archivePath: 'srv/sock', sourcePath: withSocket }], outFile: out, compressor: await pickCompressor('pigz', 0), signal: new AbortController().signal });
      expect(r.roots[0]!.tally.entries).toEqual({ files: 1, directories: 1, symlinks: 0, hardlinks: 0 });
      expect(r.changedWhileRead).toEqual([]);
    } finally {
      server.close();
    }
  });

  it('a source that is not there fails with tar\'s own message', async () => {
    const out = join(dir, 'missing.tar.gz');
    const write = writeArchive({ packer: 'gnu-tar', sources: [{ archivePath: 'srv/gone', sourcePath: join(dir, 'gone') }], outFile: out, compressor: await pickCompressor('pigz', 0), signal: new AbortController().signal });
    await expect(write).rejects.toThrow(/tar failed \(exit 2\): .*gone: Cannot stat: No such file or directory/);
    expect(existsSync(`${out}.partial`)).toBe(false);
  });

  it('is not used where its renames could reach another source (node-tar packs those)', async () => {
    expect(await canPackWithGnuTar([{ archivePath: 'srv/a', sourcePath: '/x/a' }, { archivePath: 'srv/b', sourcePath: '/x/a/b' }])).toBe(false);
    expect(await canPackWithGnuTar([{ archivePath: 'x/b/renamed', sourcePath: '/x/a' }, { archivePath: 'srv/b', sourcePath: '/x/b' }])).toBe(false);
    expect(await canPackWithGnuTar([{ archivePath: 'srv/a', sourcePath: '/x/prev' }, { archivePath: 'other', sourcePath: '/srv/a/sub' }])).toBe(false);
    expect(await canPackWithGnuTar([{ archivePath: 'srv/a\nb', sourcePath: '/x/a' }])).toBe(false);
    expect(await canPackWithGnuTar([{ archivePath: 'srv/a', sourcePath: '/x/a' }, { archivePath: 'srv/b', sourcePath: '/x/b' }])).toBe(true);
  });
});

describe('level 0: gzip stored blocks framed in process', () => {
  it.each([0, 1, 65_535, 65_536, 300_001])('%i bytes read back the same, by zlib and by gzip -t', async (size) => {
    const compressor = await pickCompressor('auto', 0);
    expect(compressor.name).toContain(STORED);
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 7919) % 251;
    const out = join(dir, `stored-${size}.gz`);
    // In uneven pieces, as a tar stream arrives.
    const pieces = [data.subarray(0, 70_000), data.subarray(70_000, 70_001), data.subarray(70_001)];
    await compressor.run(Readable.from(pieces.filter((p) => p.length)), createWriteStream(out), new AbortController().signal);
    expect(gunzipSync(await readFile(out)).equals(data)).toBe(true);
    await execa('gzip', ['-t', out]);
  });
});
