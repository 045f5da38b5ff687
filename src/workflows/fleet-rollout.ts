/**
 * The fleet's rollout state: where each host stands, the sliding window, the
 * canary gate, the failure budget, and the operator's pause and abort. No
 * awaits here: the `fleet` workflow asks `canStart()`, starts the next host, and
 * reports each host's end; this class decides. What it carries over a
 * continue-as-new is {@link Rollout.carry}.
 */
import {
  budgetExceeded,
  childWorkflowId,
  FAILED_STATES,
  FLEET_HOST_STATES,
  PASSED_STATES,
  type FleetControl,
  type FleetCounts,
  type FleetHostEnd,
  type FleetHostRow,
  type FleetHostState,
  type FleetProgress,
  type ResolvedFleetPolicy,
} from '../common/fleet.js';
import type { FleetCarried } from '../common/inputs.js';

/** How one host ended. */
export interface HostEnd {
  state: FleetHostEnd;
  summary?: string;
  failureType?: string;
}

interface Row {
  state: FleetHostState;
  summary?: string;
  failureType?: string;
}

/** A summary line kept short: it travels in every continue-as-new input and in the result. */
export function shortLine(text: string, max = 300): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

export class Rollout {
  readonly #rows = new Map<string, Row>();
  readonly #running = new Set<string>();
  /** Hosts per state, kept as rows change: a fleet of thousands asks for them after every host. */
  readonly #counts = Object.fromEntries(FLEET_HOST_STATES.map((st) => [st, 0])) as Record<FleetHostState, number>;
  /** Each host's place in the order. */
  readonly #index: ReadonlyMap<string, number>;
  /** Canaries that ended. */
  #canariesEnded = 0;
  #next: number;
  paused: boolean;
  pausedBy?: FleetControl;
  aborted?: FleetControl & { at: string };
  stoppedByPolicy?: string;

