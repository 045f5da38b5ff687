/** The permission review on a real tree with chosen modes, by lstat, links never followed. */
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modeWithin, octal, scanPermissions } from '../../src/maintenance/permissions.js';

const FILES = [0o644, 0o600, 0o755, 0o750];
const DIRS = [0o755, 0o750];

describe('modeWithin (a mode may grant nothing beyond an allowed one)', () => {
  it.each([
    [0o644, FILES, true],
    [0o640, FILES, true],
    [0o400, FILES, true],
    [0o700, DIRS, true],
    [0o664, FILES, false],
    [0o660, FILES, false],
    [0o4755, FILES, false],
    [0o1755, DIRS, false],
    [0o775, DIRS, false],
    [0o777, DIRS, false],
  ])('%s within the set: %s', (mode, allowed, within) => {
    expect(modeWithin(mode, allowed)).toBe(within);
  });
});

let root: string;
let outside: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcp-perm-'));
  outside = await mkdtemp(join(tmpdir(), 'mcp-perm-out-'));
  await chmod(root, 0o750);
  await mkdir(join(root, 'ok-dir'), { mode: 0o755 });
  await mkdir(join(root, 'group-writable-dir'));
  await chmod(join(root, 'group-writable-dir'), 0o775);
  await mkdir(join(root, 'private-dir'));
  await chmod(join(root, 'private-dir'), 0o700);
  const files: Array<[string, number]> = [
    ['ok-dir/a.conf', 0o644],
    ['ok-dir/secret.key', 0o600],
    ['ok-dir/data.json', 0o640],
    ['ok-dir/world.txt', 0o666],
    ['group-writable-dir/g.txt', 0o664],
    ['private-dir/setuid-tool', 0o4755],
  ];
  for (const [rel, mode] of files) {
    await writeFile(join(root, rel), rel);
    await chmod(join(root, rel), mode);
  }
  // World-writable things behind links must not count: a link's own mode is 0777 and its target is elsewhere.
  await writeFile(join(outside, 'elsewhere.txt'), 'x');
  await chmod(join(outside, 'elsewhere.txt'), 0o666);
  await chmod(outside, 0o777);
  await symlink(join(outside, 'elsewhere.txt'), join(root, 'ok-dir', 'link-to-file'));
  await symlink(outside, join(root, 'link-to-dir'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

describe('scanPermissions', () => {
  it('world-writable apart; modes beyond the allowed set apart; stricter modes pass; links neither followed nor judged', async () => {
    const r = await scanPermissions([root, join(root, 'missing')], { fileModes: FILES, dirModes: DIRS });
    expect(r.worldWritable).toEqual([{ path: join(root, 'ok-dir', 'world.txt'), mode: '0666', kind: 'file', problem: 'world-writable' }]);
    expect(r.notAllowed.map((p) => [p.path.slice(root.length + 1), p.mode, p.kind]).sort()).toEqual([
      ['group-writable-dir', '0775', 'dir'],
      ['group-writable-dir/g.txt', '0664', 'file'],
      ['private-dir/setuid-tool', '4755', 'file'],
    ]);
    expect(r.totals).toEqual({ worldWritable: 1, notAllowed: 3 });
    expect(r.links).toBe(2);
    // root, 3 folders, 6 files
    expect(r.scanned).toBe(10);
    expect(r.missingRoots).toEqual([join(root, 'missing')]);
  });

  it('caps the lists but not the counts', async () => {
    const r = await scanPermissions([root], { fileModes: [0o400], dirModes: [0o500], limit: 2 });
    expect(r.notAllowed).toHaveLength(2);
    expect(r.totals.notAllowed).toBeGreaterThan(2);
  });

  it('octal renders four digits', () => {
    expect([octal(0o644), octal(0o100644), octal(0o4755)]).toEqual(['0644', '0644', '4755']);
  });
});
