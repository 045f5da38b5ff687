/**
 * What each schedule is doing: next runs, recent runs with their outcome, pause
 * and why, and the counts that say a run was missed (Temporal unavailable longer
 * than the catch-up window) or skipped (the previous run still running).
 *
 * The counts live in Temporal (the schedule's info) and survive restarts of
 * everything else; {@link scheduleStatuses} reads them, so the metrics exporter
 * can publish them as gauges, e.g. `mcp_runbooks_schedule_last_success_timestamp_seconds`,
 * `..._missed_runs`, `..._skipped_runs`, `..._paused`, labelled by schedule, runbook and host.
 */
import type { Client, ScheduleDescription } from '@temporalio/client';
import type { Config } from '../config/config.js';
import { describeSchedule } from './apply.js';
import { formatDuration } from './duration.js';
import { listSchedules } from './list.js';
import { desiredSchedules, isOurs, readAppliedSpec, readMark } from './spec.js';

/** Who manages a schedule, seen from one config. */
export const SCHEDULE_OWNERSHIP = {
  /** Marked by mcp-runbooks for this config's task queue. */
  ours: 'ours',
  /** Marked by mcp-runbooks for another orchestration task queue (another deployment). */
  otherDeployment: 'other-deployment',
  /** Not marked: created by hand, by the `temporal` CLI or by another program. */
  foreign: 'foreign',
} as const;
export type ScheduleOwnership = (typeof SCHEDULE_OWNERSHIP)[keyof typeof SCHEDULE_OWNERSHIP];

/** One run a schedule started (on its times, by trigger or by backfill). */
export interface ScheduleRun {
  /** The time it was due (including jitter); part of the workflow id. */
  scheduledAt: Date;
  /** When the schedule started it. */
  startedAt: Date;
  workflowId: string;
  runId: string;
  /** Workflow status: RUNNING, COMPLETED, FAILED, TIMED_OUT, CANCELLED, TERMINATED, ...; UNKNOWN if it cannot be read. */
  outcome: string;
  closedAt?: Date;
}

export interface ScheduleStatus {
  scheduleId: string;
  ownership: ScheduleOwnership;
  /** Declared (and enabled) in this config. */
  declared: boolean;
  runbook?: string;
  hostId?: string;
  workflowType: string;
  /** Times and policies, as applied (ours) or as described (others). */
  summary: string;
  paused: boolean;
  /** Why it is paused (an operator's note, or Temporal's after a failure). */
  note?: string;
  nextRuns: Date[];
  /** Most recent runs, oldest first (Temporal keeps the last 10). */
  recentRuns: ScheduleRun[];
  running: number;
  /** Runs started since the schedule was created. */
  actionsTaken: number;
  /** Runs not started because they were more than the catch-up window late. */
  missedCatchupWindow: number;
  /** Runs not started because the previous run was still running (overlap policy). */
  skippedOverlap: number;
  /** Close time of the newest run that completed. */
  lastSuccessAt?: Date;
}

export interface ScheduleStatusOptions {
  client: Client;
  config: Pick<Config, 'temporal' | 'schedules'>;
  /** Also schedules that are not this config's. @default false */
  includeOthers?: boolean;
  /** How many next run times to report. @default 3 */
  nextRuns?: number;
}

