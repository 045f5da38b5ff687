/**
 * Resolves the declared schedules: the seed's defaults on every host, merged
 * with the config's `schedules` entries (an entry with the same runbook and host
 * overrides the default, field by field). The schema has already checked each
 * entry's runbook name; host, "cron or every" and duplicates are checked here,
 * with the field named.
 */
import type { ConfigIssue } from '../common/errors.js';
import { isRunbookName, RUNBOOKS, type RunbookName } from '../runbooks.js';
import { HOST_KILLING_OVERLAPS, parseOverlapPolicy } from '../schedules/overlap.js';
import { SCHEDULE_FIELD_DEFAULTS, SEED_SCHEDULES } from '../schedules/seed-schedules.js';
import { canonicalTimeZone } from '../schedules/timezone.js';
import type { ScheduleConfig } from './config.js';
import type { ScheduleEntry } from './schema.js';

/** What a schedule's `runbook` must be. */
export function runbookExpected(): string {
  return `a runbook this version has (${Object.keys(RUNBOOKS).join(', ')})`;
}

export interface ResolveSchedulesInput {
  entries: readonly ScheduleEntry[];
  /** The config's `defaultSchedules`. */
  defaultSchedules: boolean;
  /** The config's `hosts`. */
  hosts: readonly string[];
  /** Host of an entry without `host`. */
  defaultHost: string;
}

export function resolveSchedules(input: ResolveSchedulesInput): { schedules: ScheduleConfig[]; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const byKey = new Map<string, ScheduleConfig>();
  const key = (runbook: string, hostId: string) => `${runbook}\u0000${hostId}`;

  if (input.defaultSchedules) {
    for (const [runbook, s] of Object.entries(SEED_SCHEDULES)) {
      for (const hostId of input.hosts) {
        byKey.set(key(runbook, hostId), {
          ...SCHEDULE_FIELD_DEFAULTS,
          runbook: runbook as RunbookName,
          hostId,
          cron: s.cron,
          catchupWindow: s.catchupWindow,
          origin: 'seed',
        });
      }
    }
  }

  const declaredAt = new Map<string, number>();
  input.entries.forEach((entry, i) => {
    const at = `schedules[${i}]`;
    let ok = true;
    const hostId = entry.host ?? input.defaultHost;
    if (!input.hosts.includes(hostId)) {
      issues.push({ path: `${at}.host`, expected: `a host listed in "hosts" (${input.hosts.join(', ')})`, found: `"${hostId}"` });
      ok = false;
    }
    if (entry.cron !== undefined && entry.every !== undefined) {
      issues.push({ path: `${at}.every`, expected: 'either cron or every, not both', found: `every "${entry.every}" beside cron "${entry.cron}"` });
      ok = false;
    }
    const overlap = entry.overlap !== undefined ? parseOverlapPolicy(entry.overlap) : undefined;
    if (overlap && HOST_KILLING_OVERLAPS.includes(overlap) && isRunbookName(entry.runbook) && RUNBOOKS[entry.runbook].changesHost) {
      issues.push({
        path: `${at}.overlap`,
        expected: `SKIP, BUFFER_ONE, BUFFER_ALL or ALLOW_ALL for ${entry.runbook}, which changes the host (a run cancelled or terminated for a newer one can leave a service stopped; the host lock already keeps runs apart)`,
        found: overlap,
      });
      ok = false;
    }
    const base = SEED_SCHEDULES[entry.runbook];
    if (entry.cron === undefined && entry.every === undefined && !base) {
      issues.push({ path: `${at}.cron`, expected: `a cron or an every ("${entry.runbook}" has no default schedule)`, found: 'neither' });
      ok = false;
    }
    const k = key(entry.runbook, hostId);
    const earlier = declaredAt.get(k);
    if (earlier !== undefined) {
      issues.push({
        path: at,
        expected: `one entry per runbook and host (schedules[${earlier}] already declares ${entry.runbook} on ${hostId})`,
        found: `a second ${entry.runbook} on ${hostId}`,
      });
      ok = false;
    }
    declaredAt.set(k, i);
    if (!ok) return;

    const when = entry.cron !== undefined ? { cron: entry.cron } : entry.every !== undefined ? { every: entry.every } : { cron: base!.cron };
    byKey.set(k, {
      runbook: entry.runbook as RunbookName,
      hostId,
      ...when,
      // Both were checked by the schema; the fallbacks only satisfy the types.
      timezone: canonicalTimeZone(entry.timezone ?? SCHEDULE_FIELD_DEFAULTS.timezone) ?? SCHEDULE_FIELD_DEFAULTS.timezone,
      jitter: entry.jitter ?? SCHEDULE_FIELD_DEFAULTS.jitter,
      overlap: (entry.overlap !== undefined ? parseOverlapPolicy(entry.overlap) : undefined) ?? SCHEDULE_FIELD_DEFAULTS.overlap,
      catchupWindow: entry.catchupWindow ?? base?.catchupWindow ?? SCHEDULE_FIELD_DEFAULTS.catchupWindow,
      pauseOnFailure: entry.pauseOnFailure ?? SCHEDULE_FIELD_DEFAULTS.pauseOnFailure,
      enabled: entry.enabled ?? SCHEDULE_FIELD_DEFAULTS.enabled,
      origin: 'config',
    });
  });
  return { schedules: [...byKey.values()], issues };
}
