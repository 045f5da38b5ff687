/**
 * The monthly permission review: every file and folder under the configured
 * roots, by `lstat` (links are neither followed nor judged: a link's own mode
 * means nothing). World-writable is always a problem; otherwise a mode must
 * grant nothing beyond one of the allowed modes.
 */
import { lstat, readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../common/errors.js';

export const MODE_PROBLEMS = ['world-writable', 'not-allowed'] as const;
export type ModeProblemKind = (typeof MODE_PROBLEMS)[number];

export interface ModeProblem {
  path: string;
  /** Octal, e.g. `0666` or `4755`. */
  mode: string;
  kind: 'file' | 'dir' | 'other';
  problem: ModeProblemKind;
}

export interface PermissionScan {
  roots: string[];
  missingRoots: string[];
  /** Files, folders and other entries looked at (links not counted). */
  scanned: number;
  links: number;
  worldWritable: ModeProblem[];
  notAllowed: ModeProblem[];
  /** Counts before the lists were capped. */
  totals: { worldWritable: number; notAllowed: number };
  errors: Array<{ path: string; error: string }>;
}

export interface PermissionScanOptions {
  fileModes: readonly number[];
  dirModes: readonly number[];
  /** At most this many paths per list are kept. @default 50 */
  limit?: number;
  signal?: AbortSignal;
  onProgress?: (scanned: number) => void;
}

/** `0640`: octal with at least four digits. */
export function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** True when `mode` grants no permission bit (setuid, setgid and sticky included) beyond some allowed mode. */
export function modeWithin(mode: number, allowed: readonly number[]): boolean {
  const bits = mode & 0o7777;
  return allowed.some((a) => (bits & ~a) === 0);
}

export async function scanPermissions(roots: readonly string[], opts: PermissionScanOptions): Promise<PermissionScan> {
  const limit = opts.limit ?? 50;
  const scan: PermissionScan = {
    roots: [...roots],
    missingRoots: [],
    scanned: 0,
    links: 0,
    worldWritable: [],
    notAllowed: [],
    totals: { worldWritable: 0, notAllowed: 0 },
    errors: [],
  };
  const judge = (path: string, mode: number, kind: ModeProblem['kind']) => {
    scan.scanned += 1;
    if (scan.scanned % 500 === 0) opts.onProgress?.(scan.scanned);
    if (mode & 0o002) {
      scan.totals.worldWritable += 1;
      if (scan.worldWritable.length < limit) scan.worldWritable.push({ path, mode: octal(mode), kind, problem: 'world-writable' });
      return;
    }
    if (!modeWithin(mode, kind === 'dir' ? opts.dirModes : opts.fileModes)) {
      scan.totals.notAllowed += 1;
      if (scan.notAllowed.length < limit) scan.notAllowed.push({ path, mode: octal(mode), kind, problem: 'not-allowed' });
    }
  };

  for (const configured of roots) {
    let root: string;
    try {
      // The configured root may itself be a link (e.g. /opt/kilocode -> /data/kilocode); nothing inside is followed.
      root = await realpath(configured);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') scan.missingRoots.push(configured);
      else scan.errors.push({ path: configured, error: errorMessage(err) });
      continue;
    }
    const pending = [root];
    let first = true;
    while (pending.length > 0) {
      opts.signal?.throwIfAborted();
      const dir = pending.pop()!;
      if (first) {
        first = false;
        const st = await lstat(dir).catch(() => undefined);
        if (!st) continue;
        judge(configured, Number(st.mode), st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other');
        if (!st.isDirectory()) continue;
      }
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        scan.errors.push({ path: dir, error: errorMessage(err) });
        continue;
      }
      for (const e of entries) {
        const path = join(dir, e.name);
        if (e.isSymbolicLink()) {
          scan.links += 1;
          continue;
        }
        let st;
        try {
          st = await lstat(path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') scan.errors.push({ path, error: errorMessage(err) });
          continue;
        }
        if (st.isSymbolicLink()) {
          scan.links += 1;
          continue;
        }
        const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
        judge(path, Number(st.mode), kind);
        if (kind === 'dir') pending.push(path);
      }
    }
  }
  opts.onProgress?.(scan.scanned);
  return scan;
}
