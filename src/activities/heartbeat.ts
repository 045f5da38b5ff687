/**
 * Heartbeats that prove something. Every host activity runs under a stall watch
 * ({@link withStallWatch}); a long activity reports its real counter with
 * {@link trackStep}, and that counter is its heartbeat details.
 *
 * The stall rule: a step whose counter has not moved for `stallSeconds` fails
 * with {@link StepStalledError}. The watch aborts the activity's signal (the one
 * {@link activitySignal} returns, handed to execa's `cancelSignal`, so the child
 * program is killed) and the attempt fails; the error is retryable, so the step
 * is retried within the activity's bounded retries.
 *
 * Liveness: while the counter moved within the window, the watch re-sends the
 * latest counter every {@link LIVENESS_EVERY_SECONDS}, so a killed worker is still
 * noticed within the heartbeat timeout and cancellation still reaches the
 * activity. Once the counter has stood still for the whole window nothing is sent
 * any more: the step is failed as stalled instead. A heartbeat therefore says
 * "this worker is alive and its work moved within the stall window", never just
 * "a timer fired".
 *
 * Activities with no counter (start a service, swap a folder, list backups) are
 * short: their whole run is one window. They heartbeat without details while
 * inside it (for cancellation and dead-worker detection) and fail as stalled past
 * it; their start-to-close timeout should be short too. The alternative, no
 * heartbeat and a short start-to-close, would leave them uncancellable.
 */
import { Context } from '@temporalio/activity';
import { LIVENESS_EVERY_SECONDS, STALL_DEFAULT_SECONDS, STEP_STALLED_ERROR, type StepProgress } from '../common/progress.js';

/** A step whose counter did not move for the configured time; its work was aborted. Retryable. */
export class StepStalledError extends Error {
  override readonly name = STEP_STALLED_ERROR;
  /** The activity, e.g. `snapshotSource`. */
  readonly activity: string;
  /** The step's counter, as last reported; undefined when the activity reported none. */
  readonly progress: StepProgress | undefined;
  /** How long the counter did not move. */
  readonly stalledSeconds: number;
  constructor(activity: string, progress: StepProgress | undefined, stalledSeconds: number) {
    const at = progress ? `${progress.step} stayed at ${progress.done} ${progress.unit}${progress.total === undefined ? '' : ` of ${progress.total}`}` : 'it reported no progress';
    super(`${activity} stalled: ${at} for ${stalledSeconds.toFixed(1)} s (activities.stallSeconds); its work was aborted`);
    this.activity = activity;
    this.progress = progress;
    this.stalledSeconds = stalledSeconds;
  }
}

interface Watch {
  readonly activity: string;
  readonly controller: AbortController;
  lastMove: number;
  details: StepProgress | undefined;
}

const watches = new WeakMap<Context, Watch>();

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/**
 * The signal the running activity's work must obey: aborted on cancellation
 * (reason: the SDK's CancelledFailure) or on a stall (reason: a
 * {@link StepStalledError}). Undefined outside an activity (tests).
 */
export function watchedSignal(): AbortSignal | undefined {
  const ctx = currentContext();
  if (!ctx) return undefined;
  return watches.get(ctx)?.controller.signal ?? ctx.cancellationSignal;
}

/** Reports one step's counter: call it with the running total whenever work is done. */
export interface StepReporter {
  (done: number, total?: number): void;
  /**
   * Proof that the step's child program is working although the reported
   * counter did not change (e.g. its read/write bytes in /proc grew): counts as
   * movement for the stall rule, shows nothing new.
   */
  working(marker: number): void;
}

/**
 * The reporter of a long step's real counter. Each new value heartbeats as
 * `{ step, done, total?, unit }` and resets the stall window; a value equal to
 * the last one is not movement. A no-op outside an activity.
 */
