/**
 * The runbook wrapper: the plumbing every runbook shares, so each workflow body
 * is only the steps of the seed section it replaces.
 *
 * `runbook(name, schema, options, body)` returns the workflow function. In order it:
 * 1. validates the input with the runbook's strict schema (unknown fields and
 *    wrong types end the run at once with a non-retryable `InvalidInput` naming
 *    the field; the run is counted under outcome `invalid-input`);
 * 2. routes to the host (`McpHost`), sets the search attributes and the UI's
 *    current details;
 * 3. runs the body under an in-workflow deadline computed from the runbook's
 *    budget (lock waits + approval + work). There is no execution timeout: when
 *    the deadline passes, the body's scope is cancelled, every activity in
 *    flight is waited for, the undos run, the host lock is released, and the run
 *    fails as `DeadlineExceeded`;
 * 4. takes the host lock around the body (`lock: 'run'`), or lets the body take
 *    it around the steps that change the host (`lock: 'steps'`, e.g. a recovery
 *    waits for approval outside it);
 * 5. on any failure runs the undos the body registered (newest first, cleanups
 *    last and only when every undo succeeded) while it still holds the lock, and
 *    fails with a message that lists what was undone;
 * 6. reports how it ended: the `McpOutcome` search attribute, the metrics sink,
 *    the UI details.
 */
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  setCurrentDetails,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { z } from 'zod';
import type { HostActivities } from '../activities/index.js';
import { RUNBOOK_FAILURES, type RunbookFailureType } from '../common/failures.js';
import { parseInput } from '../common/inputs.js';
import type { RunbookReport } from '../common/report.js';
import type { RunOutcome } from '../common/search-attributes.js';
import { durationMs, hostActs } from './activity-policies.js';
import { LOCK_WAIT, withHostLock } from './host-lease.js';
import { endEvent } from '../common/notify.js';
import { notificationsPatched, openNotifications, type Notifier } from './notify.js';
import { reportEnd, setRunAttributes as setAttributes, sinkKind } from './outcome.js';
import { trackProgress, type ProgressTracker } from './progress.js';
import { Compensations, describeUndone, type CompensationOutcome } from './saga.js';
import { failureMessage, routeToHost } from './shared.js';

/** What a runbook may spend: the deadline is their sum. */
export interface RunbookBudget {
  /** How many times the run waits for the host lock (each wait is bounded by {@link LOCK_WAIT}). */
  lockWaits: number;
  /** The work itself, with every retry. */
  work: string;
  /** Longest wait for an operator, from the input (e.g. a recovery's `approvalTimeoutMinutes`). */
  approvalMs?: (input: never) => number;
}

export interface RunbookOptions<I, R, H> {
  /**
   * `run`: the whole body holds the host lock. `steps`: the body takes it with
   * `ctx.locked()` around what changes the host. `none`: read-only, no lock.
   */
  lock: 'run' | 'steps' | 'none';
  budget: Omit<RunbookBudget, 'approvalMs'> & { approvalMs?: (input: I) => number };
  /** The failure type of an error the body did not type itself. @default `RunbookFailed` */
  failure?: RunbookFailureType | 'RunbookFailed';
  /** How a completed run ended; a run that changed nothing on purpose is not a `success`. @default 'success' */
  outcome?: (result: R) => RunOutcome;
  /**
   * Whether a failure is only the off-host copies' (a backup whose archive target stored it): the run
   * counts as failed, but its metrics leave the runbook's last failure alone (see `RunbookOutcome.offsiteOnly`).
   * @default never
   */
  offsiteOnly?: (err: unknown) => boolean;
  /** One line for the Temporal UI, e.g. `backup of db-1 (dry run)`. */
  summary?: (input: I, hostId: string) => string;
  /**
   * Registers the run's signal, update and query handlers before its first
   * await, so a request that arrives early gets the handler's own answer.
   * What it returns is handed to the body.
   */
  handlers?: (input: I, progress: ProgressTracker) => H;
}

