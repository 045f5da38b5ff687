/**
 * Maintenance windows: blackouts become Temporal skip calendars of the
 * schedules whose runbook changes a host. The calendar specs are checked minute
 * by minute against the range they stand for (fixed and weekly, across days,
 * midnight, a zone other than the schedule's, widened by the jitter); on the
 * real dev server a backfill over a blackout starts nothing, one outside it
 * starts the runs, and a health check is not held back.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CalendarSpec, Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { applySchedules } from '../../src/schedules/apply.js';
import { skipCalendars, zonedToInstant, type Blackout } from '../../src/schedules/blackouts.js';
import { desiredSchedules } from '../../src/schedules/spec.js';
import { runCli } from '../helpers/cli.js';
import { pollUntil, temporalAddress, testClient, uniqueTaskQueue } from '../helpers/temporal.js';

/** loadConfig of a config file holding `obj`. */
function loadObject(obj: Record<string, unknown>) {
  const d = mkdtempSync(join(tmpdir(), 'mcp-blackout-config-'));
  try {
    writeFileSync(join(d, 'config.yaml'), stringify(obj));
    return loadConfig({ path: join(d, 'config.yaml'), env: {} });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

const DAY_NAMES = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];
const MONTHS = ['JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER'];

/** Whether a calendar spec matches a wall-clock time (as Temporal matches a skip spec: every field). */
function matches(spec: CalendarSpec, w: { y: number; mo: number; d: number; h: number; mi: number; dow: number }): boolean {
  const field = (v: unknown, x: number, names?: string[], dflt: unknown = '*'): boolean => {
    const value = v ?? dflt;
    if (value === '*') return true;
    const list = Array.isArray(value) ? value : [value];
    return list.some((r: unknown) => {
      const toNum = (a: unknown) => (typeof a === 'string' && names ? names.indexOf(a) : Number(a));
      if (typeof r === 'object' && r !== null) {
        const o = r as { start: unknown; end?: unknown };
        return x >= toNum(o.start) && x <= toNum(o.end ?? o.start);
      }
      return toNum(r) === x;
    });
  };
  return (
    field(spec.year, w.y) &&
    field(spec.month, w.mo - 1, MONTHS) &&
    field(spec.dayOfMonth, w.d) &&
    field(spec.dayOfWeek, w.dow, DAY_NAMES) &&
    field(spec.hour, w.h, undefined, 0) &&
    field(spec.minute, w.mi, undefined, 0)
  );
}

function wall(ms: number, timeZone: string) {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'short' })
      .formatToParts(new Date(ms))
      .map((x) => [x.type, x.value]),
  );
  return { y: Number(p.year), mo: Number(p.month), d: Number(p.day), h: Number(p.hour), mi: Number(p.minute), dow: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(p.weekday!) };
}

/** Minute by minute over [from, to): which minutes the specs skip, as instants. */
function skipped(specs: CalendarSpec[], timeZone: string, from: number, to: number): Set<number> {
  const out = new Set<number>();
  for (let t = from; t < to; t += 60_000) if (specs.some((s) => matches(s, wall(t, timeZone)))) out.add(t);
  return out;
}
const minutes = (from: number, to: number) => {
  const out = new Set<number>();
  for (let t = from; t < to; t += 60_000) out.add(t);
  return out;
};

