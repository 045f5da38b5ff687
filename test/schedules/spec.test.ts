import { describe, expect, it } from 'vitest';
import { parseFleetInput } from '../../src/common/inputs.js';
import type { ScheduleConfig } from '../../src/config/config.js';
import { APPLIED_MEMO_KEY, MARK_MEMO_KEY, desiredSchedule, desiredSchedules, isOurs, readAppliedSpec, readMark } from '../../src/schedules/spec.js';

const base: ScheduleConfig = {
  runbook: 'health-check',
  hostId: 'db-1',
  cron: '0 2 * * *',
  timezone: 'UTC',
  jitter: '0s',
  overlap: 'SKIP',
  catchupWindow: '1h',
  pauseOnFailure: false,
  enabled: true,
  origin: 'config',
};
const temporal = { namespace: 'default', taskQueue: 'mcp-runbooks' };

describe('desiredSchedule', () => {
  it('names deployment, runbook and host; starts the runbook on the orchestration queue for that host', () => {
    const d = desiredSchedule(base, { temporal });
    expect(d.scheduleId).toBe('mcp-runbooks.health-check.db-1');
    expect(d.options.spec).toEqual({ cronExpressions: ['0 2 * * *'], timezone: 'UTC', jitter: 0 });
    expect(d.options.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'healthCheck',
      taskQueue: 'mcp-runbooks',
      args: [{ hostId: 'db-1' }],
      workflowId: 'health-check-db-1',
      staticSummary: 'health-check on db-1 (schedule)',
    });
    // No execution timeout: it would end a run with none of its undos run (each runbook has its own deadline).
    expect(d.options.action).not.toHaveProperty('workflowExecutionTimeout');
    expect(d.options.policies).toEqual({ overlap: 'SKIP', catchupWindow: 3_600_000, pauseOnFailure: false });
    expect(readMark(d.options.memo)).toEqual({ managedBy: 'mcp-runbooks', taskQueue: 'mcp-runbooks', runbook: 'health-check', hostId: 'db-1' });
    expect(readAppliedSpec(d.options.action.memo)).toEqual({ scheduleId: d.scheduleId, specHash: d.specHash, summary: 'cron "0 2 * * *" UTC, overlap SKIP, catch-up 1h' });
  });

  it('an interval becomes an IntervalSpec in milliseconds', () => {
    const d = desiredSchedule({ ...base, cron: undefined, every: '5s' } as ScheduleConfig, { temporal });
    expect(d.options.spec.intervals).toEqual([{ every: 5000 }]);
    expect(d.options.spec.cronExpressions).toBeUndefined();
    expect(d.summary).toBe('every 5s, overlap SKIP, catch-up 1h');
  });

  it('the hash is stable and changes with spec, action or policies, not with enabled or origin', () => {
    const h = desiredSchedule(base, { temporal }).specHash;
    expect(desiredSchedule({ ...base }, { temporal }).specHash).toBe(h);
    expect(desiredSchedule({ ...base, origin: 'seed', enabled: false }, { temporal }).specHash).toBe(h);
    const changed = [
      { ...base, cron: '0 3 * * *' },
      { ...base, timezone: 'Europe/Berlin' },
      { ...base, jitter: '30s' },
      { ...base, overlap: 'BUFFER_ONE' as const },
      { ...base, catchupWindow: '1d' },
      { ...base, pauseOnFailure: true },
      { ...base, hostId: 'db-2' },
    ];
    for (const c of changed) expect(desiredSchedule(c, { temporal }).specHash, JSON.stringify(c)).not.toBe(h);
    expect(desiredSchedule(base, { temporal: { ...temporal, taskQueue: 'other' } }).specHash).not.toBe(h);
  });

  it('desiredSchedules sorts by id', () => {
    const ids = desiredSchedules({ temporal, schedules: [{ ...base, hostId: 'b' }, { ...base, hostId: 'a' }] }).map((d) => d.scheduleId);
    expect(ids).toEqual(['mcp-runbooks.health-check.a', 'mcp-runbooks.health-check.b']);
  });
});