/** What the body gets: its host, its activities, progress, and where to register undos. */
export interface RunbookContext {
  readonly runbook: string;
  readonly hostId: string;
  readonly taskQueue: string;
  readonly workflowId: string;
  readonly runId: string;
  readonly startedAt: Date;
  /** The host's activities, each with its row of the policy table. */
  readonly acts: HostActivities;
  readonly progress: ProgressTracker;
  /** Undos: register each before the step it undoes. They run when the body fails, is cancelled or passes its deadline. */
  readonly undo: Compensations;
  /** The run's notifications (the wrapper sends start and end; a body sends `waiting-for-approval`). */
  readonly notes: Notifier;
  /**
   * Runs `fn` under the host lock (with `lock: 'steps'`); a failure inside runs
   * the undos before the lock is released.
   */
  locked<T>(fn: () => Promise<T>): Promise<T>;
}

/** The deadline of a budget, in ms. */
export function budgetMs(budget: RunbookBudget, input: unknown): number {
  return budget.lockWaits * durationMs(LOCK_WAIT) + (budget.approvalMs ? budget.approvalMs(input as never) : 0) + durationMs(budget.work);
}

/** Thrown inside the wrapper once the undos ran, so the failure can list them. */
interface Undone {
  undone?: CompensationOutcome[];
}

/**
 * Builds a runbook workflow. The returned function is what the worker registers
 * under the export's name; `name` must be that export name.
 */
