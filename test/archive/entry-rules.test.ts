/** The one set of entry rules the scan and the extraction share, entry by entry in archive order. */
import { describe, expect, it } from 'vitest';
import { ArchiveModel, entryProblem, symlinkChainProblems, type EntryHeader } from '../../src/archive/entry-rules.js';

const r = 'srv/data';
const roots = [
  { archivePath: r, kind: 'folder' },
  { archivePath: 'srv/other', kind: 'folder' },
  { archivePath: 'mcp-runbooks/pg_dump/db.dump', kind: 'pg_dump' },
];
const dir = (path: string): EntryHeader => ({ path: `${path}/`, type: 'Directory' });
const file = (path: string): EntryHeader => ({ path, type: 'File' });
const sym = (path: string, linkpath: string): EntryHeader => ({ path, type: 'SymbolicLink', linkpath });
const hard = (path: string, linkpath: string): EntryHeader => ({ path, type: 'Link', linkpath });

/** Judges and records each entry; returns the last one's problem (the earlier ones must pass). */
function lastProblem(entries: EntryHeader[]): string | undefined {
  const model = new ArchiveModel();
  let problem: string | undefined;
  entries.forEach((e, i) => {
    problem = entryProblem(e, roots, model);
    if (i < entries.length - 1) expect(problem, `entry ${e.path} before the last`).toBeUndefined();
    model.record(e, problem !== undefined);
  });
  return problem;
}

const deep = [dir(r), dir(`${r}/a`), dir(`${r}/a/b`), dir(`${r}/a/b/c`)];