describe('marks', () => {
  it.each([
    [undefined, undefined],
    [{}, undefined],
    [{ [MARK_MEMO_KEY]: 'mcp-runbooks' }, undefined],
    [{ [MARK_MEMO_KEY]: { managedBy: 'someone-else', taskQueue: 'q' } }, undefined],
    [{ [MARK_MEMO_KEY]: { managedBy: 'mcp-runbooks', taskQueue: 'q', runbook: 'r', hostId: 'h' } }, { managedBy: 'mcp-runbooks', taskQueue: 'q', runbook: 'r', hostId: 'h' }],
  ])('readMark(%j)', (memo, want) => {
    expect(readMark(memo as Record<string, unknown> | undefined)).toEqual(want);
  });

  it('ours means marked by mcp-runbooks for this task queue', () => {
    const mark = { managedBy: 'mcp-runbooks' as const, taskQueue: 'q', runbook: 'r', hostId: 'h' };
    expect(isOurs(mark, 'q')).toBe(true);
    expect(isOurs(mark, 'other')).toBe(false);
    expect(isOurs(undefined, 'q')).toBe(false);
  });

  it('readAppliedSpec needs a hash', () => {
    expect(readAppliedSpec({ [APPLIED_MEMO_KEY]: { scheduleId: 'x' } })).toBeUndefined();
    expect(readAppliedSpec({ [APPLIED_MEMO_KEY]: { scheduleId: 'x', specHash: 'abc', summary: 's' } })).toEqual({ scheduleId: 'x', specHash: 'abc', summary: 's' });
  });
});

describe('a fleet schedule (hosts: <selector>)', () => {
  const fleet: ScheduleConfig = {
    ...base,
    runbook: 'daily',
    hostId: 'role=db,region=eu',
    fleet: { selector: 'role=db,region=eu', hosts: ['db-1', 'db-2'], labels: {}, policy: { maxParallel: 1, canary: 1 } },
  };

  it('is one schedule that starts the fleet runbook over the hosts selected at load, with its policy, on time', () => {
    const d = desiredSchedule(fleet, { temporal });
    expect(d.scheduleId).toBe('mcp-runbooks.fleet.daily.role-db_region-eu');
    expect(d.hostId).toBe('role=db,region=eu');
    expect(d.options.spec.jitter).toBe(0);
    expect(d.options.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'fleet',
      taskQueue: 'mcp-runbooks',
      args: [{ runbook: 'daily', hosts: ['db-1', 'db-2'], selector: 'role=db,region=eu', policy: { maxParallel: 1, canary: 1 } }],
      workflowId: 'fleet-daily-role-db_region-eu',
      staticSummary: 'daily on role=db,region=eu (fleet schedule, 2 hosts)',
    });
    expect(d.summary).toBe('cron "0 2 * * *" UTC, overlap SKIP, catch-up 1h, fleet of role=db,region=eu (db-1, db-2), 1 at once, canary 1');
    // What it starts is an input the fleet accepts.
    expect(parseFleetInput((d.options.action as { args: unknown[] }).args[0]).ok).toBe(true);
  });

  it('a per-host jitter: every host at once, each after its own wait up to the jitter, no failure stops the others', () => {
    const d = desiredSchedule({ ...fleet, jitter: '10m', fleet: { ...fleet.fleet!, policy: {} } }, { temporal });
    expect(d.options.spec.jitter).toBe(0);
    expect((d.options.action as { args: unknown[] }).args[0]).toMatchObject({ policy: { maxParallel: '100%', jitterSeconds: 600, maxFailures: 2 } });
    expect(d.summary).toContain('jitter 10m per host, fleet of role=db,region=eu (db-1, db-2), every host at once');
  });

  it('an inventory change (another host selected) changes the hash: the next apply updates the schedule', () => {
    const h = desiredSchedule(fleet, { temporal }).specHash;
    expect(desiredSchedule({ ...fleet, fleet: { ...fleet.fleet!, hosts: ['db-1', 'db-2', 'db-3'] } }, { temporal }).specHash).not.toBe(h);
    expect(desiredSchedule({ ...fleet, fleet: { ...fleet.fleet!, policy: { maxParallel: 2 } } }, { temporal }).specHash).not.toBe(h);
  });
});
