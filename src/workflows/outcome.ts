/**
 * How a run reports itself: the search attributes every run sets (`McpRunbook`,
 * `McpHost`, `McpOutcome`), and its end to the worker's metrics through a sink
 * (runs by outcome, duration, last success, findings by status, downtime,
 * backup size). The runbook wrapper and the fleet share both. Sinks run outside
 * the workflow sandbox and are not called on replay.
 */
import { proxySinks, upsertSearchAttributes, type Sinks } from '@temporalio/workflow';
import type { RunbookOutcome, RunbookOutcomeKind, TargetOutcome } from '../common/outcome.js';
import type { RunbookReport } from '../common/report.js';
import { SEARCH_ATTRIBUTES, type RunOutcome } from '../common/search-attributes.js';

const SA = {
  runbook: { name: SEARCH_ATTRIBUTES.runbook, type: 'KEYWORD' as const },
  host: { name: SEARCH_ATTRIBUTES.host, type: 'KEYWORD' as const },
  outcome: { name: SEARCH_ATTRIBUTES.outcome, type: 'KEYWORD' as const },
};

/** Sets some of the run's search attributes (`runbook`, `host`, `outcome`). */
export function setRunAttributes(values: Partial<Record<keyof typeof SA, string>>): void {
  upsertSearchAttributes(Object.entries(values).map(([k, value]) => ({ key: SA[k as keyof typeof SA], value: value! })));
}

/** The metrics sink's kind for a run outcome. */
export function sinkKind(o: RunOutcome): RunbookOutcomeKind {
  switch (o) {
    case 'success':
    case 'recovered':
      return 'success';
    case 'dry-run':
      return 'dry-run';
    case 'rejected':
    case 'not-approved':
      return 'declined';
    case 'cancelled':
    case 'timed-out':
    case 'invalid-input':
      return o;
    default:
      return 'failure';
  }
}

export interface RunbookSinks extends Sinks {
  runbooks: {
    ended(outcome: RunbookOutcome): void;
    /** One backup target's result in a backup run. */
    target(outcome: TargetOutcome): void;
    /** A host's freeze set (`until`, ISO) or lifted (`until` undefined), from its lock workflow. */
    frozen(state: { hostId: string; until?: string }): void;
  };
}

const { runbooks } = proxySinks<RunbookSinks>();

/**
 * Reports a run's end. `host` is 'unknown' until routing succeeded (never raw
 * input: it becomes a metric label). Findings, downtime and archive size are
 * sent only for a success: a dry run or a declined recovery changed nothing.
 */
export function reportEnd(runbook: string, host: string, outcome: RunbookOutcomeKind, seconds: number, report?: RunbookReport, opts: { offsiteOnly?: boolean } = {}): void {
  const endedAt = new Date().toISOString();
  if (outcome !== 'success' || !report?.summary) {
    runbooks.ended({ runbook, hostId: host, outcome, seconds, endedAt, ...(outcome === 'failure' && opts.offsiteOnly ? { offsiteOnly: true } : {}) });
    return;
  }
  const extra = report as RunbookReport & { downtime?: Array<{ service: string; seconds: number }>; archive?: { bytes: number } | string; target?: string; restoreSeconds?: number };
  runbooks.ended({
    runbook,
    hostId: host,
    outcome,
    seconds,
    endedAt,
    findings: { ok: report.summary.ok, warn: report.summary.warn, fail: report.summary.fail },
    ...(extra.downtime?.length ? { downtime: extra.downtime.map((d) => ({ service: d.service, seconds: d.seconds })) } : {}),
    ...(typeof extra.archive === 'object' ? { archiveBytes: extra.archive.bytes } : {}),
    ...(runbook === 'restoreDrill' && extra.target !== undefined && extra.restoreSeconds !== undefined ? { drill: { target: extra.target, restoreSeconds: extra.restoreSeconds } } : {}),
  });
}

/** Reports how one backup target fared (per-target metrics and alerts). */
export function reportTarget(outcome: TargetOutcome): void {
  runbooks.target(outcome);
}

/** Reports a host's freeze to the metrics (`mcp_runbooks_host_frozen_until_timestamp_seconds`). */
export function reportFrozen(hostId: string, until: string | undefined): void {
  runbooks.frozen({ hostId, ...(until ? { until } : {}) });
}
