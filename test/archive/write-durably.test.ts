/** writeFileDurably on a real, tiny tmpfs: a full disk leaves neither the file nor its temporary behind. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileDurably } from '../../src/archive/manifest.js';

let small: string;
beforeAll(async () => {
  small = await mkdtemp(join(tmpdir(), 'mcp-durable-'));
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', small]);
});
afterAll(async () => {
  await execa('umount', [small], { reject: false });
  await rm(small, { recursive: true, force: true });
});

describe('writeFileDurably', () => {
  it('writes the file whole', async () => {
    await writeFileDurably(join(small, 'ok.json'), '{"ok":true}\n', 0o600);
    expect(await readFile(join(small, 'ok.json'), 'utf8')).toBe('{"ok":true}\n');
  });

  it('on a full disk: throws ENOSPC and removes its temporary file', async () => {
    await expect(writeFileDurably(join(small, 'big.json'), 'x'.repeat(1024 * 1024), 0o600)).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(await readdir(small)).toEqual(['ok.json']);
  });
});
