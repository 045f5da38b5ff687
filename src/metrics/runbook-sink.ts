/** The worker side of the `runbooks` workflow sink: runbook outcomes into the metrics. */
import type { InjectedSinks } from '@temporalio/worker';
import type { RunbookOutcome, TargetOutcome } from '../common/outcome.js';
import type { RunbookSinks } from '../workflows/outcome.js';
import type { WorkerMetrics } from './registry.js';

/** When each gauge last moved, per metrics registry: a value read back at start never overrides a newer one. */
const newest = new WeakMap<WorkerMetrics, Map<string, number>>();

function newer(m: WorkerMetrics, key: string, at: number): boolean {
  let seen = newest.get(m);
  if (!seen) newest.set(m, (seen = new Map()));
  if ((seen.get(key) ?? -Infinity) > at) return false;
  seen.set(key, at);
  return true;
}

/**
 * Records how a run ended. `restored`: read back from Temporal at start
 * (src/metrics/restore-outcomes.ts): only the gauges move, and only if newer.
 */
export function recordRunbookOutcome(m: WorkerMetrics, o: RunbookOutcome, opts: { restored?: boolean } = {}): void {
  const labels = { runbook: o.runbook, host: o.hostId };
  const at = Date.parse(o.endedAt) / 1000;
  const key = (gauge: string) => `${gauge}\u0000${o.runbook}\u0000${o.hostId}`;
  if (!opts.restored) m.runbookRuns.inc({ ...labels, outcome: o.outcome });
  // A dry run, a declined recovery or refused input changed nothing: counted, but no duration, last success or findings.
  if (o.outcome === 'dry-run' || o.outcome === 'declined' || o.outcome === 'invalid-input') return;
  if (!opts.restored) m.runbookDuration.observe(labels, o.seconds);
  if (o.outcome === 'success') {
    if (newer(m, key('success'), at)) m.runbookLastSuccess.set(labels, at);
    if (o.findings && newer(m, key('findings'), at)) for (const status of ['ok', 'warn', 'fail'] as const) m.findings.set({ ...labels, status }, o.findings[status]);
    if (o.archiveBytes !== undefined && o.runbook === 'backup') m.backupLastSize.set({ host: o.hostId }, o.archiveBytes);
    if (o.drill && newer(m, `drill\u0000${o.hostId}\u0000${o.drill.target}`, at)) {
      m.drillLastSuccess.set({ host: o.hostId, target: o.drill.target }, at);
      m.drillRestoreSeconds.set({ host: o.hostId, target: o.drill.target }, o.drill.restoreSeconds);
    }
  } else if (o.outcome === 'failure' || o.outcome === 'timed-out') {
    // Only restic targets failed, the archive target stored the backup: each failed target's own last
    // failure (OffsiteBackupFailed, naming it) says so; the host's BackupFailed is not raised for it.
    if (!o.offsiteOnly && newer(m, key('failure'), at)) m.runbookLastFailure.set(labels, at);
  }
  if (!opts.restored) for (const d of o.downtime ?? []) m.runbookDowntime.inc({ ...labels, service: d.service }, d.seconds);
}

/**
 * A backup target's result: per host and target, its last success or failure,
 * size and snapshots, and its latest verification. Each moves only when newer
 * than what it shows (a sink call can arrive late, after a newer one).
 */
export function recordTargetOutcome(m: WorkerMetrics, o: TargetOutcome, opts: { restored?: boolean } = {}): void {
  const labels = { host: o.hostId, target: o.target, type: o.type };
  const at = Date.parse(o.endedAt) / 1000;
  const key = (gauge: string) => `target-${gauge}\u0000${o.hostId}\u0000${o.target}`;
  // Whatever run brought it, and whatever the step's outcome: a check that failed inside a failed
  // backup step is the latest verification too. Ordered by when the check ran, not when the step ended.
  if (o.verification) {
    const verifiedAt = Date.parse(o.verification.at) / 1000;
    if (newer(m, key('verified'), verifiedAt)) {
      m.targetVerificationOk.set(labels, o.verification.ok ? 1 : 0);
      m.targetLastVerified.set(labels, verifiedAt);
    }
  }
  if (o.verifyOnly) return;
  if (!opts.restored) m.targetRuns.inc({ ...labels, outcome: o.outcome });
  if (o.outcome === 'failure') {
    if (newer(m, key('failure'), at)) m.targetLastFailure.set(labels, at);
    return;
  }
  if (!newer(m, key('success'), at)) return;
  m.targetLastSuccess.set(labels, at);
  if (o.bytesAdded !== undefined) m.targetBytesAdded.set(labels, o.bytesAdded);
  if (o.repositoryBytes !== undefined) m.targetRepositoryBytes.set(labels, o.repositoryBytes);
  if (o.snapshots !== undefined) m.targetSnapshots.set(labels, o.snapshots);
}

/** A host's freeze: the gauge holds when it ends while it lasts, and is removed when it is lifted or over. */
export function recordFrozen(m: WorkerMetrics, hostId: string, until: string | undefined): void {
  if (until && Date.parse(until) > Date.now()) m.hostFrozenUntil.set({ host: hostId }, Date.parse(until) / 1000);
  else m.hostFrozenUntil.remove({ host: hostId });
}

export function runbookSinks(m: WorkerMetrics): InjectedSinks<RunbookSinks> {
  return {
    runbooks: {
      ended: { fn: (_info, outcome) => recordRunbookOutcome(m, outcome), callDuringReplay: false },
      target: { fn: (_info, outcome) => recordTargetOutcome(m, outcome), callDuringReplay: false },
      frozen: { fn: (_info, f) => recordFrozen(m, f.hostId, f.until), callDuringReplay: false },
    },
  };
}
