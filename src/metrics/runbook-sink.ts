/** The worker side of the `runbooks` workflow sink: runbook outcomes into the metrics. */
import type { InjectedSinks } from '@temporalio/worker';
import type { RunbookOutcome } from '../common/outcome.js';
import type { RunbookSinks } from '../workflows/outcome.js';
import type { WorkerMetrics } from './registry.js';

export function recordRunbookOutcome(m: WorkerMetrics, o: RunbookOutcome): void {
  const labels = { runbook: o.runbook, host: o.hostId };
  const at = Date.parse(o.endedAt) / 1000;
  m.runbookRuns.inc({ ...labels, outcome: o.outcome });
  // A dry run or a declined recovery changed nothing: counted, but no duration, last success or findings.
  // Refused input ran nothing either.
  if (o.outcome === 'dry-run' || o.outcome === 'declined' || o.outcome === 'invalid-input') return;
  m.runbookDuration.observe(labels, o.seconds);
  if (o.outcome === 'success') {
    m.runbookLastSuccess.set(labels, at);
    if (o.findings) for (const status of ['ok', 'warn', 'fail'] as const) m.findings.set({ ...labels, status }, o.findings[status]);
    if (o.archiveBytes !== undefined && o.runbook === 'backup') m.backupLastSize.set({ host: o.hostId }, o.archiveBytes);
  } else if (o.outcome === 'failure' || o.outcome === 'timed-out') {
    m.runbookLastFailure.set(labels, at);
  }
  for (const d of o.downtime ?? []) m.runbookDowntime.inc({ ...labels, service: d.service }, d.seconds);
}

export function runbookSinks(m: WorkerMetrics): InjectedSinks<RunbookSinks> {
  return {
    runbooks: {
      ended: { fn: (_info, outcome) => recordRunbookOutcome(m, outcome), callDuringReplay: false },
    },
  };
}
