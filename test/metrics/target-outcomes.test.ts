/**
 * recordTargetOutcome, read back from the registry's exposition text (what
 * Prometheus scrapes): each target's series move alone, never back in time,
 * and verification is a 0/1 gauge. The Offsite* alerts read exactly these lines.
 * A backup that failed only on restic targets, its archive target having
 * stored it, moves those targets' series and not the host's last failure
 * (BackupFailed), so the alert that fires names the target.
 */
import { describe, expect, it } from 'vitest';
import { failedOnlyOffsite, type RunbookOutcome, type TargetOutcome } from '../../src/common/outcome.js';
import { createWorkerMetrics } from '../../src/metrics/registry.js';
import { recordRunbookOutcome, recordTargetOutcome } from '../../src/metrics/runbook-sink.js';

const HOST = 'db-1';
const T = (iso: string) => Date.parse(iso) / 1000;

/** The sample lines of every `mcp_runbooks_backup_target_*` metric, sorted (HELP and TYPE left out). */
async function targetLines(...outcomes: TargetOutcome[]): Promise<string[]> {
  const m = createWorkerMetrics({ role: 'orchestrator', hostId: HOST });
  for (const o of outcomes) recordTargetOutcome(m, o);
  const text = await m.registry.metrics();
  return text
    .split('\n')
    .filter((l) => l.startsWith('mcp_runbooks_backup_target_'))
    .sort();
}

const step = (target: string, type: TargetOutcome['type'], o: Pick<TargetOutcome, 'outcome' | 'endedAt'> & Partial<TargetOutcome>): TargetOutcome => ({ hostId: HOST, target, type, ...o });
const labels = (target: string, type: string) => `host="${HOST}",target="${target}",type="${type}"`;

