/**
 * Finding the programs a role runs, and their versions: the same PATH lookup
 * the worker's program runner does ({@link resolveProgram}), and `--version`
 * through the one runner (argv, no shell, environment without secrets).
 */
import type { Env } from '../config/load.js';
import { resolveProgram, runProgram } from '../services/run-argv.js';

/** How long a `--version` may take. */
const VERSION_TIMEOUT_MS = 10_000;

/** The PATH a "not found" message names, so the operator sees where doctor looked (the unit's PATH may differ from a login shell's). */
export function pathOf(env: Env): string {
  return env.PATH || '(PATH is empty)';
}

/** Where `program` runs from on `env.PATH` (or itself when it holds a slash), else undefined. */
export function findProgram(program: string, env: Env): string | undefined {
  return resolveProgram(program, env);
}

/**
 * The first line a `--version`-style argv prints, or why it printed none.
 * `extraEnv` is added to the child's environment (e.g. PGHOST, so Debian's
 * pg_wrapper picks the same version it will for the real dump).
 */
export async function programVersion(argv: readonly string[], extraEnv: Record<string, string> = {}): Promise<{ line: string } | { error: string }> {
  const r = await runProgram(argv, { timeoutMs: VERSION_TIMEOUT_MS, env: { LC_ALL: 'C', ...extraEnv } });
  const text = typeof r.all === 'string' ? r.all.trim() : '';
  if (r.exitCode !== 0) return { error: `\`${argv.join(' ')}\` ${r.timedOut ? 'did not answer' : `exited ${String(r.exitCode)}`}: ${text.split('\n').slice(-2).join(' | ') || r.shortMessage}` };
  return { line: text.split('\n')[0] ?? '' };
}

/** The first `a`, `a.b` or `a.b.c` in `text`, as numbers; missing parts are 0. */
export function parseVersion(text: string): [number, number, number] | undefined {
  const m = /(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text);
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : undefined;
}

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
