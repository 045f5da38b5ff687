/** Runs one argv (never a shell string) for a maintenance check, and says plainly what happened. */
import { execa } from 'execa';
import { childEnv } from '../config/secret.js';

export interface CommandOutcome {
  argv: string[];
  /** undefined when the program did not run or did not exit by itself. */
  exitCode: number | undefined;
  stdout: string;
  /** stdout and stderr, interleaved. */
  output: string;
  /** The program is not installed (ENOENT). */
  notFound: boolean;
  timedOut: boolean;
  /** Why the program could not run, when it could not. */
  error?: string;
}

export interface RunCommandOptions {
  timeoutMs: number;
  /** The activity's cancellation signal; a cancelled run throws the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Added to the worker's environment, which is passed on without its secrets (e.g. `LC_ALL=C` for parsable output). */
  env?: Record<string, string>;
  /** Called as output arrives with the lines (stdout and stderr) printed so far: a quiet program's only progress. */
  onOutputLines?: (lines: number) => void;
}

/** Runs `argv` with a timeout and `LC_ALL=C`; resolves whatever the exit code (see {@link CommandOutcome}). */
export async function runCommand(argv: readonly string[], opts: RunCommandOptions): Promise<CommandOutcome> {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('empty argv');
  const child = execa(file, args, {
    reject: false,
    all: true,
    stdin: 'ignore',
    timeout: opts.timeoutMs,
    forceKillAfterDelay: 5000,
    env: childEnv({ LC_ALL: 'C', ...opts.env }),
    extendEnv: false,
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
  });
  const onLines = opts.onOutputLines;
  if (onLines) {
    let lines = 0;
    child.all?.on('data', (chunk: Buffer | string) => {
      for (const c of String(chunk)) if (c === '\n') lines += 1;
      onLines(lines);
    });
  }
  const r = await child;
  if (r.isCanceled && opts.signal?.aborted) throw opts.signal.reason;
  const code = (r as { code?: string }).code;
  return {
    argv: [...argv],
    exitCode: r.exitCode,
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    output: typeof r.all === 'string' ? r.all : '',
    notFound: code === 'ENOENT',
    timedOut: r.timedOut,
    ...(r.failed && r.exitCode === undefined ? { error: r.shortMessage } : {}),
  };
}

/** The last lines of a command's output, on one line, for a finding's message. */
export function lastLines(text: string, n = 5): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}
