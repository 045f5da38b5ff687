/** Text for operators: the diff an apply prints, and the schedule list. Pure. */
import { countChanges, type ChangeKind } from './diff.js';
import type { AppliedChange } from './apply.js';
import type { ScheduleStatus } from './status.js';

const SIGN: Record<ChangeKind, string> = { create: '+', update: '~', delete: '-', unchanged: '=', conflict: '!' };

/** `2026-11-24T02:00:00Z` (milliseconds only when there are some). */
export function isoTime(d: Date): string {
  return d.toISOString().replace('.000Z', 'Z');
}

/** One line per schedule, then a summary line. */
export function renderChanges(changes: readonly AppliedChange[], opts: { dryRun?: boolean } = {}): string[] {
  const lines = changes.map((c) => {
    const what = c.desired ? `${c.desired.runbook} on ${c.desired.hostId}: ${c.desired.summary}` : '';
    const verb = `${opts.dryRun && c.kind !== 'unchanged' && c.kind !== 'conflict' ? 'would ' : ''}${c.kind}`;
    let detail: string;
    switch (c.kind) {
      case 'create':
        detail = what;
        break;
      case 'update':
        detail = `${what} (${c.reason})`;
        break;
      case 'unchanged':
        detail = c.existing?.paused ? `(paused${c.existing.note ? `: "${c.existing.note}"` : ''})` : '';
        break;
      default:
        detail = `(${c.reason})`;
    }
    const line = `  ${SIGN[c.kind]} ${verb.padEnd(opts.dryRun ? 16 : 10)} ${c.scheduleId}${detail ? ` ${detail}` : ''}`;
    return c.error ? `${line}\n      FAILED: ${c.error}` : line;
  });
  const n = countChanges(changes);
  const failed = changes.filter((c) => c.error).length;
  const parts = opts.dryRun
    ? [`${n.create} to create`, `${n.update} to update`, `${n.delete} to delete`, `${n.unchanged} unchanged`]
    : [`${n.create} created`, `${n.update} updated`, `${n.delete} deleted`, `${n.unchanged} unchanged`];
  if (n.conflict) parts.push(`${n.conflict} in conflict`);
  if (failed) parts.push(`${failed} failed`);
  lines.push(`schedules${opts.dryRun ? ' (dry run, nothing changed)' : ''}: ${parts.join(', ')}`);
  return lines;
}

/** Several lines per schedule. */
export function renderStatuses(statuses: readonly ScheduleStatus[]): string[] {
  const lines: string[] = [];
  for (const s of statuses) {
    const who =
      s.ownership === 'ours'
        ? `${s.runbook ?? s.workflowType} on ${s.hostId ?? '?'}${s.declared ? '' : ' (no longer declared: the next apply deletes it)'}`
        : s.ownership === 'other-deployment'
          ? `${s.workflowType}, managed by another mcp-runbooks config`
          : `${s.workflowType}, foreign: not managed by mcp-runbooks`;
    lines.push(`${s.scheduleId}  ${who}`);
    lines.push(`  state:   ${s.paused ? `PAUSED${s.note ? `: ${s.note}` : ''}` : 'active'}`);
    lines.push(`  when:    ${s.summary}`);
    lines.push(`  next:    ${s.paused ? '(paused) ' : ''}${s.nextRuns.map(isoTime).join(', ') || 'none'}`);
    if (s.recentRuns.length === 0) lines.push('  recent:  none yet');
    for (const [i, r] of [...s.recentRuns].reverse().slice(0, 5).entries()) {
      lines.push(`  ${i === 0 ? 'recent: ' : '        '} ${isoTime(r.scheduledAt)}  ${r.outcome.padEnd(10)} ${r.workflowId}`);
    }
    lines.push(
      `  runs:    ${s.actionsTaken} started, ${s.running} running, ${s.missedCatchupWindow} missed (catch-up window), ` +
        `${s.skippedOverlap} skipped (overlap); last success ${s.lastSuccessAt ? isoTime(s.lastSuccessAt) : 'never'}`,
    );
  }
  return lines;
}
