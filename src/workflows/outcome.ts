/**
 * Every runbook reports how it ended to the worker's metrics through a sink:
 * runs by outcome, duration, last success, findings by status, downtime, backup
 * size. Sinks run outside the workflow sandbox and are not called on replay.
 */
import { proxySinks, type Sinks } from '@temporalio/workflow';
import type { RunbookOutcome, RunbookOutcomeKind, TargetOutcome } from '../common/outcome.js';
import type { RunbookReport } from '../common/report.js';

export interface RunbookSinks extends Sinks {
  runbooks: {
    ended(outcome: RunbookOutcome): void;
    /** One backup target's result in a backup run. */
    target(outcome: TargetOutcome): void;
  };
}

const { runbooks } = proxySinks<RunbookSinks>();

/**
 * Reports a run's end. `host` is 'unknown' until routing succeeded (never raw
 * input: it becomes a metric label). Findings, downtime and archive size are
 * sent only for a success: a dry run or a declined recovery changed nothing.
 */
export function reportEnd(runbook: string, host: string, outcome: RunbookOutcomeKind, seconds: number, report?: RunbookReport): void {
  const endedAt = new Date().toISOString();
  if (outcome !== 'success' || !report?.summary) {
    runbooks.ended({ runbook, hostId: host, outcome, seconds, endedAt });
    return;
  }
  const extra = report as RunbookReport & { downtime?: Array<{ service: string; seconds: number }>; archive?: { bytes: number } };
  runbooks.ended({
    runbook,
    hostId: host,
    outcome,
    seconds,
    endedAt,
    findings: { ok: report.summary.ok, warn: report.summary.warn, fail: report.summary.fail },
    ...(extra.downtime?.length ? { downtime: extra.downtime.map((d) => ({ service: d.service, seconds: d.seconds })) } : {}),
    ...(extra.archive ? { archiveBytes: extra.archive.bytes } : {}),
  });
}

/** Reports how one backup target fared (per-target metrics and alerts). */
export function reportTarget(outcome: TargetOutcome): void {
  runbooks.target(outcome);
}
