/**
 * A run that may be stopped until it begins changing the host (the
 * `stopIfUnchanged` update). The handler and the body share one flag in one
 * workflow: an update handled before `beginChanging()` stops the run (what it
 * waits for is cancelled: the host lock, a read), one handled after is
 * refused and the run goes on. Either way the caller is told which.
 */
import { CancellationScope, CancelledFailure, defineUpdate, isCancellation, setHandler } from '@temporalio/workflow';
import { parseInput } from '../common/inputs.js';
import { STOP_IF_UNCHANGED, stopIfUnchangedInput, type StopIfUnchangedAnswer, type StopIfUnchangedInput } from '../common/stop-if-unchanged.js';
import type { ProgressTracker } from './progress.js';

export const stopIfUnchangedUpdate = defineUpdate<StopIfUnchangedAnswer, [StopIfUnchangedInput]>(STOP_IF_UNCHANGED);

export interface UnchangedStop {
  /**
   * Runs the steps; a stop accepted before `beginChanging()` cancels them and
   * resolves `{ stopped: reason }` (also when it came before they started).
   */
  run<T>(fn: () => Promise<T>): Promise<{ value: T } | { stopped: string }>;
  /** From here on the run changes the host and a stop is refused; throws (a cancellation) if a stop came first. */
  beginChanging(): void;
}

/** Registers the update's handler; call it before the workflow's first await (the runbook wrapper's `handlers`). */
export function stopIfUnchanged(progress: ProgressTracker): UnchangedStop {
  let changing = false;
  let reason: string | undefined;
  let scope: CancellationScope | undefined;
  const check = (a: unknown): StopIfUnchangedInput => {
    const p = parseInput(stopIfUnchangedInput, a);
    if (!p.ok) throw new Error(`stopIfUnchanged input is invalid: ${p.problems.message}`);
    return p.value;
  };
  setHandler(
    stopIfUnchangedUpdate,
    (a) => {
      const phase = progress.current.phase;
      if (changing) return { stopped: false, phase };
      if (reason === undefined) {
        reason = check(a).reason;
        scope?.cancel();
      }
      return { stopped: true, phase };
    },
    { validator: (a) => void check(a) },
  );
  return {
    async run(fn) {
      if (reason !== undefined) return { stopped: reason };
      // A child of the body's scope: an operator's cancel and the deadline still reach the steps.
      scope = new CancellationScope();
      try {
        return { value: await scope.run(fn) };
      } catch (err) {
        if (reason !== undefined && isCancellation(err) && !CancellationScope.current().consideredCancelled) return { stopped: reason };
        throw err;
      }
    },
    beginChanging() {
      if (reason !== undefined) throw new CancelledFailure(`stopped before it changed anything: ${reason}`);
      changing = true;
    },
  };
}
