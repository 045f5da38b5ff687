/** The CLI as a subprocess, exactly as an operator runs it. */
import { join } from 'node:path';
import { execa, type Options, type ResultPromise } from 'execa';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';

export const CLI = join(PACKAGE_ROOT, 'dist', 'cli.js');

/** Environment for a CLI run: PATH and HOME only, so the developer's TEMPORAL_* variables cannot leak in. */
export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...extra };
}

export function runCli(args: string[], opts: Options = {}) {
  return execa(process.execPath, [CLI, ...args], { reject: false, env: cliEnv(), extendEnv: false, all: true, timeout: 120_000, ...opts });
}

/** Starts the CLI and resolves once a stdout line matches `ready`. */
export async function spawnCliUntil(args: string[], ready: RegExp, opts: Options = {}): Promise<{ proc: ResultPromise; output: () => string }> {
  const proc = execa(process.execPath, [CLI, ...args], { reject: false, env: cliEnv(), extendEnv: false, all: true, forceKillAfterDelay: false, ...opts });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`CLI not ready after 60s:\n${output}`)), 60_000);
    proc.all?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void proc.then((r) => {
      clearTimeout(timer);
      reject(new Error(`CLI exited (${String(r.exitCode)}) before ready:\n${output}`));
    });
  });
  return { proc, output: () => output };
}
