/**
 * Reports are data: every check yields a {@link Finding}; a runbook's result is a
 * {@link RunbookReport}. Pure code, shared by workflows, activities and the CLI.
 */

export const FINDING_STATUSES = ['ok', 'warn', 'fail'] as const;
/** Outcome of one check: `ok`, `warn` (look at it), `fail` (act on it). */
export type FindingStatus = (typeof FINDING_STATUSES)[number];

/** The outcome of one check or action. */
export interface Finding {
  /** Stable check id, e.g. `service.mcp-memory` or `system.disk`. */
  check: string;
  status: FindingStatus;
  /** One sentence for a human. */
  message: string;
  /** Measured values, JSON only. Never a secret. */
  data: Record<string, unknown>;
}

export interface ReportSummary {
  /** Worst status among the findings (`ok` when there are none). */
  status: FindingStatus;
  ok: number;
  warn: number;
  fail: number;
  /** e.g. `7 ok, 1 warn, 0 fail; failed: service.mcp-memory` */
  text: string;
}

/** What every runbook workflow returns. */
export interface RunbookReport {
  runbook: string;
  hostId: string;
  /** ISO 8601 times (workflow time). */
  startedAt: string;
  finishedAt: string;
  findings: Finding[];
  summary: ReportSummary;
}

const RANK: Record<FindingStatus, number> = { ok: 0, warn: 1, fail: 2 };

export function worstStatus(statuses: Iterable<FindingStatus>): FindingStatus {
  let worst: FindingStatus = 'ok';
  for (const s of statuses) if (RANK[s] > RANK[worst]) worst = s;
  return worst;
}

export function summarize(findings: readonly Finding[]): ReportSummary {
  const count = { ok: 0, warn: 0, fail: 0 };
  for (const f of findings) count[f.status] += 1;
  const status = worstStatus(findings.map((f) => f.status));
  const failed = findings.filter((f) => f.status === 'fail').map((f) => f.check);
  const warned = findings.filter((f) => f.status === 'warn').map((f) => f.check);
  let text = `${count.ok} ok, ${count.warn} warn, ${count.fail} fail`;
  if (failed.length) text += `; failed: ${failed.join(', ')}`;
  if (warned.length) text += `; warnings: ${warned.join(', ')}`;
  return { status, ...count, text };
}

export function buildReport(init: {
  runbook: string;
  hostId: string;
  startedAt: Date;
  finishedAt: Date;
  findings: Finding[];
}): RunbookReport {
  return {
    runbook: init.runbook,
    hostId: init.hostId,
    startedAt: init.startedAt.toISOString(),
    finishedAt: init.finishedAt.toISOString(),
    findings: init.findings,
    summary: summarize(init.findings),
  };
}

/** Shorthand for building a finding. */
export function finding(
  check: string,
  status: FindingStatus,
  message: string,
  data: Record<string, unknown> = {},
): Finding {
  return { check, status, message, data };
}
