/**
 * Maintenance windows as Temporal's own skip calendars: a blackout (a fixed
 * range of dates and times, or a weekly range on some days) becomes the
 * `skip` calendar specs of every schedule whose runbook changes a host, so the
 * schedule never starts one inside it, backfills included. Pure: no calls to Temporal.
 *
 * Temporal matches skip calendars against a run's scheduled time in the
 * schedule's own time zone, at every field down to the second; the run then
 * starts up to the schedule's jitter later. So each range is widened at its
 * start by the jitter (a run due just before a blackout cannot start inside it),
 * converted to the schedule's time zone (fixed ranges: as instants; weekly ranges
 * must be in the schedule's zone, the config refuses others), and cut into
 * calendar specs of whole minutes.
 */
import type { CalendarSpec, DayOfWeek, Month } from '@temporalio/client';

export const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Day = (typeof DAYS)[number];
const DAY_NAMES: readonly DayOfWeek[] = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];
const MONTHS: readonly Month[] = ['JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER'];

export type Blackout =
  | {
      name: string;
      /** Canonical IANA zone the times were given in. */
      timezone: string;
      kind: 'fixed';
      /** ISO instants: the range is [from, to). */
      from: string;
      to: string;
    }
  | {
      name: string;
      timezone: string;
      kind: 'weekly';
      days: Day[];
      /** Minutes after midnight; `to <= from` runs past midnight into the next day. */
      fromMinute: number;
      toMinute: number;
    };

/** Wall-clock fields of an instant in a time zone. */
function wallOf(ms: number, timeZone: string): { y: number; mo: number; d: number; h: number; mi: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  return { y: Number(parts.year), mo: Number(parts.month), d: Number(parts.day), h: Number(parts.hour), mi: Number(parts.minute) };
}

const sameWall = (a: { y: number; mo: number; d: number; h: number; mi: number }, b: typeof a) => a.y === b.y && a.mo === b.mo && a.d === b.d && a.h === b.h && a.mi === b.mi;

/**
 * The instant a wall-clock time has in a time zone: the earlier one when the
 * time occurs twice (clocks going back), the end of the gap when it does not
 * occur at all (clocks going forward).
 */
export function zonedToInstant(wall: { y: number; mo: number; d: number; h: number; mi: number }, timeZone: string): number {
  const asUtc = Date.UTC(wall.y, wall.mo - 1, wall.d, wall.h, wall.mi);
  const offsetAt = (ms: number) => {
    const w = wallOf(ms, timeZone);
    return Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi) - Math.floor(ms / 60_000) * 60_000;
  };
  // The offsets in force half a day either side: at most one change lies between.
  const candidates = [...new Set([offsetAt(asUtc - 43_200_000), offsetAt(asUtc + 43_200_000)])].map((o) => asUtc - o).sort((x, y) => x - y);
  const valid = candidates.filter((t) => sameWall(wallOf(t, timeZone), wall));
  if (valid.length) return valid[0]!;
  // In the gap: the first minute between the two candidates whose wall time is past the one asked for.
  for (let t = candidates[0]!; t <= candidates[candidates.length - 1]!; t += 60_000) {
    const w = wallOf(t, timeZone);
    if (Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi) > asUtc) return t;
  }
  return candidates[0]!;
}

/** `2026-12-24 18:30` or `2026-12-24T18:30` as wall-clock fields; undefined when it is not one. */
export function parseWallDateTime(text: string): { y: number; mo: number; d: number; h: number; mi: number } | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}))?$/.exec(text.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0)];
  const check = new Date(Date.UTC(y, mo - 1, d, h, mi));
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59) return undefined;
  return { y, mo, d, h, mi };
}

