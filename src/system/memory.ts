import { readFile } from 'node:fs/promises';
import { round1 } from './disk.js';

export interface MemoryUsage {
  totalBytes: number;
  availableBytes: number;
  usedPercent: number;
}

/** Parses /proc/meminfo's `Key: value kB` lines into bytes. */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?$/.exec(line.trim());
    if (m?.[1] && m[2]) out.set(m[1], Number(m[2]) * (line.includes('kB') ? 1024 : 1));
  }
  return out;
}

/**
 * Memory usage from /proc/meminfo (not by parsing `free`): used is what is not
 * available to new programs, `1 - MemAvailable / MemTotal`.
 */
export async function memoryUsage(procRoot = '/proc'): Promise<MemoryUsage> {
  const info = parseMeminfo(await readFile(`${procRoot}/meminfo`, 'utf8'));
  const total = info.get('MemTotal');
  const available = info.get('MemAvailable') ?? (info.get('MemFree') ?? 0) + (info.get('Buffers') ?? 0) + (info.get('Cached') ?? 0);
  if (!total) throw new Error(`${procRoot}/meminfo has no MemTotal`);
  return { totalBytes: total, availableBytes: available, usedPercent: round1((1 - available / total) * 100) };
}
