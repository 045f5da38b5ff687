/**
 * Resolves the declared schedules: the seed's defaults on every host, merged
 * with the config's `schedules` entries (an entry with the same runbook and host
 * overrides the default, field by field). The schema has already checked each
 * entry's runbook name; host, "cron or every" and duplicates are checked here,
 * with the field named.
 *
 * An entry with `hosts: <selector>` is a fleet schedule: one schedule that
 * starts the `fleet` runbook over the hosts the selector picks from the
 * inventory now. It replaces the seed's default of the same runbook on those
 * hosts (so a host is not maintained twice); a per-host entry of the same
 * runbook on one of them is an error.
 */
import type { ConfigIssue } from '../common/errors.js';
import { errorMessage } from '../common/errors.js';
import { HostSelectorError, labelsOf, parseHostSelector, formatHostSelector, selectHosts, type InventoryHost } from './host-selector.js';
import { isRunbookName, RUNBOOKS, type RunbookName } from '../runbooks.js';
import { HOST_KILLING_OVERLAPS, parseOverlapPolicy } from '../schedules/overlap.js';
import { SCHEDULE_FIELD_DEFAULTS, SEED_SCHEDULES } from '../schedules/seed-schedules.js';
import { canonicalTimeZone } from '../schedules/timezone.js';
import { parseDuration } from '../schedules/duration.js';
import type { ScheduleConfig } from './config.js';
import type { ScheduleEntry } from './schema.js';
import type { ParsedConfig } from './schema.js';
import { DAYS, parseClock, parseWallDateTime, zonedToInstant, type Blackout } from '../schedules/blackouts.js';

type ParsedBlackout = ParsedConfig['blackouts'][number];

/** What a schedule's `runbook` must be. */
export function runbookExpected(): string {
  return `a runbook this version can schedule (${SCHEDULABLE.join(', ')})`;
}

/** Runbooks a schedule may start: those that need no input beyond the host (restart-service needs a service). */
export const SCHEDULABLE = Object.entries(RUNBOOKS)
  .filter(([, def]) => !('required' in def))
  .map(([name]) => name);

export interface ResolveSchedulesInput {
  entries: readonly ScheduleEntry[];
  /** The config's `defaultSchedules`. */
  defaultSchedules: boolean;
  /** The config's `hosts`, with their labels. */
  inventory: readonly InventoryHost[];
  /** Host of an entry without `host`. */
  defaultHost: string;
}

