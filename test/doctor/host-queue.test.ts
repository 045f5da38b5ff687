/** The host-queue heuristic, poller by poller: table-driven over what Temporal and /proc say. */
import { describe, expect, it } from 'vitest';
import { hostWorkerIdentity, parseHostWorkerIdentity } from '../../src/common/worker-identity.js';
import { judgePoller, judgeQueue, STALE_AFTER_MS, type JudgeContext } from '../../src/doctor/host-queue.js';
import type { RunningConfig } from '../../src/doctor/process-config.js';

const NOW = 1_800_000_000_000;
/** What /proc says of each pid on "this machine". */
const PROCS: Record<number, RunningConfig> = {
  100: { state: 'running', file: '/etc/mcp-runbooks/host.yaml' },
  200: { state: 'running', file: '/etc/mcp-runbooks/other.yaml' },
  300: { state: 'running', file: undefined },
  400: { state: 'unreadable', reason: '/proc/400/environ: EACCES' },
};
const ctx: JudgeContext = {
  hostId: 'db-1',
  machine: 'db-1.example',
  configFile: '/etc/mcp-runbooks/host.yaml',
  now: NOW,
  runningConfig: async (pid) => PROCS[pid] ?? { state: 'gone' },
};
const poller = (identity: string, agoMs = 5_000) => ({ identity, lastAccessMs: NOW - agoMs });

describe('worker identities', () => {
  it('the worker\'s format reads back, and other formats do not', () => {
    expect(parseHostWorkerIdentity(hostWorkerIdentity('db-1', 'db-1.example', 42))).toEqual({ hostId: 'db-1', machine: 'db-1.example', pid: 42 });
    expect(parseHostWorkerIdentity('12345@db-1.example')).toBeUndefined();
    expect(parseHostWorkerIdentity('orchestrator@db-1.example/42')).toBeUndefined();
  });
});

describe('one poller of the host queue', () => {
  it.each<[string, ReturnType<typeof poller>, string, RegExp]>([
    ['this host\'s worker with this config', poller('host:db-1@db-1.example/100'), 'ok', /^this host's worker, pid 100, with this config, last polled 5s ago$/],
    ['a worker here whose process exited (a restart)', poller('host:db-1@db-1.example/999'), 'ok', /pid 999 on this machine, last polled 5s ago, which has exited/],
    ['a worker here with another config file', poller('host:db-1@db-1.example/200'), 'fail', /pid 200, with config \/etc\/mcp-runbooks\/other\.yaml/],
    ['a worker here on the built-in sandbox', poller('host:db-1@db-1.example/300'), 'fail', /with config the built-in sandbox/],
    ['a worker here whose config cannot be read', poller('host:db-1@db-1.example/400'), 'warn', /cannot tell its config \(\/proc\/400\/environ: EACCES\)/],
    ['a worker on another machine', poller('host:db-1@web-1.example/100'), 'fail', /^a worker on machine web-1\.example \(pid 100, last polled 5s ago\)$/],
    ['another host id on this queue', poller('host:db-2@db-1.example/100'), 'fail', /a worker of host db-2 on this host's queue/],
    ['a poller that is not a host worker', poller('12345@somewhere'), 'fail', /not an mcp-runbooks host worker's identity/],
    ['another machine, quiet for longer than a poll', poller('host:db-1@web-1.example/100', STALE_AFTER_MS + 1_000), 'warn', /probably stopped/],
  ])('%s', async (_name, p, status, says) => {
    const v = await judgePoller(p, ctx);
    expect(v.status).toBe(status);
    expect(v.says).toMatch(says);
  });
});

describe('the queue as one check', () => {
  it('no poller is free; the worst poller decides, and every poller is named', async () => {
    expect(await judgeQueue('q.host.db-1', [], ctx)).toEqual({ check: 'temporal.hostQueue', status: 'ok', message: 'no worker polls q.host.db-1 yet' });
    const r = await judgeQueue('q.host.db-1', [poller('host:db-1@db-1.example/100'), poller('host:db-1@web-1.example/7')], ctx);
    expect(r.status).toBe('fail');
    expect(r.message).toBe('q.host.db-1 is polled by this host\'s worker, pid 100, with this config, last polled 5s ago; a worker on machine web-1.example (pid 7, last polled 5s ago)');
    expect(r.fix).toMatch(/^give each host its own hostId/);
    const stale = await judgeQueue('q.host.db-1', [poller('host:db-1@web-1.example/7', STALE_AFTER_MS * 2)], ctx);
    expect(stale.status).toBe('warn');
    expect(stale.fix).toMatch(/^if that worker still runs, give each host/);
  });
});
