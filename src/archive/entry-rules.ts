/**
 * The rules an archive entry must meet to be restored, in one place. The scan
 * (inspection, verification) and the extraction both judge every entry with
 * {@link entryProblem} against an {@link ArchiveModel} of what the archive held
 * before it, so the two cannot drift apart.
 *
 * The model is exact because the rules keep it exact: a path appears once, never
 * replaces a folder that holds earlier entries, and nothing lies under a symlink
 * or a file. A hard link may only name an earlier regular file of its own root
 * reached without a symlink: Linux `link()` on a symlink links the symlink itself,
 * so a hard link to an in-root symlink would plant a second symlink at another
 * depth, whose target then leads somewhere no check looked.
 */
import { posix } from 'node:path';
import { isWithin, normalizeArchivePath, normalizeType, resolveThroughLinks, rootOf } from './listing.js';

/** A root as both sides know it: a folder, or a single-file root (a database dump). */
export interface EntryRoot {
  /** Path prefix in the archive, no trailing `/`. */
  archivePath: string;
  /** `folder`; anything else is a root that holds exactly one plain file at `archivePath`. */
  kind: string;
}

/** The parts of a tar header the rules look at. */
export interface EntryHeader {
  path: string;
  /** node-tar's type name (`File`, `SymbolicLink`, `CharacterDevice`, ...). */
  type: string;
  linkpath?: string | undefined;
}

/** What the archive held so far, in archive order. */
export class ArchiveModel {
  /** Each recorded path's tar type (first occurrence wins). */
  readonly types = new Map<string, string>();
  /** Every recorded symlink's target. */
  readonly symlinks = new Map<string, string>();
  /** Paths that are folders because a deeper entry lies in them. */
  readonly folders = new Set<string>();
  /** Symlinks already refused one by one, so the whole-archive pass does not list them twice. */
  readonly refused = new Set<string>();

  /** Records an entry after it was judged (refused ones too: later entries are then judged against what the archive claims). */
  record(entry: EntryHeader, refused: boolean): void {
    const path = normalizeArchivePath(entry.path);
    if (tooLong(entry) || !isCanonical(path) || this.types.has(path)) return;
    this.types.set(path, entry.type);
    if (entry.type === 'SymbolicLink') {
      this.symlinks.set(path, entry.linkpath ?? '');
      if (refused) this.refused.add(path);
    }
    for (const a of ancestors(path)) this.folders.add(a);
  }
}

const ONLY_FILES = 'only regular files inside the root are hard-linked';

/**
 * Why `entry` must not be restored, or undefined when it may. `roots` are the
 * manifest's (scan) or the extraction's targets; an entry in none of them is refused.
 * Does not change `model`: callers record the entry afterwards.
 */
