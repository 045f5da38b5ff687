import { statfs } from 'node:fs/promises';

export interface DiskUsage {
  path: string;
  totalBytes: number;
  usedBytes: number;
  availableBytes: number;
  /** Used share of the space available to unprivileged users, as `df` computes its Use% column. */
  usedPercent: number;
}

/** Disk usage of the filesystem holding `path`, from statfs (not by parsing `df`). */
export async function diskUsage(path: string): Promise<DiskUsage> {
  const s = await statfs(path);
  const used = (s.blocks - s.bfree) * s.bsize;
  const available = s.bavail * s.bsize;
  const usable = used + available;
  return {
    path,
    totalBytes: s.blocks * s.bsize,
    usedBytes: used,
    availableBytes: available,
    usedPercent: usable > 0 ? round1((used / usable) * 100) : 0,
  };
}

export function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
