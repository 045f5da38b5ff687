/** The built CLI (`dist/cli.js`) as an operator runs it, for benchmarks that time a real process. */
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';

export interface BenchCli {
  proc: ResultPromise;
  /** What `ready` matched. */
  match: RegExpExecArray;
  output(): string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Starts `mcp-runbooks <args>` with only PATH and HOME (the developer's
 * TEMPORAL_* variables must not reach the config) and resolves once its output
 * matches `ready` (within 60 s, or it is killed and this throws with its output).
 * Killed by execa after `hardLimitMs` and with the bench (`cleanup`). With
 * `underTimeout` it also runs under coreutils' `timeout`, so it stops by itself
 * even if the bench is SIGKILLed; its pid is then timeout's, not the CLI's.
 */
export async function startBenchCli(args: string[], ready: RegExp, opts: { hardLimitMs: number; underTimeout?: boolean }): Promise<BenchCli> {
  const argv = [process.execPath, join(PACKAGE_ROOT, 'dist', 'cli.js'), ...args];
  const [file, ...rest] = opts.underTimeout ? ['timeout', '--kill-after=5', String(Math.ceil(opts.hardLimitMs / 1000)), ...argv] : argv;
  const proc = execa(file!, rest, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' },
    extendEnv: false,
    stdin: 'ignore',
    all: true,
    reject: false,
    cleanup: true,
    timeout: opts.hardLimitMs,
    forceKillAfterDelay: 5_000,
  });
  let output = '';
  proc.all.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const m = ready.exec(output);
    if (m) return { proc, match: m, output: () => output };
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`mcp-runbooks ${args.join(' ')} did not start:\n${output}`);
    }
    await sleep(50);
  }
}
