/**
 * Every runbook reports how it ended to the worker's metrics through a sink:
 * runs by outcome, duration, last success, findings by status, downtime, backup
 * size. Sinks run outside the workflow sandbox and are not called on replay.
 */
import { isCancellation, proxySinks, type Sinks } from '@temporalio/workflow';
import type { RunbookOutcome } from '../common/outcome.js';
import type { RunbookReport } from '../common/report.js';

export interface RunbookSinks extends Sinks {
  runbooks: {
    ended(outcome: RunbookOutcome): void;
  };
}

const { runbooks } = proxySinks<RunbookSinks>();

/**
 * Runs a runbook's body and reports its end; `host` names the host once routing to it succeeded, and is
 * 'unknown' before (never raw input: it becomes a metric label). `completed`
 * says what a completed run was: a dry run or a declined recovery did nothing, so it is not a `success`.
 */
export async function measured<T extends RunbookReport>(
  runbook: string,
  host: () => string,
  fn: () => Promise<T>,
  completed: (report: T) => 'success' | 'dry-run' | 'declined' = () => 'success',
): Promise<T> {
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 100) / 10;
  try {
    const report = await fn();
    const outcome = completed(report);
    if (outcome !== 'success') {
      runbooks.ended({ runbook, hostId: report.hostId, outcome, seconds: seconds(), endedAt: new Date().toISOString() });
      return report;
    }
    const extra = report as RunbookReport & { downtime?: Array<{ service: string; seconds: number }>; archive?: { bytes: number } };
    runbooks.ended({
      runbook,
      hostId: report.hostId,
      outcome: 'success',
      seconds: seconds(),
      endedAt: new Date().toISOString(),
      findings: { ok: report.summary.ok, warn: report.summary.warn, fail: report.summary.fail },
      ...(extra.downtime?.length ? { downtime: extra.downtime.map((d) => ({ service: d.service, seconds: d.seconds })) } : {}),
      ...(extra.archive ? { archiveBytes: extra.archive.bytes } : {}),
    });
    return report;
  } catch (err) {
    runbooks.ended({ runbook, hostId: host(), outcome: isCancellation(err) ? 'cancelled' : 'failure', seconds: seconds(), endedAt: new Date().toISOString() });
    throw err;
  }
}