export function resolveSchedules(input: ResolveSchedulesInput): { schedules: ScheduleConfig[]; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const byKey = new Map<string, ScheduleConfig>();
  const key = (runbook: string, hostId: string) => `${runbook}\u0000${hostId}`;
  const fleetKey = (runbook: string, selector: string) => `${runbook}\u0000fleet\u0000${selector}`;
  const hosts = input.inventory.map((h) => h.id);
  /** Per runbook, the hosts a fleet entry covers, and which entry. */
  const coveredBy = new Map<string, { at: string; selector: string }>();

  if (input.defaultSchedules) {
    for (const [runbook, s] of Object.entries(SEED_SCHEDULES)) {
      for (const hostId of hosts) {
        byKey.set(key(runbook, hostId), {
          ...SCHEDULE_FIELD_DEFAULTS,
          runbook: runbook as RunbookName,
          hostId,
          cron: s.cron,
          jitter: s.jitter,
          catchupWindow: s.catchupWindow,
          origin: 'seed',
        });
      }
    }
  }

  const declaredAt = new Map<string, number>();
  const perHost: Array<{ at: string; runbook: string; hostId: string }> = [];
  input.entries.forEach((entry, i) => {
    const at = `schedules[${i}]`;
    let ok = true;
    let fleet: ScheduleConfig['fleet'];
    if (entry.hosts !== undefined) {
      fleet = resolveFleetEntry(entry, at, input.inventory, issues);
      if (!fleet) ok = false;
    } else if (entry.policy !== undefined) {
      issues.push({ path: `${at}.policy`, expected: 'a policy only beside `hosts: <selector>` (a rolling policy is for a fleet schedule)', found: 'policy without hosts' });
      ok = false;
    }
    const hostId = fleet ? fleet.selector : (entry.host ?? input.defaultHost);
    if (!fleet && !hosts.includes(hostId)) {
      issues.push({ path: `${at}.host`, expected: `a host listed in "hosts" (${hosts.join(', ')})`, found: `"${hostId}"` });
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
    const k = fleet ? fleetKey(entry.runbook, hostId) : key(entry.runbook, hostId);
    const earlier = declaredAt.get(k);
    if (earlier !== undefined) {
      issues.push({
        path: at,
        expected: `one entry per runbook and ${fleet ? 'selector' : 'host'} (schedules[${earlier}] already declares ${entry.runbook} on ${hostId})`,
        found: `a second ${entry.runbook} on ${hostId}`,
      });
      ok = false;
    }
    declaredAt.set(k, i);
    if (!ok) return;
    if (fleet) {
      for (const h of fleet.hosts) {
        const other = coveredBy.get(key(entry.runbook, h));
        if (other) {
          issues.push({ path: `${at}.hosts`, expected: `hosts no other fleet schedule of ${entry.runbook} covers (${other.at} selects ${h} with "${other.selector}")`, found: `"${fleet.selector}", which selects ${h} too` });
          return;
        }
        coveredBy.set(key(entry.runbook, h), { at, selector: fleet.selector });
        // The fleet schedule takes over the seed's default of this runbook on its hosts.
        if (byKey.get(key(entry.runbook, h))?.origin === 'seed') byKey.delete(key(entry.runbook, h));
      }
    } else {
      perHost.push({ at, runbook: entry.runbook, hostId });
    }

    const when = entry.cron !== undefined ? { cron: entry.cron } : entry.every !== undefined ? { every: entry.every } : { cron: base!.cron };
    byKey.set(k, {
      runbook: entry.runbook as RunbookName,
      hostId,
      ...(fleet ? { fleet } : {}),
      ...when,
      // Both were checked by the schema; the fallbacks only satisfy the types.
      timezone: canonicalTimeZone(entry.timezone ?? SCHEDULE_FIELD_DEFAULTS.timezone) ?? SCHEDULE_FIELD_DEFAULTS.timezone,
      // A per-host entry keeps the default's jitter; a fleet's jitter means each host's own wait (and no rolling policy), so it is never inherited.
      jitter: entry.jitter ?? (fleet ? undefined : base?.jitter) ?? SCHEDULE_FIELD_DEFAULTS.jitter,
      overlap: (entry.overlap !== undefined ? parseOverlapPolicy(entry.overlap) : undefined) ?? SCHEDULE_FIELD_DEFAULTS.overlap,
      catchupWindow: entry.catchupWindow ?? base?.catchupWindow ?? SCHEDULE_FIELD_DEFAULTS.catchupWindow,
      pauseOnFailure: entry.pauseOnFailure ?? SCHEDULE_FIELD_DEFAULTS.pauseOnFailure,
      enabled: entry.enabled ?? SCHEDULE_FIELD_DEFAULTS.enabled,
      origin: 'config',
    });
  });
  for (const p of perHost) {
    const fleet = coveredBy.get(key(p.runbook, p.hostId));
    if (fleet) {
      issues.push({ path: `${p.at}.host`, expected: `a host no fleet schedule of ${p.runbook} covers (${fleet.at} selects it with "${fleet.selector}")`, found: `"${p.hostId}"` });
    }
  }
  return { schedules: [...byKey.values()], issues };
}

/**
 * A fleet entry's hosts (selected now from the inventory) and policy; undefined,
 * with the issues pushed, when the selector or the policy is wrong.
 */
function resolveFleetEntry(entry: ScheduleEntry, at: string, inventory: readonly InventoryHost[], issues: ConfigIssue[]): ScheduleConfig['fleet'] {
  if (entry.host !== undefined) {
    issues.push({ path: `${at}.hosts`, expected: 'either host (one host) or hosts (a selector), not both', found: `hosts "${entry.hosts ?? ''}" beside host "${entry.host}"` });
    return undefined;
  }
  const jitter = entry.jitter !== undefined && (parseDuration(entry.jitter) ?? 0) > 0;
  if (jitter && entry.policy !== undefined) {
    issues.push({ path: `${at}.policy`, expected: 'either a per-host jitter or a rolling policy, not both', found: `policy beside jitter "${entry.jitter ?? ''}"` });
    return undefined;
  }
  let hosts: string[];
  let selector: string;
  try {
    selector = formatHostSelector(parseHostSelector(entry.hosts ?? ''));
    hosts = selectHosts(inventory, selector);
  } catch (err) {
    const problem = err instanceof HostSelectorError ? err.problem : errorMessage(err);
    issues.push({ path: `${at}.hosts`, expected: `a host selector that selects hosts of "hosts" (${problem})`, found: `"${entry.hosts ?? ''}"` });
    return undefined;
  }
  const order = entry.policy?.order;
  const key = order?.startsWith('label:') ? order.slice('label:'.length) : undefined;
  const labels = labelsOf(inventory, hosts);
  return { selector, hosts, labels: key ? labels : {}, policy: { ...(entry.policy ?? {}) } };
}

/**
 * The blackouts with their times parsed: a fixed range as instants (its zone applied), a weekly range
 * as minutes of the day. A weekly range is matched in each schedule's own zone, so it must be the zone
 * of every schedule it applies to (those of runbooks that change a host).
 */
export function resolveBlackouts(entries: ParsedBlackout[], schedules: readonly ScheduleConfig[], issues: ConfigIssue[]): Blackout[] {
  const out: Blackout[] = [];
  const names = new Set<string>();
  entries.forEach((b, i) => {
    const at = `blackouts[${i}]`;
    if (names.has(b.name)) issues.push({ path: `${at}.name`, expected: 'a name no other blackout has', found: `"${b.name}" again` });
    names.add(b.name);
    const timezone = canonicalTimeZone(b.timezone);
    if (!timezone) {
      issues.push({ path: `${at}.timezone`, expected: 'an IANA time zone such as UTC or Europe/Berlin', found: `"${b.timezone}"` });
      return;
    }
    const fromParsed = parseClock(b.from);
    // 24:00 as a start is the next day's 00:00.
    const fromClock = fromParsed === undefined ? undefined : fromParsed % 1440;
    const toClock = parseClock(b.to);
    if (fromClock !== undefined || toClock !== undefined) {
      if (fromClock === undefined || toClock === undefined) {
        issues.push({ path: `${at}.${fromClock === undefined ? 'from' : 'to'}`, expected: 'HH:MM, like the other end of a weekly range', found: `"${fromClock === undefined ? b.from : b.to}"` });
        return;
      }
      if (fromClock === toClock % 1440) issues.push({ path: `${at}.to`, expected: 'a time other than `from`', found: `"${b.to}"` });
      for (const s of schedules) {
        if (!RUNBOOKS[s.runbook].changesHost || s.timezone === timezone) continue;
        issues.push({ path: `${at}.timezone`, expected: `the zone of the schedules it applies to (${s.runbook} on ${s.hostId}: ${s.timezone})`, found: `"${timezone}"` });
        break;
      }
      out.push({ name: b.name, timezone, kind: 'weekly', days: b.days ?? [...DAYS], fromMinute: fromClock, toMinute: toClock % 1440 });
      return;
    }
    if (b.days) issues.push({ path: `${at}.days`, expected: 'days only with a weekly range (from and to as HH:MM)', found: 'days with dates' });
    const from = parseWallDateTime(b.from);
    const to = parseWallDateTime(b.to);
    if (!from) issues.push({ path: `${at}.from`, expected: 'YYYY-MM-DD HH:MM (a fixed range) or HH:MM (a weekly one)', found: `"${b.from}"` });
    if (!to) issues.push({ path: `${at}.to`, expected: 'YYYY-MM-DD HH:MM (a fixed range) or HH:MM (a weekly one)', found: `"${b.to}"` });
    if (!from || !to) return;
    const fromMs = zonedToInstant(from, timezone);
    const toMs = zonedToInstant(to, timezone);
    if (toMs <= fromMs) {
      issues.push({ path: `${at}.to`, expected: `a time after from (${b.from})`, found: `"${b.to}"` });
      return;
    }
    out.push({ name: b.name, timezone, kind: 'fixed', from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() });
  });
  return out;
}
