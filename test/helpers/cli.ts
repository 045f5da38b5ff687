/** The CLI as a subprocess, exactly as an operator runs it. */
import { join } from 'node:path';
import { execa } from 'execa';
import { inject } from 'vitest';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';

export const CLI = join(PACKAGE_ROOT, 'dist', 'cli.js');

/**
 * Environment for a CLI run: PATH, HOME and the test run's temporal binary only,
 * so the developer's TEMPORAL_* variables cannot leak in.
 */
export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', TEMPORAL_CLI_PATH: inject('temporalBinary'), ...extra };
}

export interface CliResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved. */
  all: string;
}

export interface CliOptions {
  env?: Record<string, string>;
  timeout?: number;
}

export async function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const r = await execa(process.execPath, [CLI, ...args], {
    reject: false,
    env: opts.env ?? cliEnv(),
    extendEnv: false,
    all: true,
    timeout: opts.timeout ?? 120_000,
  });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, all: r.all };
}

export interface RunningCli {
  pid: number | undefined;
  kill(signal: NodeJS.Signals): void;
  /** Settles when the process exits. */
  exited: Promise<CliResult>;
  output(): string;
}

/** Starts the CLI and resolves once its output matches `ready`. */
export async function spawnCliUntil(args: string[], ready: RegExp): Promise<RunningCli> {
  return spawnNodeUntil(CLI, args, ready);
}

/** Starts a Node script (the CLI, a test entry point) with {@link cliEnv} and resolves once its output matches `ready`. */
export async function spawnNodeUntil(script: string, args: string[], ready: RegExp): Promise<RunningCli> {
  const proc = execa(process.execPath, [script, ...args], { reject: false, env: cliEnv(), extendEnv: false, all: true, forceKillAfterDelay: false });
  let output = '';
  const exited = proc.then((r): CliResult => ({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, all: r.all }));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} not ready after 60s:\n${output}`)), 60_000);
    proc.all.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((r) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${String(r.exitCode)}) before ready:\n${output}`));
    });
  });
  return { pid: proc.pid, kill: (signal) => proc.kill(signal), exited, output: () => output };
}

/** `mcp-runbooks gateway` with this config, running until `stop()`; `url` is where it listens. */
export async function startGatewayCli(configPath: string): Promise<{ process: RunningCli; url: string; stop(): Promise<void> }> {
  const proc = await spawnCliUntil(['--config', configPath, 'gateway'], /gateway: http:\/\/\S+/);
  return {
    process: proc,
    url: /gateway: (http:\/\/\S+)/.exec(proc.output())![1]!,
    async stop() {
      proc.kill('SIGTERM');
      await proc.exited;
    },
  };
}
