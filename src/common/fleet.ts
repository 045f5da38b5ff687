/**
 * The fleet runbook's vocabulary and rules, apart from the workflow that acts on
 * them: host states, the rolling policy (window size, canary, failure budget),
 * the order hosts start in (with a seeded shuffle), child workflow ids, counts.
 * Pure: the `fleet` workflow, the CLI and the schedules share it, and each rule
 * is unit-tested here rather than through a running fleet.
 */

/**
 * Where each host stands in a fleet run. `running` covers the host's jitter
 * wait, its liveness check and its child run; `unreachable` is a host whose
 * worker was absent or did not pick up the ping (a failure for the policy);
 * `skipped` is a host never started because the rollout stopped (policy,
 * canary, abort).
 */
export const FLEET_HOST_STATES = ['pending', 'running', 'ok', 'warn', 'fail', 'skipped', 'unreachable'] as const;
export type FleetHostState = (typeof FLEET_HOST_STATES)[number];

/** States a host ends in. */
export type FleetHostEnd = Exclude<FleetHostState, 'pending' | 'running'>;

/** States that count against the failure budget. */
export const FAILED_STATES: readonly FleetHostState[] = ['fail', 'unreachable'];
/** States a canary must end in for the rollout to go on. */
export const PASSED_STATES: readonly FleetHostState[] = ['ok', 'warn'];

/** The names of the fleet's updates and query (what `temporal workflow update execute --name` takes). */
export const FLEET_UPDATES = { pause: 'pause', resume: 'resume', abort: 'abort' } as const;
export const FLEET_PROGRESS_QUERY = 'progress';
/** Workflow type of the fleet runbook. */
export const FLEET_WORKFLOW_TYPE = 'fleet';
/** `McpHost` of a fleet run: its hosts are its children's `McpHost`; `*` cannot be a host id. */
export const FLEET_HOST_LABEL = '*';

/** Defaults of the rolling policy. */
export const FLEET_DEFAULTS = {
  /** One host at a time unless told otherwise: a rollout that changes hosts should start narrow. */
  maxParallel: 1,
  canary: 0,
  order: 'listed',
  jitterSeconds: 0,
  /** How long a host's worker has to pick up the liveness ping. */
  pingTimeoutSeconds: 5,
  /** Continue as new once the run's history has this many events (Temporal warns at 10,240 and stops at 51,200). */
  continueAsNewAfterEvents: 5000,
} as const;

/** The most hosts one fleet run takes: each host's row travels in the continue-as-new input and the result. */
export const MAX_FLEET_HOSTS = 5000;
/** The widest window: each running host holds a pending child and, while it is checked, an activity (2,000 of each per run). */
export const MAX_PARALLEL = 1000;

/** `listed`, `shuffle`, or `label:<key>` (hosts grouped by that label's value, in value order; hosts without it last). */
export const ORDER_PATTERN = /^(listed|shuffle|label:[A-Za-z0-9][A-Za-z0-9._/-]{0,62})$/;
export type FleetOrder = 'listed' | 'shuffle' | `label:${string}`;

/** The rolling policy as given (fleet input, schedule entry, CLI flags). */
export interface FleetPolicy {
  /** Most hosts at once: a number, or a percentage of the hosts (`25%`, at least 1). */
  maxParallel?: number | string;
  /** The first N hosts run alone; the rest start only if every one of them ended ok or warn. */
  canary?: number;
  /** Stop starting hosts once more than this many failed (fail or unreachable). */
  maxFailures?: number;
  /** Stop starting hosts once more than this percentage of all hosts failed. */
  maxFailPercent?: number;
  order?: string;
  /** The shuffle's seed; a shuffle without one picks one and records it. */
  seed?: number;
  /** Each host starts after a random wait of up to this many seconds (a schedule's per-host jitter). */
  jitterSeconds?: number;
  pingTimeoutSeconds?: number;
}

/** The policy a fleet run works with: every field decided. */
export interface ResolvedFleetPolicy {
  maxParallel: number;
  canary: number;
  /** Undefined: no limit. */
  maxFailures?: number;
  maxFailPercent?: number;
  order: FleetOrder;
  seed?: number;
  jitterSeconds: number;
  pingTimeoutSeconds: number;
}

/** The window size of `maxParallel` over `total` hosts: a number as is, a percentage rounded up; at least 1, at most the hosts. */
export function windowSize(maxParallel: number | string | undefined, total: number): number {
  const given = maxParallel ?? FLEET_DEFAULTS.maxParallel;
  const n = typeof given === 'number' ? given : Math.ceil((total * Number(given.replace(/%$/, ''))) / 100);
  return Math.max(1, Math.min(n, Math.max(total, 1), MAX_PARALLEL));
}

/**
 * Fills in the policy. The failure budget's default depends on the runbook:
 * a rollout that changes hosts stops at its first failure (`maxFailures: 0`),
 * a read-only one (a health check) goes on to every host.
 */
export function resolvePolicy(p: FleetPolicy, total: number, changesHost: boolean): ResolvedFleetPolicy {
  const maxFailures = p.maxFailures ?? (changesHost && p.maxFailPercent === undefined ? 0 : undefined);
  return {
    maxParallel: windowSize(p.maxParallel, total),
    canary: Math.min(p.canary ?? FLEET_DEFAULTS.canary, total),
    ...(maxFailures !== undefined ? { maxFailures } : {}),
    ...(p.maxFailPercent !== undefined ? { maxFailPercent: p.maxFailPercent } : {}),
    order: (p.order ?? FLEET_DEFAULTS.order) as FleetOrder,
    ...(p.seed !== undefined ? { seed: p.seed } : {}),
    jitterSeconds: p.jitterSeconds ?? FLEET_DEFAULTS.jitterSeconds,
    pingTimeoutSeconds: p.pingTimeoutSeconds ?? FLEET_DEFAULTS.pingTimeoutSeconds,
  };
}

