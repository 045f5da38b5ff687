/**
 * Which archives retention keeps, pure. Only an archive that passed its last
 * verification is a backup retention can count on, so only those fill the
 * keep-daily/weekly/monthly slots; an archive never verified, or failed, can
 * neither take such a slot nor push a verified archive out of one.
 *
 * | archive                        | kept when                                                                   |
 * |--------------------------------|-----------------------------------------------------------------------------|
 * | backup, verified               | younger than `days`; the newest of its day/week/month among verified ones; the newest verified backup (always) |
 * | backup, not verified yet       | younger than `days`; or newer than the newest verified backup (it may still verify, and holds the newest data) |
 * | backup, verification failed    | younger than `days` (to look at); never after: it is no backup              |
 * | emergency (state before a recovery) | younger than `days`; never a slot, never "the newest verified backup" |
 * | any listed in `protect`        | always                                                                      |
 *
 * Everything else is removed.
 */

export interface RetentionPolicy {
  days: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

/** What the archive's last verification said: `ok`, `failed`, or `none` (never verified). */
export type VerificationState = 'ok' | 'failed' | 'none';

export interface ArchiveInfo {
  name: string;
  createdAt: Date;
  verification: VerificationState;
  /** A recovery's emergency archive is not a backup. @default 'backup' */
  kind?: 'backup' | 'emergency';
}

export interface RetentionDecision {
  keep: Array<{ name: string; why: string[] }>;
  remove: Array<{ name: string; ageDays: number }>;
}

const DAY = 86_400_000;

export function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = new Date(Date.UTC(t.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((t.getTime() - yearStart.getTime()) / DAY + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

export function decideRetention(archives: readonly ArchiveInfo[], now: Date, policy: RetentionPolicy, protect: readonly string[] = []): RetentionDecision {
  const sorted = [...archives].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const why = new Map<string, string[]>(sorted.map((a) => [a.name, []]));
  const add = (name: string, reason: string) => why.get(name)!.push(reason);
  const isBackup = (a: ArchiveInfo) => (a.kind ?? 'backup') === 'backup';
  const verified = sorted.filter((a) => isBackup(a) && a.verification === 'ok');
  const newestVerified = verified[0];

  for (const a of sorted) {
    if (now.getTime() - a.createdAt.getTime() <= policy.days * DAY) add(a.name, `younger than ${policy.days} days`);
    if (protect.includes(a.name)) add(a.name, 'protected');
    if (isBackup(a) && a.verification === 'none' && (!newestVerified || a.createdAt > newestVerified.createdAt)) {
      add(a.name, newestVerified ? 'not verified yet, newer than the newest verified backup' : 'not verified yet, and no backup is verified');
    }
  }
  if (newestVerified) add(newestVerified.name, 'newest verified backup');

  const buckets: Array<[number | undefined, string, (d: Date) => string]> = [
    [policy.keepDaily, 'daily', (d) => d.toISOString().slice(0, 10)],
    [policy.keepWeekly, 'weekly', isoWeek],
    [policy.keepMonthly, 'monthly', (d) => d.toISOString().slice(0, 7)],
  ];
  for (const [count, label, key] of buckets) {
    if (!count) continue;
    const seen = new Set<string>();
    for (const a of verified) {
      const k = key(a.createdAt);
      if (seen.has(k)) continue;
      if (seen.size >= count) break;
      seen.add(k);
      add(a.name, `${label} ${k}`);
    }
  }

  const decision: RetentionDecision = { keep: [], remove: [] };
  for (const a of sorted) {
    const reasons = why.get(a.name)!;
    if (reasons.length) decision.keep.push({ name: a.name, why: reasons });
    else decision.remove.push({ name: a.name, ageDays: Math.floor((now.getTime() - a.createdAt.getTime()) / DAY) });
  }
  return decision;
}
