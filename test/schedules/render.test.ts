import { describe, expect, it } from 'vitest';
import type { ScheduleConfig } from '../../src/config/config.js';
import type { AppliedChange } from '../../src/schedules/apply.js';
import { renderChanges, renderStatuses } from '../../src/schedules/render.js';
import { desiredSchedule } from '../../src/schedules/spec.js';
import type { ScheduleStatus } from '../../src/schedules/status.js';

const d = desiredSchedule(
  { runbook: 'health-check', hostId: 'db-1', every: '15m', timezone: 'UTC', jitter: '0s', overlap: 'SKIP', catchupWindow: '1m', pauseOnFailure: false, enabled: true, origin: 'config' } satisfies ScheduleConfig,
  { temporal: { namespace: 'default', taskQueue: 'mcp-runbooks' } },
);
const changes: AppliedChange[] = [
  { kind: 'create', scheduleId: d.scheduleId, reason: 'declared, not in Temporal', desired: d },
  { kind: 'unchanged', scheduleId: 'mcp-runbooks.health-check.db-2', reason: 'as declared; stays paused: "disk swap"', existing: { scheduleId: 'x', paused: true, note: 'disk swap' } },
  { kind: 'delete', scheduleId: 'mcp-runbooks.health-check.db-3', reason: 'no longer declared', error: 'permission denied' },
  { kind: 'conflict', scheduleId: 'mcp-runbooks.health-check.db-4', reason: 'exists and is managed by something else (no mcp-runbooks mark); left untouched' },
];

describe('renderChanges', () => {
  it('one line per schedule, failures under it, then counts', () => {
    expect(renderChanges(changes)).toEqual([
      '  + create     mcp-runbooks.health-check.db-1 health-check on db-1: every 15m, overlap SKIP, catch-up 1m',
      '  = unchanged  mcp-runbooks.health-check.db-2 (paused: "disk swap")',
      '  - delete     mcp-runbooks.health-check.db-3 (no longer declared)\n      FAILED: permission denied',
      '  ! conflict   mcp-runbooks.health-check.db-4 (exists and is managed by something else (no mcp-runbooks mark); left untouched)',
      'schedules: 1 created, 0 updated, 1 deleted, 1 unchanged, 1 in conflict, 1 failed',
    ]);
  });

  it('a dry run says what would change', () => {
    const lines = renderChanges(changes.slice(0, 1), { dryRun: true });
    expect(lines[0]).toMatch(/^ {2}\+ would create {5}mcp-runbooks\.health-check\.db-1 /);
    expect(lines.at(-1)).toBe('schedules (dry run, nothing changed): 1 to create, 0 to update, 0 to delete, 0 unchanged');
  });
});

describe('renderStatuses', () => {
  const status: ScheduleStatus = {
    scheduleId: d.scheduleId,
    ownership: 'ours',
    declared: true,
    runbook: 'health-check',
    hostId: 'db-1',
    workflowType: 'healthCheck',
    summary: d.summary,
    paused: true,
    note: 'disk swap',
    nextRuns: [new Date('2026-11-24T00:30:00Z')],
    recentRuns: [
      { scheduledAt: new Date('2026-11-24T00:00:00Z'), startedAt: new Date('2026-11-24T00:00:00.1Z'), workflowId: 'health-check-db-1-2026-11-24T00:00:00Z', runId: 'r1', outcome: 'FAILED' },
      { scheduledAt: new Date('2026-11-24T00:15:00Z'), startedAt: new Date('2026-11-24T00:15:00.1Z'), workflowId: 'health-check-db-1-2026-11-24T00:15:00Z', runId: 'r2', outcome: 'COMPLETED' },
    ],
    running: 0,
    actionsTaken: 2,
    missedCatchupWindow: 3,
    skippedOverlap: 1,
    lastSuccessAt: new Date('2026-11-24T00:15:01.204Z'),
  };

  it('pause and why, next and recent runs (newest first), counts and last success', () => {
    expect(renderStatuses([status])).toEqual([
      'mcp-runbooks.health-check.db-1  health-check on db-1',
      '  state:   PAUSED: disk swap',
      '  when:    every 15m, overlap SKIP, catch-up 1m',
      '  next:    (paused) 2026-11-24T00:30:00Z',
      '  recent:  2026-11-24T00:15:00Z  COMPLETED  health-check-db-1-2026-11-24T00:15:00Z',
      '           2026-11-24T00:00:00Z  FAILED     health-check-db-1-2026-11-24T00:00:00Z',
      '  runs:    2 started, 0 running, 3 missed (catch-up window), 1 skipped (overlap); last success 2026-11-24T00:15:01.204Z',
    ]);
  });

  it('marks schedules that are not ours', () => {
    const [foreign] = renderStatuses([{ ...status, ownership: 'foreign', recentRuns: [], lastSuccessAt: undefined } as ScheduleStatus]);
    expect(foreign).toBe('mcp-runbooks.health-check.db-1  healthCheck, foreign: not managed by mcp-runbooks');
  });
});
