/**
 * The package as an operator deploys it: `npm pack` here (prepack and prepare
 * run: orphans pruned, dist/ built), `npm install ./mcp-runbooks-*.tgz` into an
 * empty folder (from npm's cache where it can), then the installed binary alone:
 * `npx mcp-runbooks --help`, `doctor` against a sandbox host, an orchestrator
 * worker that runs the workflow bundle built with the package, and the systemd
 * units verified by systemd-analyze with ExecStart in the installed folder.
 * The slow part (pack and install, 40-70 s here) is done once, in beforeAll.
 */
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src/doctor/index.js';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';
import { cliEnv } from '../helpers/cli.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { INSTALL_PREFIX, INSTALLED_BIN } from '../helpers/systemd-units.js';

let dir: string;
let prefix: string;
let packedFiles: string[];
let sbx: TestSandbox;
const timings: Record<string, number> = {};

/** npm with a plain environment: vitest's own npm_* variables (it runs under npx) must not leak into the operator's commands. */
function npmEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };
}

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  try {
    return await fn();
  } finally {
    timings[what] = (Date.now() - start) / 1000;
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-pack-'));
  prefix = join(dir, 'opt', 'mcp-runbooks');
  await mkdir(prefix, { recursive: true });
  const [pack] = await Promise.all([
    timed('npm pack', () => execa('npm', ['pack', '--json', '--pack-destination', dir], { cwd: PACKAGE_ROOT, env: npmEnv(), extendEnv: false, timeout: 240_000 })),
    // The sandbox host doctor checks, made meanwhile (no services started: doctor checks their commands, not their state).
    createTestSandbox({ hostId: 'packed-host', start: false }).then((s) => (sbx = s)),
  ]);
  const [info] = JSON.parse(pack.stdout) as [{ filename: string; files: { path: string }[] }];
  packedFiles = info.files.map((f) => f.path);
  await timed('npm install', () =>
    execa('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, info.filename)], { cwd: prefix, env: npmEnv(), extendEnv: false, timeout: 300_000 }),
  );
}, 600_000);

afterAll(async () => {
  await sbx?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
  // The measured wall times, for BENCHMARKS-style notes on what this test costs.
  console.log(`package test: ${Object.entries(timings).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}`);
});

const installed = () => join(prefix, 'node_modules', 'mcp-runbooks');

describe('the packed tarball', () => {
  it('holds the built CLI, the workflow sources it bundles, monitoring and deploy; no build state, sources or tests', () => {
    for (const f of ['package.json', 'README.md', 'dist/cli.js', 'dist/worker.js', 'dist/workflows/index.js', 'dist/workflows-bundle.js', 'dist/workflows-bundle.json', 'dist/doctor/index.js', 'dist/dev/sandbox/ctl.js']) expect(packedFiles, f).toContain(f);
    for (const f of ['deploy/systemd/mcp-runbooks-host.service', 'deploy/systemd/mcp-runbooks-orchestrator.service', 'deploy/systemd/mcp-runbooks-gateway.service', 'deploy/sysusers.d/mcp-runbooks.conf', 'deploy/examples/orchestrator.yaml', 'deploy/examples/db-1.yaml', 'monitoring/alert_rules.yml']) {
      expect(packedFiles, f).toContain(f);
    }
    expect(packedFiles).not.toContain('dist/.tsbuildinfo');
    expect(packedFiles.filter((f) => /^(src|test|bench|scripts|\.data|node_modules)\//.test(f))).toEqual([]);
  });

  it('installs with only its runtime dependencies; the bin is an executable Node script', async () => {
    const pkg = JSON.parse(await readFile(join(installed(), 'package.json'), 'utf8')) as { bin: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect(pkg.bin).toEqual({ 'mcp-runbooks': 'dist/cli.js' });
    const cli = join(installed(), 'dist', 'cli.js');
    expect((await readFile(cli, 'utf8')).split('\n')[0]).toBe('#!/usr/bin/env node');
    await access(cli, constants.X_OK);
    await access(join(prefix, 'node_modules', '.bin', 'mcp-runbooks'), constants.X_OK);
    const top = await readdir(join(prefix, 'node_modules'));
    for (const dep of Object.keys(pkg.dependencies)) expect(top.includes(dep) || top.includes(dep.split('/')[0]!), dep).toBe(true);
    // Development tools stay on the build machine.
    for (const dev of ['typescript', 'vitest', 'eslint', 'tsx']) expect(top, dev).not.toContain(dev);
  });

  it('npx mcp-runbooks --help runs from the install folder', async () => {
    const r = await execa('npx', ['mcp-runbooks', '--help'], { cwd: prefix, env: npmEnv(), extendEnv: false, reject: false, all: true, timeout: 60_000 });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/^Usage: mcp-runbooks/);
    expect(r.stdout).toMatch(/^ {2}doctor /m);
  });

  it('npx mcp-runbooks doctor passes on a sandbox host', async () => {
    const r = await execa('npx', ['mcp-runbooks', '--config', sbx.configPath, 'doctor', '--role', 'host', '--json'], { cwd: prefix, env: cliEnv(), extendEnv: false, reject: false, all: true, timeout: 120_000 });
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.checks.filter((c) => c.status === 'fail'), r.all).toEqual([]);
    expect(r.exitCode).toBe(0);
    // The installed package read its own package.json for the Node check.
    expect(report.checks.find((c) => c.check === 'node')?.message).toMatch(/package needs >=\d/);
  });

  it('an orchestrator worker from the installed package runs the workflow bundle built with it and stops on SIGTERM', async () => {
    const bin = join(prefix, 'node_modules', '.bin', 'mcp-runbooks');
    const worker = execa(bin, ['--config', sbx.configPath, 'worker', '--role', 'orchestrator'], { cwd: prefix, env: cliEnv(), extendEnv: false, reject: false, all: true, timeout: 120_000 });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      worker.all.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (/task queues: /.test(output)) resolve();
      });
      void worker.then((r) => reject(new Error(`worker exited ${String(r.exitCode)} before it served:\n${output}`)));
    });
    worker.kill('SIGTERM');
    const r = await worker;
    expect(r.exitCode, r.all).toBe(0);
    // The bundle built with the package, in the install folder: no webpack run at start, and not this checkout's code.
    expect(r.all).toContain(`workflows: bundle ${join(installed(), 'dist', 'workflows-bundle.js')}`);
    expect(r.all).not.toContain('Workflow bundle created');
    expect(r.all).toContain('worker stopped');
  });

  it('systemd-analyze verify accepts the installed units, ExecStart resolved in the install folder (systemd itself cannot run here)', async () => {
    const units = join(dir, 'units');
    await mkdir(units);
    const source = join(installed(), 'deploy', 'systemd');
    for (const name of await readdir(source)) {
      const text = await readFile(join(source, name), 'utf8');
      expect(text, name).toContain(`ExecStart=${INSTALLED_BIN} `);
      // The install prefix of README's instructions, /opt/mcp-runbooks, is this test's install folder.
      await writeFile(join(units, name), text.replaceAll(`${INSTALL_PREFIX}/`, `${prefix}/`));
    }
    const names = (await readdir(units)).map((n) => join(units, n));
    expect(names).toHaveLength(3);
    const r = await execa('systemd-analyze', ['verify', ...names], { reject: false, all: true, env: { PATH: process.env.PATH ?? '', SYSTEMD_LOG_LEVEL: 'notice' } });
    expect(r.all).toBe('');
    expect(r.exitCode).toBe(0);
  });
});
