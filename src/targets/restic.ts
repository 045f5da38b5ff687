/**
 * The one way the worker runs restic: an argv (never a shell string), the
 * repository, its password and the backend credentials in restic's own
 * environment only (never in argv, which every local user can read in /proc,
 * and never in any other program's environment), death with the worker, the
 * cancel signal, and its output with every secret value blanked out before it
 * reaches an error message, a log or a report.
 *
 * Coded against restic 0.14 (Debian 12): its `--json` lines and its exit codes
 * (1 for nearly every failure; 0.16+ adds 10 "no repository", 11 "locked",
 * 12 "wrong password", which are read too). Failures are classified from the
 * exit code or, for 0.14, from stderr.
 *
 * Locks: a command that only reads runs with `--no-lock` ({@link READ_ONLY_COMMANDS}),
 * so it neither fails while another host prunes nor makes a check or prune fail as
 * locked, and a reader killed with the worker leaves no lock behind. restic is
 * stopped with SIGINT (SIGKILL 10 s later): restic 0.14 removes its own lock on
 * SIGINT, but dies leaving it on SIGTERM.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { execa } from 'execa';
import type { ResticTarget } from '../config/config.js';
import { childEnv } from '../config/secret.js';
import { diesWithWorker } from '../services/run-argv.js';
import type { Enter } from './private-mounts.js';

/** restic's failure kinds, from its exit code (0.16+) or its message (0.14). */
export const RESTIC_FAILURES = {
  /** No repository at the location (not initialised, or a wrong URL). */
  noRepository: 'ResticNoRepository',
  /** Another process holds a lock restic will not share. */
  locked: 'ResticLocked',
  /** The password opens no key of the repository. */
  wrongPassword: 'ResticWrongPassword',
  /** Anything else: a backend that does not answer, a damaged repository, ... */
  failed: 'ResticFailed',
} as const;
export type ResticFailureKind = (typeof RESTIC_FAILURES)[keyof typeof RESTIC_FAILURES];

/** A restic run that failed; its message names the target and carries no secret. */
export class ResticError extends Error {
  override readonly name: ResticFailureKind;
  readonly target: string;
  readonly exitCode: number | undefined;
  constructor(kind: ResticFailureKind, target: string, message: string, exitCode: number | undefined) {
    super(message);
    this.name = kind;
    this.target = target;
    this.exitCode = exitCode;
  }
}

/**
 * restic commands that only read the repository: run with `--no-lock` (restic 0.14 accepts it on each).
 * Our own prune never runs beside them: a fetch or listing that must not lose its data holds the
 * repository's shared lease (src/workflows/repository-lease.ts); one that races another tool's prune
 * fails its checks (sizes, sha256) rather than reading something else.
 */
export const READ_ONLY_COMMANDS: ReadonlySet<string> = new Set(['snapshots', 'ls', 'dump', 'restore', 'stats', 'list', 'cat']);

/** How long restic gets to remove its lock after SIGINT before it is killed. */
const INTERRUPT_GRACE_MS = 10_000;

export interface ResticRunOptions {
  signal?: AbortSignal | undefined;
  /** Fed to restic's stdin (e.g. the tar stream of `backup --stdin`). */
  stdin?: Readable;
  /** Each line restic writes on stdout, as it comes (e.g. `--json` status lines). */
  onLine?: (line: string) => void;
  /** Raw stdout chunks (e.g. `dump`); when set, lines are not split and `stdout` is not kept. */
  onStdout?: (chunk: Buffer) => void | Promise<void>;
  /** Kill restic after this long. @default none */
  timeoutMs?: number;
  /** Run restic inside a private mount namespace ({@link withPrivateMounts}). */
  enter?: Enter;
  /** Told restic's process id once it runs. */
  onSpawn?: (pid: number) => void;
}

export interface ResticRunResult {
  /** stdout, unless `onStdout` took it. */
  stdout: string;
  stderr: string;
}

/** The environment restic runs with: the worker's without its secrets, plus this repository's. */
export function resticEnv(target: ResticTarget): Record<string, string> {
  return childEnv({
    RESTIC_REPOSITORY: target.repository.reveal(),
    RESTIC_PASSWORD: target.password.reveal(),
    ...Object.fromEntries(Object.entries(target.env).map(([k, v]) => [k, v.reveal()])),
    // Status lines once a second (restic's default off a terminal is one a minute): the heartbeat needs them.
    RESTIC_PROGRESS_FPS: '1',
  });
}