  constructor(
    /** Every host, in the order they start. */
    readonly order: readonly string[],
    readonly policy: ResolvedFleetPolicy,
    readonly fleetWorkflowId: string,
    carried?: Pick<FleetCarried, 'ended' | 'paused' | 'pausedBy'>,
  ) {
    this.#index = new Map(order.map((h, i) => [h, i]));
    order.forEach((host, i) => {
      const e = carried?.ended[host];
      this.#set(host, e ? { state: e.state, ...(e.summary ? { summary: e.summary } : {}), ...(e.failureType ? { failureType: e.failureType } : {}) } : { state: 'pending' });
      if (e && i < policy.canary) this.#canariesEnded += 1;
    });
    // Hosts start in order and a fleet continues as new only with its window drained: the ended hosts are a prefix.
    const first = order.findIndex((h) => this.#rows.get(h)!.state === 'pending');
    this.#next = first === -1 ? order.length : first;
    this.paused = carried?.paused ?? false;
    if (carried?.pausedBy) this.pausedBy = carried.pausedBy;
  }

  get running(): number {
    return this.#running.size;
  }

  /** Hosts not started yet. */
  get hasNext(): boolean {
    return this.#next < this.order.length;
  }

  /** Aborted, or stopped by the policy: nothing new starts. */
  get halted(): boolean {
    return this.aborted !== undefined || this.stoppedByPolicy !== undefined;
  }

  get failures(): number {
    return FAILED_STATES.reduce((n, st) => n + this.#counts[st], 0);
  }

  get counts(): FleetCounts {
    return { ...this.#counts, total: this.order.length };
  }

  #set(host: string, row: Row): void {
    const before = this.#rows.get(host);
    if (before) this.#counts[before.state] -= 1;
    this.#counts[row.state] += 1;
    this.#rows.set(host, row);
  }

  /** Whether the canary gate lets the next host start: still starting canaries, or every canary ended (and passed, else the rollout stopped). */
  #canaryOpen(): boolean {
    const { canary } = this.policy;
    return canary === 0 || this.#next < canary || this.#canariesEnded === canary;
  }

  /** Whether the next host may start now. */
  canStart(): boolean {
    return !this.paused && !this.halted && this.hasNext && this.#running.size < this.policy.maxParallel && this.#canaryOpen();
  }

  /** Marks the next host running and returns it. */
  startNext(): string {
    const host = this.order[this.#next++]!;
    this.#running.add(host);
    this.#set(host, { state: 'running' });
    return host;
  }

  /** What a running host is doing (`checking its worker`, its child's id), shown in the progress query. */
  note(host: string, summary: string): void {
    const row = this.#rows.get(host);
    if (row?.state === 'running') row.summary = summary;
  }

  /** Records how a host ended; a failed canary or a spent failure budget stops the rollout. */
  ended(host: string, end: HostEnd): void {
    this.#running.delete(host);
    this.#set(host, { state: end.state, ...(end.summary ? { summary: shortLine(end.summary) } : {}), ...(end.failureType ? { failureType: end.failureType } : {}) });
    // Hosts start in order, so the canaries are the first `canary` hosts started.
    const canary = this.#index.get(host)! < this.policy.canary;
    if (canary) this.#canariesEnded += 1;
    if (this.stoppedByPolicy) return;
    if (canary && !PASSED_STATES.includes(end.state) && end.state !== 'skipped') {
      this.stoppedByPolicy = `canary ${host} ended ${end.state}${end.summary ? ` (${shortLine(end.summary, 120)})` : ''}`;
      return;
    }
    const why = budgetExceeded(this.failures, this.order.length, this.policy);
    if (why) this.stoppedByPolicy = why;
  }

  /** Every host not started: `skipped`, with why. */
  skipRest(): void {
    const why = this.aborted ? `not started: the fleet was aborted${this.aborted.by ? ` by ${this.aborted.by}` : ''}${this.aborted.reason ? ` (${this.aborted.reason})` : ''}` : `not started: ${this.stoppedByPolicy ?? 'the rollout stopped'}`;
    while (this.hasNext) this.#set(this.order[this.#next++]!, { state: 'skipped', summary: shortLine(why) });
  }

  pause(by: FleetControl): void {
    this.paused = true;
    this.pausedBy = by;
  }

  resume(): void {
    this.paused = false;
    delete this.pausedBy;
  }

  abort(by: FleetControl, at: string): void {
    this.aborted ??= { ...by, at };
  }

  /** The table, in start order. */
  rows(): FleetHostRow[] {
    return this.order.map((host) => {
      const r = this.#rows.get(host)!;
      return { host, state: r.state, workflowId: childWorkflowId(this.fleetWorkflowId, host), ...(r.summary ? { summary: r.summary } : {}), ...(r.failureType ? { failureType: r.failureType } : {}) };
    });
  }

  /** What the next run needs: the ended hosts and the operator's pause (the window is drained). */
  carry(): Pick<FleetCarried, 'ended' | 'paused' | 'pausedBy'> {
    const ended: FleetCarried['ended'] = {};
    for (const [host, r] of this.#rows) {
      if (r.state === 'pending' || r.state === 'running') continue;
      ended[host] = { state: r.state, ...(r.summary ? { summary: r.summary } : {}), ...(r.failureType ? { failureType: r.failureType } : {}) };
    }
    return { ended, paused: this.paused, ...(this.pausedBy ? { pausedBy: this.pausedBy } : {}) };
  }

  progress(base: Pick<FleetProgress, 'target' | 'workflowId' | 'selector' | 'startedAt' | 'run'>, phase: FleetProgress['phase']): FleetProgress {
    const hosts = this.rows();
    return {
      runbook: 'fleet',
      ...base,
      phase,
      updatedAt: new Date().toISOString(),
      paused: this.paused,
      ...(this.pausedBy ? { pausedBy: this.pausedBy } : {}),
      ...(this.aborted ? { aborted: this.aborted } : {}),
      ...(this.stoppedByPolicy ? { stoppedByPolicy: this.stoppedByPolicy } : {}),
      policy: this.policy,
      counts: this.counts,
      hosts,
    };
  }
}
