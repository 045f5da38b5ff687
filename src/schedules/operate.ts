/**
 * An operator's actions on one schedule: pause, unpause, trigger, backfill,
 * delete. Each refuses a schedule that is not this config's (a
 * {@link UsageError}, exit code 2): for those, use the `temporal` CLI.
 */
import type { Client, ScheduleDescription, ScheduleHandle } from '@temporalio/client';
import { UsageError } from '../common/errors.js';
import { pickHost } from '../common/task-queues.js';
import type { Config } from '../config/config.js';
import { describeSchedule } from './apply.js';
import { checkBackfillRange } from './backfill-range.js';
import { HOST_KILLING_OVERLAPS, type OverlapPolicy } from './overlap.js';
import { RUNBOOKS } from '../runbooks.js';
import { desiredSchedules, isOurs, readMark, scheduleIdFor } from './spec.js';

type OperateConfig = Pick<Config, 'temporal' | 'schedules' | 'hosts' | 'hostId'>;

export interface OwnSchedule {
  scheduleId: string;
  handle: ScheduleHandle;
  description: ScheduleDescription;
}

/**
 * The schedule an operator means: its full id, `<runbook>.<host>`, or just
 * `<runbook>` for this config's host. Refuses one that does not exist or is not ours.
 */
export async function ownSchedule(client: Client, config: OperateConfig, id: string): Promise<OwnSchedule> {
  const taskQueue = config.temporal.taskQueue;
  const host = pickHost(config.hosts, config.hostId) ?? config.hostId;
  const candidates = [id, `${taskQueue}.${id}`, scheduleIdFor(taskQueue, id, host)];
  for (const scheduleId of candidates) {
    const description = await describeSchedule(client, scheduleId);
    if (!description) continue;
    const mark = readMark(description.memo);
    if (!isOurs(mark, taskQueue)) {
      const owner = mark ? `mcp-runbooks with task queue "${mark.taskQueue}" (another config)` : 'no mcp-runbooks mark: someone else created it';
      throw new UsageError(
        `schedule "${scheduleId}" is not managed by this config (${owner}); refusing to touch it. Use \`temporal schedule ... --schedule-id ${scheduleId}\` if you mean to.`,
      );
    }
    return { scheduleId, handle: client.schedule.getHandle(scheduleId), description };
  }
  const ours = desiredSchedules(config)
    .filter((d) => d.enabled)
    .map((d) => d.scheduleId);
  throw new UsageError(`no schedule "${id}" in namespace ${config.temporal.namespace} (this config declares: ${ours.join(', ') || 'none'}; run \`mcp-runbooks schedules apply\` to create them)`);
}

export async function pauseSchedule(client: Client, config: OperateConfig, id: string, note: string): Promise<OwnSchedule> {
  const own = await ownSchedule(client, config, id);
  await own.handle.pause(note);
  return own;
}

export async function unpauseSchedule(client: Client, config: OperateConfig, id: string, note?: string): Promise<OwnSchedule> {
  const own = await ownSchedule(client, config, id);
  await own.handle.unpause(note ?? 'unpaused with mcp-runbooks');
  return own;
}

export interface TriggerResult {
  scheduleId: string;
  /** The policy the trigger ran with. */
  overlap: OverlapPolicy;
  /** The workflow the trigger started, once the schedule reports it. */
  workflowId?: string;
  runId?: string;
  /** The overlap policy skipped it: a run was still running. */
  skipped: boolean;
}

/**
 * Starts the schedule's runbook now and waits up to `waitMs` for the schedule
 * to report the run it started, or that it skipped it. The overlap policy is
 * the schedule's unless given: the SDK's default for a trigger is ALLOW_ALL,
 * which would start a second backup beside a running one, and a run started
 * that way is not even tracked as running for later overlap checks.
 */
export async function triggerSchedule(
  client: Client,
  config: OperateConfig,
  id: string,
  opts: { overlap?: OverlapPolicy; waitMs?: number } = {},
): Promise<TriggerResult> {
  const own = await ownSchedule(client, config, id);
  const overlap = opts.overlap ?? own.description.policies.overlap ?? 'SKIP';
  refuseHostKillingOverlap(own, overlap);
  const before = own.description.info;
  const seen = new Set(before.recentActions.map((a) => a.action.workflow.workflowId));
  await own.handle.trigger(overlap);
  const deadline = Date.now() + (opts.waitMs ?? 15_000);
  while (Date.now() < deadline) {
    const now = (await own.handle.describe()).info;
    const started = now.recentActions.find((a) => !seen.has(a.action.workflow.workflowId));
    if (started) {
      const { workflowId, firstExecutionRunId: runId } = started.action.workflow;
      return { scheduleId: own.scheduleId, overlap, workflowId, runId, skipped: false };
    }
    if (now.numActionsSkippedOverlap > before.numActionsSkippedOverlap) return { scheduleId: own.scheduleId, overlap, skipped: true };
    await new Promise((r) => setTimeout(r, 250));
  }
  return { scheduleId: own.scheduleId, overlap, skipped: false };
}

/** A run started by hand must not cancel or terminate a running one that changes the host (its undos would not all run). */
function refuseHostKillingOverlap(own: OwnSchedule, overlap: OverlapPolicy): void {
  const type = own.description.action.type === 'startWorkflow' ? own.description.action.workflowType : undefined;
  const def = Object.values(RUNBOOKS).find((r) => r.workflowType === type);
  if (HOST_KILLING_OVERLAPS.includes(overlap) && (def?.changesHost ?? true)) {
    throw new UsageError(`--overlap: ${overlap} would end a running ${type ?? 'runbook'} that changes the host, undone or not at all; use skip, buffer-one, buffer-all or allow-all (the host lock keeps runs apart)`);
  }
}

export interface BackfillOptions {
  from: Date;
  to: Date;
  /** @default the schedule's own overlap policy */
  overlap?: OverlapPolicy;
}

/** Takes the runs that were due between `from` and `to` now, as if that time passed again. */
export async function backfillSchedule(client: Client, config: OperateConfig, id: string, opts: BackfillOptions): Promise<OwnSchedule & { overlap: OverlapPolicy }> {
  checkBackfillRange(opts.from, opts.to);
  const own = await ownSchedule(client, config, id);
  const overlap = opts.overlap ?? own.description.policies.overlap ?? 'SKIP';
  refuseHostKillingOverlap(own, overlap);
  await own.handle.backfill({ start: opts.from, end: opts.to, overlap });
  return { ...own, overlap };
}

/** Deletes one of our schedules; says whether the config still declares it (then the next apply creates it again). */
export async function deleteSchedule(client: Client, config: OperateConfig, id: string): Promise<OwnSchedule & { stillDeclared: boolean }> {
  const own = await ownSchedule(client, config, id);
  await own.handle.delete();
  const stillDeclared = desiredSchedules(config).some((d) => d.enabled && d.scheduleId === own.scheduleId);
  return { ...own, stillDeclared };
}