export function entryProblem(entry: EntryHeader, roots: readonly EntryRoot[], model: ArchiveModel): string | undefined {
  const raw = entry.path;
  // First, before any work per path segment: one 1 MiB pax path of 500,000 segments would cost minutes.
  const long = tooLong(entry);
  if (long) return long;
  const where = `"${raw}"`;
  if (raw.startsWith('/')) return `absolute path ${where}`;
  const path = normalizeArchivePath(raw);
  if (path.split('/').includes('..')) return `path with ".." ${where}`;
  // "a/./b" and "a//b" name the same file as "a/b": one spelling per path keeps the model exact.
  if (!isCanonical(path)) return `path ${where} has empty or "." segments`;
  const type = normalizeType(entry.type);
  if (!type) return `${entry.type} entry ${where}: only files, folders and links are restored`;
  const root = rootOf(roots, path);
  if (!root) return `entry ${where} is outside every root in the manifest`;
  if (root.kind !== 'folder') {
    if (type !== 'File' || path !== root.archivePath) return `entry ${where} in the dump root ${root.archivePath}: a dump root holds one plain file`;
  } else if (path === root.archivePath && type !== 'Directory') {
    return `${type} entry ${where} is the root ${root.archivePath} itself, which must be a folder`;
  }
  if (model.types.has(path)) return `entry ${where} appears twice in the archive`;
  if (model.folders.has(path) && type !== 'Directory') return `${type} entry ${where} would replace the folder that holds earlier entries`;
  const blocked = blockingAncestor(path, model);
  if (blocked) return `entry ${where} lies under ${blocked}`;

  if (type === 'SymbolicLink') {
    const target = entry.linkpath ?? '';
    if (target === '') return `symlink ${where} has an empty target`;
    if (target.startsWith('/')) return `symlink ${where} points to the absolute path "${target}"`;
    const spelled = posix.normalize(posix.join(posix.dirname(path), target));
    if (!isWithin(root.archivePath, spelled)) return `symlink ${where} -> "${target}" leaves its root ${root.archivePath}`;
    // Not posix.join: it would drop `x/..` by spelling, where the kernel follows `x` first.
    const resolved = resolveThroughLinks(`${posix.dirname(path)}/${target}`, model.symlinks);
    if (resolved === undefined || !isWithin(root.archivePath, resolved)) return symlinkChainProblem(path, target, root.archivePath);
  }
  if (type === 'Link') {
    const target = normalizeArchivePath(entry.linkpath ?? '');
    const link = `hard link ${where} -> "${target}"`;
    if (target === '') return `hard link ${where} has no target`;
    if (target.startsWith('/') || target.split('/').includes('..') || !isCanonical(target)) return `${link} leaves its root`;
    if (rootOf(roots, target) !== root) return `${link} leaves its root ${root.archivePath}`;
    const through = blockingAncestor(target, model);
    if (through) return `${link} goes through ${through}`;
    const targetType = model.types.get(target);
    if (targetType === undefined) return model.folders.has(target) ? `${link} targets a folder; ${ONLY_FILES}` : `${link} names no earlier entry of the archive; ${ONLY_FILES}`;
    if (targetType === 'SymbolicLink') return `${link} targets a symlink; ${ONLY_FILES}`;
    if (targetType === 'Directory') return `${link} targets a folder; ${ONLY_FILES}`;
    if (normalizeType(targetType) !== 'File' && targetType !== 'Link') return `${link} targets a ${targetType} entry; ${ONLY_FILES}`;
  }
  return undefined;
}

/**
 * After the last entry: symlinks that, with every symlink of the archive in place,
 * lead outside their root. A chain such as `sub/a -> ..` then `esc -> sub/a/..`
 * is spelled inside its root but is not, and a later link can change where an
 * earlier one leads, so this pass needs the whole archive.
 */
export function symlinkChainProblems(roots: readonly EntryRoot[], model: ArchiveModel): string[] {
  const problems: string[] = [];
  for (const [path, target] of model.symlinks) {
    if (model.refused.has(path)) continue;
    const root = rootOf(roots, path);
    if (!root) continue;
    const resolved = resolveThroughLinks(path, model.symlinks);
    if (resolved === undefined || !isWithin(root.archivePath, resolved)) problems.push(symlinkChainProblem(path, target, root.archivePath));
  }
  return problems;
}

function symlinkChainProblem(path: string, target: string, root: string): string {
  return `symlink "${path}" -> "${target}" leads outside its root ${root} through the archive's other symlinks`;
}

/** The first ancestor of `path` that is not a folder (a symlink, a file), described; undefined when all are folders. */
function blockingAncestor(path: string, model: ArchiveModel): string | undefined {
  for (const a of ancestors(path)) {
    const t = model.types.get(a);
    if (t === undefined || t === 'Directory') continue;
    return t === 'SymbolicLink' ? `a symlink ("${a}")` : `"${a}", which is not a folder (${t})`;
  }
  return undefined;
}

/** `a`, `a/b` for `a/b/c`: top down. */
/** Longest path or link target restored, in bytes (Linux PATH_MAX), and most segments. */
export const MAX_PATH_BYTES = 4096;
export const MAX_PATH_SEGMENTS = 256;

/** Why an entry's path or link target is too long to judge, or undefined. */
function tooLong(entry: EntryHeader): string | undefined {
  for (const [what, p] of [['path', entry.path], ['link target', entry.linkpath ?? '']] as const) {
    if (p.length > MAX_PATH_BYTES) return `an entry's ${what} is ${p.length} characters long (at most ${MAX_PATH_BYTES}): "${p.slice(0, 80)}…"`;
    let segments = 1;
    for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) segments++;
    if (segments > MAX_PATH_SEGMENTS) return `an entry's ${what} has ${segments} segments (at most ${MAX_PATH_SEGMENTS}): "${p.slice(0, 80)}…"`;
  }
  return undefined;
}

function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i));
  return out;
}

function isCanonical(path: string): boolean {
  return path !== '' && path.split('/').every((p) => p !== '' && p !== '.');
}