/** Blanks every secret of the target (and any URL user:password) out of restic's text. */
export function redactor(target: ResticTarget): (text: string) => string {
  const secrets = [target.repository.reveal(), target.password.reveal(), ...Object.values(target.env).map((s) => s.reveal())]
    .filter((s) => s.length >= 4)
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const s of secrets) out = out.split(s).join(s === target.repository.reveal() ? target.location : '***');
    return out.replace(/(https?:\/\/)[^/@\s]+@/g, '$1***@');
  };
}

/** What restic said, classified; `stderr` already redacted. */
function classify(target: ResticTarget, args: readonly string[], exitCode: number | undefined, stderr: string): ResticError {
  const text = stderr.trim().split('\n').slice(-6).join(' | ') || `exit ${String(exitCode)}`;
  const what = `restic ${args[0] ?? ''} on target ${target.name} (${target.location})`;
  // restic 0.14 says "Is there a repository ...?" also when the backend does not answer: that is not a missing repository.
  if (/connection refused|no such host|dial tcp|i\/o timeout|TLS handshake|connection reset|server misbehaving|503 Service/i.test(stderr)) {
    return new ResticError(RESTIC_FAILURES.failed, target.name, `${what}: the repository's backend does not answer (${text})`, exitCode);
  }
  if (exitCode === 10 || /Is there a repository at the following location\?|unable to open config file|repository does not exist/i.test(stderr)) {
    return new ResticError(RESTIC_FAILURES.noRepository, target.name, `${what}: no restic repository there; create it with \`restic -r ${target.location} init\` (${text})`, exitCode);
  }
  if (exitCode === 11 || /repository is already locked|unable to create lock/i.test(stderr)) {
    return new ResticError(RESTIC_FAILURES.locked, target.name, `${what}: the repository is locked (${text})`, exitCode);
  }
  if (exitCode === 12 || /wrong password or no key found/i.test(stderr)) {
    return new ResticError(RESTIC_FAILURES.wrongPassword, target.name, `${what}: the password opens no key of this repository (config backup.targets: password)`, exitCode);
  }
  return new ResticError(RESTIC_FAILURES.failed, target.name, `${what} failed (exit ${String(exitCode)}): ${text}`, exitCode);
}

/**
 * Runs `restic <args>` against the target (`--no-lock` added to a read-only
 * command). Resolves with its output when it exits 0; rejects with
 * {@link ResticError} otherwise, or with the abort reason when cancelled
 * (restic is interrupted and removes its own lock; only one killed with the
 * worker leaves a lock, for {@link unlockStale}).
 */
