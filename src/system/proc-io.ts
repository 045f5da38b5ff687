/**
 * A child program's I/O counters from `/proc/<pid>/io` (Linux): the bytes it
 * has read and written, through files, pipes and sockets alike. The progress
 * counter of programs that print none (pg_dump, pg_restore) and the proof that a
 * quiet program still works.
 */
import { readFile } from 'node:fs/promises';

export interface ProcessIo {
  /** Bytes the process read (`rchar`). */
  read: number;
  /** Bytes the process wrote (`wchar`). */
  written: number;
}

/** The process's I/O counters; undefined when it has exited or `/proc` does not show them (not Linux, other user). */
export async function processIo(pid: number | undefined, procRoot = '/proc'): Promise<ProcessIo | undefined> {
  if (pid === undefined) return undefined;
  try {
    const text = await readFile(`${procRoot}/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
    const read = field('rchar');
    const written = field('wchar');
    return Number.isFinite(read) && Number.isFinite(written) ? { read, written } : undefined;
  } catch {
    return undefined;
  }
}
