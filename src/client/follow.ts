/**
 * Follows a run to its end from a client: prints its progress (through
 * {@link watchProgress}) and awaits its result, riding out a Temporal server that
 * goes away and comes back (a restart, a network blip) for up to a bound.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { TemporalUnreachableError } from '../common/errors.js';
import { watchProgress } from './progress.js';

/** How long a follower keeps retrying an unreachable Temporal before it gives up. */
export const DEFAULT_RECONNECT_SECONDS = 300;

/** gRPC status codes that mean "the server is not there right now", not "the request is wrong". */
const CONNECTION_LOST_CODES = new Set([
  1, // CANCELLED: the stream was torn down under a long poll
  4, // DEADLINE_EXCEEDED
  14, // UNAVAILABLE
]);

/** True when `err` (or what caused it) is a lost connection to Temporal. */
export function isConnectionLost(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number' && CONNECTION_LOST_CODES.has(code)) return true;
  }
  return false;
}

export interface FollowOptions {
  /** Progress lines (phases, host-side steps); absent: no progress is printed. */
  onProgress?: (line: string) => void;
  /** Notices about the connection ("lost Temporal at ..., retrying", "Temporal is back"). */
  onNotice: (line: string) => void;
  /** How many of the run's phases were already shown (by an earlier watch). */
  shownPhases?: number;
  /** Where Temporal is, for the notices and the final error. */
  address: string;
  namespace: string;
  /**
   * Give up after Temporal has been unreachable for this long (plus the few seconds an
   * in-flight progress call takes to fail). @default {@link DEFAULT_RECONNECT_SECONDS}
   */
  reconnectSeconds?: number;
  /** Progress poll interval. @default 1000 */
  intervalMs?: number;
  /** Pause between reconnection attempts. @default 1000 */
  retryMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Awaits the run's result while printing its progress; every phase is printed
 * before the result returns. A failed run rejects as `handle.result()` does
 * (WorkflowFailedError); Temporal unreachable for longer than the bound rejects
 * with {@link TemporalUnreachableError}.
 */
export async function followRun<T>(handle: WorkflowHandle, opts: FollowOptions): Promise<T> {
  const boundMs = (opts.reconnectSeconds ?? DEFAULT_RECONNECT_SECONDS) * 1000;
  const retryMs = opts.retryMs ?? 1000;
  let shown = opts.shownPhases ?? 0;
  let finished = false;
  const print = (line: string, phases: number) => {
    shown = Math.max(shown, phases);
    opts.onProgress?.(line);
  };

  // The watch ends through `until` rather than an abort signal: watchProgress adds an
  // abort listener per poll and never removes it, so a long follow would pile up listeners
  // on one signal (Node's MaxListenersExceededWarning). A watch that fails (Temporal gone)
  // starts again from the phases already shown.
  const watch = async () => {
    while (!finished) {
      try {
        await watchProgress(handle, { onUpdate: (line, p) => print(line, p.phases.length), until: () => finished, shownPhases: shown, ...(opts.intervalMs ? { intervalMs: opts.intervalMs } : {}) });
        return;
      } catch {
        await sleep(retryMs);
      }
    }
  };
  // Awaited before returning: a call still in flight when the caller closes the connection
  // would be retried on a closed channel, which throws out of a timer and kills the process.
  const watching = opts.onProgress ? watch() : Promise.resolve();

  let lostAt: number | undefined;
  let closed = false;
  try {
    for (;;) {
      try {
        if (lostAt !== undefined) {
          // A cheap call first: the server answers again before the result's long poll does.
          await handle.describe();
          opts.onNotice(`Temporal at ${opts.address} is back; following ${handle.workflowId} again`);
          lostAt = undefined;
        }
        const result = (await handle.result()) as T;
        closed = true;
        return result;
      } catch (err) {
        if (!isConnectionLost(err)) {
          closed = true;
          throw err;
        }
        const now = Date.now();
        if (lostAt === undefined) {
          lostAt = now;
          opts.onNotice(`lost Temporal at ${opts.address}, retrying for up to ${Math.round(boundMs / 1000)}s ...`);
        } else if (now - lostAt >= boundMs) {
          throw new TemporalUnreachableError(opts.address, opts.namespace, err);
        }
        await sleep(retryMs);
      }
    }
  } finally {
    finished = true;
    await watching;
    // The phases the run went through since the watch's last poll: one query, printed before the result.
    if (opts.onProgress && closed) {
      await watchProgress(handle, { onUpdate: (line, p) => print(line, p.phases.length), until: () => true, shownPhases: shown }).catch(() => undefined);
    }
  }
}
