/** The activity policy table keeps its rules for every host activity. */
import { describe, expect, it } from 'vitest';
import { ActivityCancellationType } from '@temporalio/common';
import { COUNTED_ACTIVITIES, STALL_DEFAULT_SECONDS, STEP_STALLED_ERROR } from '../../src/common/progress.js';
import { createActivities } from '../../src/activities/index.js';
import { durationMs, HOST_ACTIVITY_POLICIES, worstCaseMs } from '../../src/workflows/activity-policies.js';
import { budgetMs } from '../../src/workflows/runbook.js';
import { createTestSandbox } from '../helpers/sandbox.js';

const rows = Object.entries(HOST_ACTIVITY_POLICIES);

describe('activity policy table', () => {
  it('has a row for every host activity the worker registers, and no other', async () => {
    const sbx = await createTestSandbox({ hostId: 'policy-host' });
    try {
      expect(Object.keys(HOST_ACTIVITY_POLICIES).sort()).toEqual(Object.keys(createActivities({ config: sbx.config })).sort());
    } finally {
      await sbx.cleanup();
    }
  });

  it.each(rows)('%s: bounded retries, waits for its cancellation, heartbeat timeout, stalls retried', (_name, p) => {
    expect(p.retry.maximumAttempts).toBeGreaterThanOrEqual(1);
    expect(p.retry.maximumAttempts).toBeLessThanOrEqual(10);
    expect(p.cancellationType).toBe(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED);
    expect(durationMs(p.heartbeatTimeout)).toBeGreaterThan(0);
    expect(p.retry.nonRetryableErrorTypes).not.toContain(STEP_STALLED_ERROR);
  });

  it('an activity without a progress counter has a start-to-close within one stall window (it would fail as stalled after it)', () => {
    const uncounted = rows.filter(([name]) => !(COUNTED_ACTIVITIES as readonly string[]).includes(name));
    expect(uncounted.length).toBeGreaterThan(10);
    for (const [name, p] of uncounted) expect(durationMs(p.startToCloseTimeout), name).toBeLessThanOrEqual(STALL_DEFAULT_SECONDS * 1000);
  });

  it('no single activity, with every retry, outlives the shortest work budget of a runbook that changes the host (2 h, daily)', () => {
    const longest = Math.max(...rows.filter(([n]) => !['snapshotSource', 'dumpDatabase', 'createArchive', 'verifyBackup', 'inspectRestore', 'extractForRestore', 'stageRestore', 'stageRestoreDatabase', 'dumpCurrentDatabase', 'restoreDatabase', 'archivePreviousState', 'vacuumDatabase', 'upgradePackages', 'countLogErrors', 'checkPermissions', 'checkDiskAndCleanLogs', 'resticBackup', 'resticVerify', 'resticRetention', 'fetchFromTarget', 'inspectDrill', 'extractDrill', 'restoreDrillDatabase', 'checkDrill'].includes(n)).map(([, p]) => worstCaseMs(p)));
    expect(longest).toBeLessThanOrEqual(durationMs('2 hours'));
    // The worst case of the restart a backup registers before stopping a service: minutes, not forever.
    expect(worstCaseMs(HOST_ACTIVITY_POLICIES.startServices)).toBeLessThan(durationMs('1 hour'));
  });

  it('a deadline is the sum of its budget', () => {
    expect(budgetMs({ lockWaits: 2, work: '18 hours', approvalMs: (i: { m: number }) => i.m * 60_000 }, { m: 60 })).toBe(durationMs('31 hours'));
    expect(budgetMs({ lockWaits: 0, work: '15 minutes' }, {})).toBe(durationMs('15 minutes'));
  });
});
