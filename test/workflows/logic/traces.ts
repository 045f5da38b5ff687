/** Reading the fakes' recorded calls: what ran after a step was cancelled, in order. */
import { ApplicationFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { expect } from 'vitest';
import type { FakeCall } from '../../helpers/time-skipping.js';

/** What a run failed with: the cause of its WorkflowFailedError (the test fails when the run did not fail). */
export async function failureOf(h: WorkflowHandle): Promise<Error | undefined> {
  const err = await h.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return (err as WorkflowFailedError).cause;
}

/** The ApplicationFailure a run failed with. */
export async function applicationFailureOf(h: WorkflowHandle): Promise<ApplicationFailure> {
  const failure = await failureOf(h);
  expect(failure).toBeInstanceOf(ApplicationFailure);
  return failure as ApplicationFailure;
}

export const traceOf = (c: FakeCall) => `${c.name}(${c.args.length ? JSON.stringify(c.args[0]) : ''})`;

/** The calls that started once the blocked call saw its cancellation: the undos, in start order. */
export function afterBlocked(calls: FakeCall[], blocked: FakeCall): Array<{ call: FakeCall; trace: string }> {
  if (blocked.cancelledAt === undefined) throw new Error(`${blocked.name} was never cancelled`);
  return calls.filter((c) => c !== blocked && c.startedAt >= blocked.cancelledAt!).map((call) => ({ call, trace: traceOf(call) }));
}

/**
 * Sorts each run of consecutive `startServices` calls: one undo restarts its
 * services side by side, so their order among themselves is not defined. A
 * `discardStaged` call carries its run's ids: it becomes `discardStaged(this run)`.
 */
export function normalizeParallelStarts(traces: string[]): string[] {
  const out: string[] = [];
  let run: string[] = [];
  const flush = () => {
    out.push(...run.sort());
    run = [];
  };
  for (const raw of traces) {
    // A run's own ids (the one pass's leftovers are discarded by run): the same shape for every run.
    const t = raw.startsWith('discardStaged(') ? 'discardStaged(this run)' : raw;
    if (t.startsWith('startServices(')) run.push(t);
    else {
      flush();
      out.push(t);
    }
  }
  flush();
  return out;
}
