/** Old logs and temp files removed from real folders, by real modification times, never through links. */
import { renameSync, symlinkSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeOldEntriesIn, removeOldFilesUnder } from '../../src/maintenance/old-files.js';
import { makeOld } from '../helpers/files.js';

let dir: string;
let outside: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-old-'));
  outside = await mkdtemp(join(tmpdir(), 'mcp-outside-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});
const exists = (p: string) => lstat(p).then(() => true, () => false);
const DAY = 24;

describe('removeOldFilesUnder (daily: *.log older than 7 days under the log folder)', () => {
  it('removes old *.log files in every subfolder, keeps new ones and other names, never follows a link', async () => {
    await mkdir(join(dir, 'sub', 'deeper'), { recursive: true });
    const files = {
      oldLog: join(dir, 'a.log'),
      newLog: join(dir, 'b.log'),
      oldOther: join(dir, 'c.log.1'),
      oldDeep: join(dir, 'sub', 'deeper', 'd.log'),
      outsideLog: join(outside, 'victim.log'),
    };
    for (const [name, path] of Object.entries(files)) await writeFile(path, `${name}\n`.repeat(100));
    for (const p of [files.oldLog, files.oldOther, files.oldDeep, files.outsideLog]) await makeOld(p, 8 * DAY);
    await makeOld(files.newLog, 6 * DAY);
    // A link to a folder outside, and a link named like an old log pointing at an old file outside.
    await symlink(outside, join(dir, 'linked-dir'));
    await symlink(files.outsideLog, join(dir, 'link.log'));
    await makeOld(join(dir, 'link.log'), 8 * DAY, { link: true });

    const r = await removeOldFilesUnder(dir, { olderThan: new Date(Date.now() - 7 * DAY * 3_600_000), match: (n) => n.endsWith('.log') });
    expect(r.removed.map((x) => x.path).sort()).toEqual([files.oldLog, files.oldDeep].sort());
    expect(r.bytes).toBe(Buffer.byteLength('oldLog\n'.repeat(100)) + Buffer.byteLength('oldDeep\n'.repeat(100)));
    expect(r.kept).toBe(1);
    for (const p of [files.newLog, files.oldOther, join(dir, 'link.log'), join(dir, 'linked-dir')]) expect(await exists(p), p).toBe(true);
    expect(await readFile(files.outsideLog, 'utf8')).toContain('outsideLog');
  });

  it('a subfolder swapped for a link to a folder outside while its files are being deleted: nothing outside is deleted', async () => {
    // 300 old logs in sub/, and the same names in a folder outside.
    const sub = join(dir, 'sub');
    await mkdir(sub);
    const names = Array.from({ length: 300 }, (_, i) => `f${i}.log`);
    for (const n of names) {
      await writeFile(join(sub, n), 'inside\n');
      await makeOld(join(sub, n), 8 * DAY);
      await writeFile(join(outside, n), 'outside\n');
      await makeOld(join(outside, n), 8 * DAY);
    }
    // At the 200th entry (sub/ is listed, its deletions under way), sub/ is moved away and a link to outside/ takes its name.
    let swapped = false;
    const r = await removeOldFilesUnder(dir, {
      olderThan: new Date(Date.now() - 7 * DAY * 3_600_000),
      match: (n) => n.endsWith('.log'),
      onProgress: (seen) => {
        if (seen === 200 && !swapped) {
          renameSync(sub, join(dir, 'moved'));
          symlinkSync(outside, sub);
          swapped = true;
        }
      },
    });
    expect(swapped).toBe(true);
    // Every file outside survives; those not yet deleted when the swap happened are reported as left.
    expect((await readdir(outside)).sort()).toEqual([...names].sort());
    for (const n of names) expect(await readFile(join(outside, n), 'utf8')).toBe('outside\n');
    expect(r.removed.length).toBeGreaterThan(0);
    expect(r.removed.length + r.left.length).toBe(300);
    expect(r.left.length).toBeGreaterThan(0);
    for (const l of r.left) expect(l.why).toMatch(/^not removed: its folder now resolves to .*mcp-outside-/);
    // What was removed before the swap was removed from the real sub/ (now moved/).
    expect((await readdir(join(dir, 'moved'))).length).toBe(300 - r.removed.length);
  });

  it('keeps the files named in keep (the services\' live logs), even when named through a link', async () => {
    await writeFile(join(dir, 'live.log'), 'live\n');
    await writeFile(join(dir, 'old.log'), 'old\n');
    for (const n of ['live.log', 'old.log']) await makeOld(join(dir, n), 8 * DAY);
    await symlink(dir, join(outside, 'via-link'));
    const r = await removeOldFilesUnder(dir, { olderThan: new Date(Date.now() - 7 * DAY * 3_600_000), match: (n) => n.endsWith('.log'), keep: [join(outside, 'via-link', 'live.log')] });
    expect(r.removed.map((x) => x.path)).toEqual([join(dir, 'old.log')]);
    expect(r.left).toEqual([{ path: join(dir, 'live.log'), why: 'a configured service log file' }]);
    expect(await readFile(join(dir, 'live.log'), 'utf8')).toBe('live\n');
  });

  it('a missing folder is an error for the caller to report', async () => {
    await expect(removeOldFilesUnder(join(dir, 'nope'), { olderThan: new Date(), match: () => true })).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('removeOldEntriesIn (weekly: mcp_* older than a day at the top of a temp folder)', () => {
  it('removes old files, old links (not their targets) and old empty folders; keeps the rest; leaves full folders', async () => {
    const p = (n: string) => join(dir, n);
    await writeFile(p('mcp_old'), 'x'.repeat(10));
    await writeFile(p('mcp_new'), 'y');
    await writeFile(p('other_old'), 'z');
    await mkdir(p('mcp_empty_dir'));
    await mkdir(p('mcp_full_dir'));
    await writeFile(join(p('mcp_full_dir'), 'mcp_inner'), 'inner');
    await writeFile(join(outside, 'mcp_target'), 'keep me');
    await symlink(join(outside, 'mcp_target'), p('mcp_link'));
    await symlink(outside, p('mcp_dirlink'));
    for (const n of ['mcp_old', 'other_old', 'mcp_empty_dir', 'mcp_full_dir']) await makeOld(p(n), 2 * DAY);
    await makeOld(join(p('mcp_full_dir'), 'mcp_inner'), 2 * DAY);
    await makeOld(join(outside, 'mcp_target'), 2 * DAY);
    await makeOld(p('mcp_link'), 2 * DAY, { link: true });
    await makeOld(p('mcp_dirlink'), 2 * DAY, { link: true });
    await makeOld(p('mcp_new'), 12);

    const r = await removeOldEntriesIn(dir, { olderThan: new Date(Date.now() - DAY * 3_600_000), match: (n) => n.startsWith('mcp_') });
    expect(r.removed.map((x) => x.path).sort()).toEqual([p('mcp_dirlink'), p('mcp_empty_dir'), p('mcp_link'), p('mcp_old')].sort());
    expect(r.bytes).toBe(10);
    expect(r.left).toEqual([{ path: p('mcp_full_dir'), why: 'a folder that is not empty' }]);
    expect(r.kept).toBe(1);
    // Nothing outside was touched, and nothing inside the full folder.
    expect(await readFile(join(outside, 'mcp_target'), 'utf8')).toBe('keep me');
    expect((await stat(outside)).isDirectory()).toBe(true);
    expect(await exists(join(p('mcp_full_dir'), 'mcp_inner'))).toBe(true);
    expect(await exists(p('other_old'))).toBe(true);
    expect(await exists(p('mcp_new'))).toBe(true);
  });
});
