/** Counting error lines in a service's log, and remembering where the last scan stopped. */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LogLine } from '../services/index.js';

export interface ErrorLineCount {
  count: number;
  /** Lines read in the window. */
  lines: number;
  firstAt?: string;
  lastAt?: string;
  /** Where matching lines came from (log files, or `journal`). */
  sources: string[];
}

/** Compiles the configured patterns, case-insensitive, as the seed's `grep -i "error\|failed"`. */
export function errorMatchers(patterns: readonly string[]): RegExp[] {
  return patterns.map((p) => new RegExp(p, 'i'));
}

/** How many lines match any of the matchers, when the first and last were written, and where. */
export function countErrorLines(lines: readonly LogLine[], matchers: readonly RegExp[]): ErrorLineCount {
  const out: ErrorLineCount = { count: 0, lines: lines.length, sources: [] };
  for (const l of lines) {
    if (!matchers.some((m) => m.test(l.text))) continue;
    out.count += 1;
    if (l.time) {
      if (!out.firstAt || l.time < out.firstAt) out.firstAt = l.time;
      if (!out.lastAt || l.time > out.lastAt) out.lastAt = l.time;
    }
    if (!out.sources.includes(l.source)) out.sources.push(l.source);
  }
  return out;
}

/**
 * Where the previous log scan stopped. A retried activity of the same run
 * (same workflow id) reads the same window again instead of an empty one.
 */
export interface ScanMarker {
  /** The end of the latest scan. */
  scannedUntil: string;
  /** The run that wrote it. */
  workflowId: string;
  /** The start of that run's window. */
  since: string;
}

/** The marker, or undefined when there is none or it is damaged (the next scan then reads the first-scan window). */
export async function readScanMarker(path: string): Promise<ScanMarker | undefined> {
  try {
    const m = JSON.parse(await readFile(path, 'utf8')) as Partial<ScanMarker>;
    if (typeof m.scannedUntil !== 'string' || typeof m.workflowId !== 'string' || typeof m.since !== 'string') return undefined;
    if (Number.isNaN(Date.parse(m.scannedUntil)) || Number.isNaN(Date.parse(m.since))) return undefined;
    return { scannedUntil: m.scannedUntil, workflowId: m.workflowId, since: m.since };
  } catch {
    return undefined;
  }
}

/** The window's start for this run: the previous scan's end, or `fallback` for a first scan. */
export function scanWindowStart(marker: ScanMarker | undefined, workflowId: string, fallback: Date): Date {
  if (!marker) return fallback;
  return new Date(marker.workflowId === workflowId ? marker.since : marker.scannedUntil);
}

/** Writes the marker atomically (temporary file, rename). */
export async function writeScanMarker(path: string, marker: ScanMarker): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(marker, null, 2)}\n`, { mode: 0o640 });
  await rename(tmp, path);
}
