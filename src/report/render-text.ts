import type { RunbookReport } from '../common/report.js';

const MARK = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;

/** A report as aligned text for a terminal or a report file. */
export function renderReportText(report: RunbookReport): string {
  const seconds = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000;
  const width = Math.max(0, ...report.findings.map((f) => f.check.length));
  const lines = [
    `${report.runbook} on host ${report.hostId}, ${report.startedAt} (${seconds.toFixed(1)}s)`,
    ...report.findings.map((f) => `  ${MARK[f.status]}  ${f.check.padEnd(width)}  ${f.message}`),
    `summary: ${report.summary.text}`,
  ];
  return `${lines.join('\n')}\n`;
}
