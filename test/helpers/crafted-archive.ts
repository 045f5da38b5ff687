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
    const h = new Header({
      path: e.path,
      type: e.type,
      size: e.type === 'File' ? body.length : 0,
      mode: e.type === 'Directory' ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      mtime: new Date('2026-01-01T00:00:00Z'),
      ...(e.linkpath ? { linkpath: e.linkpath } : {}),
      ...(e.type === 'CharacterDevice' ? { devmaj: 1, devmin: 3 } : {}),
    });
    h.encode();
    blocks.push(h.block!);
    if (e.type === 'File' && body.length) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    const root = rootOf(roots, e.path);
    const type = normalizeType(e.type);
    if (root && type) tallies.get(root.archivePath)!.add(type, e.path, type === 'File' ? body.length : 0);
  }
  blocks.push(Buffer.alloc(1024));
  const gz = gzipSync(Buffer.concat(blocks));
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