describe('recordTargetOutcome (exposition text)', () => {
  it('on one host, a failing target and a succeeding target each move only their own series', async () => {
    const lines = await targetLines(
      step('offsite', 'restic', { outcome: 'failure', endedAt: '2026-12-01T02:20:00Z', message: 'repository unreachable' }),
      step('nas', 'restic', {
        outcome: 'success',
        endedAt: '2026-12-01T02:30:00Z',
        bytesAdded: 4096,
        repositoryBytes: 1_000_000,
        snapshots: 7,
        verification: { ok: true, at: '2026-12-01T02:29:00Z', full: false },
      }),
    );
    const nas = labels('nas', 'restic');
    const offsite = labels('offsite', 'restic');
    expect(lines).toEqual(
      [
        `mcp_runbooks_backup_target_runs_total{${offsite},outcome="failure"} 1`,
        `mcp_runbooks_backup_target_last_failure_timestamp_seconds{${offsite}} ${T('2026-12-01T02:20:00Z')}`,
        `mcp_runbooks_backup_target_runs_total{${nas},outcome="success"} 1`,
        `mcp_runbooks_backup_target_last_success_timestamp_seconds{${nas}} ${T('2026-12-01T02:30:00Z')}`,
        `mcp_runbooks_backup_target_bytes_added_bytes{${nas}} 4096`,
        `mcp_runbooks_backup_target_repository_bytes{${nas}} 1000000`,
        `mcp_runbooks_backup_target_snapshots{${nas}} 7`,
        `mcp_runbooks_backup_target_verification_ok{${nas}} 1`,
        `mcp_runbooks_backup_target_last_verified_timestamp_seconds{${nas}} ${T('2026-12-01T02:29:00Z')}`,
      ].sort(),
    );
    // The failed target has no success, size or verification series: OffsiteBackupTooOld's "never succeeded" case.
    expect(lines.filter((l) => l.includes('target="offsite"') && !/runs_total|last_failure/.test(l))).toEqual([]);
  });

  it('an archive target and a restic target on one host keep their own type label', async () => {
    const lines = await targetLines(
      step('local', 'archive', { outcome: 'success', endedAt: '2026-12-01T02:10:00Z', bytesAdded: 5000 }),
      step('offsite', 'restic', { outcome: 'success', endedAt: '2026-12-01T02:20:00Z', bytesAdded: 300 }),
    );
    expect(lines.filter((l) => l.startsWith('mcp_runbooks_backup_target_bytes_added_bytes'))).toEqual(
      [`mcp_runbooks_backup_target_bytes_added_bytes{${labels('local', 'archive')}} 5000`, `mcp_runbooks_backup_target_bytes_added_bytes{${labels('offsite', 'restic')}} 300`].sort(),
    );
  });

  it('an older success arriving after a newer one does not take back the last success, sizes or verification', async () => {
    const lines = await targetLines(
      step('offsite', 'restic', { outcome: 'success', endedAt: '2026-12-02T02:00:00Z', bytesAdded: 200, repositoryBytes: 9000, snapshots: 8, verification: { ok: true, at: '2026-12-02T01:59:00Z', full: false } }),
      step('offsite', 'restic', { outcome: 'success', endedAt: '2026-12-01T02:00:00Z', bytesAdded: 100, repositoryBytes: 8000, snapshots: 7, verification: { ok: false, at: '2026-12-01T01:59:00Z', full: false } }),
    );
    const l = labels('offsite', 'restic');
    expect(lines).toContain(`mcp_runbooks_backup_target_last_success_timestamp_seconds{${l}} ${T('2026-12-02T02:00:00Z')}`);
    expect(lines).toContain(`mcp_runbooks_backup_target_bytes_added_bytes{${l}} 200`);
    expect(lines).toContain(`mcp_runbooks_backup_target_repository_bytes{${l}} 9000`);
    expect(lines).toContain(`mcp_runbooks_backup_target_snapshots{${l}} 8`);
    expect(lines).toContain(`mcp_runbooks_backup_target_verification_ok{${l}} 1`);
    // Both steps ended: both are counted, late or not.
    expect(lines).toContain(`mcp_runbooks_backup_target_runs_total{${l},outcome="success"} 2`);
  });

  it('an older failure arriving after a newer one does not take back the last failure', async () => {
    const lines = await targetLines(
      step('offsite', 'restic', { outcome: 'failure', endedAt: '2026-12-02T02:00:00Z' }),
      step('offsite', 'restic', { outcome: 'failure', endedAt: '2026-12-01T02:00:00Z' }),
    );
    expect(lines).toContain(`mcp_runbooks_backup_target_last_failure_timestamp_seconds{${labels('offsite', 'restic')}} ${T('2026-12-02T02:00:00Z')}`);
  });

  it('a failure after a success keeps the last success, so last failure > last success (OffsiteBackupFailed)', async () => {
    const lines = await targetLines(
      step('offsite', 'restic', { outcome: 'success', endedAt: '2026-12-01T02:00:00Z', bytesAdded: 100 }),
      step('offsite', 'restic', { outcome: 'failure', endedAt: '2026-12-02T02:00:00Z' }),
    );
    const l = labels('offsite', 'restic');
    expect(lines).toContain(`mcp_runbooks_backup_target_last_success_timestamp_seconds{${l}} ${T('2026-12-01T02:00:00Z')}`);
    expect(lines).toContain(`mcp_runbooks_backup_target_last_failure_timestamp_seconds{${l}} ${T('2026-12-02T02:00:00Z')}`);
    expect(lines).toContain(`mcp_runbooks_backup_target_bytes_added_bytes{${l}} 100`);
  });

  it.each([
    { ok: true, value: 1 },
    { ok: false, value: 0 },
  ])('verification ok=$ok sets the gauge to $value (OffsiteBackupNotVerified fires on 0)', async ({ ok, value }) => {
    const lines = await targetLines(step('offsite', 'restic', { outcome: 'success', endedAt: '2026-12-01T02:00:00Z', verification: { ok, at: '2026-12-01T01:58:00Z', full: false } }));
    const l = labels('offsite', 'restic');
    expect(lines).toContain(`mcp_runbooks_backup_target_verification_ok{${l}} ${value}`);
    expect(lines).toContain(`mcp_runbooks_backup_target_last_verified_timestamp_seconds{${l}} ${T('2026-12-01T01:58:00Z')}`);
  });

  it('a check that failed inside a failed backup step turns verification to 0 (the step failed because of it)', async () => {
    const lines = await targetLines(
      step('offsite', 'restic', { outcome: 'success', endedAt: '2026-12-01T02:00:00Z', verification: { ok: true, at: '2026-12-01T01:59:00Z', full: false } }),
      step('offsite', 'restic', { outcome: 'failure', endedAt: '2026-12-02T02:00:00Z', verification: { ok: false, at: '2026-12-02T01:59:00Z', full: false }, message: 'pack 1a2b damaged' }),
    );
    const l = labels('offsite', 'restic');
    expect(lines).toContain(`mcp_runbooks_backup_target_verification_ok{${l}} 0`);
    expect(lines).toContain(`mcp_runbooks_backup_target_last_verified_timestamp_seconds{${l}} ${T('2026-12-02T01:59:00Z')}`);
    expect(lines).toContain(`mcp_runbooks_backup_target_last_success_timestamp_seconds{${l}} ${T('2026-12-01T02:00:00Z')}`);
  });

  it('an older `backups verify --target` arriving after a newer backup check does not take the verification back', async () => {
    // One clock for both kinds of run: ordered by when the check ran.
    const lines = await targetLines(
      step('offsite', 'restic', { outcome: 'success', endedAt: '2026-12-02T02:00:00Z', verification: { ok: true, at: '2026-12-02T01:59:00Z', full: false } }),
      step('offsite', 'restic', { verifyOnly: true, outcome: 'failure', endedAt: '2026-12-01T09:00:00Z', verification: { ok: false, at: '2026-12-01T09:00:00Z', full: true } }),
    );
    const l = labels('offsite', 'restic');
    expect(lines).toContain(`mcp_runbooks_backup_target_verification_ok{${l}} 1`);
    expect(lines).toContain(`mcp_runbooks_backup_target_last_verified_timestamp_seconds{${l}} ${T('2026-12-02T01:59:00Z')}`);
  });

  it('the same target name on two hosts: two series, the older one does not lose to the newer', async () => {
    const lines = await targetLines(
      step('offsite', 'restic', { outcome: 'success', endedAt: '2026-12-02T02:00:00Z' }),
      { ...step('offsite', 'restic', { outcome: 'success', endedAt: '2026-12-01T02:00:00Z' }), hostId: 'db-2' },
    );
    expect(lines.filter((l) => l.startsWith('mcp_runbooks_backup_target_last_success'))).toEqual(
      [
        `mcp_runbooks_backup_target_last_success_timestamp_seconds{${labels('offsite', 'restic')}} ${T('2026-12-02T02:00:00Z')}`,
        `mcp_runbooks_backup_target_last_success_timestamp_seconds{host="db-2",target="offsite",type="restic"} ${T('2026-12-01T02:00:00Z')}`,
      ].sort(),
    );
  });

  it('a newer `backups verify --target` that failed turns verification to 0 and moves nothing else', async () => {
    const lines = await targetLines(
      step('offsite', 'restic', { outcome: 'success', endedAt: '2026-12-01T02:00:00Z', verification: { ok: true, at: '2026-12-01T01:59:00Z', full: false } }),
      step('offsite', 'restic', { verifyOnly: true, outcome: 'failure', endedAt: '2026-12-01T09:00:00Z', verification: { ok: false, at: '2026-12-01T09:00:00Z', full: true } }),
    );
    const l = labels('offsite', 'restic');
    expect(lines).toContain(`mcp_runbooks_backup_target_verification_ok{${l}} 0`);
    expect(lines).toContain(`mcp_runbooks_backup_target_last_verified_timestamp_seconds{${l}} ${T('2026-12-01T09:00:00Z')}`);
    expect(lines).toContain(`mcp_runbooks_backup_target_runs_total{${l},outcome="success"} 1`);
    expect(lines.filter((x) => x.startsWith('mcp_runbooks_backup_target_last_failure'))).toEqual([]);
  });
});

