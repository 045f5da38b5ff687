import { describe, expect, it } from 'vitest';
import type { ScheduleConfig } from '../../src/config/config.js';
import { countChanges, diffSchedules, type ExistingSchedule } from '../../src/schedules/diff.js';
import { desiredSchedule, type DesiredSchedule } from '../../src/schedules/spec.js';

const TQ = 'mcp-runbooks';
const entry = (hostId: string, extra: Partial<ScheduleConfig> = {}): DesiredSchedule =>
  desiredSchedule(
    { runbook: 'health-check', hostId, every: '15m', timezone: 'UTC', jitter: '0s', overlap: 'SKIP', catchupWindow: '1m', pauseOnFailure: false, enabled: true, origin: 'config', ...extra },
    { temporal: { namespace: 'default', taskQueue: TQ } },
  );
const ours = (d: DesiredSchedule, extra: Partial<ExistingSchedule> = {}): ExistingSchedule => ({
  scheduleId: d.scheduleId,
  mark: { managedBy: 'mcp-runbooks', taskQueue: TQ, runbook: d.runbook, hostId: d.hostId },
  applied: { scheduleId: d.scheduleId, specHash: d.specHash, summary: d.summary },
  paused: false,
  ...extra,
});

const a = entry('a');
const b = entry('b');
const aChanged = entry('a', { every: '30m' });

describe('diffSchedules', () => {
  it.each<[string, DesiredSchedule[], ExistingSchedule[], Array<[string, string]>]>([
    ['nothing there: create', [a, b], [], [['create', a.scheduleId], ['create', b.scheduleId]]],
    ['as applied: unchanged', [a], [ours(a)], [['unchanged', a.scheduleId]]],
    ['spec changed: update', [aChanged], [ours(a)], [['update', a.scheduleId]]],
    ['changed outside mcp-runbooks (no applied memo): update', [a], [{ ...ours(a), applied: undefined }], [['update', a.scheduleId]]],
    ['ours, no longer declared: delete', [a], [ours(a), ours(b)], [['unchanged', a.scheduleId], ['delete', b.scheduleId]]],
    ['declared but disabled: delete', [{ ...a, enabled: false }], [ours(a)], [['delete', a.scheduleId]]],
    ['disabled and absent: nothing', [{ ...a, enabled: false }], [], []],
    ['foreign, not declared: never touched', [a], [ours(a), { scheduleId: 'someone.elses', paused: false }], [['unchanged', a.scheduleId]]],
    ['foreign with a declared id: conflict, not updated', [a], [{ scheduleId: a.scheduleId, paused: false }], [['conflict', a.scheduleId]]],
    [
      'another deployment\'s (other task queue): never deleted, conflict if the id is declared',
      [a],
      [
        { ...ours(a), mark: { managedBy: 'mcp-runbooks', taskQueue: 'other', runbook: 'health-check', hostId: 'a' } },
        { ...ours(b), mark: { managedBy: 'mcp-runbooks', taskQueue: 'other', runbook: 'health-check', hostId: 'b' } },
      ],
      [['conflict', a.scheduleId]],
    ],
  ])('%s', (_name, desired, existing, want) => {
    expect(diffSchedules(desired, existing, TQ).map((c) => [c.kind, c.scheduleId])).toEqual(want);
  });

  it('a paused schedule stays paused: the update and unchanged lines say so', () => {
    const paused = ours(a, { paused: true, note: 'disk swap' });
    const [update] = diffSchedules([aChanged], [paused], TQ);
    expect(update).toMatchObject({ kind: 'update', reason: 'was every 15m, overlap SKIP, catch-up 1m; stays paused: "disk swap"' });
    const [same] = diffSchedules([a], [paused], TQ);
    expect(same).toMatchObject({ kind: 'unchanged', reason: 'as declared; stays paused: "disk swap"' });
  });

  it('counts each kind', () => {
    const changes = diffSchedules([a, b], [ours(a), { scheduleId: b.scheduleId, paused: false }], TQ);
    expect(countChanges(changes)).toEqual({ create: 0, update: 0, delete: 0, unchanged: 1, conflict: 1 });
  });
});