describe('entryProblem', () => {
  it.each<[string, EntryHeader[], string | undefined]>([
    ['a plain tree', [dir(r), file(`${r}/x`), hard(`${r}/y`, `${r}/x`), sym(`${r}/s`, 'x')], undefined],
    ['a hard link to a hard link (a regular file on disk)', [dir(r), file(`${r}/x`), hard(`${r}/y`, `${r}/x`), hard(`${r}/z`, `${r}/y`)], undefined],
    ['an in-root symlink up to the root', [...deep, sym(`${r}/a/b/c/up`, '../../..')], undefined],
    ['the dump root', [file('mcp-runbooks/pg_dump/db.dump')], undefined],
    // The red team's finding: link() on a symlink links the symlink itself.
    ['a hard link to an in-root symlink (depth 1)', [dir(r), dir(`${r}/a`), sym(`${r}/a/up`, '..'), hard(`${r}/h`, `${r}/a/up`)], `hard link "${r}/h" -> "${r}/a/up" targets a symlink; only regular files inside the root are hard-linked`],
    ['a hard link to an in-root symlink (depth 3)', [...deep, sym(`${r}/a/b/c/up`, '../../..'), hard(`${r}/h`, `${r}/a/b/c/up`)], `hard link "${r}/h" -> "${r}/a/b/c/up" targets a symlink; only regular files inside the root are hard-linked`],
    ['a hard link to a folder entry', [dir(r), dir(`${r}/d`), hard(`${r}/h`, `${r}/d`)], `hard link "${r}/h" -> "${r}/d" targets a folder; only regular files inside the root are hard-linked`],
    ['a hard link to a folder only implied by its entries', [dir(r), file(`${r}/d/x`), hard(`${r}/h`, `${r}/d`)], `hard link "${r}/h" -> "${r}/d" targets a folder; only regular files inside the root are hard-linked`],
    ['a hard link through a symlink', [dir(r), dir(`${r}/sub`), file(`${r}/sub/x`), sym(`${r}/lnk`, 'sub'), hard(`${r}/h`, `${r}/lnk/x`)], `hard link "${r}/h" -> "${r}/lnk/x" goes through a symlink ("${r}/lnk")`],
    ['a hard link to a later entry', [dir(r), hard(`${r}/h`, `${r}/x`)], `hard link "${r}/h" -> "${r}/x" names no earlier entry of the archive; only regular files inside the root are hard-linked`],
    ['a hard link into another root', [dir(r), dir('srv/other'), file('srv/other/x'), hard(`${r}/h`, 'srv/other/x')], `hard link "${r}/h" -> "srv/other/x" leaves its root ${r}`],
    ['a hard link with ".."', [dir(r), hard(`${r}/h`, `${r}/../x`)], `hard link "${r}/h" -> "${r}/../x" leaves its root`],
    ['an entry under a hard link', [dir(r), file(`${r}/x`), hard(`${r}/h`, `${r}/x`), file(`${r}/h/m`)], `entry "${r}/h/m" lies under "${r}/h", which is not a folder (Link)`],
    ['an entry under a symlink', [dir(r), dir(`${r}/sub`), sym(`${r}/s`, 'sub'), file(`${r}/s/m`)], `entry "${r}/s/m" lies under a symlink ("${r}/s")`],
    ['a path twice (a file, then a symlink in its place)', [dir(r), file(`${r}/x`), sym(`${r}/x`, '.')], `entry "${r}/x" appears twice in the archive`],
    ['a symlink in place of a folder that holds entries', [dir(r), file(`${r}/d/x`), sym(`${r}/d`, '.')], `SymbolicLink entry "${r}/d" would replace the folder that holds earlier entries`],
    ['the root as a symlink', [sym(r, '.')], `SymbolicLink entry "${r}" is the root ${r} itself, which must be a folder`],
    ['a second entry in the dump root', [file('mcp-runbooks/pg_dump/db.dump/x')], 'entry "mcp-runbooks/pg_dump/db.dump/x" in the dump root mcp-runbooks/pg_dump/db.dump: a dump root holds one plain file'],
    ['"." segments', [dir(r), file(`${r}/./x`)], `path "${r}/./x" has empty or "." segments`],
    ['an absolute path', [file(`/${r}/x`)], `absolute path "/${r}/x"`],
    ['a ".." path', [file(`${r}/../x`)], `path with ".." "${r}/../x"`],
    ['a symlink leaving its root by spelling', [dir(r), sym(`${r}/s`, '../..')], `symlink "${r}/s" -> "../.." leaves its root ${r}`],
    ['a symlink leaving through an earlier link', [dir(r), dir(`${r}/sub`), sym(`${r}/sub/a`, '..'), sym(`${r}/esc`, 'sub/a/..')], `symlink "${r}/esc" -> "sub/a/.." leads outside its root ${r} through the archive's other symlinks`],
    ['an absolute symlink', [dir(r), sym(`${r}/s`, '/etc')], `symlink "${r}/s" points to the absolute path "/etc"`],
    ['a FIFO', [dir(r), { path: `${r}/p`, type: 'FIFO' }], `FIFO entry "${r}/p": only files, folders and links are restored`],
    ['an entry outside every root', [file('etc/passwd')], 'entry "etc/passwd" is outside every root in the manifest'],
  ])('%s', (_what, entries, expected) => {
    expect(lastProblem(entries)).toBe(expected);
  });

  it('a hard link to a device names its type (the device itself is refused first)', () => {
    const model = new ArchiveModel();
    const device: EntryHeader = { path: `${r}/null`, type: 'CharacterDevice' };
    for (const e of [dir(r), device]) model.record(e, entryProblem(e, roots, model) !== undefined);
    expect(entryProblem(hard(`${r}/h`, `${r}/null`), roots, model)).toBe(`hard link "${r}/h" -> "${r}/null" targets a CharacterDevice entry; only regular files inside the root are hard-linked`);
  });

  it('a chain made leaky by a later link is found once the whole archive is known', () => {
    const model = new ArchiveModel();
    // esc is judged before sub/a exists as a link: spelled (and then) it stays inside.
    for (const e of [dir(r), dir(`${r}/sub`), sym(`${r}/esc`, 'sub/a/..'), sym(`${r}/sub/a`, '..')]) {
      expect(entryProblem(e, roots, model)).toBeUndefined();
      model.record(e, false);
    }
    expect(symlinkChainProblems(roots, model)).toEqual([`symlink "${r}/esc" -> "sub/a/.." leads outside its root ${r} through the archive's other symlinks`]);
  });
});

describe('paths too long to judge', () => {
  it('a path of 500,000 segments (a 1 MiB pax path that gzips to a few KB) is refused at once, before any per-segment work', () => {
    const path = `${r}/${'a/'.repeat(500_000)}x`;
    const t0 = performance.now();
    const model = new ArchiveModel();
    const problem = entryProblem(file(path), roots, model);
    model.record(file(path), true);
    expect(performance.now() - t0).toBeLessThan(200);
    expect(problem).toMatch(/^an entry's path is 1000010 characters long \(at most 4096\)/);
    expect(model.folders.size).toBe(0);
  });

  it.each<[string, EntryHeader, RegExp]>([
    ['257 short segments', file(`${r}/${'a/'.repeat(255)}x`), /^an entry's path has 258 segments \(at most 256\)/],
    ['a link target of 5000 characters', sym(`${r}/s`, 'b'.repeat(5000)), /^an entry's link target is 5000 characters long \(at most 4096\)/],
  ])('%s is refused', (_what, entry, expected) => {
    expect(lastProblem([dir(r), entry])).toMatch(expected);
  });
});
