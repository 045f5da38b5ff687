/**
 * A root's tally (counts, bytes, listing digest, each file's sha256) read from
 * the folder itself instead of from a tar stream: what the manifest of a backup
 * restic stores as folders (layout `folders`) says, so that the tar a restore
 * packs from what restic gives back is checked against it entry by entry.
 *
 * It counts exactly as {@link packWithGnuTar}'s stream is tallied: the root
 * first, then each folder's entries in byte order of their names, depth first
 * (`--sort=name`); a further name of a file already seen (a hard link) is a
 * `Link` of size 0; sockets are left out (GNU tar skips them); a FIFO or a
 * device, or a name that is not UTF-8, is refused, as archiving refuses them.
 */
import { lstat, readdir } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { normalizeArchivePath, RootTally, type EntryType } from './listing.js';

export interface TallyTreeOptions {
  signal?: AbortSignal | undefined;
  /** Each regular file's sha256 (first name of a hard-linked file only), or undefined to leave it out. */
  digest?: (path: string, archivePath: string, st: Stats) => Promise<string | undefined>;
  /** Called every 500 entries with the count so far. */
  onProgress?: (entries: number) => void;
}

function typeOf(st: Stats, path: string): EntryType | 'skip' {
  if (st.isDirectory()) return 'Directory';
  if (st.isFile()) return 'File';
  if (st.isSymbolicLink()) return 'SymbolicLink';
  if (st.isSocket()) return 'skip';
  throw new Error(`cannot archive ${path}: unsupported type (${st.isFIFO() ? 'FIFO' : st.isCharacterDevice() ? 'character device' : st.isBlockDevice() ? 'block device' : 'unknown'})`);
}

/** Tallies the folder (or file) `path` as the root `archivePath`. */
export async function tallyTree(path: string, archivePath: string, opts: TallyTreeOptions = {}): Promise<RootTally> {
  const tally = new RootTally();
  const root = normalizeArchivePath(archivePath);
  const seen = new Set<string>();
  let count = 0;
  const add = async (abs: string, name: string, st: Stats) => {
    const type = typeOf(st, abs);
    if (type === 'skip') return false;
    if (++count % 500 === 0) opts.onProgress?.(count);
    if (type !== 'Directory' && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) {
        tally.add('Link', name, 0);
        return false;
      }
      seen.add(key);
    }
    tally.add(type, name, type === 'File' ? st.size : 0);
    if (type === 'File' && opts.digest) {
      const sha = await opts.digest(abs, name, st);
      if (sha) tally.fileDigest(name, sha);
    }
    return type === 'Directory';
  };
  // Depth first, each folder's names in byte order, a folder's contents right after its own entry:
  // GNU tar's --sort=name. The order decides which name of a hard-linked file is the file.
  const walk = async (abs: string, name: string): Promise<void> => {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const names = (await readdir(abs, { encoding: 'buffer' })).sort(Buffer.compare);
    for (const raw of names) {
      const text = raw.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(raw)) throw new Error(`cannot archive ${JSON.stringify(join(abs, raw.toString('latin1')))}: its name is not UTF-8`);
      const child = join(abs, text);
      const childName = `${name}/${text}`;
      if (await add(child, childName, await lstat(child))) await walk(child, childName);
    }
  };
  if (await add(path, root, await lstat(path))) await walk(path, root);
  return tally;
}
