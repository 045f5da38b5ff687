import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { LogLine } from './manager.js';

/**
 * A timestamp at the start of a line: ISO 8601 (`2026-11-23T02:00:00.123Z`),
 * or the seed's `[2026-11-23 02:00:00]` (local time).
 */
const LEADING_TIME = /^\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\]?/;

export function parseLeadingTime(line: string): Date | undefined {
  const m = LEADING_TIME.exec(line);
  if (!m?.[1]) return undefined;
  const t = new Date(m[1].replace(' ', 'T'));
  return Number.isNaN(t.getTime()) ? undefined : t;
}

/**
 * Lines of a log file written at or after `since`. A line without a timestamp
 * belongs to the timestamped line above it (stack traces); lines before the
 * first timestamp count only if the file changed after `since`. A missing file
 * yields no lines.
 */
export async function readLogSince(path: string, since: Date, signal?: AbortSignal): Promise<LogLine[]> {
  let mtime: Date;
  try {
    mtime = (await stat(path)).mtime;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  if (mtime < since) return [];
  const out: LogLine[] = [];
  let current: Date | undefined;
  const stream = createReadStream(path, { encoding: 'utf8', ...(signal ? { signal } : {}) });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  for await (const text of lines) {
    const t = parseLeadingTime(text);
    if (t) current = t;
    const when = current ?? mtime;
    if (when >= since && text.length > 0) {
      out.push(current ? { time: current.toISOString(), text, source: path } : { text, source: path });
    }
  }
  return out;
}
