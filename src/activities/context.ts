import { cancellationSignal, heartbeat } from '@temporalio/activity';

/** The running activity's cancellation signal, or undefined when called outside an activity (tests). */
export function activitySignal(): AbortSignal | undefined {
  try {
    return cancellationSignal();
  } catch {
    return undefined;
  }
}

/** Heartbeats when inside an activity; a no-op elsewhere. */
export function beat(details?: unknown): void {
  try {
    heartbeat(details);
  } catch {
    // not in an activity
  }
}

/** Rethrows when the activity was cancelled, so a check never turns a cancellation into a finding. */
export function rethrowIfCancelled(err: unknown, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw err;
}