export function runbook<S extends z.ZodType, R, H = undefined>(
  name: string,
  schema: S,
  options: RunbookOptions<z.infer<S>, R, H>,
  body: (ctx: RunbookContext, input: z.infer<S>, handlers: H) => Promise<R>,
): (input?: z.input<S> | null) => Promise<R> {
  const workflow = async (raw?: unknown): Promise<R> => {
    const startedAt = new Date();
    const seconds = () => Math.round((Date.now() - startedAt.getTime()) / 100) / 10;
    let hostLabel = 'unknown';
    const end = (outcome: RunOutcome, result?: R, offsiteOnly = false) => {
      setAttributes({ outcome });
      setCurrentDetails(`${name} on ${hostLabel}: ${outcome}`);
      reportEnd(name, hostLabel, sinkKind(outcome), seconds(), result as RunbookReport | undefined, { offsiteOnly });
    };
    setAttributes({ runbook: name, host: hostLabel, outcome: 'running' });

    const parsed = parseInput(schema, raw);
    if (!parsed.ok) {
      end('invalid-input');
      throw ApplicationFailure.nonRetryable(`${name} input is invalid: ${parsed.problems.message}. Nothing ran.`, RUNBOOK_FAILURES.InvalidInput, {
        problems: parsed.problems.problems,
      });
    }
    const input = parsed.value as z.infer<S>;
    // Still in the first activation, before any await (see notificationsPatched); a refused input records nothing.
    const notify = notificationsPatched();
    const progress = trackProgress(name);
    const handlers = options.handlers?.(input, progress) as H;

    let route: Awaited<ReturnType<typeof routeToHost>>;
    try {
      route = await routeToHost((input as { hostId?: string }).hostId);
    } catch (err) {
      end(isCancellation(err) ? 'cancelled' : 'invalid-input');
      throw err;
    }
    hostLabel = route.hostId;
    setAttributes({ host: route.hostId });
    const headline = options.summary?.(input, route.hostId) ?? `${name} on ${route.hostId}`;
    setCurrentDetails(headline);
    const notes = await openNotifications(notify, name, route.hostId);
    await notes.send('started', 'running', headline);

    const { workflowId, runId } = workflowInfo();
    const undo = new Compensations();
    let undone: CompensationOutcome[] | undefined;
    /** The undos run at most once, inside the lock when there is one. */
    const compensate = async (err: unknown): Promise<never> => {
      if (undone === undefined && undo.pending.length > 0) {
        progress.set('rolling back', failureMessage(err));
        undone = await undo.run();
      }
      throw err;
    };
    /** Time an operator's freeze holds the run back before it gets the lock: added to its deadline. */
    let frozenMs = 0;
    const locked = <T>(fn: () => Promise<T>): Promise<T> =>
      withHostLock(route.hostId, name, progress, () => fn().catch(compensate), (ms) => {
        frozenMs += ms;
      });
    const ctx: RunbookContext = {
      runbook: name,
      hostId: route.hostId,
      taskQueue: route.taskQueue,
      workflowId,
      runId,
      startedAt,
      acts: hostActs(route.taskQueue, route.heartbeatTimeoutSeconds),
      progress,
      undo,
      notes,
      locked,
    };

    const deadlineMs = budgetMs(options.budget as RunbookBudget, input);
    const outer = CancellationScope.current();
    const scope = new CancellationScope({ cancellable: true });
    let expired = false;
    /** The phase the deadline passed in: the undos set the phase to "rolling back" before the failure is built. */
    let expiredIn = '';
    // The deadline timer lives outside the body's scope and is cancelled when the body ends.
    const timerScope = new CancellationScope({ cancellable: true });
    void timerScope
      .run(async () => {
        await sleep(deadlineMs);
        // A freeze's wait comes on top (runs that never waited for one keep the single timer they always had).
        while (frozenMs > 0) {
          const ms = frozenMs;
          frozenMs = 0;
          await sleep(ms);
        }
      })
      .then(
        () => {
          expired = true;
          expiredIn = progress.current.phase;
          scope.cancel();
        },
        () => undefined,
      );
    try {
      const result = await scope.run(() => (options.lock === 'run' ? locked(() => body(ctx, input, handlers)) : body(ctx, input, handlers).catch(compensate)));
      timerScope.cancel();
      const outcome = options.outcome?.(result) ?? 'success';
      progress.set('done');
      end(outcome, result);
      const report = result as Partial<RunbookReport> | undefined;
      await notes.send(endEvent(outcome, report?.summary?.status), outcome, report?.summary?.text ?? headline);
      return result;
    } catch (err) {
      timerScope.cancel();
      // Undos the body registered outside any lock (lock: 'none', or before `locked`) still run.
      if (undone === undefined && undo.pending.length > 0) await compensate(err).catch(() => undefined);
      const list = undone ? ` Undone: ${describeUndone(undone)}.` : '';
      // What happened decides, not the error's class: a step cancelled for the deadline or an operator's
      // cancel may come back as a timeout (its worker died) or as its own error (its program was killed).
      if (outer.consideredCancelled || (isCancellation(err) && !expired)) {
        end('cancelled');
        const message = `${name} on ${route.hostId} was cancelled while in "${progress.current.phase}": ${failureMessage(err)}.${list}`;
        await notes.send('cancelled', 'cancelled', message);
        if (isCancellation(err)) throw err;
        throw new CancelledFailure(message);
      }
      if (expired) {
        end('timed-out');
        const message = `${name} on ${route.hostId} passed its deadline of ${Math.round(deadlineMs / 60_000)} minutes while in "${expiredIn}".${list}`;
        await notes.send('timed-out', 'timed-out', message, { failureType: RUNBOOK_FAILURES.DeadlineExceeded });
        throw ApplicationFailure.nonRetryable(message, RUNBOOK_FAILURES.DeadlineExceeded, { deadlineMs, phase: expiredIn, undone: undone ?? [] } satisfies Undone & Record<string, unknown>);
      }
      end('failure', undefined, options.offsiteOnly?.(err) ?? false);
      const typed = err instanceof ApplicationFailure && err.type ? err : undefined;
      const message = `${name} on ${route.hostId} failed: ${failureMessage(err)}.${list}`;
      await notes.send('failure', 'failure', message, { failureType: typed?.type ?? options.failure ?? 'RunbookFailed' });
      throw ApplicationFailure.create({
        message,
        type: typed?.type ?? options.failure ?? 'RunbookFailed',
        nonRetryable: true,
        details: [{ ...(typed?.details?.[0] as object | undefined), undone: undone ?? [], notUndone: (undone ?? []).filter((u) => !u.ok).length }],
        cause: err instanceof Error ? err : undefined,
      });
    }
  };
  Object.defineProperty(workflow, 'name', { value: name });
  return workflow as (input?: z.input<S> | null) => Promise<R>;
}