describe('blackouts as skip calendars', () => {
  it('a fixed range over three days and a month end, given in Europe/Berlin, skips exactly its minutes in a UTC schedule, widened by the jitter', () => {
    const b: Blackout = { name: 'year-end', timezone: 'Europe/Berlin', kind: 'fixed', from: '2026-12-30T21:15:00.000Z', to: '2027-01-02T04:40:00.000Z' };
    const specs = skipCalendars([b], { timezone: 'UTC', jitterMs: 10 * 60_000 });
    expect(specs.every((s) => s.comment === 'blackout year-end')).toBe(true);
    const around = [Date.parse('2026-12-30T20:00:00Z'), Date.parse('2027-01-02T06:00:00Z')] as const;
    expect(skipped(specs, 'UTC', ...around)).toEqual(minutes(Date.parse('2026-12-30T21:05:00Z'), Date.parse('2027-01-02T04:40:00Z')));
    // The same range for a schedule in another zone: the same instants.
    const ny = skipCalendars([b], { timezone: 'America/New_York', jitterMs: 0 });
    expect(skipped(ny, 'America/New_York', ...around)).toEqual(minutes(Date.parse(b.from), Date.parse(b.to)));
  });

  it('across the clocks going back (Europe/Berlin, 2026-10-25): a range in the hour that occurs twice skips its wall minutes in both occurrences, at least the range', () => {
    const b: Blackout = { name: 'fall-back', timezone: 'UTC', kind: 'fixed', from: '2026-10-25T00:30:00.000Z', to: '2026-10-25T01:10:00.000Z' };
    const specs = skipCalendars([b], { timezone: 'Europe/Berlin', jitterMs: 0 });
    const got = skipped(specs, 'Europe/Berlin', Date.parse('2026-10-24T22:00:00Z'), Date.parse('2026-10-25T04:00:00Z'));
    for (const t of minutes(Date.parse(b.from), Date.parse(b.to))) expect(got.has(t), new Date(t).toISOString()).toBe(true);
    // Wall 02:30-02:59 (CEST) and 02:00-02:09 (CET): those wall minutes are skipped in both occurrences of the hour, nothing else.
    const at = (a: string, b: string) => minutes(Date.parse(`2026-10-25T${a}:00Z`), Date.parse(`2026-10-25T${b}:00Z`));
    expect(got).toEqual(new Set([...at('00:00', '00:10'), ...at('00:30', '01:10'), ...at('01:30', '02:00')]));
  });

  it('a wall time in the hour that occurs twice is its earlier instant; one in the skipped hour is the end of the gap', () => {
    expect(new Date(zonedToInstant({ y: 2026, mo: 10, d: 25, h: 2, mi: 30 }, 'Europe/Berlin')).toISOString()).toBe('2026-10-25T00:30:00.000Z');
    expect(new Date(zonedToInstant({ y: 2026, mo: 11, d: 1, h: 1, mi: 30 }, 'America/New_York')).toISOString()).toBe('2026-11-01T05:30:00.000Z');
    expect(new Date(zonedToInstant({ y: 2026, mo: 3, d: 29, h: 2, mi: 30 }, 'Europe/Berlin')).toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(new Date(zonedToInstant({ y: 2026, mo: 3, d: 8, h: 2, mi: 30 }, 'America/New_York')).toISOString()).toBe('2026-03-08T07:00:00.000Z');
    expect(new Date(zonedToInstant({ y: 2026, mo: 12, d: 24, h: 18, mi: 0 }, 'Asia/Kolkata')).toISOString()).toBe('2026-12-24T12:30:00.000Z');
  });

  it('a weekly range past midnight (Fri and Sat 22:00-06:00) skips those nights only', () => {
    const b: Blackout = { name: 'nights', timezone: 'UTC', kind: 'weekly', days: ['fri', 'sat'], fromMinute: 22 * 60, toMinute: 6 * 60 };
    const specs = skipCalendars([b], { timezone: 'UTC', jitterMs: 0 });
    // 2026-12-04 is a Friday: a whole week from Thursday on.
    const got = skipped(specs, 'UTC', Date.parse('2026-12-03T00:00:00Z'), Date.parse('2026-12-10T00:00:00Z'));
    const want = new Set([...minutes(Date.parse('2026-12-04T22:00:00Z'), Date.parse('2026-12-05T06:00:00Z')), ...minutes(Date.parse('2026-12-05T22:00:00Z'), Date.parse('2026-12-06T06:00:00Z'))]);
    expect(got).toEqual(want);
  });

  it('only schedules of runbooks that change a host get the skips; the summary names the blackouts', () => {
    const config = loadObject({
      hostId: 'bo',
      defaultSchedules: false,
      schedules: [
        { runbook: 'backup', cron: '0 2 * * *' },
        { runbook: 'health-check', every: '15m' },
      ],
      blackouts: [{ name: 'freeze', from: '2026-12-24 00:00', to: '2026-12-27 00:00' }],
    });
    const [backup, health] = desiredSchedules(config).sort((a, b) => a.runbook.localeCompare(b.runbook));
    expect(backup!.runbook).toBe('backup');
    expect(backup!.options.spec.skip?.length).toBeGreaterThan(0);
    expect(backup!.summary).toContain('skips blackouts freeze');
    expect(health!.options.spec.skip).toBeUndefined();
  });

  it('a bad blackout is a config error naming the field and what was wrong', () => {
    const load = (blackouts: unknown[], schedules: unknown[] = [{ runbook: 'backup', cron: '0 2 * * *', timezone: 'UTC' }]) => () =>
      loadObject({ hostId: 'bo', defaultSchedules: false, schedules, blackouts });
    expect(load([{ name: 'x', from: '2026-12-27 00:00', to: '2026-12-24 00:00' }])).toThrow(/blackouts\[0\]\.to: expected a time after from \(2026-12-27 00:00\), found "2026-12-24 00:00"/);
    expect(load([{ name: 'x', from: '22:00', to: '2026-12-24 00:00' }])).toThrow(/blackouts\[0\]\.to: expected HH:MM, like the other end of a weekly range/);
    expect(load([{ name: 'x', from: '22:00', to: '06:00', timezone: 'Europe/Berlin' }])).toThrow(/blackouts\[0\]\.timezone: expected the zone of the schedules it applies to \(backup on bo: UTC\)/);
    expect(load([{ name: 'x', from: '2026-13-01 00:00', to: '2026-12-24 00:00' }])).toThrow(/blackouts\[0\]\.from: expected YYYY-MM-DD HH:MM/);
    expect(load([{ name: 'x', from: '24:00', to: '00:00' }])).toThrow(/blackouts\[0\]\.to: expected a time other than `from`/);
  });
});

describe('blackouts on the dev server', () => {
  let client: Client;
  let dir: string;
  const tq = uniqueTaskQueue('blackout');
  beforeAll(async () => {
    client = await testClient();
    dir = await mkdtemp(join(tmpdir(), 'mcp-blackout-'));
  });
  afterAll(async () => {
    for (const id of [`${tq}.backup.bo`, `${tq}.health-check.bo`]) await client.schedule.getHandle(id).delete().catch(() => undefined);
    // No worker polls this queue: the runs the backfills started wait; end them.
    for await (const wf of client.workflow.list({ query: `TaskQueue = '${tq}' AND ExecutionStatus = 'Running'` })) await client.workflow.getHandle(wf.workflowId).terminate('test cleanup').catch(() => undefined);
    await client?.connection.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a backfill over the blackout starts no backup; one outside it does; the health check is not held back; schedules list shows the blackout', async () => {
    const path = join(dir, 'config.yaml');
    await writeFile(
      path,
      stringify({
        hostId: 'bo',
        temporal: { address: temporalAddress(), taskQueue: tq },
        defaultSchedules: false,
        schedules: [
          { runbook: 'backup', every: '10m' },
          { runbook: 'health-check', every: '10m' },
        ],
        blackouts: [{ name: 'freeze', from: '2025-03-01 10:00', to: '2025-03-01 11:00' }],
      }),
    );
    const config = loadConfig({ path, env: {} });
    await applySchedules({ client, config });
    const backup = client.schedule.getHandle(`${tq}.backup.bo`);
    const health = client.schedule.getHandle(`${tq}.health-check.bo`);
    const taken = async (h: typeof backup) => (await h.describe()).info.numActionsTaken;

    // Inside: 10:00 to 10:59, six times due, none started; the health check takes all six.
    await backup.backfill({ start: new Date('2025-03-01T10:00:00Z'), end: new Date('2025-03-01T10:59:00Z'), overlap: 'ALLOW_ALL' as never });
    await health.backfill({ start: new Date('2025-03-01T10:00:00Z'), end: new Date('2025-03-01T10:59:00Z'), overlap: 'ALLOW_ALL' as never });
    await pollUntil('the health check backfill started', () => taken(health), (n) => n === 6, { timeoutMs: 90_000 });
    // Outside: 11:00 to 11:59, six runs.
    await backup.backfill({ start: new Date('2025-03-01T11:00:00Z'), end: new Date('2025-03-01T11:59:00Z'), overlap: 'ALLOW_ALL' as never });
    await pollUntil('the backup backfill outside the blackout started', () => taken(backup), (n) => n >= 6, { timeoutMs: 90_000 });
    expect(await taken(backup)).toBe(6);
    const backups = async () => {
      const ids: string[] = [];
      for await (const wf of client.workflow.list({ query: `TaskQueue = '${tq}' AND WorkflowType = 'backup'` })) ids.push(wf.workflowId);
      return ids.sort();
    };
    // Visibility catches up: the six are all from 11:00 on, none from inside the blackout.
    const started = await pollUntil('six backups listed', backups, (ids) => ids.length === 6, { timeoutMs: 60_000 });
    expect(started.map((w) => w.slice(-9))).toEqual(['11:00:00Z', '11:10:00Z', '11:20:00Z', '11:30:00Z', '11:40:00Z', '11:50:00Z']);

    const listed = await runCli(['--config', path, 'schedules', 'list']);
    expect(listed.exitCode, listed.all).toBe(0);
    expect(listed.stdout).toContain('skips blackouts freeze');
    expect(listed.stdout).toContain('  freeze (2025-03-01T10:00:00.000Z to 2025-03-01T11:00:00.000Z)');
  }, 300_000);
});
