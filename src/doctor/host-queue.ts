/**
 * Whether this host's task queue is free of a worker with another config.
 *
 * Temporal does not know which config a worker read; it knows each poller's
 * identity and when it last polled (task-queue description, pollers of the
 * last few minutes). Host workers name themselves `host:<hostId>@<machine>/<pid>`
 * (src/common/worker-identity.ts), so the heuristic is:
 *
 * - no poller: free (`ok`);
 * - a poller on this machine whose process runs with this config file: this
 *   host's own worker, e.g. the systemd unit (`ok`); one whose process has
 *   exited: a restart's leftover (`ok`);
 * - a poller on this machine running with another config file: two configs
 *   claim this host id (`fail`);
 * - a poller on another machine, or one whose identity is not a host
 *   worker's: another machine claims this host id (a copied config, a
 *   reused hostname), and activities meant for this host may run there (`fail`);
 * - any of those last seen more than {@link STALE_AFTER_MS} ago: probably
 *   stopped; Temporal forgets it within minutes (`warn`).
 *
 * A machine is compared by hostname: two machines with one hostname look like
 * one, and then /proc decides (a pid there that is not a worker counts as gone).
 */
import { hostname } from 'node:os';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { tsToMs } from '@temporalio/common/lib/time.js';
import { hostTaskQueue } from '../common/task-queues.js';
import { parseHostWorkerIdentity } from '../common/worker-identity.js';
import type { Config } from '../config/config.js';
import { fail, ok, warn, type CheckResult, type CheckStatus } from './check.js';
import { canonicalPath, runningConfigOf, type RunningConfig } from './process-config.js';

const CHECK = 'temporal.hostQueue';

/** A worker long-polls again at least every minute or so; a poller quiet for longer has probably stopped. */
export const STALE_AFTER_MS = 120_000;

export interface Poller {
  identity: string;
  /** When it last polled (ms since the epoch), if Temporal said. */
  lastAccessMs?: number;
}

export interface PollerVerdict {
  status: CheckStatus;
  /** One sentence about this poller. */
  says: string;
}

export interface JudgeContext {
  hostId: string;
  machine: string;
  /** This doctor's config file (canonical), undefined for the built-in sandbox. */
  configFile: string | undefined;
  now: number;
  /** What /proc says about a pid on this machine. */
  runningConfig(pid: number): Promise<RunningConfig>;
}

/** What one poller of the host queue means (see the module comment). */
export async function judgePoller(p: Poller, ctx: JudgeContext): Promise<PollerVerdict> {
  const ageMs = p.lastAccessMs === undefined ? undefined : Math.max(0, ctx.now - p.lastAccessMs);
  const seen = ageMs === undefined ? '' : `, last polled ${Math.round(ageMs / 1000)}s ago`;
  const stale = ageMs !== undefined && ageMs > STALE_AFTER_MS;
  const id = parseHostWorkerIdentity(p.identity);
  const other = (says: string): PollerVerdict => (stale ? { status: 'warn', says: `${says} (probably stopped; Temporal forgets it within minutes)` } : { status: 'fail', says });
  if (!id) return other(`"${p.identity}"${seen}, not an mcp-runbooks host worker's identity`);
  if (id.hostId !== ctx.hostId) return other(`"${p.identity}"${seen}, a worker of host ${id.hostId} on this host's queue`);
  if (id.machine !== ctx.machine) return other(`a worker on machine ${id.machine} (pid ${id.pid}${seen})`);
  const running = await ctx.runningConfig(id.pid);
  switch (running.state) {
    case 'gone':
      return { status: 'ok', says: `pid ${id.pid} on this machine${seen}, which has exited (a restarted worker)` };
    case 'unreadable':
      return { status: 'warn', says: `pid ${id.pid} on this machine${seen}: cannot tell its config (${running.reason})` };
    case 'running': {
      const theirs = running.file ?? 'the built-in sandbox';
      if (running.file === ctx.configFile) return { status: 'ok', says: `this host's worker, pid ${id.pid}, with this config${seen}` };
      return other(`a worker on this machine, pid ${id.pid}, with config ${theirs}${seen}`);
    }
  }
}

const RANK: Record<CheckStatus, number> = { ok: 0, warn: 1, fail: 2 };

/** The pollers of `queue` as one check result. */
export async function judgeQueue(queue: string, pollers: readonly Poller[], ctx: JudgeContext): Promise<CheckResult> {
  if (pollers.length === 0) return ok(CHECK, `no worker polls ${queue} yet`);
  const verdicts = await Promise.all(pollers.map((p) => judgePoller(p, ctx)));
  const worst = verdicts.reduce((a, v) => (RANK[v.status] > RANK[a.status] ? v : a));
  const says = `${queue} is polled by ${verdicts.map((v) => v.says).join('; ')}`;
  if (worst.status === 'ok') return ok(CHECK, says);
  const fix = `give each host its own hostId (config hostId, or --host-id), and run one host worker per host id with one config: stop the other worker, or change this config's hostId`;
  return worst.status === 'fail' ? fail(CHECK, says, fix) : warn(CHECK, says, `if that worker still runs, ${fix}`);
}

/** Describes the host's activity task queue and judges its pollers. */
export async function checkHostQueue(client: Client, config: Config, configFile: string | undefined): Promise<CheckResult> {
  const queue = hostTaskQueue(config.temporal.taskQueue, config.hostId);
  const { TaskQueueType } = proto.temporal.api.enums.v1;
  const r = await client.workflowService.describeTaskQueue({
    namespace: config.temporal.namespace,
    taskQueue: { name: queue },
    taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  const pollers: Poller[] = (r.pollers ?? []).map((p) => ({
    identity: p.identity ?? '',
    ...(p.lastAccessTime ? { lastAccessMs: tsToMs(p.lastAccessTime) } : {}),
  }));
  return judgeQueue(queue, pollers, {
    hostId: config.hostId,
    machine: hostname(),
    configFile: configFile === undefined ? undefined : await canonicalPath(configFile),
    now: Date.now(),
    runningConfig: runningConfigOf,
  });
}