export async function runRestic(target: ResticTarget, args: readonly string[], opts: ResticRunOptions = {}): Promise<ResticRunResult> {
  const env = resticEnv(target);
  const options = Object.entries(target.options).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
  const [command, ...more] = args;
  const argv = command !== undefined && READ_ONLY_COMMANDS.has(command) && !more.includes('--no-lock') ? [command, '--no-lock', ...more] : args;
  const resticArgv = ['restic', ...options, ...argv];
  const [file, ...rest] = diesWithWorker(opts.enter ? opts.enter(resticArgv) : resticArgv, env);
  const redact = redactor(target);
  const child = execa(file!, rest, {
    env,
    extendEnv: false,
    reject: false,
    stdin: opts.stdin ? 'pipe' : 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: { stdout: !opts.onStdout && !opts.onLine, stderr: true },
    maxBuffer: { stdout: 256 * 1024 * 1024, stderr: 4 * 1024 * 1024 },
    // A cancel or a timeout interrupts restic, which then removes its lock (SIGTERM would leave it).
    killSignal: 'SIGINT',
    forceKillAfterDelay: INTERRUPT_GRACE_MS,
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
    ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
  });
  if (child.pid !== undefined) opts.onSpawn?.(child.pid);
  const feeding = opts.stdin
    ? new Promise<void>((resolve, reject) => {
        const stdin = child.stdin!;
        const source = opts.stdin!;
        // restic closing its stdin early (it failed) ends the feed; the exit code says why.
        stdin.on('error', () => resolve());
        // Cancelled: never an end of input, so restic cannot store the cut-off stream as a snapshot while it stops.
        opts.signal?.addEventListener('abort', () => source.unpipe(stdin), { once: true });
        source.on('error', (err) => {
          source.unpipe(stdin);
          // A source that broke, never given an end of input (unpiped above): restic cannot store a cut-off
          // stream as a snapshot, so it is interrupted like a cancel and removes its lock (SIGKILL after the grace).
          if (!opts.signal?.aborted) child.kill();
          reject(err);
        });
        source.pipe(stdin).on('finish', () => resolve());
      })
    : Promise.resolve();
  let reading: Promise<void> = Promise.resolve();
  if (opts.onStdout) {
    const onStdout = opts.onStdout;
    reading = (async () => {
      for await (const chunk of child.stdout! as AsyncIterable<Buffer>) await onStdout(chunk);
    })();
    // A consumer that refuses more (a size bound) stops restic at once, and its reason is the error.
    reading.catch(() => child.kill('SIGKILL'));
  } else if (opts.onLine) {
    const onLine = opts.onLine;
    const lines = createInterface({ input: child.stdout!, crlfDelay: Infinity });
    reading = (async () => {
      for await (const line of lines) onLine(line);
    })();
  }
  const [result, fed, read] = await Promise.allSettled([child, feeding, reading]);
  const r = result.status === 'fulfilled' ? result.value : undefined;
  if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new Error('cancelled');
  // Our side failed first (a refused stream, a source that broke): that is the reason, not restic's exit after the kill.
  if (read.status === 'rejected') throw read.reason;
  if (fed.status === 'rejected') throw fed.reason;
  const stderr = redact(String(r?.stderr ?? ''));
  if (!r || r.exitCode !== 0) {
    if (r?.timedOut) throw new ResticError(RESTIC_FAILURES.failed, target.name, `restic ${args[0] ?? ''} on target ${target.name} (${target.location}) did not finish within ${Math.round((opts.timeoutMs ?? 0) / 1000)} s`, undefined);
    throw classify(target, args, r?.exitCode, stderr || (r?.failed && r.exitCode === undefined ? redact(String(r.message)) : ''));
  }
  return { stdout: typeof r.stdout === 'string' ? r.stdout : '', stderr };
}

/** The JSON lines of a `--json` command's output (non-JSON lines, such as warnings, are skipped). */
export function jsonLines(stdout: string): unknown[] {
  const out: unknown[] = [];
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{') && !t.startsWith('[')) continue;
    try {
      out.push(JSON.parse(t));
    } catch {
      // a partial line: not ours to guess at
    }
  }
  return out;
}

/** A snapshot as `restic snapshots --json` lists it (the fields this tool reads). */
export interface ResticSnapshot {
  id: string;
  short_id?: string;
  time: string;
  hostname: string;
  tags?: string[];
  paths: string[];
}

export async function listSnapshots(target: ResticTarget, filter: { host?: string; tags?: string[] }, signal?: AbortSignal): Promise<ResticSnapshot[]> {
  const args = ['snapshots', '--json', ...(filter.host ? ['--host', filter.host] : []), ...(filter.tags?.length ? ['--tag', filter.tags.join(',')] : [])];
  const { stdout } = await runRestic(target, args, { signal, timeoutMs: 240_000 });
  const parsed = jsonLines(stdout)[0];
  if (!Array.isArray(parsed)) throw new ResticError(RESTIC_FAILURES.failed, target.name, `restic snapshots on target ${target.name} printed no snapshot list`, 0);
  return parsed.filter((s): s is ResticSnapshot => typeof s === 'object' && s !== null && typeof (s as ResticSnapshot).id === 'string' && typeof (s as ResticSnapshot).time === 'string');
}

/** Lists the repository's lock files (ids); empty when nothing holds it. */
export async function listLocks(target: ResticTarget, signal?: AbortSignal): Promise<string[]> {
  const { stdout } = await runRestic(target, ['list', 'locks'], { signal, timeoutMs: 240_000 });
  return stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

/**
 * Removes the locks restic itself proves stale (their process on this host is gone, or they were
 * not refreshed for 30 minutes): never one a live restic holds, on this host or another.
 * Returns how many were removed.
 */
export async function unlockStale(target: ResticTarget, signal?: AbortSignal): Promise<number> {
  const before = (await listLocks(target, signal)).length;
  if (before === 0) return 0;
  await runRestic(target, ['unlock'], { signal, timeoutMs: 240_000 });
  return before - (await listLocks(target, signal)).length;
}
