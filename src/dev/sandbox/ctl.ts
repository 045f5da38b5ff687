#!/usr/bin/env node
/**
 * Sandbox service controller, the sandbox's stand-in for `start-stop-daemon`:
 *
 *   node ctl.js start|stop|restart|status <service> --root <sandbox root>
 *
 * Exit codes follow the LSB init conventions the `command` service manager
 * expects: 0 success (status: running), 1 failure, 2 usage, 3 not running
 * (status), 6 not configured (the root is not a provisioned sandbox).
 */
import { closeSync, openSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { SEED_SERVICES } from '../../common/seed.js';
import { sandboxLayout, SANDBOX_SERVICE } from './layout.js';

const EXIT = { ok: 0, failure: 1, usage: 2, notRunning: 3, notConfigured: 6 } as const;
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: ctl.js start|stop|restart|status <service> --root <sandbox root>\n`);
  process.exit(EXIT.usage);
}

const [action, service, flag, root] = process.argv.slice(2);
if (!action || !['start', 'stop', 'restart', 'status'].includes(action)) usage(`unknown action "${action ?? ''}"`);
if (!service || !(SEED_SERVICES as readonly string[]).includes(service)) {
  usage(`unknown sandbox service "${service ?? ''}" (known: ${SEED_SERVICES.join(', ')})`);
}
if (flag !== '--root' || !root) usage('missing --root <sandbox root>');

const layout = sandboxLayout(root);
if (!existsSync(join(layout.root, 'sandbox.json'))) {
  process.stderr.write(`${layout.root} is not a provisioned sandbox (no sandbox.json); run \`mcp-runbooks dev\` first\n`);
  process.exit(EXIT.notConfigured);
}
const pidFile = join(layout.runDir, `${service}.pid`);
const logFile = join(layout.logDir, `${service}.log`);

/** The pid of the running service, checked against /proc so a reused pid is not taken for it. */
function runningPid(): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!cmdline.includes(service!) || !cmdline.some((a) => a.endsWith('service.js'))) return undefined;
  } catch {
    // No /proc (not Linux): trust the signal check above.
  }
  return pid;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(): Promise<number> {
  const existing = runningPid();
  if (existing) {
    process.stdout.write(`${service} already running (pid ${existing})\n`);
    return EXIT.ok;
  }
  rmSync(pidFile, { force: true });
  const log = openSync(logFile, 'a', 0o640);
  const child = spawn(process.execPath, [SANDBOX_SERVICE, service!, '--root', layout.root], {
    detached: true,
    stdio: ['ignore', log, log],
    cwd: layout.root,
  });
  closeSync(log);
  let exited: number | null | undefined;
  child.on('exit', (code) => {
    exited = code;
  });
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      process.stderr.write(`${service} exited during start (code ${String(exited)}); last log lines:\n${tail(logFile)}\n`);
      return EXIT.failure;
    }
    if (runningPid() === child.pid) {
      process.stdout.write(`${service} started (pid ${child.pid})\n`);
      return EXIT.ok;
    }
    await sleep(50);
  }
  process.stderr.write(`${service} did not report ready within ${START_TIMEOUT_MS / 1000}s; last log lines:\n${tail(logFile)}\n`);
  if (child.pid) process.kill(child.pid, 'SIGKILL');
  return EXIT.failure;
}

async function stop(): Promise<number> {
  const pid = runningPid();
  if (!pid) {
    rmSync(pidFile, { force: true });
    process.stdout.write(`${service} not running\n`);
    return EXIT.ok;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!alive(pid)) break;
    await sleep(50);
  }
  if (alive(pid)) {
    process.kill(pid, 'SIGKILL');
    await sleep(100);
  }
  rmSync(pidFile, { force: true });
  process.stdout.write(`${service} stopped (pid ${pid})\n`);
  return EXIT.ok;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A zombie (exited, not yet reaped) counts as gone.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

function status(): number {
  const pid = runningPid();
  if (pid) {
    process.stdout.write(`active (pid ${pid})\n`);
    return EXIT.ok;
  }
  process.stdout.write('inactive\n');
  return EXIT.notRunning;
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-10).join('\n');
  } catch {
    return '(no log)';
  }
}

let code: number;
switch (action) {
  case 'start':
    code = await start();
    break;
  case 'stop':
    code = await stop();
    break;
  case 'restart':
    code = await stop();
    if (code === EXIT.ok) code = await start();
    break;
  default:
    code = status();
}
process.exit(code);
