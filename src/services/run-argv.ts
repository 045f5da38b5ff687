import { execa } from 'execa';
import { ServiceCommandError } from '../common/errors.js';
import { childEnv } from '../config/secret.js';

export interface ArgvResult {
  exitCode: number;
  /** stdout and stderr, interleaved. */
  output: string;
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
  const [file, ...args] = argv;
  if (!file) throw new TypeError(`empty argv for ${ctx.action} ${ctx.service}`);
  const result = await execa(file, args, {
    reject: false,
    all: true,
    stdin: 'ignore',
    timeout: ctx.timeoutMs,
    forceKillAfterDelay: 2000,
    ...(ctx.signal ? { cancelSignal: ctx.signal } : {}),
    // The worker's environment without its secrets: service commands never see the API key or DB password.
    env: childEnv(ctx.env),
    extendEnv: false,
  });
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
