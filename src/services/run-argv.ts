import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa, type Result } from 'execa';
import { ServiceCommandError } from '../common/errors.js';
import { childEnv } from '../config/secret.js';

export interface ArgvResult {
  exitCode: number;
  /** stdout and stderr, interleaved. */
  output: string;
}

/** util-linux's setpriv, where Debian and most Linux distributions install it. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => executable(p));

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where `file` would run from: itself when it holds a slash, else the first executable of that name on env.PATH. */
export function resolveProgram(file: string, env: Record<string, string | undefined>): string | undefined {
  if (file.includes('/')) return executable(file) ? file : undefined;
  return (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, file)).find(executable);
}

/**
 * The argv that makes the kernel SIGKILL the program when the worker dies
 * (`setpriv --pdeathsig KILL -- argv`, Linux): a killed worker must not leave
 * a pg_dump or pg_restore running that races its retry for the same files.
 * The signal is set in the program itself, and a fork clears it, so a service
 * a start command launches does not die with the worker. Unchanged where
 * setpriv is missing, or the program is not found (so its error stays ENOENT).
 */
/** Whether programs can be made to die with the worker here ({@link diesWithWorker}: Linux with util-linux setpriv). */
export function canDieWithWorker(): boolean {
  return process.platform === 'linux' && Boolean(SETPRIV);
}

export function diesWithWorker(argv: readonly string[], env: Record<string, string>): string[] {
  const [file] = argv;
  if (process.platform !== 'linux' || !SETPRIV || !file || !resolveProgram(file, env)) return [...argv];
  return [SETPRIV, '--pdeathsig', 'KILL', '--', ...argv];
}

export interface ProgramOptions {
  /** Extra environment on top of the worker's without its secrets ({@link childEnv}). */
  env?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** @default no limit */
  timeoutMs?: number;
}

export type ProgramResult = Result<{ all: true; reject: false }>;

/**
 * The one way the worker runs a program: an argv (never a shell string), the
 * worker's environment without its secrets, an optional timeout and cancel
 * signal, and death with the worker ({@link diesWithWorker}). Resolves whatever
 * the exit; the caller reads `exitCode`, `isCanceled`, `timedOut`.
 */
export function runProgram(argv: readonly string[], opts: ProgramOptions = {}): Promise<ProgramResult> & { readonly pid?: number } {
  const env = childEnv(opts.env);
  const [file, ...args] = diesWithWorker(argv, env);
  if (!file) throw new TypeError('empty argv');
  return execa(file, args, {
    reject: false,
    all: true,
    stdin: 'ignore',
    ...(opts.timeoutMs ? { timeout: opts.timeoutMs, forceKillAfterDelay: 2000 } : {}),
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
    env,
    extendEnv: false,
  });
}

/**
 * Runs one argv (never a shell string) with a timeout and an optional abort
 * signal. Resolves with the exit code, whatever it is; rejects with
 * {@link ServiceCommandError} when the program cannot run, times out or is cancelled.
 */
export async function runArgv(
  argv: readonly string[],
  ctx: { service: string; action: string; timeoutMs: number; signal?: AbortSignal | undefined; env?: Record<string, string> },
): Promise<ArgvResult> {
  if (!argv[0]) throw new TypeError(`empty argv for ${ctx.action} ${ctx.service}`);
  // The worker's environment without its secrets: service commands never see the API key or DB password.
  const result = await runProgram(argv, { timeoutMs: ctx.timeoutMs, signal: ctx.signal, ...(ctx.env ? { env: ctx.env } : {}) });
  const output = typeof result.all === 'string' ? result.all : '';
  // Cancellation is not a command failure: let the caller's abort reason (an activity's CancelledFailure) through.
  if (result.isCanceled && ctx.signal?.aborted) throw ctx.signal.reason;
  if (result.timedOut || result.isCanceled || result.exitCode === undefined) {
    throw new ServiceCommandError({
        service: ctx.service,
        action: ctx.action,
        argv,
        exitCode: result.exitCode,
        timedOut: result.timedOut,
        output: result.isCanceled ? `cancelled. ${output}` : output || (result.originalMessage ?? ''),
    });
  }
  return { exitCode: result.exitCode, output };
}

/** Replaces `{service}` in every element of an argv template. */
export function expandTemplate(template: readonly string[], service: string): string[] {
  return template.map((part) => part.replaceAll('{service}', service));
}
