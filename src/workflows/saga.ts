/**
 * Compensations for a saga: each undo is registered before the step it undoes
 * runs, and they run in reverse order in a non-cancellable scope, so failure,
 * cancellation and a killed worker all end with the undo done.
 */
import { CancellationScope, log } from '@temporalio/workflow';
import { failureMessage } from './shared.js';

export interface CompensationOutcome {
  step: string;
  ok: boolean;
  error?: string;
}

export class Compensations {
  readonly #steps: Array<{ id: number; step: string; undo: () => Promise<unknown> }> = [];
  #next = 0;

  /** Registers an undo; returns a function that drops it once the step no longer needs undoing. */
  add(step: string, undo: () => Promise<unknown>): () => void {
    const id = this.#next++;
    this.#steps.push({ id, step, undo });
    return () => {
      const i = this.#steps.findIndex((s) => s.id === id);
      if (i >= 0) this.#steps.splice(i, 1);
    };
  }

  get pending(): string[] {
    return this.#steps.map((s) => s.step);
  }

  /** Runs every registered undo, newest first; one failing does not stop the others. */
  async run(): Promise<CompensationOutcome[]> {
    const steps = this.#steps.splice(0).reverse();
    return CancellationScope.nonCancellable(async () => {
      const out: CompensationOutcome[] = [];
      for (const s of steps) {
        try {
          await s.undo();
          out.push({ step: s.step, ok: true });
        } catch (err) {
          log.error('compensation failed', { step: s.step, error: failureMessage(err) });
          out.push({ step: s.step, ok: false, error: failureMessage(err) });
        }
      }
      return out;
    });
  }
}
