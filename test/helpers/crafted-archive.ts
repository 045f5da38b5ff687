/** Hand-made archives (raw tar headers) with a consistent manifest, for the restore refusal tests. */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { normalizeType, rootOf, RootTally } from '../../src/archive/listing.js';
import { MANIFEST_FORMAT, writeManifest, type BackupManifest, type ManifestRoot } from '../../src/archive/manifest.js';
import { manifestName } from '../../src/common/archive-names.js';

export interface CraftedEntry {
  path: string;
  type: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO';
  content?: string;
  linkpath?: string;
}

/** Writes `<backupDir>/<name>` and its manifest; the manifest matches the archive, so only the entries themselves can be refused. */
export async function writeCraftedArchive(
  backupDir: string,
  name: string,
  roots: Array<{ archivePath: string; originalPath: string }>,
  entries: CraftedEntry[],
  opts: { kind?: BackupManifest['kind'] } = {},
): Promise<void> {
  const blocks: Buffer[] = [];
  const tallies = new Map(roots.map((r) => [r.archivePath, new RootTally()]));
  for (const e of entries) {
    const body = Buffer.from(e.content ?? '');
    blocks.push(header(e, body.length));
    if (e.type === 'File' && body.length) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    const root = rootOf(roots, e.path);
    const type = normalizeType(e.type);
    if (root && type) tallies.get(root.archivePath)!.add(type, e.path, type === 'File' ? body.length : 0);
  }
  blocks.push(Buffer.alloc(1024));
  await writeWithManifest(backupDir, name, roots, tallies, gzipSync(Buffer.concat(blocks)), opts);
}

/**
 * A decompression bomb with an honest manifest: one file of `zeroBytes` zeros, built
 * without ever holding or compressing them whole (gzip members of 1 MiB of zeros,
 * concatenated, as gunzip reads them). 1 GiB of zeros is about 1 MiB on disk.
 */
export async function writeBombArchive(backupDir: string, name: string, root: { archivePath: string; originalPath: string }, zeroBytes: number): Promise<void> {
  const MiB = 1024 * 1024;
  if (zeroBytes % MiB) throw new Error('writeBombArchive: a whole number of MiB');
  const file: CraftedEntry = { path: `${root.archivePath}/zeros.bin`, type: 'File' };
  const members = [gzipSync(Buffer.concat([header({ path: `${root.archivePath}/`, type: 'Directory' }, 0), header(file, zeroBytes)]))];
  const zeros = gzipSync(Buffer.alloc(MiB), { level: 9 });
  for (let i = 0; i < zeroBytes / MiB; i++) members.push(zeros);
  members.push(gzipSync(Buffer.alloc(1024)));
  const tally = new RootTally();
  tally.add('Directory', `${root.archivePath}/`, 0);
  tally.add('File', file.path, zeroBytes);
  await writeWithManifest(backupDir, name, [root], new Map([[root.archivePath, tally]]), Buffer.concat(members), {});
}

/**
 * The red team's archive: `up`, `depth` folders down, is a symlink back to the root (inside it),
 * then `h` is a hard link to `up`. A restore that links the symlink itself gets `h` pointing
 * `depth` levels above the root; `h/<marker>` and a hard link through `h` would then land outside.
 * The root's own folder entry is the caller's.
 */
export function hardLinkToInRootSymlink(root: string, depth: number, marker: string): CraftedEntry[] {
  if (depth < 1 || depth > 9) throw new Error('hardLinkToInRootSymlink: depth 1 to 9');
  const nested = Array.from({ length: depth }, (_, i) => `${root}/${'abcdefgij'.slice(0, i + 1).split('').join('/')}`);
  const up = `${nested[depth - 1]}/up`;
  return [
    ...nested.map((d): CraftedEntry => ({ path: `${d}/`, type: 'Directory' })),
    { path: up, type: 'SymbolicLink', linkpath: Array(depth).fill('..').join('/') },
    { path: `${root}/h`, type: 'Link', linkpath: up },
    { path: `${root}/h/${marker}`, type: 'File', content: 'written outside the staging root' },
    { path: `${root}/h2`, type: 'Link', linkpath: `${root}/h/${marker}` },
  ];
}

function header(e: CraftedEntry, size: number): Buffer {
  // A plain ustar header has 100 bytes for a link target; longer ones would be cut silently.
  if ((e.linkpath?.length ?? 0) > 100) throw new Error(`crafted archive: link target of ${e.path} is longer than 100 bytes`);
  const h = new Header({
      path: e.path,
      type: e.type,
      size: e.type === 'File' ? size : 0,
      mode: e.type === 'Directory' ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      mtime: new Date('2026-01-01T00:00:00Z'),
      ...(e.linkpath ? { linkpath: e.linkpath } : {}),
      ...(e.type === 'CharacterDevice' ? { devmaj: 1, devmin: 3 } : {}),
  });
  h.encode();
  return h.block!;
}

async function writeWithManifest(
  backupDir: string,
  name: string,
  roots: Array<{ archivePath: string; originalPath: string }>,
  tallies: Map<string, RootTally>,
  gz: Buffer,
  opts: { kind?: BackupManifest['kind'] },
): Promise<void> {
  await writeFile(join(backupDir, name), gz, { mode: 0o600 });
  const manifestRoots: ManifestRoot[] = roots.map((r) => {
    const t = tallies.get(r.archivePath)!;
    return { archivePath: r.archivePath, kind: 'folder', originalPath: r.originalPath, mode: 'online', services: [], entries: t.entries, bytes: t.bytes, listingSha256: t.digest() };
  });
  const manifest: BackupManifest = {
    format: MANIFEST_FORMAT,
    archive: name,
    sha256: createHash('sha256').update(gz).digest('hex'),
    bytes: gz.length,
    host: 'crafted',
    kind: opts.kind ?? 'backup',
    createdAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T00:00:00Z',
    toolVersion: 'test',
    compressor: 'zlib',
    roots: manifestRoots,
    totals: { entries: 0, bytes: 0 },
    downtime: [],
  };
  await writeManifest(join(backupDir, manifestName(name)), manifest);
}
