/**
 * `schedules apply`: reads what Temporal has, diffs it with the config
 * ({@link diffSchedules}) and carries out the changes. Idempotent: a second
 * apply finds every schedule unchanged and writes nothing.
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import { errorMessage } from '../common/errors.js';
import type { Config } from '../config/config.js';
import { listSchedules } from './list.js';
import { diffSchedules, type ExistingSchedule, type ScheduleChange } from './diff.js';
import { desiredSchedules, isOurs, readAppliedSpec, readMark, type DesiredSchedule } from './spec.js';

/** A schedule's description, or undefined when it does not exist. */
export async function describeSchedule(client: Client, scheduleId: string): Promise<ScheduleDescription | undefined> {
  try {
    return await client.schedule.getHandle(scheduleId).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

/** What the diff needs to know about a described schedule. */
export function existingFrom(d: ScheduleDescription): ExistingSchedule {
  const mark = readMark(d.memo);
  const applied = readAppliedSpec(d.action.memo);
  return {
    scheduleId: d.scheduleId,
    ...(mark ? { mark } : {}),
    ...(applied ? { applied } : {}),
    paused: d.state.paused,
    ...(d.state.note ? { note: d.state.note } : {}),
  };
}

/**
 * Schedules relevant to the config: every declared id (described, so a schedule
 * created a moment ago is seen), and every schedule of ours that the listing
 * shows. The listing is eventually consistent: a schedule created a second ago
 * may show up only on the next apply.
 */
export async function findExistingSchedules(client: Client, config: Pick<Config, 'temporal'>, desired: readonly DesiredSchedule[]): Promise<ExistingSchedule[]> {
  const ids = new Set(desired.map((d) => d.scheduleId));
  for (const s of await listSchedules(client, config.temporal.namespace)) {
    if (isOurs(s.mark, config.temporal.taskQueue)) ids.add(s.scheduleId);
  }
  const described = await Promise.all([...ids].map((id) => describeSchedule(client, id)));
  return described.filter((d): d is ScheduleDescription => d !== undefined).map(existingFrom);
}

/** The changes an apply would make, without making them. */
export async function planSchedules(client: Client, config: Pick<Config, 'temporal' | 'schedules'>): Promise<ScheduleChange[]> {
  const desired = desiredSchedules(config);
  return diffSchedules(desired, await findExistingSchedules(client, config, desired), config.temporal.taskQueue);
}

/** A planned change and, after an apply, whether carrying it out failed. */
export interface AppliedChange extends ScheduleChange {
  /** Set when carrying out the change failed. */
  error?: string;
}

/** Options of {@link applySchedules}. */
export interface ApplySchedulesOptions {
  client: Client;
  config: Pick<Config, 'temporal' | 'schedules'>;
  /** Only plan. @default false */
  dryRun?: boolean;
}

/**
 * Makes Temporal's schedules match the config. A change that fails is reported
 * in its `error` and the others still run.
 */
export async function applySchedules(opts: ApplySchedulesOptions): Promise<AppliedChange[]> {
  const changes = await planSchedules(opts.client, opts.config);
  if (opts.dryRun) return changes;
  const results: AppliedChange[] = [];
  for (const change of changes) {
    try {
      results.push(await carryOut(opts.client, opts.config.temporal.taskQueue, change));
    } catch (err) {
      results.push({ ...change, error: errorMessage(err) });
    }
  }
  return results;
}

async function carryOut(client: Client, taskQueue: string, change: ScheduleChange): Promise<AppliedChange> {
  const { desired } = change;
  switch (change.kind) {
    case 'create': {
      if (!desired) return change;
      try {
        await client.schedule.create(desired.options);
        return change;
      } catch (err) {
        // Another orchestrator applying the same config at the same moment created it first.
        if (!(err instanceof ScheduleAlreadyRunning)) throw err;
        const now = await describeSchedule(client, change.scheduleId);
        const existing = now && existingFrom(now);
        if (existing && isOurs(existing.mark, taskQueue) && existing.applied?.specHash === desired.specHash) {
          return { ...change, kind: 'unchanged', reason: 'created at the same moment by another apply', existing };
        }
        throw err;
      }
    }
    case 'update': {
      if (!desired) return change;
      const { spec, action, policies } = desired.options;
      await client.schedule.getHandle(change.scheduleId).update((prev) => {
        if (!isOurs(readMark(prev.memo), taskQueue)) throw new Error(`schedule ${change.scheduleId} is no longer marked as ours; not updated`);
        // The state is the operator's: a pause and its note survive a spec change.
        return {
          spec,
          action,
          ...(policies ? { policies } : {}),
          state: {
            paused: prev.state.paused,
            ...(prev.state.note ? { note: prev.state.note } : {}),
            ...(prev.state.remainingActions !== undefined ? { remainingActions: prev.state.remainingActions } : {}),
          },
        };
      });
      return change;
    }
    case 'delete': {
      const now = await describeSchedule(client, change.scheduleId);
      if (!now) return { ...change, reason: `${change.reason}; already gone` };
      if (!isOurs(readMark(now.memo), taskQueue)) throw new Error(`schedule ${change.scheduleId} is no longer marked as ours; not deleted`);
      await client.schedule.getHandle(change.scheduleId).delete();
      return change;
    }
    case 'unchanged':
    case 'conflict':
      return change;
  }
}
