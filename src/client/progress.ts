/** Follows a running workflow's `progress` query and reports each new phase. */
import type { WorkflowHandle } from '@temporalio/client';
import type { RunbookProgress } from '../common/progress.js';

export interface WatchOptions {
  /** Called for each new phase, and for host-side step progress when it changes. */
  onUpdate: (line: string, progress: RunbookProgress) => void;
  intervalMs?: number;
  /** Stop watching when this returns true (e.g. awaiting approval). */
  until?: (progress: RunbookProgress) => boolean;
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

/** Polls until the workflow closes (or `until` holds); returns the last progress seen. */
export async function watchProgress(handle: WorkflowHandle, opts: WatchOptions): Promise<RunbookProgress | undefined> {
  let lastPhase = '';
  let lastStep = '';
  let last: RunbookProgress | undefined;
  for (;;) {
    try {
      const p = await handle.query<RunbookProgress>('progress');
      last = p;
      const phase = `${p.phase}${p.detail ? ` (${p.detail})` : ''}`;
      if (phase !== lastPhase) {
        lastPhase = phase;
        opts.onUpdate(phase, p);
      }
      const step = describeStep(p);
      if (step && step !== lastStep) {
        lastStep = step;
        opts.onUpdate(`  ${step}`, p);
      }
      if (opts.until?.(p)) return p;
    } catch {
      // Not started yet, or already closed: the caller awaits the result.
    }
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') return last;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000));
  }
}
