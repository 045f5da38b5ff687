/**
 * What `mcp-runbooks doctor` reports: one result per check, each saying what it
 * found and, when it is not `ok`, what to do. Pure: the checks that produce
 * these live beside this file, one module per thing they look at.
 */
import { WORKER_ROLES } from '../common/roles.js';

/** `ok`; `warn`: works, in a lesser way or with a caveat; `fail`: a runbook step will fail on this host until it is fixed. */
export const CHECK_STATUSES = ['ok', 'warn', 'fail'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

/** The roles doctor checks for: a worker's, or the gateway's (`mcp-runbooks gateway`). */
export const DOCTOR_ROLES = [...WORKER_ROLES, 'gateway'] as const;
export type DoctorRole = (typeof DOCTOR_ROLES)[number];

export interface CheckResult {
  /** Stable name, e.g. `tools.pg_dump`, `folders.backupDir`, `temporal.hostQueue`. */
  readonly check: string;
  readonly status: CheckStatus;
  /** What was found. */
  readonly message: string;
  /** What to do about it (set for `warn` and `fail`). */
  readonly fix?: string;
}

export const ok = (check: string, message: string): CheckResult => ({ check, status: 'ok', message });
export const warn = (check: string, message: string, fix: string): CheckResult => ({ check, status: 'warn', message, fix });
export const fail = (check: string, message: string, fix: string): CheckResult => ({ check, status: 'fail', message, fix });

export interface DoctorSummary {
  ok: number;
  warn: number;
  fail: number;
}

export function summarize(results: readonly CheckResult[]): DoctorSummary {
  const summary: DoctorSummary = { ok: 0, warn: 0, fail: 0 };
  for (const r of results) summary[r.status] += 1;
  return summary;
}

const LABEL: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

/** One line per check: `FAIL tools.pg_dump: pg_dump is not on PATH -> fix: ...`. */
export function renderCheck(r: CheckResult): string {
  return `${LABEL[r.status]} ${r.check}: ${r.message}${r.fix ? ` -> fix: ${r.fix}` : ''}`;
}
