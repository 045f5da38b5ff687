/** CPU usage and load average from /proc (not by parsing `top` or `uptime`). */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { round1 } from './disk.js';

export interface CpuTimes {
  /** Jiffies spent in any state since boot (guest time is already inside user time). */
  total: number;
  /** Jiffies idle or waiting for I/O. */
  idle: number;
  /** `cpuN` lines: the number of CPUs the kernel schedules on. */
  cores: number;
}

/** Parses the aggregate `cpu` line of /proc/stat. */
export function parseProcStat(text: string): CpuTimes {
  const lines = text.split('\n');
  const cpu = lines.find((l) => l.startsWith('cpu '));
  if (!cpu) throw new Error('/proc/stat has no aggregate "cpu" line');
  // user nice system idle iowait irq softirq steal [guest guest_nice]
  const f = cpu.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) throw new Error(`unexpected /proc/stat cpu line: ${cpu}`);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { total, idle, cores: lines.filter((l) => /^cpu\d+\s/.test(l)).length };
}

export interface CpuUsage {
  /** Share of the sample interval the CPUs were busy, 0-100. */
  usedPercent: number;
  cores: number;
  sampleMs: number;
}

/** CPU busy share over `sampleMs`, from two reads of /proc/stat. */
export async function cpuUsage(procRoot = '/proc', sampleMs = 1000, signal?: AbortSignal): Promise<CpuUsage> {
  const read = async () => parseProcStat(await readFile(`${procRoot}/stat`, 'utf8'));
  const a = await read();
  await sleep(sampleMs, undefined, signal ? { signal } : {});
  const b = await read();
  const total = b.total - a.total;
  const busy = total - (b.idle - a.idle);
  return { usedPercent: total > 0 ? round1((busy / total) * 100) : 0, cores: b.cores, sampleMs };
}

export interface LoadAverage {
  one: number;
  five: number;
  fifteen: number;
  /** Runnable and total scheduling entities, e.g. `2/467`. */
  runnable: number;
  entities: number;
}

/** Parses /proc/loadavg: `0.52 0.58 0.59 2/467 12345`. */
export function parseLoadavg(text: string): LoadAverage {
  const m = /^(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s+(\d+)\/(\d+)/.exec(text.trim());
  if (!m) throw new Error(`unexpected /proc/loadavg content: ${text.trim().slice(0, 80)}`);
  return { one: Number(m[1]), five: Number(m[2]), fifteen: Number(m[3]), runnable: Number(m[4]), entities: Number(m[5]) };
}

/** The load averages from /proc/loadavg. */
export async function loadAverage(procRoot = '/proc'): Promise<LoadAverage> {
  return parseLoadavg(await readFile(`${procRoot}/loadavg`, 'utf8'));
}
