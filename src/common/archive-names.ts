/**
 * Backup archive names, as in the seed: `mcp_backup_YYYYMMDD_HHMMSS.tar.gz`
 * (UTC). Pure: used by workflows to validate input and by activities to name files.
 */

export const ARCHIVE_PREFIX = 'mcp_backup_';
export const ARCHIVE_SUFFIX = '.tar.gz';
export const MANIFEST_SUFFIX = '.manifest.json';
const NAME = /^mcp_backup_(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})\.tar\.gz$/;

/** `mcp_backup_20261124_020000.tar.gz` for 2026-11-24T02:00:00Z. */
export function archiveName(at: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${ARCHIVE_PREFIX}${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}_${p(at.getUTCHours())}${p(at.getUTCMinutes())}${p(at.getUTCSeconds())}${ARCHIVE_SUFFIX}`;
}

/** The UTC time in an archive name, or undefined when it is not one of ours. */
export function archiveTime(name: string): Date | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return Number.isNaN(t.getTime()) ? undefined : t;
}

export function manifestName(archive: string): string {
  return `${archive}${MANIFEST_SUFFIX}`;
}

/**
 * Why a user-supplied archive name is unacceptable, or undefined when it is a
 * plain archive name: no folders, no `..`, no hidden files, a `.tar.gz` ending.
 */
export function archiveNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'the backup name must be a non-empty string';
  if (name.includes('/') || name.includes('\\')) return `"${name}" must be a plain archive name inside the backups folder, without "/"`;
  if (name.includes('..')) return `"${name}" must not contain ".."`;
  if (name.startsWith('.')) return `"${name}" must not start with "."`;
  if (!name.endsWith(ARCHIVE_SUFFIX)) return `"${name}" is not a ${ARCHIVE_SUFFIX} archive`;
  if (name.length > 255) return 'the backup name is longer than 255 characters';
  return undefined;
}
