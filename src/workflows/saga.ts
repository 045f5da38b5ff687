/**
 * Compensations for a saga: each undo is registered before the step it undoes
 * runs, and they run in reverse order in a non-cancellable scope, so failure,
 * cancellation and a passed deadline all end with the undo done. Every host
 * activity waits for its cancellation to complete (see the policy table), so an
 * undo never starts while the step it undoes is still running.
 *
 * A `cleanup` removes what the run made to do its work (staging folders, the
 * recovery folder with the emergency dump). Cleanups run last, and only when
 * every other undo succeeded: when one failed, what an operator needs to finish
 * by hand is kept, and the outcome names where it is.
 */
import { CancellationScope, log } from '@temporalio/workflow';
import { failureMessage } from './shared.js';

export interface CompensationOutcome {
  step: string;
  ok: boolean;
  error?: string;
  /** A cleanup that did not run because an undo before it failed; `kept` names what it would have removed. */
  skipped?: boolean;
  kept?: string[];
}

interface Step {
  id: number;
  step: string;
  undo: () => Promise<unknown>;
  cleanup?: { keeps: () => string[] };
}

export class Compensations {
  readonly #steps: Step[] = [];
  #next = 0;

  /** Registers an undo; returns a function that drops it once the step no longer needs undoing. */
  add(step: string, undo: () => Promise<unknown>): () => void {
    return this.#push({ id: this.#next++, step, undo });
  }

  /**
   * Registers a cleanup: it runs after every undo, and only if they all succeeded.
   * `keeps` names what the cleanup would remove, so a failed rollback can say where it is.
   */
  addCleanup(step: string, keeps: () => string[], cleanup: () => Promise<unknown>): () => void {
    return this.#push({ id: this.#next++, step, undo: cleanup, cleanup: { keeps } });
  }

  #push(s: Step): () => void {
    this.#steps.push(s);
    return () => {
      const i = this.#steps.findIndex((x) => x.id === s.id);
      if (i >= 0) this.#steps.splice(i, 1);
    };
  }

  get pending(): string[] {
    return this.#steps.map((s) => s.step);
  }

  /** Runs every registered undo, newest first, then the cleanups; one undo failing does not stop the other undos. */
  async run(): Promise<CompensationOutcome[]> {
    const steps = this.#steps.splice(0).reverse();
    const undos = steps.filter((s) => !s.cleanup);
    const cleanups = steps.filter((s) => s.cleanup);
    return CancellationScope.nonCancellable(async () => {
      const out: CompensationOutcome[] = [];
      for (const s of undos) out.push(await attempt(s));
      const failed = out.some((o) => !o.ok);
      for (const s of cleanups) {
        if (failed) out.push({ step: s.step, ok: true, skipped: true, kept: s.cleanup!.keeps() });
        else out.push(await attempt(s));
      }
      return out;
    });
  }
}

async function attempt(s: Step): Promise<CompensationOutcome> {
  try {
    await s.undo();
    return { step: s.step, ok: true };
  } catch (err) {
    log.error('compensation failed', { step: s.step, error: failureMessage(err) });
    return { step: s.step, ok: false, error: failureMessage(err) };
  }
}

/** `restart a, b; put back /x (FAILED: ...); remove staging (skipped, kept: /y)` */
export function describeUndone(undone: readonly CompensationOutcome[]): string {
  return (
    undone
      .map((u) => (u.skipped ? `${u.step} (skipped: an undo failed, kept ${u.kept?.join(', ') || 'its files'})` : `${u.step}${u.ok ? '' : ` (FAILED: ${u.error ?? ''})`}`))
      .join('; ') || 'nothing to undo'
  );
}
