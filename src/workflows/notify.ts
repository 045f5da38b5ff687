/**
 * Notifications out, from the runbook wrapper: once routed, a run asks the
 * orchestrator which of its events any `notify` target wants (one local
 * activity); each wanted event starts a `deliverNotifications` child workflow
 * that the run abandons, so a target that is down (its retries take minutes)
 * neither delays nor changes the run's outcome. The child's activity retries;
 * a target that never answers is counted in the metrics.
 */
import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';
import type { NotificationDelivery, OrchestratorActivities } from '../activities/orchestrator.js';
import type { NotifyEvent, RunEvent } from '../common/notify.js';
import type { RunOutcome } from '../common/search-attributes.js';
import { API_RUNBOOKS } from '../runbooks.js';
import { orchestrator } from './activity-policies.js';

/** The patch id: runs recorded before notifications existed replay without them. */
export const NOTIFY_PATCH = 'notifications-v1';

const SCHEDULED_BY = defineSearchAttributeKey('TemporalScheduledById', 'KEYWORD');

const { deliverNotification } = proxyActivities<Pick<OrchestratorActivities, 'deliverNotification'>>({
  // Each target's POST is bounded by its own timeoutSeconds; a few targets in turn fit.
  startToCloseTimeout: '3 minutes',
  // About 20 minutes of retries: a receiver restarting or a short network cut is bridged.
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 8 },
});

export interface NotificationsReport extends NotificationDelivery {
  /** Set when the retries ran out: what the last attempt said. */
  failed?: string;
}

/** Delivers one event of one run to every target that wants it; never fails (the metrics show a target that is down). */
export async function deliverNotifications(event: RunEvent): Promise<NotificationsReport> {
  try {
    return await deliverNotification(event);
  } catch (err) {
    const cause = err instanceof ApplicationFailure ? err : (err as { cause?: unknown }).cause;
    const message = cause instanceof Error ? cause.message : String(err);
    log.warn('notification not delivered', { event: event.event, workflowId: event.workflowId, reason: message });
    return { delivered: [], skipped: [], failed: message };
  }
}

/** The wrapper's handle on one run's notifications. */
export interface Notifier {
  /** Starts a delivery of `event` when a target wants it; never throws, never waits for the delivery. */
  send(event: NotifyEvent, outcome: RunOutcome, summary: string, extra?: { failureType?: string; approveCommand?: string }): Promise<void>;
}

const NONE: Notifier = { send: async () => undefined };

/**
 * Whether this run sends notifications: false when replaying a run recorded
 * before they existed. Call it in the workflow's first activation, before any
 * await: a `patched()` after a local activity's result can land in a later
 * workflow task than the one whose marker replay looks ahead to, and the
 * replay then fails as nondeterministic.
 */
export function notificationsPatched(): boolean {
  return patched(NOTIFY_PATCH);
}

/**
 * Asks the orchestrator what this run's targets want. Runs recorded before
 * notifications existed (`enabled` false), and a failed lookup, notify nobody.
 */
export async function openNotifications(enabled: boolean, workflowType: string, hostId: string): Promise<Notifier> {
  if (!enabled) return NONE;
  const runbook = Object.entries(API_RUNBOOKS).find(([, d]) => d.workflowType === workflowType)?.[0] ?? workflowType;
  const info = workflowInfo();
  const scheduled = info.typedSearchAttributes.get(SCHEDULED_BY) !== undefined;
  let wanted: NotifyEvent[];
  try {
    wanted = await orchestrator.notificationRoutes({ runbook, hostId, scheduled });
  } catch (err) {
    // A cancel that arrives meanwhile is the run's, not a lookup failure.
    if (isCancellation(err)) throw err;
    log.warn('notification targets unknown; this run notifies nobody', { reason: (err as Error).message });
    return NONE;
  }
  if (wanted.length === 0) return NONE;
  let sent = 0;
  return {
    async send(event, outcome, summary, extra = {}) {
      if (!wanted.includes(event)) return;
      const e: RunEvent = {
        event,
        outcome,
        runbook,
        hostId,
        scheduled,
        workflowId: info.workflowId,
        runId: info.runId,
        summary,
        at: new Date().toISOString(),
        ...extra,
      };
      sent += 1;
      // Outside any cancellation: a cancelled run still says that it was cancelled.
      await CancellationScope.nonCancellable(() =>
        startChild(deliverNotifications, {
          workflowId: `${info.workflowId}/notify-${sent}-${event}`,
          args: [e],
          parentClosePolicy: ParentClosePolicy.ABANDON,
        }),
      ).catch((err: unknown) => log.warn('notification not started', { event, reason: (err as Error).message }));
    },
  };
}
