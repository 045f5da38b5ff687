/**
 * A private mount namespace in which a snapshot copy is seen at its original
 * path: restic (layout `folders`) then reads `/srv/data` and stores it under
 * that name while the live folder stays untouched for everyone else. The
 * namespace is held by a `sleep` that dies with the worker (and is killed when
 * the work is done); each bind mount is read-only, so nothing run inside can
 * change the copy. Linux, as root or with CAP_SYS_ADMIN (util-linux `unshare`,
 * `nsenter`, `mount`).
 */
import { mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { childEnv } from '../config/secret.js';
import { canDieWithWorker, diesWithWorker, runProgram } from '../services/run-argv.js';

export interface Bind {
  /** The folder (or file) to show... */
  from: string;
  /** ...at this existing path, inside the namespace only. */
  to: string;
}

/** Runs programs inside the namespace: the argv to run instead of `argv`. */
export type Enter = (argv: readonly string[]) => string[];

const NAMESPACE_READY_MS = 10_000;

let probe: Promise<string | undefined> | undefined;

/**
 * Why this worker cannot make private mounts (a sentence), or undefined when it can: it tries what a
 * backup does, a read-only bind mount in a private mount namespace (a container may allow the
 * namespace and still refuse the mount), and needs setpriv so the namespace's holder dies with the
 * worker. Probed once per process; a failure is probed again next time.
 */
export function privateMountsProblem(): Promise<string | undefined> {
  probe ??= (async () => {
    if (process.platform !== 'linux') return `private mounts need Linux (this is ${process.platform})`;
    if (!canDieWithWorker()) return 'util-linux setpriv is not installed (the private mount namespace must end with the worker)';
    const dir = await mkdtemp(join(tmpdir(), 'mcp-runbooks-mount-probe-'));
    try {
      const r = await runProgram(['unshare', '--mount', '--propagation', 'private', '--', 'mount', '--bind', '-o', 'ro', dir, dir], { timeoutMs: 10_000 }).catch((err: unknown) => ({ exitCode: undefined, all: String(err) }));
      if (r.exitCode === 0) return undefined;
      const why = String(r.all ?? '').trim().split('\n').slice(-1)[0] ?? '';
      return `the worker cannot bind-mount in a private mount namespace (unshare --mount ... mount --bind: ${why || `exit ${String(r.exitCode)}`}); it needs root or CAP_SYS_ADMIN, util-linux, and no container policy refusing mounts`;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  void probe.then((p) => {
    if (p) probe = undefined;
  });
  return probe;
}

async function mountNamespace(pid: number): Promise<string | undefined> {
  return readlink(`/proc/${pid}/ns/mnt`).catch(() => undefined);
}

/**
 * Makes a private mount namespace with each `from` bind-mounted read-only over its `to`, runs `fn`
 * with a way to run programs inside it, and ends the namespace whatever happens.
 */
export async function withPrivateMounts<T>(binds: readonly Bind[], fn: (enter: Enter) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const env = childEnv();
  const [file, ...args] = diesWithWorker(['unshare', '--mount', '--propagation', 'private', '--', 'sleep', 'infinity'], env);
  const holder = execa(file!, args, { env, extendEnv: false, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', reject: false });
  try {
    const pid = holder.pid;
    if (pid === undefined) throw new Error('could not start unshare for a private mount namespace');
    const own = await mountNamespace(process.pid);
    const deadline = Date.now() + NAMESPACE_READY_MS;
    // Ready once the holder runs sleep: unshare(1) makes every mount private before it execs its program,
    // so no mount made from here on can reach the host's mounts.
    for (;;) {
      const ns = await mountNamespace(pid);
      const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
      if (ns && ns !== own && comm.trim() === 'sleep') break;
      if (holder.exitCode !== null || Date.now() > deadline) {
        const r = await Promise.race([holder, sleep(100).then(() => undefined)]);
        throw new Error(`could not make a private mount namespace (unshare: ${String(r?.stderr ?? '').trim() || 'no namespace after 10 s'})`);
      }
      await sleep(2);
    }
    const namespace = await mountNamespace(pid);
    const enter: Enter = (argv) => ['nsenter', '-t', String(pid), '-m', '--', ...argv];
    const run = async (argv: string[], what: string) => {
      // The holder still runs, in the namespace made for this: a pid that died and came back as another process is never entered.
      if (holder.exitCode !== null || (await mountNamespace(pid)) !== namespace) throw new Error(`the private mount namespace ended before ${what}`);
      const r = await runProgram(enter(argv), { timeoutMs: 30_000, signal });
      if (r.exitCode !== 0) throw new Error(`${what} failed (exit ${String(r.exitCode)}): ${String(r.all ?? '').trim()}`);
    };
    await run(['mount', '--make-rprivate', '/'], 'making every mount private (mount --make-rprivate /)');
    for (const b of binds) {
      if (!b.from.startsWith('/') || !b.to.startsWith('/')) throw new TypeError(`bind mounts take absolute paths (${b.from} -> ${b.to})`);
      await run(['mount', '--bind', b.from, b.to], `showing ${b.from} at ${b.to} (mount --bind)`);
      await run(['mount', '-o', 'remount,bind,ro', b.to], `making ${b.to} read-only (mount -o remount,bind,ro)`);
    }
    return await fn(enter);
  } finally {
    holder.kill('SIGKILL');
    await holder.catch(() => undefined);
  }
}
