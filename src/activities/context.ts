import { watchedSignal } from './heartbeat.js';

export { StepStalledError, previousProgress, trackStep, withStallWatch, type StepReporter } from './heartbeat.js';

/**
 * The running activity's abort signal, or undefined when called outside an
 * activity (tests). Aborted when the activity is cancelled or its step stalls
 * (see `withStallWatch`): hand it to every program and loop the activity runs.
 */
export function activitySignal(): AbortSignal | undefined {
  return watchedSignal();
}

/** Rethrows when the activity was cancelled (or stalled), so a check never turns an abort into a finding. */
export function rethrowIfCancelled(err: unknown, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw err;
}