/** Status of every schedule of this config (and of the others with `includeOthers`), sorted by id. */
export async function scheduleStatuses(opts: ScheduleStatusOptions): Promise<ScheduleStatus[]> {
  const taskQueue = opts.config.temporal.taskQueue;
  const declared = new Set(desiredSchedules(opts.config).filter((d) => d.enabled).map((d) => d.scheduleId));
  const ids = new Set(declared);
  for (const s of await listSchedules(opts.client, opts.config.temporal.namespace)) {
    if (opts.includeOthers || isOurs(s.mark, taskQueue)) ids.add(s.scheduleId);
  }
  // Another program's schedule may not be readable with our data converter: it is left out, not fatal.
  const described = await Promise.all(
    [...ids].map((id) => describeSchedule(opts.client, id).catch((err: unknown) => (declared.has(id) ? Promise.reject(err) : undefined))),
  );
  const statuses = await Promise.all(
    described
      .filter((d): d is ScheduleDescription => d !== undefined)
      .filter((d) => opts.includeOthers || isOurs(readMark(d.memo), taskQueue))
      .map((d) => statusFrom(opts.client, d, { taskQueue, declared: declared.has(d.scheduleId), nextRuns: opts.nextRuns ?? 3 })),
  );
  return statuses.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

/** Status of one described schedule. */
export async function statusFrom(
  client: Client,
  d: ScheduleDescription,
  ctx: { taskQueue: string; declared: boolean; nextRuns: number },
): Promise<ScheduleStatus> {
  const mark = readMark(d.memo);
  const ownership: ScheduleOwnership = !mark ? 'foreign' : isOurs(mark, ctx.taskQueue) ? 'ours' : 'other-deployment';
  const recentRuns = await Promise.all(
    d.info.recentActions.map(async (a): Promise<ScheduleRun> => {
      const { workflowId, firstExecutionRunId: runId } = a.action.workflow;
      const run: ScheduleRun = { scheduledAt: a.scheduledAt, startedAt: a.takenAt, workflowId, runId, outcome: 'UNKNOWN' };
      try {
        const w = await client.workflow.getHandle(workflowId, runId).describe();
        run.outcome = w.status.name;
        if (w.closeTime) run.closedAt = w.closeTime;
      } catch {
        // Deleted by retention, or not readable: the outcome stays UNKNOWN.
      }
      return run;
    }),
  );
  const lastSuccessAt = newest(recentRuns.filter((r) => r.outcome === 'COMPLETED').map((r) => r.closedAt)) ?? (await lastCompletedRun(client, d.scheduleId));
  const applied = readAppliedSpec(d.action.memo);
  return {
    scheduleId: d.scheduleId,
    ownership,
    declared: ctx.declared,
    ...(mark ? { runbook: mark.runbook, hostId: mark.hostId } : {}),
    workflowType: d.action.workflowType,
    summary: applied?.summary || describedSummary(d),
    paused: d.state.paused,
    ...(d.state.note ? { note: d.state.note } : {}),
    nextRuns: d.info.nextActionTimes.slice(0, ctx.nextRuns),
    recentRuns,
    running: d.info.runningActions.length,
    actionsTaken: d.info.numActionsTaken,
    missedCatchupWindow: d.info.numActionsMissedCatchupWindow,
    skippedOverlap: d.info.numActionsSkippedOverlap,
    ...(lastSuccessAt ? { lastSuccessAt } : {}),
  };
}

function newest(dates: ReadonlyArray<Date | undefined>): Date | undefined {
  let best: Date | undefined;
  for (const d of dates) if (d && (!best || d > best)) best = d;
  return best;
}

/**
 * The newest completed run among all the schedule ever started, from the
 * visibility store (`TemporalScheduledById`), for when none of the last ten did.
 */
async function lastCompletedRun(client: Client, scheduleId: string): Promise<Date | undefined> {
  if (/["'\\]/.test(scheduleId)) return undefined;
  const closed: Array<Date | undefined> = [];
  try {
    for await (const w of client.workflow.list({ query: `TemporalScheduledById = '${scheduleId}' AND ExecutionStatus = 'Completed'`, pageSize: 20 })) {
      closed.push(w.closeTime);
      if (closed.length >= 20) break;
    }
  } catch {
    return undefined;
  }
  return newest(closed);
}

/** A short description of a schedule this config did not apply. */
function describedSummary(d: ScheduleDescription): string {
  const parts: string[] = [];
  for (const i of d.spec.intervals ?? []) parts.push(`every ${formatDuration(i.every)}`);
  const calendars = d.spec.calendars?.length ?? 0;
  if (calendars) parts.push(`${calendars} calendar spec${calendars > 1 ? 's' : ''}${d.spec.timezone ? ` ${d.spec.timezone}` : ''}`);
  parts.push(`overlap ${d.policies.overlap}`, `catch-up ${formatDuration(d.policies.catchupWindow)}`);
  return parts.join(', ');
}