describe('a backup that failed only on a restic target', () => {
  it.each([
    { targets: [{ type: 'archive', ok: true }, { type: 'restic', ok: false }], only: true },
    { targets: [{ type: 'archive', ok: true }, { type: 'restic', ok: false }, { type: 'restic', ok: true }], only: true },
    { targets: [{ type: 'archive', ok: false }, { type: 'restic', ok: true }], only: false },
    { targets: [{ type: 'archive', ok: false }, { type: 'restic', ok: false }], only: false },
    // No archive target stored it: the host may have no backup at all.
    { targets: [{ type: 'restic', ok: false }, { type: 'restic', ok: true }], only: false },
    { targets: [{ type: 'archive', ok: true }, { type: 'restic', ok: true }], only: false },
    // Failed before any target (the snapshot, the dump): no report of targets.
    { targets: undefined, only: false },
  ] as const)('$targets: only offsite = $only', ({ targets, only }) => {
    expect(failedOnlyOffsite(targets)).toBe(only);
  });

  it("moves the target's last failure and leaves the host's last failure (BackupFailed) where it was", async () => {
    const m = createWorkerMetrics({ role: 'orchestrator', hostId: HOST });
    const run = (o: Partial<RunbookOutcome> & Pick<RunbookOutcome, 'outcome' | 'endedAt'>) => recordRunbookOutcome(m, { runbook: 'backup', hostId: HOST, seconds: 60, ...o });
    run({ outcome: 'failure', endedAt: '2026-12-01T02:00:00Z' });
    run({ outcome: 'success', endedAt: '2026-12-02T02:00:00Z' });
    recordTargetOutcome(m, step('offsite', 'restic', { outcome: 'failure', endedAt: '2026-12-03T02:10:00Z', message: 'repository unreachable' }));
    run({ outcome: 'failure', endedAt: '2026-12-03T02:11:00Z', offsiteOnly: true });
    const lines = (await m.registry.metrics()).split('\n');
    const backup = `runbook="backup",host="${HOST}"`;
    expect(lines).toContain(`mcp_runbooks_runbook_last_failure_timestamp_seconds{${backup}} ${T('2026-12-01T02:00:00Z')}`);
    expect(lines).toContain(`mcp_runbooks_runbook_last_success_timestamp_seconds{${backup}} ${T('2026-12-02T02:00:00Z')}`);
    expect(lines).toContain(`mcp_runbooks_backup_target_last_failure_timestamp_seconds{${labels('offsite', 'restic')}} ${T('2026-12-03T02:10:00Z')}`);
    // Still a failed run.
    expect(lines).toContain(`mcp_runbooks_runbook_runs_total{${backup},outcome="failure"} 2`);
    // Any other failure moves the host's last failure.
    run({ outcome: 'failure', endedAt: '2026-12-04T02:00:00Z' });
    expect((await m.registry.metrics()).split('\n')).toContain(`mcp_runbooks_runbook_last_failure_timestamp_seconds{${backup}} ${T('2026-12-04T02:00:00Z')}`);
  });
});
