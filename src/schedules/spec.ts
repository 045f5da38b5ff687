/**
 * From declared schedules to the Temporal Schedules they should be: ids, marks,
 * options and a stable hash of what was applied. Pure: no calls to Temporal.
 *
 * Two memos mark a schedule:
 * - the schedule's own memo, `mcpRunbooks: {managedBy, taskQueue, runbook, hostId}`,
 *   set on create: it says the schedule is ours, and for which deployment (one
 *   orchestration task queue). Nothing without it is ever updated or deleted.
 * - the action's memo, `mcpRunbooksSchedule: {scheduleId, specHash, summary}`,
 *   rewritten by every update: the SDK cannot change a schedule's own memo after
 *   create, but it replaces the action. A schedule changed outside mcp-runbooks
 *   (e.g. `temporal schedule update`) loses or keeps a stale hash, so the next
 *   apply puts the config back. Every workflow the schedule starts carries this
 *   memo, so a run in the UI says which schedule and spec started it.
 */
import { createHash } from 'node:crypto';
import type { ScheduleOptions } from '@temporalio/client';
import type { Config, ScheduleConfig } from '../config/config.js';
import { FLEET_DEFAULTS, FLEET_WORKFLOW_TYPE } from '../common/fleet.js';
import type { FleetInput } from '../common/inputs.js';
import { RUNBOOKS, type RunbookName } from '../runbooks.js';
import { parseDuration } from './duration.js';
import { skipCalendars, type Blackout } from './blackouts.js';

/** Value of `managedBy` in the mark. */
export const MANAGED_BY = 'mcp-runbooks';
/** Schedule memo key of the {@link ScheduleMark}. */
export const MARK_MEMO_KEY = 'mcpRunbooks';
/** Action (workflow) memo key of the {@link AppliedSpec}. */
export const APPLIED_MEMO_KEY = 'mcpRunbooksSchedule';

/** What the schedule's memo says about who manages it. */
export interface ScheduleMark {
  managedBy: typeof MANAGED_BY;
  /** The orchestration task queue of the config that created it: one deployment's schedules. */
  taskQueue: string;
  runbook: string;
  hostId: string;
}

/** What the action's memo says about the spec last applied. */
export interface AppliedSpec {
  scheduleId: string;
  specHash: string;
  summary: string;
}

/** A schedule as config wants it. */
export interface DesiredSchedule {
  scheduleId: string;
  runbook: RunbookName;
  /** The host; of a fleet schedule, its selector. */
  hostId: string;
  /** `false`: it must not exist. */
  enabled: boolean;
  /** One line for humans: times, zone and policies. */
  summary: string;
  /** Hash of spec, action and policies (not state): equal hashes mean nothing to update. */
  specHash: string;
  /** Options for `client.schedule.create`; `update` uses spec, action and policies. */
  options: ScheduleOptions;
}

/** `mcp-runbooks.backup.db-1`: deployment (orchestration task queue), runbook, host. */
export function scheduleIdFor(taskQueue: string, runbook: string, hostId: string): string {
  return `${taskQueue}.${runbook}.${hostId}`;
}

/** A selector as it may stand in ids: `role=db,region=eu` gives `role-db_region-eu`. */
export function selectorSlug(selector: string): string {
  return selector.replaceAll('=', '-').replaceAll(',', '_').replace(/[^A-Za-z0-9._-]/g, '_');
}

/** `mcp-runbooks.fleet.daily.role-db`: deployment, `fleet`, runbook, selector. */
export function fleetScheduleIdFor(taskQueue: string, runbook: string, selector: string): string {
  return `${taskQueue}.fleet.${runbook}.${selectorSlug(selector)}`;
}

/**
 * Workflow id given to the schedule's action. Temporal appends the scheduled
 * time to it, so a run's id is e.g. `backup-db-1-2026-11-24T02:00:00Z`.
 */
export function scheduledWorkflowIdBase(runbook: RunbookName, hostId: string): string {
  return `${RUNBOOKS[runbook].idPrefix}-${hostId}`;
}

/** The mark in a schedule's memo, if it has a well-formed one. */
export function readMark(memo: Record<string, unknown> | undefined): ScheduleMark | undefined {
  const m = memo?.[MARK_MEMO_KEY];
  if (!m || typeof m !== 'object') return undefined;
  const r = m as Record<string, unknown>;
  if (r.managedBy !== MANAGED_BY || typeof r.taskQueue !== 'string') return undefined;
  return { managedBy: MANAGED_BY, taskQueue: r.taskQueue, runbook: String(r.runbook ?? ''), hostId: String(r.hostId ?? '') };
}

/** The applied spec in an action's memo, if any. */
export function readAppliedSpec(memo: Record<string, unknown> | undefined): AppliedSpec | undefined {
  const m = memo?.[APPLIED_MEMO_KEY];
  if (!m || typeof m !== 'object') return undefined;
  const r = m as Record<string, unknown>;
  if (typeof r.specHash !== 'string') return undefined;
  return { scheduleId: String(r.scheduleId ?? ''), specHash: r.specHash, summary: String(r.summary ?? '') };
}

/** Whether a mark says the schedule belongs to this config's deployment. */
export function isOurs(mark: ScheduleMark | undefined, taskQueue: string): boolean {
  return mark?.taskQueue === taskQueue;
}

/**
 * `cron "0 2 * * *" UTC, overlap SKIP, catch-up 1d, jitter 0s`; a fleet schedule
 * also names its hosts and policy: `fleet of role=db (db-1, db-2), 2 at once`.
 */
