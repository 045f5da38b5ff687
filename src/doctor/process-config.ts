/**
 * Which config file a running mcp-runbooks process on this machine was started
 * with, read from /proc: `--config FILE` in its argv (relative to its working
 * folder), else `MCP_RUNBOOKS_CONFIG` in its environment, else none (the
 * built-in sandbox). Another user's process cannot be read unless doctor runs
 * as root; that is said, not guessed.
 */
import { readFile, readlink, realpath } from 'node:fs/promises';
import { resolve } from 'node:path';

export type RunningConfig =
  /** No such process, or the pid now belongs to a program that is not an mcp-runbooks worker. */
  | { state: 'gone' }
  | { state: 'unreadable'; reason: string }
  /** `file` undefined: the built-in sandbox. */
  | { state: 'running'; file: string | undefined };

/** Commands that run a worker in their process. */
const WORKER_COMMANDS = new Set(['worker', 'dev']);

/** The `--config` value in an argv (`--config F` or `--config=F`), if any. */
export function configFlag(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return undefined;
    if (a === '--config') return args[i + 1];
    if (a.startsWith('--config=')) return a.slice('--config='.length);
  }
  return undefined;
}

/** Whether an argv is `node .../mcp-runbooks|cli.js ... worker|dev ...`. */
export function isWorkerArgv(args: readonly string[]): boolean {
  const entry = args.findIndex((a) => /(^|\/)(mcp-runbooks|cli\.js)$/.test(a));
  return entry >= 0 && args.slice(entry + 1).some((a) => WORKER_COMMANDS.has(a));
}

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}

export async function runningConfigOf(pid: number): Promise<RunningConfig> {
  let args: string[];
  try {
    args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a.length > 0);
  } catch (err) {
    const c = errCode(err);
    return c === 'ENOENT' || c === 'ESRCH' ? { state: 'gone' } : { state: 'unreadable', reason: `/proc/${pid}/cmdline: ${c}` };
  }
  // A zombie has an empty cmdline; a recycled pid has someone else's.
  if (args.length === 0 || !isWorkerArgv(args)) return { state: 'gone' };
  let file = configFlag(args);
  if (file === undefined) {
    try {
      const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
      file = environ.find((e) => e.startsWith('MCP_RUNBOOKS_CONFIG='))?.slice('MCP_RUNBOOKS_CONFIG='.length) || undefined;
    } catch (err) {
      return { state: 'unreadable', reason: `/proc/${pid}/environ: ${errCode(err)} (run doctor as the worker's user or root)` };
    }
  }
  if (file === undefined) return { state: 'running', file: undefined };
  try {
    const cwd = await readlink(`/proc/${pid}/cwd`);
    return { state: 'running', file: await canonicalPath(resolve(cwd, file)) };
  } catch (err) {
    return { state: 'unreadable', reason: `/proc/${pid}/cwd: ${errCode(err)}` };
  }
}

/** The path with symlinks resolved, or as given when it cannot be. */
export async function canonicalPath(path: string): Promise<string> {
  return realpath(path).catch(() => path);
}
