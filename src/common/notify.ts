/**
 * Notifications out: what a run tells the `notify` targets, and which targets
 * want which events. Pure code, shared by the workflows (which decide when an
 * event happens) and the orchestrator's delivery activity (which sends it).
 */
import type { RunOutcome } from './search-attributes.js';

/**
 * What happened. A completed run is `success`, `warn` or `failure` by its report's
 * worst finding (a health check that found a service down completed, but failed);
 * a run that failed, passed its deadline or was cancelled is `failure`,
 * `timed-out` or `cancelled`.
 */
export const NOTIFY_EVENTS = ['started', 'waiting-for-approval', 'success', 'warn', 'failure', 'timed-out', 'cancelled', 'declined', 'dry-run', 'invalid-input'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export const NOTIFY_KINDS = ['webhook', 'slack', 'healthchecks'] as const;
export type NotifyKind = (typeof NOTIFY_KINDS)[number];

/** What each kind sends when a target names no `events`. */
export const DEFAULT_NOTIFY_EVENTS: Record<NotifyKind, readonly NotifyEvent[]> = {
  // Our JSON, for programs: everything but the start.
  webhook: ['waiting-for-approval', 'success', 'warn', 'failure', 'timed-out', 'cancelled', 'declined', 'dry-run', 'invalid-input'],
  // A chat channel: what a human must look at.
  slack: ['waiting-for-approval', 'warn', 'failure', 'timed-out', 'cancelled'],
  // A dead man's switch: /start, then the base URL or /fail.
  healthchecks: ['started', 'success', 'warn', 'failure', 'timed-out', 'cancelled', 'invalid-input'],
};

/** Where one run's events may go: what the workflow asks the orchestrator once, after routing. */
export interface NotifyScope {
  /** `mcp-runbooks run` name (`backup`, `restart-service`, `disaster-recovery`). */
  runbook: string;
  hostId: string;
  /** Started by a schedule (`TemporalScheduledById` set). */
  scheduled: boolean;
}

/** One event of one run. No secret: it is workflow input of the delivery. */
export interface RunEvent extends NotifyScope {
  event: NotifyEvent;
  /** How Temporal will record the run (`running` while it goes on). */
  outcome: RunOutcome;
  workflowId: string;
  runId: string;
  /** One line: the report's summary, the failure's message, or what waits for approval. */
  summary: string;
  /** The failure type (`BackupFailed`, `DeadlineExceeded`, ...) of a run that failed. */
  failureType?: string;
  /** For `waiting-for-approval`: the command that approves. */
  approveCommand?: string;
  /** ISO 8601, workflow time. */
  at: string;
}

/** How a target filters (the resolved `notify.targets[]` without its URL). */
export interface NotifyFilter {
  name: string;
  kind: NotifyKind;
  runbooks: readonly string[];
  hosts: readonly string[];
  events: readonly NotifyEvent[];
  scheduledOnly: boolean;
}

export function targetWants(t: NotifyFilter, scope: NotifyScope, event?: NotifyEvent): boolean {
  if (t.scheduledOnly && !scope.scheduled) return false;
  if (!t.runbooks.includes('*') && !t.runbooks.includes(scope.runbook)) return false;
  if (!t.hosts.includes('*') && !t.hosts.includes(scope.hostId)) return false;
  return event === undefined || t.events.includes(event);
}

/** The events any target wants for a run: the workflow starts a delivery only for these. */
export function wantedEvents(targets: readonly NotifyFilter[], scope: NotifyScope): NotifyEvent[] {
  return NOTIFY_EVENTS.filter((e) => targets.some((t) => targetWants(t, scope, e)));
}

/** The event of a run's end, from its outcome and, for a completed run, its report's worst finding. */
export function endEvent(outcome: RunOutcome, reportStatus?: 'ok' | 'warn' | 'fail'): NotifyEvent {
  switch (outcome) {
    case 'success':
    case 'recovered':
      return reportStatus === 'fail' ? 'failure' : reportStatus === 'warn' ? 'warn' : 'success';
    case 'rejected':
    case 'not-approved':
      return 'declined';
    case 'dry-run':
    case 'cancelled':
    case 'timed-out':
    case 'invalid-input':
      return outcome;
    default:
      return 'failure';
  }
}

/** The Temporal UI's page of a run, or undefined without `notify.temporalUiUrl`. */
export function runLink(uiUrl: string | undefined, namespace: string, workflowId: string, runId: string): string | undefined {
  if (!uiUrl) return undefined;
  return `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}
