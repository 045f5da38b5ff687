/** The `progress` query every long runbook answers, fed by the workflow's phases and its host activities' reports. */
import { defineQuery, defineSignal, setHandler, workflowInfo } from '@temporalio/workflow';
import { ACTIVITY_PROGRESS_SIGNAL, type RunbookProgress, type StepProgress } from '../common/progress.js';

export const progressQuery = defineQuery<RunbookProgress>('progress');
export const activityProgressSignal = defineSignal<[StepProgress]>(ACTIVITY_PROGRESS_SIGNAL);

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
  setHandler(activityProgressSignal, (step) => {
    progress.step = step;
    progress.updatedAt = now();
  });
  return {
    set(phase, detail) {
      // A host step's progress belongs to its phase; parts of one phase may run side by side.
      if (phase !== progress.phase) delete progress.step;
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