/** `HH:MM` as minutes after midnight (`24:00` is 1440); undefined when it is not one. */
export function parseClock(text: string): number | undefined {
  const m = /^(\d{2}):(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const h = Number(m[1]);
  const mi = Number(m[2]);
  if (mi > 59 || h > 24 || (h === 24 && mi > 0)) return undefined;
  return h * 60 + mi;
}

const range = (start: number, end: number) => {
  if (end < start) throw new Error(`blackout calendar: range ${start}-${end} runs backwards`);
  return start === end ? start : { start, end };
};

/** Calendar specs covering minutes [a, b) of one day (0 <= a < b <= 1440), with the day's own fields. */
function dayMinutes(a: number, b: number, day: Partial<CalendarSpec>, comment: string): CalendarSpec[] {
  const out: CalendarSpec[] = [];
  const spec = (hour: CalendarSpec['hour'], minute: CalendarSpec['minute']): CalendarSpec => ({ ...day, hour, minute, second: '*', comment });
  const [h1, m1, h2, m2] = [Math.floor(a / 60), a % 60, Math.floor(b / 60), b % 60];
  if (h1 === h2) return [spec(h1, range(m1, m2 - 1))];
  let firstFull = h1;
  if (m1 > 0) {
    out.push(spec(h1, range(m1, 59)));
    firstFull = h1 + 1;
  }
  if (h2 > firstFull) out.push(spec(range(firstFull, h2 - 1), '*'));
  if (m2 > 0) out.push(spec(h2, range(0, m2 - 1)));
  return out;
}

/**
 * Skip specs for the instants [fromMs, toMs) in `timeZone`: every wall-clock
 * minute one of them has there. Walked in UTC slices of 15 minutes (every
 * zone's offset is a multiple of that), so a day of 23 or 25 hours is right: a
 * range in an hour that occurs twice skips that wall hour both times (a
 * blackout covers at least its range).
 */
function fixedSpecs(fromMs: number, toMs: number, timeZone: string, comment: string): CalendarSpec[] {
  if (toMs <= fromMs) return [];
  // Rounded out to whole minutes: a started minute is inside.
  const start = Math.floor(fromMs / 60_000) * 60_000;
  const end = Math.ceil(toMs / 60_000) * 60_000;
  const SLICE = 15 * 60_000;
  /** Wall minutes by wall day (`Date.UTC` of its midnight), as [from, to) pairs. */
  const byDay = new Map<number, Array<[number, number]>>();
  for (let t = start; t < end; ) {
    const sliceEnd = Math.min(end, (Math.floor(t / SLICE) + 1) * SLICE);
    const w = wallOf(t, timeZone);
    const day = Date.UTC(w.y, w.mo - 1, w.d);
    const m = w.h * 60 + w.mi;
    const n = (sliceEnd - t) / 60_000;
    // A slice never crosses a wall midnight unless the offset is not a multiple of 15 minutes: split it anyway.
    const first = Math.min(1440, m + n);
    const list = byDay.get(day) ?? [];
    list.push([m, first]);
    byDay.set(day, list);
    if (m + n > 1440) {
      const next = byDay.get(day + 86_400_000) ?? [];
      next.push([0, m + n - 1440]);
      byDay.set(day + 86_400_000, next);
    }
    t = sliceEnd;
  }
  const dayFields = (ms: number): Partial<CalendarSpec> => {
    const dt = new Date(ms);
    return { year: dt.getUTCFullYear(), month: MONTHS[dt.getUTCMonth()]!, dayOfMonth: dt.getUTCDate() };
  };
  const merged = [...byDay.entries()].sort(([a], [b]) => a - b).map(([day, spans]): [number, Array<[number, number]>] => {
    spans.sort((x, y) => x[0] - y[0]);
    const out: Array<[number, number]> = [];
    for (const [a, b] of spans) {
      const last = out[out.length - 1];
      if (last && a <= last[1]) last[1] = Math.max(last[1], b);
      else out.push([a, b]);
    }
    return [day, out];
  });
  const out: CalendarSpec[] = [];
  for (let i = 0; i < merged.length; ) {
    const [day, spans] = merged[i]!;
    const whole = (k: number) => merged[k]![1].length === 1 && merged[k]![1][0]![0] === 0 && merged[k]![1][0]![1] === 1440;
    if (whole(i)) {
      // A run of whole days within one month: one spec.
      let j = i;
      while (j + 1 < merged.length && whole(j + 1) && merged[j + 1]![0] === merged[j]![0] + 86_400_000 && new Date(merged[j + 1]![0]).getUTCMonth() === new Date(day).getUTCMonth()) j++;
      const d0 = new Date(day);
      out.push({ year: d0.getUTCFullYear(), month: MONTHS[d0.getUTCMonth()]!, dayOfMonth: range(d0.getUTCDate(), new Date(merged[j]![0]).getUTCDate()), hour: '*', minute: '*', second: '*', comment });
      i = j + 1;
      continue;
    }
    for (const [a, b] of spans) out.push(...dayMinutes(a, b, dayFields(day), comment));
    i += 1;
  }
  return out;
}

/** Skip specs for a weekly range, widened at its start by `leadMinutes`. */
function weeklySpecs(b: Extract<Blackout, { kind: 'weekly' }>, leadMinutes: number, comment: string): CalendarSpec[] {
  const WEEK = 7 * 1440;
  const length = (b.toMinute <= b.fromMinute ? b.toMinute + 1440 : b.toMinute) - b.fromMinute + leadMinutes;
  if (length >= WEEK) return [{ dayOfWeek: '*', hour: '*', minute: '*', second: '*', comment }];
  // Minute-of-week intervals, split at the end of the week, then by day.
  const pieces: Array<[number, number]> = [];
  for (const day of b.days) {
    const start = (((DAYS.indexOf(day) * 1440 + b.fromMinute - leadMinutes) % WEEK) + WEEK) % WEEK;
    const end = start + length;
    if (end <= WEEK) pieces.push([start, end]);
    else pieces.push([start, WEEK], [0, end - WEEK]);
  }
  const out: CalendarSpec[] = [];
  for (const [s, e] of pieces) {
    for (let d = Math.floor(s / 1440); d * 1440 < e; d++) {
      const a = Math.max(s, d * 1440) - d * 1440;
      const z = Math.min(e, (d + 1) * 1440) - d * 1440;
      if (z > a) out.push(...dayMinutes(a, z, { dayOfWeek: DAY_NAMES[d]! }, comment));
    }
  }
  return out;
}

/**
 * The skip calendar specs of a schedule in `timeZone` with `jitterMs`: every
 * blackout, widened at its start by the jitter. Each spec's comment names its blackout.
 */
export function skipCalendars(blackouts: readonly Blackout[], schedule: { timezone: string; jitterMs: number }): CalendarSpec[] {
  const lead = Math.ceil(schedule.jitterMs / 60_000);
  return blackouts.flatMap((b) => {
    const comment = `blackout ${b.name}`;
    if (b.kind === 'fixed') return fixedSpecs(Date.parse(b.from) - lead * 60_000, Date.parse(b.to), schedule.timezone, comment);
    return weeklySpecs(b, lead, comment);
  });
}

/** One line for `schedules list`: `2026-12-24T00:00:00.000Z to 2026-12-27T00:00:00.000Z` or `mon,fri 22:00-06:00 Europe/Berlin`. */
export function describeBlackout(b: Blackout): string {
  if (b.kind === 'fixed') return `${b.name} (${b.from} to ${b.to})`;
  const clock = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  return `${b.name} (${b.days.length === 7 ? 'daily' : b.days.join(',')} ${clock(b.fromMinute)}-${clock(b.toMinute)} ${b.timezone})`;
}
