/**
 * Which process owns a scratch file or folder, written into its name, and
 * whether that process still runs. A process is its pid and, on Linux, its
 * start time (/proc/<pid>/stat): after a kill and a restart the new worker
 * often gets the same pid (pid 1 in a container), and must not take the dead
 * worker's leftovers for its own.
 */
import { readFileSync } from 'node:fs';

/** `<pid>.<start time in clock ticks>` (Linux) or `<pid>` elsewhere. */
export type OwnerTag = string;

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

let own: OwnerTag | undefined;

/** This process's tag. */
export function ownerTag(): OwnerTag {
  own ??= process.platform === 'linux' ? `${process.pid}.${startTime(process.pid) ?? '0'}` : String(process.pid);
  return own;
}

/** Whether the process a tag names still runs (a zombie does not). */
export function ownerAlive(tag: OwnerTag): boolean {
  const [pidText, start] = tag.split('.');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (process.platform === 'linux' && start !== undefined) return startTime(pid) === start;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
