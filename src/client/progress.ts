/**
 * Follows a running workflow: each new phase from its `progress` query, and the
 * counters its host activities heartbeat (the pending activities of `describe()`).
 */
import type { WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import type { LoadedDataConverter, Payload } from '@temporalio/common';
import type { RunbookProgress, StepProgress } from '../common/progress.js';

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

function fmtCount(n: number, unit: StepProgress['unit']): string {
  return unit === 'bytes' ? fmtBytes(n) : `${n}${unit === 'lines' ? ' lines' : ''}`;
}

/** One step's counter for a person, e.g. `archive: 120.0 MiB of 500.0 MiB`. */
export function describeStepProgress(s: StepProgress): string {
  return `${s.step}: ${fmtCount(s.done, s.unit)}${s.total ? ` of ${fmtCount(s.total, s.unit)}` : ''}`;
}

export function describeStep(p: RunbookProgress): string | undefined {
  return p.step ? describeStepProgress(p.step) : undefined;
}

function isStepProgress(v: unknown): v is StepProgress {
  const d = v as Partial<StepProgress> | null | undefined;
  return typeof d === 'object' && d !== null && typeof d.step === 'string' && typeof d.done === 'number' && typeof d.unit === 'string';
}

/** The first payload's value: the codecs undone last to first, then the payload converter. */
async function decodeFirst(converter: LoadedDataConverter, payloads: Payload[]): Promise<unknown> {
  let decoded = payloads;
  for (const codec of [...converter.payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  return decoded[0] ? converter.payloadConverter.fromPayload(decoded[0]) : undefined;
}

/**
 * The counters the workflow's pending activities last heartbeated, decoded with
 * the client's data converter; activities that reported none are left out.
 */
export async function pendingSteps(handle: WorkflowHandle, description?: WorkflowExecutionDescription): Promise<StepProgress[]> {
  const d = description ?? (await handle.describe());
  const converter = handle.client.options.loadedDataConverter;
  const out: StepProgress[] = [];
  for (const a of d.raw.pendingActivities ?? []) {
    const payloads = a.heartbeatDetails?.payloads;
    if (!payloads?.length) continue;
    const details = await decodeFirst(converter, payloads as Payload[]).catch(() => undefined);
    if (isStepProgress(details)) out.push(details);
  }
  return out;
}

/** Polls until the workflow closes (or `until` holds, or `stop` is aborted); returns the last progress seen. */
export async function watchProgress(handle: WorkflowHandle, opts: WatchOptions): Promise<RunbookProgress | undefined> {
  // Every phase is reported once, from the query's own list, so a phase that began and
  // ended between two polls is still shown, in order.
  let shown = opts.shownPhases ?? 0;
  const lastSteps = new Map<string, string>();
  let last: RunbookProgress | undefined;
  const report = (p: RunbookProgress, steps: StepProgress[]) => {
    last = steps[0] ? { ...p, step: steps[0] } : p;
    for (const ph of p.phases.slice(shown)) opts.onUpdate(`${ph.phase}${ph.detail ? ` (${ph.detail})` : ''}`, last);
    shown = Math.max(shown, p.phases.length);
    // Steps of one phase may run side by side (pg_dump beside a snapshot): each its own line when it moves.
    for (const s of steps) {
      const line = describeStepProgress(s);
      if (lastSteps.get(s.step) === line) continue;
      lastSteps.set(s.step, line);
      opts.onUpdate(`  ${line}`, last);
    }
  };
  const poll = async (description?: WorkflowExecutionDescription) => {
    try {
      const p = await handle.query<RunbookProgress>('progress');
      report(p, description ? await pendingSteps(handle, description).catch(() => []) : []);
      return true;
    } catch {
      // Not started yet, or closed with no worker to answer: the caller awaits the result.
      return false;
    }
  };
  // The abort listener goes when the sleep ends: one left per poll piled up (MaxListenersExceededWarning).
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const onAbort = () => (clearTimeout(t), resolve());
      const t = setTimeout(() => (opts.stop?.removeEventListener('abort', onAbort), resolve()), ms);
      opts.stop?.addEventListener('abort', onAbort, { once: true });
    });
  for (;;) {
    const d = await handle.describe();
    await poll(d);
    if (last && opts.until?.(last)) return last;
    if (opts.stop?.aborted) return last;
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
