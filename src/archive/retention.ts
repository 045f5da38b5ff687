/**
 * Which archives retention keeps, pure: archives younger than `days`, the
 * newest archive of each of the last `keepDaily` days / `keepWeekly` ISO weeks /
 * `keepMonthly` months that have one, the newest verified archive (always), and
 * any protected names. Everything else goes.
 */

export interface RetentionPolicy {
  days: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

export interface ArchiveInfo {
  name: string;
  createdAt: Date;
  verified: boolean;
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

  for (const a of sorted) {
    if (now.getTime() - a.createdAt.getTime() <= policy.days * DAY) add(a.name, `younger than ${policy.days} days`);
    if (protect.includes(a.name)) add(a.name, 'protected');
  }
  const newestVerified = sorted.find((a) => a.verified);
  if (newestVerified) add(newestVerified.name, 'newest verified archive');

  const buckets: Array<[number | undefined, string, (d: Date) => string]> = [
    [policy.keepDaily, 'daily', (d) => d.toISOString().slice(0, 10)],
    [policy.keepWeekly, 'weekly', isoWeek],
    [policy.keepMonthly, 'monthly', (d) => d.toISOString().slice(0, 7)],
  ];
  for (const [count, label, key] of buckets) {
    if (!count) continue;
    const seen = new Set<string>();
    for (const a of sorted) {
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
