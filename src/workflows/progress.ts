/**
 * The `progress` query every long runbook answers: the phases it went through.
 * A host step's counters are not here: they travel as the activity's heartbeat
 * details (no signals, so a long backup's history does not grow with its
 * progress), and the client reads them from the pending activities of `describe()`.
 */
import { defineQuery, setHandler, workflowInfo } from '@temporalio/workflow';
import type { RunbookProgress } from '../common/progress.js';

export const progressQuery = defineQuery<RunbookProgress>('progress');

export interface ProgressTracker {
  set(phase: string, detail?: string): void;
  readonly current: RunbookProgress;
}

export function trackProgress(runbook: string): ProgressTracker {
  const now = () => new Date().toISOString();
  const progress: RunbookProgress = {
    runbook,
    workflowId: workflowInfo().workflowId,
    phase: 'starting',
    startedAt: now(),
    updatedAt: now(),
    phases: [{ phase: 'starting', at: now() }],
  };
  setHandler(progressQuery, () => progress);
  return {
    set(phase, detail) {
      progress.phase = phase;
      if (detail === undefined) delete progress.detail;
      else progress.detail = detail;
      progress.updatedAt = now();
      progress.phases.push({ phase, at: progress.updatedAt, ...(detail ? { detail } : {}) });
    },
    get current() {
      return progress;
    },
  };
}
