/** Follows a running workflow's `progress` query and reports each new phase. */
import type { WorkflowHandle } from '@temporalio/client';
import type { RunbookProgress } from '../common/progress.js';

export interface WatchOptions {
  /** Called for each new phase, and for host-side step progress when it changes. */
  onUpdate: (line: string, progress: RunbookProgress) => void;
  intervalMs?: number;
  /** Stop watching when this returns true (e.g. awaiting approval). */
  until?: (progress: RunbookProgress) => boolean;
  /** Stop watching (after one last poll) when aborted. */
  stop?: AbortSignal;
  /** How many of the workflow's phases were already shown (by an earlier watch). */
  shownPhases?: number;
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u += 1;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(1)} ${units[u]}`;
}

export function describeStep(p: RunbookProgress): string | undefined {
  const s = p.step;
  if (!s) return undefined;
  const done = s.unit === 'bytes' ? fmtBytes(s.done) : String(s.done);
  const total = s.total ? ` of ${s.unit === 'bytes' ? fmtBytes(s.total) : String(s.total)}` : '';
  return `${s.step}: ${done}${total}`;
}

/** Polls until the workflow closes (or `until` holds, or `stop` is aborted); returns the last progress seen. */
export async function watchProgress(handle: WorkflowHandle, opts: WatchOptions): Promise<RunbookProgress | undefined> {
  // Every phase is reported once, from the query's own list, so a phase that began and
  // ended between two polls is still shown, in order.
  let shown = opts.shownPhases ?? 0;
  let lastStep = '';
  let last: RunbookProgress | undefined;
  const report = (p: RunbookProgress) => {
    last = p;
    for (const ph of p.phases.slice(shown)) opts.onUpdate(`${ph.phase}${ph.detail ? ` (${ph.detail})` : ''}`, p);
    shown = Math.max(shown, p.phases.length);
    const step = describeStep(p);
    if (step && step !== lastStep) {
      lastStep = step;
      opts.onUpdate(`  ${step}`, p);
    }
  };
  const poll = async () => {
    try {
      report(await handle.query<RunbookProgress>('progress'));
      return true;
    } catch {
      // Not started yet, or closed with no worker to answer: the caller awaits the result.
      return false;
    }
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      opts.stop?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  for (;;) {
    await poll();
    if (last && opts.until?.(last)) return last;
    if (opts.stop?.aborted) return last;
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') {
      // The phases it went through after the previous poll; a closed workflow still answers queries.
      await poll();
      return last;
    }
    await sleep(opts.intervalMs ?? 1000);
  }
}

/**
 * Prints a workflow's progress while the caller waits for its result; the
 * returned function ends the watch after printing the phases not shown yet.
 */
export function followProgress(
  handle: WorkflowHandle,
  onLine: (line: string) => void,
  opts: Pick<WatchOptions, 'intervalMs' | 'shownPhases'> = {},
): () => Promise<void> {
  const stop = new AbortController();
  const watching = watchProgress(handle, { ...opts, onUpdate: (line) => onLine(line), stop: stop.signal }).catch(() => undefined);
  return async () => {
    stop.abort();
    await watching;
  };
}
