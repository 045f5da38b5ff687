import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
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
 * yields no lines; a `.gz` file is read decompressed.
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
  const raw = createReadStream(path, signal ? { signal } : {});
  const input = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  input.setEncoding('utf8');
  const lines = createInterface({ input, crlfDelay: Infinity });
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

/** logrotate's names for rotated copies of `x.log`: `x.log.1`, `x.log.2.gz`, `x.log-20261123`, `x.log-20261123.gz`. */
const ROTATED_SUFFIX = /^(?:\.\d+|-\d{8}(?:\d{2})?)(?:\.gz)?$/;

/** Rotated copies of a log file in its folder, oldest first (by modification time). */
export async function rotatedCopies(path: string): Promise<string[]> {
  const name = basename(path);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return [];
  }
  const copies = names.filter((n) => n.startsWith(name) && ROTATED_SUFFIX.test(n.slice(name.length))).map((n) => join(dirname(path), n));
  const withTimes = await Promise.all(copies.map(async (p) => ({ p, t: (await stat(p).catch(() => undefined))?.mtimeMs ?? 0 })));
  return withTimes.sort((a, b) => a.t - b.t).map((x) => x.p);
}

/**
 * Lines written at or after `since` to a log file and to its rotated copies,
 * so a rotation between two reads (e.g. daily maintenance's) loses nothing.
 * Copies last modified before `since` are not opened.
 */
export async function readLogFamilySince(path: string, since: Date, signal?: AbortSignal): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for (const file of [...(await rotatedCopies(path)), path]) out.push(...(await readLogSince(file, since, signal)));
  return out;
}
