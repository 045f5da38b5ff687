import { activityInfo, cancellationSignal, getClient, heartbeat } from '@temporalio/activity';
import { ACTIVITY_PROGRESS_SIGNAL, type StepProgress } from '../common/progress.js';

/** The running activity's cancellation signal, or undefined when called outside an activity (tests). */
export function activitySignal(): AbortSignal | undefined {
  try {
    return cancellationSignal();
  } catch {
    return undefined;
  }
}

function inActivity(): boolean {
  try {
    activityInfo();
    return true;
  } catch {
    return false;
  }
}

const lastDetails = new Map<string, unknown>();
const key = () => Buffer.from(activityInfo().taskToken).toString('base64');

/** Heartbeats when inside an activity (a no-op elsewhere); the details are kept and re-sent by the ticker. */
export function beat(details?: unknown): void {
  if (!inActivity()) return;
  if (details !== undefined) lastDetails.set(key(), details);
  heartbeat(details ?? lastDetails.get(key()));
}

/** Rethrows when the activity was cancelled, so a check never turns a cancellation into a finding. */
export function rethrowIfCancelled(err: unknown, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw err;
}


/**
 * Reports a long step's progress: a heartbeat every call, and at most every few
 * seconds a signal to the workflow so its `progress` query shows it.
 */
export function progressReporter(step: string, unit: StepProgress['unit'] = 'bytes', total?: number, intervalMs = 3000) {
  let lastSignal = 0;
  return (done: number, newTotal?: number): void => {
    const details: StepProgress = { step, done, unit, ...((newTotal ?? total) !== undefined ? { total: newTotal ?? total } : {}) };
    beat(details);
    if (!inActivity() || Date.now() - lastSignal < intervalMs) return;
    lastSignal = Date.now();
    const execution = activityInfo().workflowExecution;
    if (!execution) return;
    getClient()
      .workflow.getHandle(execution.workflowId, execution.runId)
      .signal(ACTIVITY_PROGRESS_SIGNAL, details)
      .catch(() => undefined);
  };
}

/**
 * Wraps every activity so it heartbeats every few seconds while it runs: a killed
 * worker is then noticed within the heartbeat timeout, not the start-to-close
 * timeout, and cancellation reaches activities that do not heartbeat themselves.
 */
export function withHeartbeats<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T, everyMs = 5000): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      if (!inActivity()) return fn(...args);
      beat();
      const timer = setInterval(() => beat(), everyMs);
      try {
        return await fn(...args);
      } finally {
        clearInterval(timer);
        lastDetails.delete(key());
      }
    };
  }
  return wrapped as T;
}
