/** Reading a running process's config file from /proc, on real processes. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFlag, isWorkerArgv, runningConfigOf } from '../../src/doctor/process-config.js';

describe('argv', () => {
  it.each<[string[], string | undefined]>([
    [['node', '/opt/x/node_modules/.bin/mcp-runbooks', '--config', '/etc/a.yaml', 'worker'], '/etc/a.yaml'],
    [['node', 'dist/cli.js', 'worker', '--config=rel.yaml'], 'rel.yaml'],
    [['node', 'dist/cli.js', 'worker', '--', '--config', 'x'], undefined],
    [['node', 'dist/cli.js', 'worker'], undefined],
  ])('%j -> %s', (args, file) => {
    expect(configFlag(args)).toBe(file);
  });

  it('a worker is mcp-runbooks (or its cli.js) running worker or dev', () => {
    expect(isWorkerArgv(['node', '/usr/bin/mcp-runbooks', '--config', 'a', 'worker', '--role', 'host'])).toBe(true);
    expect(isWorkerArgv(['node', '/srv/dist/cli.js', 'dev'])).toBe(true);
    expect(isWorkerArgv(['node', '/srv/dist/cli.js', 'doctor'])).toBe(false);
    expect(isWorkerArgv(['sleep', 'worker'])).toBe(false);
  });
});

describe('a live process', () => {
  let dir: string;
  const children: ResultPromise[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-proc-'));
    // Stands in for dist/cli.js only by name: a real process whose argv /proc shows.
    await writeFile(join(dir, 'cli.js'), 'process.stdout.write("ready\\n");\nsetTimeout(() => undefined, 60_000);\n');
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.allSettled(children);
    await rm(dir, { recursive: true, force: true });
  });
  /** Starts it and waits for its first output: before that, /proc may still show the argv of the process it was forked from. */
  const start = async (args: string[], env: Record<string, string> = {}) => {
    const child = execa(process.execPath, [join(dir, 'cli.js'), ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env }, extendEnv: false, reject: false });
    children.push(child);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    return child.pid!;
  };

  it('--config relative to its working folder, MCP_RUNBOOKS_CONFIG, or none (the sandbox)', async () => {
    expect(await runningConfigOf(await start(['--config', 'host.yaml', 'worker']))).toEqual({ state: 'running', file: join(dir, 'host.yaml') });
    expect(await runningConfigOf(await start(['worker'], { MCP_RUNBOOKS_CONFIG: '/etc/mcp-runbooks/host.yaml' }))).toEqual({ state: 'running', file: '/etc/mcp-runbooks/host.yaml' });
    expect(await runningConfigOf(await start(['dev']))).toEqual({ state: 'running', file: undefined });
  });

  it('a pid that is not a worker (a recycled pid), or no process at all, is gone', async () => {
    expect(await runningConfigOf(await start(['doctor']))).toEqual({ state: 'gone' });
    const done = execa(process.execPath, ['-e', '']);
    await done;
    expect(await runningConfigOf(done.pid!)).toEqual({ state: 'gone' });
  });
});
