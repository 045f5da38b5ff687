/**
 * The fleet from a client (the CLI, tests): start one over a selector, follow
 * each host's state while it runs, read its table, pause, resume or abort it.
 */
import { WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { UsageError } from '../common/errors.js';
import {
  describeCounts,
  FLEET_PROGRESS_QUERY,
  FLEET_UPDATES,
  FLEET_WORKFLOW_TYPE,
  windowSize,
  type FleetControl,
  type FleetCounts,
  type FleetHostRow,
  type FleetPolicy,
  type FleetProgress,
  type FleetResult,
} from '../common/fleet.js';
import { parseFleetInput, type FleetInput } from '../common/inputs.js';
import type { Config } from '../config/config.js';
import { formatHostSelector, labelsOf, parseHostSelector, selectHosts } from '../config/host-selector.js';
import { RUNBOOKS, type RunbookName } from '../runbooks.js';
import { compactTime } from './run-runbook.js';

/** Schema field to CLI flag, so a refused value is named as the operator typed it. */
const FLAGS: Record<string, string> = {
  'input.policy.maxParallel': '--max-parallel',
  'input.policy.canary': '--canary',
  'input.policy.maxFailures': '--max-failures',
  'input.policy.maxFailPercent': '--max-fail-percent',
  'input.policy.order': '--order',
  'input.policy.seed': '--seed',
  'input.policy.pingTimeoutSeconds': '--ping-timeout',
  'input.input.reason': '--reason',
  'input.input.service': '--service',
};

export interface FleetRequest {
  runbook: RunbookName;
  /** A host selector (`all`, `role=db`, `db-1,db-2`). */
  selector: string;
  /** The runbook's input without `hostId`. */
  input?: Record<string, unknown>;
  policy?: FleetPolicy;
}

/**
 * The fleet input for a request: the selector resolved against the inventory
 * now (recorded in the input, so the history says which hosts were meant),
 * checked by the fleet's own schema before anything starts.
 */
export function fleetInputFor(config: Pick<Config, 'inventory'>, req: FleetRequest): FleetInput {
  const hosts = selectHosts(config.inventory, req.selector);
  const labels = req.policy?.order?.startsWith('label:') ? labelsOf(config.inventory, hosts) : undefined;
  const input = {
    runbook: req.runbook,
    hosts,
    selector: formatHostSelector(parseHostSelector(req.selector)),
    ...(req.input && Object.keys(req.input).length ? { input: req.input } : {}),
    ...(labels ? { labels } : {}),
    ...(req.policy && Object.keys(req.policy).length ? { policy: req.policy } : {}),
  };
  const parsed = parseFleetInput(input);
  if (!parsed.ok) {
    throw new UsageError(parsed.problems.problems.map((p) => p.replace(/^(input\.[A-Za-z.]+)/, (f) => FLAGS[f] ?? f)).join('; '));
  }
  return input;
}

/** `fleet-health-check-20261123T020000.123Z`. */
export function fleetWorkflowId(runbook: RunbookName, at: Date): string {
  return `fleet-${RUNBOOKS[runbook].idPrefix}-${compactTime(at)}`;
}

/** Starts a fleet on the orchestration queue. No execution timeout: each child has its own deadline. */
export async function startFleet(client: Client, config: Config, input: FleetInput, now = new Date()): Promise<WorkflowHandle> {
  const runbook = input.runbook as RunbookName;
  return client.workflow.start(FLEET_WORKFLOW_TYPE, {
    taskQueue: config.temporal.taskQueue,
    workflowId: fleetWorkflowId(runbook, now),
    args: [input],
    staticSummary: `fleet of ${runbook} over ${input.selector ?? 'hosts'} (${input.hosts.length} hosts, ${windowSize(input.policy?.maxParallel, input.hosts.length)} at once)`,
  });
}

/** One host's line while a fleet runs: `db-1  running  fleet-...db-1` or `db-1  ok  7 ok, 0 warn, 0 fail`. */
export function hostLine(row: FleetHostRow): string {
  return `${row.host}: ${row.state}${row.summary ? ` - ${row.summary}` : ''}${row.state === 'running' || row.state === 'ok' || row.state === 'warn' || row.state === 'fail' ? ` (${row.workflowId})` : ''}`;
}

/**
 * Polls the fleet's `progress` query and calls `onLine` for each host whose
 * state or summary changed, and when the fleet pauses, resumes, aborts or is
 * stopped by its policy; until `until()` holds. A query that fails (between
 * two runs, Temporal away) is tried again at the next poll.
 */
export async function watchFleet(handle: WorkflowHandle, onLine: (line: string) => void, until: () => boolean, intervalMs = 1000): Promise<void> {
  const seen = new Map<string, string>();
  let flags = '';
  const poll = async () => {
    let p: FleetProgress;
    try {
      p = await handle.query<FleetProgress>(FLEET_PROGRESS_QUERY);
    } catch {
      return;
    }
    const now = [p.paused ? `paused${p.pausedBy?.by ? ` by ${p.pausedBy.by}` : ''}` : '', p.aborted ? `aborted${p.aborted.by ? ` by ${p.aborted.by}` : ''}` : '', p.stoppedByPolicy ? `stopped: ${p.stoppedByPolicy}` : ''].filter(Boolean).join('; ');
    if (now !== flags) {
      onLine(now ? `fleet ${now}` : 'fleet resumed');
      flags = now;
    }
    for (const row of p.hosts) {
      if (row.state === 'pending') continue;
      const line = hostLine(row);
      if (seen.get(row.host) === line) continue;
      seen.set(row.host, line);
      onLine(line);
    }
  };
  while (!until()) {
    await poll();
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  // The last changes, before the caller prints the result.
  await poll();
}

/** The fleet's table now: its result once it completed, else its `progress` query. */
export async function fleetStatus(client: Client, workflowId: string): Promise<FleetProgress | FleetResult> {
  const handle = client.workflow.getHandle(workflowId);
  const d = await handle.describe();
  if (d.type !== FLEET_WORKFLOW_TYPE) throw new UsageError(`${workflowId} is a ${d.type} run, not a fleet`);
  if (d.status.name === 'COMPLETED') return (await handle.result()) as FleetResult;
  return handle.query<FleetProgress>(FLEET_PROGRESS_QUERY);
}

/**
 * Pauses, resumes or aborts a fleet. A request its validator refuses (resume
 * while an aborted fleet drains), or to a fleet that has ended, is a usage
 * error: nothing changed.
 */
export async function controlFleet(client: Client, workflowId: string, action: keyof typeof FLEET_UPDATES, by: FleetControl): Promise<FleetProgress> {
  const handle = client.workflow.getHandle(workflowId);
  // Another runbook's run is refused before anything is sent to it (else: "no registered handler for update").
  const type = (await handle.describe().catch(() => undefined))?.type;
  if (type !== undefined && type !== FLEET_WORKFLOW_TYPE) throw new UsageError(`${workflowId} is a ${type} run, not a fleet: nothing to ${action}`);
  try {
    return await handle.executeUpdate<FleetProgress, [FleetControl]>(FLEET_UPDATES[action], { args: [by] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new UsageError(`${action} ${workflowId}: ${err.cause?.message ?? err.message}`);
    const d = await handle.describe().catch(() => undefined);
    if (d && d.type !== FLEET_WORKFLOW_TYPE) throw new UsageError(`${workflowId} is a ${d.type} run, not a fleet`);
    if (d && d.status.name !== 'RUNNING') throw new UsageError(`${action} ${workflowId}: the fleet has ended (${d.status.name.toLowerCase()}); nothing to ${action}`);
    throw err;
  }
}

/** Pads each value of a column to the column's widest. */
function column(values: string[]): (s: string) => string {
  const width = Math.max(...values.map((v) => v.length));
  return (s) => s.padEnd(width);
}

/** The per-host table, then the counts and why it stopped. */
export function renderFleetTable(t: { hosts: FleetHostRow[]; counts: FleetCounts; aborted?: FleetControl & { at: string }; stoppedByPolicy?: string; paused?: boolean; seed?: number }): string[] {
  const header = { host: 'HOST', state: 'STATE', workflowId: 'WORKFLOW', summary: 'SUMMARY' };
  const rows = [header, ...t.hosts.map((h) => ({ host: h.host, state: h.state, workflowId: h.workflowId, summary: h.summary ?? '' }))];
  const host = column(rows.map((r) => r.host));
  const state = column(rows.map((r) => r.state));
  const wf = column(rows.map((r) => r.workflowId));
  const lines = rows.map((r) => `${host(r.host)}  ${state(r.state)}  ${wf(r.workflowId)}  ${r.summary}`.trimEnd());
  lines.push(describeCounts(t.counts));
  if (t.paused) lines.push('paused: no new host starts until `mcp-runbooks fleet resume`');
  if (t.aborted) lines.push(`aborted${t.aborted.by ? ` by ${t.aborted.by}` : ''}${t.aborted.reason ? `: ${t.aborted.reason}` : ''} at ${t.aborted.at}`);
  if (t.stoppedByPolicy) lines.push(`stopped by the policy: ${t.stoppedByPolicy}`);
  if (t.seed !== undefined) lines.push(`shuffle seed: ${t.seed} (--seed ${t.seed} repeats the order)`);
  return lines;
}
