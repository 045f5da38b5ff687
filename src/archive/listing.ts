/**
 * Per-root accounting shared by archive creation and verification, so both
 * sides count entries, bytes and the listing digest the same way.
 */
import { createHash } from 'node:crypto';
import type { EntryCounts } from './manifest.js';

export type EntryType = 'File' | 'Directory' | 'SymbolicLink' | 'Link';

/** Tar entry types mapped onto the four mcp-runbooks accepts; anything else is undefined. */
export function normalizeType(tarType: string): EntryType | undefined {
  switch (tarType) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      return 'File';
    case 'Directory':
    case 'SymbolicLink':
    case 'Link':
      return tarType;
    default:
      return undefined;
  }
}

/** Archive paths are compared without a trailing slash. */
export function normalizeArchivePath(p: string): string {
  return p.replace(/\/+$/, '');
}

const MOD = 1n << 256n;

/**
 * Counts, bytes and a digest of a root's entries. The digest is the sum modulo
 * 2^256 of each entry line's sha256 (`type path size`): independent of order,
 * because node-tar writes headers in the order stats finish, and constant in memory.
 */
export class RootTally {
  readonly entries: EntryCounts = { files: 0, directories: 0, symlinks: 0, hardlinks: 0 };
  bytes = 0;
  #sum = 0n;

  add(type: EntryType, archivePath: string, size: number): void {
    if (this.#digest) throw new Error('RootTally: entry added after digest()');
    switch (type) {
      case 'File':
        this.entries.files += 1;
        this.bytes += size;
        break;
      case 'Directory':
        this.entries.directories += 1;
        break;
      case 'SymbolicLink':
        this.entries.symlinks += 1;
        break;
      case 'Link':
        this.entries.hardlinks += 1;
        break;
    }
    const line = createHash('sha256').update(`${type}\t${normalizeArchivePath(archivePath)}\t${type === 'File' ? size : 0}\n`).digest('hex');
    this.#sum = (this.#sum + BigInt(`0x${line}`)) % MOD;
  }

  #digest: string | undefined;
  /** Each file's sha256 by archive path, when the archive's writer hashed them (see `packTar`). */
  readonly files = new Map<string, string>();

  fileDigest(archivePath: string, sha256: string): void {
    this.files.set(normalizeArchivePath(archivePath), sha256);
  }

  /** The listing digest; adding entries after the first call is an error. */
  digest(): string {
    this.#digest ??= this.#sum.toString(16).padStart(64, '0');
    return this.#digest;
  }

  get count(): number {
    const e = this.entries;
    return e.files + e.directories + e.symlinks + e.hardlinks;
  }
}

/** The root an archive path belongs to (longest matching prefix), or undefined. */
export function rootOf<T extends { archivePath: string }>(roots: readonly T[], archivePath: string): T | undefined {
  const p = normalizeArchivePath(archivePath);
  let best: T | undefined;
  for (const r of roots) {
    if (p === r.archivePath || p.startsWith(`${r.archivePath}/`)) {
      if (!best || r.archivePath.length > best.archivePath.length) best = r;
    }
  }
  return best;
}

/** Symlinks nested deeper than this are refused, as the kernel refuses them (ELOOP). */
const MAX_LINK_DEPTH = 40;

/**
 * Where an archive path really leads once extracted: every component that is one
 * of the archive's own symlinks is replaced by that link's target, as the kernel
 * follows it. Spelling alone is not enough: with `sub/a -> ..`, the path
 * `sub/a/..` is the root's parent, not `sub`. Undefined when the path climbs above
 * the archive's top, meets an absolute link, or nests links deeper than 40.
 */
export function resolveThroughLinks(path: string, links: ReadonlyMap<string, string>, depth = 0): string | undefined {
  if (depth > MAX_LINK_DEPTH) return undefined;
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) return undefined;
      out.pop();
      continue;
    }
    out.push(part);
    const target = links.get(out.join('/'));
    if (target === undefined) continue;
    if (target.startsWith('/')) return undefined;
    const resolved = resolveThroughLinks([...out.slice(0, -1), target].join('/'), links, depth + 1);
    if (resolved === undefined) return undefined;
    out.splice(0, out.length, ...(resolved === '' ? [] : resolved.split('/')));
  }
  return out.join('/');
}

/** Whether `path` is `root` or lies under it (archive paths, no trailing slash). */
export function isWithin(root: string, path: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}
