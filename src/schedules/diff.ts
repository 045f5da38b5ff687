/**
 * What `schedules apply` must do to make Temporal match the config. Pure: it
 * compares desired schedules with what was found and decides, without calling
 * Temporal, so every rule is unit-tested.
 *
 * Rules: a schedule that is not ours (no mark, or another deployment's) is never
 * updated or deleted; ours are compared by the hash of the spec last applied;
 * an operator's pause is kept (the update keeps the state).
 */
import { isOurs, type AppliedSpec, type DesiredSchedule, type ScheduleMark } from './spec.js';

export const CHANGE_KINDS = {
  /** Declared and missing: create it. */
  create: 'create',
  /** Ours, but its spec differs from the config: update it, keeping its pause and note. */
  update: 'update',
  /** Ours and no longer declared (or `enabled: false`): delete it. */
  delete: 'delete',
  /** Ours and as declared. */
  unchanged: 'unchanged',
  /** Declared, but a schedule with that id exists that is not ours: left alone, reported. */
  conflict: 'conflict',
} as const;
export type ChangeKind = (typeof CHANGE_KINDS)[keyof typeof CHANGE_KINDS];

/** A schedule as found in Temporal. */
export interface ExistingSchedule {
  scheduleId: string;
  mark?: ScheduleMark;
  applied?: AppliedSpec;
  paused: boolean;
  note?: string;
}

export interface ScheduleChange {
  kind: ChangeKind;
  scheduleId: string;
  /** Why, in a few words. */
  reason: string;
  desired?: DesiredSchedule;
  existing?: ExistingSchedule;
}

/**
 * The changes that make `existing` match `desired`, sorted by schedule id.
 * `existing` may hold any schedules found (ours, other deployments', foreign);
 * `taskQueue` says which are ours.
 */
export function diffSchedules(desired: readonly DesiredSchedule[], existing: readonly ExistingSchedule[], taskQueue: string): ScheduleChange[] {
  const found = new Map(existing.map((e) => [e.scheduleId, e]));
  const declared = new Map(desired.map((d) => [d.scheduleId, d]));
  const changes: ScheduleChange[] = [];
  for (const d of desired) {
    const e = found.get(d.scheduleId);
    if (!d.enabled) {
      if (e && isOurs(e.mark, taskQueue)) changes.push({ kind: 'delete', scheduleId: d.scheduleId, reason: 'disabled in config (enabled: false)', desired: d, existing: e });
      continue;
    }
    if (!e) {
      changes.push({ kind: 'create', scheduleId: d.scheduleId, reason: 'declared, not in Temporal', desired: d });
      continue;
    }
    if (!isOurs(e.mark, taskQueue)) {
      const owner = e.mark ? `mcp-runbooks for task queue "${e.mark.taskQueue}"` : 'something else (no mcp-runbooks mark)';
      changes.push({ kind: 'conflict', scheduleId: d.scheduleId, reason: `exists and is managed by ${owner}; left untouched`, desired: d, existing: e });
      continue;
    }
    const pause = e.paused ? `; stays paused${e.note ? `: "${e.note}"` : ''}` : '';
    if (e.applied?.specHash === d.specHash) {
      changes.push({ kind: 'unchanged', scheduleId: d.scheduleId, reason: `as declared${pause}`, desired: d, existing: e });
    } else {
      const why = e.applied ? `was ${e.applied.summary || `spec ${e.applied.specHash}`}` : 'changed outside mcp-runbooks';
      changes.push({ kind: 'update', scheduleId: d.scheduleId, reason: `${why}${pause}`, desired: d, existing: e });
    }
  }
  for (const e of existing) {
    if (declared.has(e.scheduleId) || !isOurs(e.mark, taskQueue)) continue;
    changes.push({ kind: 'delete', scheduleId: e.scheduleId, reason: 'no longer declared', existing: e });
  }
  return changes.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

/** How many changes of each kind. */
export function countChanges(changes: readonly ScheduleChange[]): Record<ChangeKind, number> {
  const count: Record<ChangeKind, number> = { create: 0, update: 0, delete: 0, unchanged: 0, conflict: 0 };
  for (const c of changes) count[c.kind] += 1;
  return count;
}
