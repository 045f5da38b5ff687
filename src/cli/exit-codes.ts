/**
 * The one place the CLI turns outcomes into exit codes (README, "Exit codes").
 * The codes themselves and the failure-type mapping are the catalogue in
 * `src/common/failures.ts`; this module finds the failure type of what went
 * wrong and says which result counts as declined or failed.
 */
import { CommanderError } from 'commander';
import { ConfigError, TemporalUnreachableError, UsageError } from '../common/errors.js';
import { EXIT_CODES, exitCodeFor, RUNBOOK_FAILURES, type ExitCode } from '../common/failures.js';
import type { FleetCounts, FleetHostRow } from '../common/fleet.js';
import type { RunbookReport } from '../common/report.js';

export { EXIT_CODES };

const KNOWN_TYPES: ReadonlySet<string> = new Set(Object.values(RUNBOOK_FAILURES));

/**
 * The ApplicationFailure type a failed workflow ended with, from its cause chain
 * (WorkflowFailedError -> ApplicationFailure, or -> ActivityFailure -> ApplicationFailure):
 * the first type the catalogue knows, else the first type found.
 */
export function failureTypeOf(err: unknown): string | undefined {
  let first: string | undefined;
  const seen = new Set<unknown>();
  for (let e: unknown = err; e && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    // Matched by name, not instanceof: this module does not load the SDK (`--help` stays fast).
    if ((e as { name?: unknown }).name !== 'ApplicationFailure') continue;
    const type = (e as { type?: unknown }).type;
    if (typeof type !== 'string') continue;
    if (KNOWN_TYPES.has(type)) return type;
    first ??= type;
  }
  return first;
}

/** The exit code for an error a command threw (or a failed workflow it followed). */
export function exitCodeForError(err: unknown): ExitCode {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
  if (err instanceof ConfigError || err instanceof UsageError) return EXIT_CODES.usage;
  if (err instanceof TemporalUnreachableError) return EXIT_CODES.temporalUnreachable;
  if ((err as { name?: unknown } | null)?.name === 'WorkflowFailedError') return exitCodeFor(failureTypeOf(err));
  return EXIT_CODES.failed;
}

/** Outcomes of a recovery that changed nothing because nobody approved it. */
const DECLINED_RECOVERY = new Set(['rejected', 'not-approved']);
/** `approval` of weekly's `packages.upgrade` finding when the upgrade did not happen for want of approval. */
const DECLINED_UPGRADE = new Set(['rejected', 'timed out']);

/**
 * Whether a finished run did not do what it was asked for want of approval: a
 * recovery rejected or not approved in time, or a weekly package upgrade rejected
 * or left unapproved.
 */
export function isDeclined(report: RunbookReport): boolean {
  const outcome = (report as { outcome?: unknown }).outcome;
  if (typeof outcome === 'string' && DECLINED_RECOVERY.has(outcome)) return true;
  return report.findings.some((f) => f.check === 'packages.upgrade' && DECLINED_UPGRADE.has(String(f.data.approval)));
}

/**
 * A fleet's exit code: 0 when every host ended ok or warn; 3 when every host's
 * run completed and some reported `fail` findings (as `run` does for one host);
 * 1 when a host's run failed, a host was unreachable, or hosts were skipped
 * (the policy stopped the rollout, or it was aborted).
 */
export function exitCodeForFleet(r: { counts: FleetCounts; hosts: ReadonlyArray<Pick<FleetHostRow, 'state' | 'failureType'>> }): ExitCode {
  if (r.counts.ok + r.counts.warn === r.counts.total) return EXIT_CODES.ok;
  const onlyFindings = r.hosts.every((h) => h.state === 'ok' || h.state === 'warn' || (h.state === 'fail' && h.failureType === undefined));
  return onlyFindings ? EXIT_CODES.failFindings : EXIT_CODES.failed;
}

/** The exit code for a finished run's report: a `fail` finding is 3, a declined run 5, else 0. */
export function exitCodeForReport(report: RunbookReport): ExitCode {
  if (report.summary.fail > 0) return EXIT_CODES.failFindings;
  if (isDeclined(report)) return EXIT_CODES.declined;
  return EXIT_CODES.ok;
}
