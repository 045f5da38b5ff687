/** The time window of `schedules backfill`, checked before anything connects to Temporal. */
import { UsageError } from '../common/errors.js';

const EXAMPLE = '2026-11-20T00:00:00Z';

/** A flag's ISO 8601 time; a value that is not one is a usage error naming the flag. */
export function parseBackfillTime(flag: string, value: string): Date {
  // Date() alone also takes "1" (the year 2001) or "Nov 20": require a date first.
  const time = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(time.getTime())) throw new UsageError(`${flag}: expected an ISO 8601 time, e.g. ${EXAMPLE}, found "${value}"`);
  return time;
}

/** Throws a usage error unless both are valid times and `from` is before `to`. */
export function checkBackfillRange(from: Date, to: Date): void {
  if (Number.isNaN(from.getTime())) throw new UsageError(`--from: expected an ISO 8601 time, e.g. ${EXAMPLE}`);
  if (Number.isNaN(to.getTime())) throw new UsageError(`--to: expected an ISO 8601 time, e.g. ${EXAMPLE}`);
  if (from >= to) throw new UsageError(`--from (${from.toISOString()}) must be before --to (${to.toISOString()})`);
}

/** `--from` and `--to` as times, checked. */
export function backfillRange(fromText: string, toText: string): { from: Date; to: Date } {
  const from = parseBackfillTime('--from', fromText);
  const to = parseBackfillTime('--to', toText);
  checkBackfillRange(from, to);
  return { from, to };
}