export function scheduleSummary(s: ScheduleConfig): string {
  const when = s.cron !== undefined ? `cron "${s.cron}" ${s.timezone}` : `every ${s.every ?? '?'}`;
  const parts = [when, `overlap ${s.overlap}`, `catch-up ${s.catchupWindow}`];
  if (parseDuration(s.jitter)) parts.push(s.fleet ? `jitter ${s.jitter} per host` : `jitter ${s.jitter}`);
  if (s.pauseOnFailure) parts.push('pause on failure');
  if (s.fleet) {
    const p = s.fleet.policy;
    const shown = s.fleet.hosts.length > 5 ? `${s.fleet.hosts.slice(0, 5).join(', ')}, ... ${s.fleet.hosts.length} hosts` : s.fleet.hosts.join(', ');
    parts.push(`fleet of ${s.fleet.selector} (${shown})`);
    if (parseDuration(s.jitter)) parts.push('every host at once');
    else {
      parts.push(`${p.maxParallel ?? FLEET_DEFAULTS.maxParallel} at once`);
      if (p.canary) parts.push(`canary ${p.canary}`);
      if (p.maxFailures !== undefined) parts.push(`max failures ${p.maxFailures}`);
      if (p.maxFailPercent !== undefined) parts.push(`max fail ${p.maxFailPercent}%`);
      if (p.order && p.order !== 'listed') parts.push(`order ${p.order}`);
    }
  }
  return parts.join(', ');
}

/**
 * The `fleet` input a fleet schedule starts: the hosts selected when the config
 * was loaded (re-applying picks up inventory changes), and the policy. A
 * per-host jitter starts every host at once, each after its own wait, and no
 * failure stops the others (they are independent runs that merely share a schedule).
 */
export function fleetScheduleInput(s: ScheduleConfig & { fleet: NonNullable<ScheduleConfig['fleet']> }): FleetInput {
  const jitterMs = parseDuration(s.jitter) ?? 0;
  const policy = jitterMs > 0 ? { maxParallel: '100%', jitterSeconds: jitterMs / 1000, maxFailures: s.fleet.hosts.length } : s.fleet.policy;
  return {
    runbook: s.runbook,
    hosts: s.fleet.hosts,
    selector: s.fleet.selector,
    ...(Object.keys(s.fleet.labels).length ? { labels: s.fleet.labels } : {}),
    ...(Object.keys(policy).length ? { policy } : {}),
  };
}

/** JSON with sorted keys, so equal values hash equally. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The schedule one declared entry should be. */
export function desiredSchedule(s: ScheduleConfig, config: Pick<Config, 'temporal'> & { blackouts?: readonly Blackout[] }): DesiredSchedule {
  const taskQueue = config.temporal.taskQueue;
  const fleet = s.fleet;
  const scheduleId = fleet ? fleetScheduleIdFor(taskQueue, s.runbook, fleet.selector) : scheduleIdFor(taskQueue, s.runbook, s.hostId);
  const ms = (d: string) => parseDuration(d) ?? 0;
  // Maintenance windows: only runbooks that change a host are kept out of them (a health check still runs).
  const blackouts = RUNBOOKS[s.runbook].changesHost ? (config.blackouts ?? []) : [];
  // A fleet's jitter is each host's wait inside the fleet: it widens the window just the same.
  const skip = skipCalendars(blackouts, { timezone: s.timezone, jitterMs: ms(s.jitter) });
  const spec = {
    ...(s.cron !== undefined ? { cronExpressions: [s.cron] } : { intervals: [{ every: ms(s.every ?? '0s') }] }),
    timezone: s.timezone,
    // A fleet schedule starts on time; its jitter is each host's, inside the fleet.
    jitter: fleet ? 0 : ms(s.jitter),
    ...(skip.length ? { skip } : {}),
  };
  const action = fleet
    ? {
        type: 'startWorkflow' as const,
        workflowType: FLEET_WORKFLOW_TYPE,
        taskQueue,
        args: [fleetScheduleInput({ ...s, fleet })],
        workflowId: `fleet-${RUNBOOKS[s.runbook].idPrefix}-${selectorSlug(fleet.selector)}`,
        staticSummary: `${s.runbook} on ${fleet.selector} (fleet schedule, ${fleet.hosts.length} hosts)`,
      }
    : {
        type: 'startWorkflow' as const,
        workflowType: RUNBOOKS[s.runbook].workflowType,
        taskQueue,
        args: [{ hostId: s.hostId }],
        workflowId: scheduledWorkflowIdBase(s.runbook, s.hostId),
        // No execution timeout: it would end the run with none of its undos run. Each runbook has its own deadline.
        staticSummary: `${s.runbook} on ${s.hostId} (schedule)`,
      };
  const policies = { overlap: s.overlap, catchupWindow: ms(s.catchupWindow), pauseOnFailure: s.pauseOnFailure };
  const specHash = createHash('sha256').update(canonicalJson({ spec, action, policies })).digest('hex').slice(0, 16);
  const summary = `${scheduleSummary(s)}${blackouts.length ? `, skips blackouts ${blackouts.map((b) => b.name).join(', ')}` : ''}`;
  const mark: ScheduleMark = { managedBy: MANAGED_BY, taskQueue, runbook: s.runbook, hostId: s.hostId };
  const applied: AppliedSpec = { scheduleId, specHash, summary };
  return {
    scheduleId,
    runbook: s.runbook,
    hostId: s.hostId,
    enabled: s.enabled,
    summary,
    specHash,
    options: {
      scheduleId,
      spec,
      action: { ...action, memo: { [APPLIED_MEMO_KEY]: applied } },
      policies,
      memo: { [MARK_MEMO_KEY]: mark },
      state: { paused: false },
    },
  };
}

/** Every declared schedule of a config, sorted by id. */
export function desiredSchedules(config: Pick<Config, 'temporal' | 'schedules'>): DesiredSchedule[] {
  return config.schedules.map((s) => desiredSchedule(s, config)).sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}