export function trackStep(step: string, unit: StepProgress['unit'], total?: number): StepReporter {
  const ctx = currentContext();
  const watch = ctx ? watches.get(ctx) : undefined;
  let last: number | undefined;
  let lastMarker: number | undefined;
  const report = (done: number, newTotal?: number): void => {
    if (!ctx) return;
    const t = newTotal ?? total;
    const details: StepProgress = { step, done, unit, ...(t === undefined ? {} : { total: t }) };
    if (watch) {
      if (done !== last) watch.lastMove = Date.now();
      watch.details = details;
    }
    last = done;
    ctx.heartbeat(details);
  };
  return Object.assign(report, {
    working(marker: number) {
      if (watch && marker !== lastMarker) watch.lastMove = Date.now();
      lastMarker = marker;
    },
  });
}

/**
 * The previous attempt's last counter for `step`, when this attempt is a retry
 * that got as far as reporting it (`activityInfo().heartbeatDetails`).
 */
export function previousProgress(step: string): StepProgress | undefined {
  const ctx = currentContext();
  const d = ctx?.info.heartbeatDetails as Partial<StepProgress> | undefined;
  return d && typeof d === 'object' && d.step === step && typeof d.done === 'number' ? (d as StepProgress) : undefined;
}

export interface StallWatchOptions {
  /** @default {@link STALL_DEFAULT_SECONDS} */
  stallSeconds?: number;
  /** Per activity, overrides `stallSeconds`. */
  stallSecondsFor?: Readonly<Record<string, number>>;
  /** How long a stalled activity's work may take to stop after its signal is aborted, before the attempt fails anyway. @default 10 s */
  stopGraceMs?: number;
}

/**
 * Runs every activity under a stall watch (see the module comment). An activity
 * whose work ignores its signal still fails as stalled, `stopGraceMs` after the
 * abort. Outside an activity (direct calls in tests) the functions run as they are.
 */
export function withStallWatch<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T, opts: StallWatchOptions = {}): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    const stallMs = (opts.stallSecondsFor?.[name] ?? opts.stallSeconds ?? STALL_DEFAULT_SECONDS) * 1000;
    const graceMs = opts.stopGraceMs ?? 10_000;
    wrapped[name] = async (...args: never[]) => {
      const ctx = currentContext();
      if (!ctx) return fn(...args);
      // Checked often enough that a stall is failed within a quarter window of its bound, and beating
      // three times within the heartbeat timeout the workflow gave this activity (the SDK forwards at
      // most one beat per 0.8 of it to the server).
      const timeoutMs = ctx.info.heartbeatTimeoutMs;
      const tickMs = Math.min(LIVENESS_EVERY_SECONDS * 1000, timeoutMs ? Math.max(50, timeoutMs / 3) : Infinity, Math.max(50, stallMs / 4));
      const cancel = ctx.cancellationSignal;
      const controller = new AbortController();
      const onCancel = () => controller.abort(cancel.reason);
      if (cancel.aborted) onCancel();
      else cancel.addEventListener('abort', onCancel, { once: true });
      const watch: Watch = { activity: name, controller, lastMove: Date.now(), details: undefined };
      watches.set(ctx, watch);
      let stalled: StepStalledError | undefined;
      let grace: NodeJS.Timeout | undefined;
      let failStalled: (err: StepStalledError) => void = () => undefined;
      const stalledAttempt = new Promise<never>((_resolve, reject) => {
        failStalled = reject;
      });
      stalledAttempt.catch(() => undefined);
      const timer = setInterval(() => {
        const still = Date.now() - watch.lastMove;
        if (still < stallMs) {
          ctx.heartbeat(watch.details);
          return;
        }
        clearInterval(timer);
        stalled = new StepStalledError(name, watch.details, still / 1000);
        controller.abort(stalled);
        const err = stalled;
        grace = setTimeout(() => failStalled(err), graceMs);
      }, tickMs);
      ctx.heartbeat();
      try {
        return await Promise.race([fn(...args), stalledAttempt]);
      } catch (err) {
        // Whatever the aborted work threw (AbortError, a killed child's exit), the reason is the stall.
        if (stalled) throw stalled;
        throw err;
      } finally {
        clearInterval(timer);
        if (grace) clearTimeout(grace);
        cancel.removeEventListener('abort', onCancel);
        watches.delete(ctx);
      }
    };
  }
  return wrapped as T;
}