/**
 * Why the failure budget is spent, or undefined while it is not: more than
 * `maxFailures` failed, or more than `maxFailPercent` of all hosts.
 */
export function budgetExceeded(failures: number, total: number, policy: Pick<ResolvedFleetPolicy, 'maxFailures' | 'maxFailPercent'>): string | undefined {
  if (policy.maxFailures !== undefined && failures > policy.maxFailures) {
    return `${failures} host${failures === 1 ? '' : 's'} failed, more than maxFailures ${policy.maxFailures}`;
  }
  if (policy.maxFailPercent !== undefined && total > 0 && (failures * 100) / total > policy.maxFailPercent) {
    return `${failures} of ${total} hosts failed (${Math.round((failures * 1000) / total) / 10}%), more than maxFailPercent ${policy.maxFailPercent}%`;
  }
  return undefined;
}

/** A small seeded generator (mulberry32): the same seed gives the same sequence in every run and replay. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The hosts in the order the fleet starts them. `shuffle` needs a seed
 * (Fisher-Yates over {@link seededRandom}); `label:KEY` groups hosts by that
 * label's value in value order, keeping the listed order inside a group, hosts
 * without the label last.
 */
export function orderHosts(hosts: readonly string[], order: FleetOrder, opts: { seed?: number; labels?: Readonly<Record<string, Readonly<Record<string, string>>>> } = {}): string[] {
  if (order === 'listed') return [...hosts];
  if (order === 'shuffle') {
    if (opts.seed === undefined) throw new Error('a shuffle needs a seed');
    const random = seededRandom(opts.seed);
    const out = [...hosts];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
  const key = order.slice('label:'.length);
  const value = (h: string) => opts.labels?.[h]?.[key];
  // A stable sort: equal values keep the listed order.
  return hosts
    .map((h, i) => ({ h, i, v: value(h) }))
    .sort((a, b) => (a.v === b.v ? a.i - b.i : a.v === undefined ? 1 : b.v === undefined ? -1 : a.v < b.v ? -1 : 1))
    .map((x) => x.h);
}

/** The child run of one host: `<fleet workflow id>.<host id>`, the same in every run of a fleet that continued as new. */
export function childWorkflowId(fleetWorkflowId: string, hostId: string): string {
  return `${fleetWorkflowId}.${hostId}`;
}

/** One host's line of the fleet's table. */
export interface FleetHostRow {
  host: string;
  state: FleetHostState;
  /** The host's child run (it exists once the host's state went past its liveness check). */
  workflowId: string;
  /** One line: the child's report summary, why it failed, why it was skipped or unreachable, or what it is doing. */
  summary?: string;
  /**
   * Set when the host's run failed (or could not start): its failure type, e.g. `HostBusy`,
   * `TerminatedFailure`. A `fail` without it is a run that completed with `fail` findings.
   */
  failureType?: string;
}

export type FleetCounts = Record<FleetHostState, number> & { total: number };

export function countStates(rows: ReadonlyArray<{ state: FleetHostState }>): FleetCounts {
  const counts = Object.fromEntries(FLEET_HOST_STATES.map((s) => [s, 0])) as Record<FleetHostState, number>;
  for (const r of rows) counts[r.state] += 1;
  return { ...counts, total: rows.length };
}

/** `5 hosts: 3 ok, 1 warn, 1 unreachable` (states with none are left out). */
export function describeCounts(c: FleetCounts): string {
  const parts = FLEET_HOST_STATES.filter((s) => c[s] > 0).map((s) => `${c[s]} ${s}`);
  return `${c.total} host${c.total === 1 ? '' : 's'}: ${parts.join(', ') || 'none'}`;
}

/** Who asked for a pause, resume or abort, and why (the updates' argument). */
export interface FleetControl {
  by?: string;
  reason?: string;
}

/** What the `progress` query answers. */
export interface FleetProgress {
  runbook: typeof FLEET_WORKFLOW_TYPE;
  /** The runbook each host runs (`mcp-runbooks run` name). */
  target: string;
  workflowId: string;
  selector?: string;
  /** `running`, `paused`, `draining` (stopping, or before continuing as new), `done`. */
  phase: 'running' | 'paused' | 'draining' | 'done';
  startedAt: string;
  updatedAt: string;
  paused: boolean;
  pausedBy?: FleetControl;
  aborted?: FleetControl & { at: string };
  /** Why the policy stopped the rollout (failure budget, a canary that did not pass). */
  stoppedByPolicy?: string;
  policy: ResolvedFleetPolicy;
  /** This run's number: 1, then one more after each continue-as-new. */
  run: number;
  counts: FleetCounts;
  hosts: FleetHostRow[];
}

/** What a fleet run returns. */
export interface FleetResult {
  runbook: typeof FLEET_WORKFLOW_TYPE;
  target: string;
  workflowId: string;
  selector?: string;
  startedAt: string;
  finishedAt: string;
  policy: ResolvedFleetPolicy;
  /** The shuffle's seed (given or picked): the same seed gives the same order. */
  seed?: number;
  aborted?: FleetControl & { at: string };
  stoppedByPolicy?: string;
  /** How many runs the fleet took (continue-as-new). */
  runs: number;
  counts: FleetCounts;
  /** In the order the hosts started. */
  hosts: FleetHostRow[];
  summary: { text: string };
}

/** Whether every host ended ok or warn. */
export function fleetPassed(counts: FleetCounts): boolean {
  return counts.ok + counts.warn === counts.total;
}
