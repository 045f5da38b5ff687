/** Schedules: what the CLI, `dev` and the worker use. */
export { applySchedules, planSchedules, type AppliedChange } from './apply.js';
export { backfillSchedule, deleteSchedule, ownSchedule, pauseSchedule, triggerSchedule, unpauseSchedule } from './operate.js';
export { parseOverlapPolicy, OVERLAP_POLICIES, type OverlapPolicy } from './overlap.js';
export { renderChanges, renderStatuses } from './render.js';
export { scheduleStatuses, type ScheduleStatus } from './status.js';
