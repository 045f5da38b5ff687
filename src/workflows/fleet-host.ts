/**
 * One host of a fleet: its jitter wait, the liveness check, its child run.
 *
 * Liveness: an orchestrator local activity reads the host queue's pollers; a
 * queue nobody polls is `unreachable` at once. A poller stays listed for
 * minutes after its worker died, so a listed one is confirmed with the `ping`
 * host activity and a short schedule-to-start timeout: not picked up in time
 * is `unreachable` too (a failure for the policy), instead of a child that
 * would wait for a lock or a heartbeat timeout. Any other answer (even a failure
 * from an older worker that lacks `ping`) means a worker took it: alive.
 *
 * The child is the runbook's own workflow on the orchestrator's queue, with the
 * id `<fleet id>.<host>`, started with ParentClosePolicy ABANDON (a fleet that
 * is aborted, terminated or continues as new never ends a child that is
 * changing a host) and REJECT_DUPLICATE (the server refuses a second run of a
 * host within one fleet, whatever happens to the fleet's own runs). It takes
 * its own host lock. The caller runs this in a non-cancellable scope: a
 * cancelled fleet stops starting hosts but never cancels a child's steps.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  ParentClosePolicy,
  sleep,
  startChild,
  TimeoutFailure,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { RunbookReport } from '../common/report.js';
import { orchestrator, orchestratorTask, pingActivity } from './activity-policies.js';
import { failedWith, failureMessage } from './shared.js';
import type { HostEnd } from './fleet-rollout.js';

export interface HostRun {
  hostId: string;
  /** The runbook's workflow type, e.g. `healthCheck`. */
  workflowType: string;
  /** The runbook's input without `hostId`. */
  input: Record<string, unknown>;
  childWorkflowId: string;
  /** The orchestrator's queue: where the child runs. */
  taskQueue: string;
  jitterMs: number;
  pingTimeoutSeconds: number;
  /** Liveness through regular activities (runs from {@link FLEET_LIVENESS_PATCH} on), else local ones (older runs, replayed as recorded). */
  livenessAsActivity: boolean;
  /** Why this host must not start after all (the rollout halted meanwhile), or undefined. */
  stopReason(): string | undefined;
  /** What the host is doing now, for the progress query. */
  note(summary: string): void;
  /** One line for the UI, e.g. `daily on db-1 (fleet fleet-daily-...)`. */
  staticSummary: string;
}

/** The patch under which a fleet checks liveness with regular activities (see `orchestratorTask`). */
export const FLEET_LIVENESS_PATCH = 'fleet-liveness-activity';

/** Whether the host's worker is there: undefined when it is, else why not. */
async function unreachable(hostId: string, pingTimeoutSeconds: number, asActivity: boolean): Promise<string | undefined> {
  const acts = asActivity ? orchestratorTask : orchestrator;
  let taskQueue: string | undefined;
  try {
    const live = await acts.hostLiveness({ hostId });
    taskQueue = live.taskQueue;
    if (live.pollers === 0) return `no worker polls ${live.taskQueue} (start \`mcp-runbooks worker --role host --host-id ${hostId}\` there)`;
  } catch (err) {
    // A host this orchestrator does not route to fails as its child would (the client's inventory differs from ours).
    if (failedWith(err, 'UnknownHostError')) throw ApplicationFailure.nonRetryable(failureMessage(err), 'UnknownHostError');
    // Otherwise the description could not be read: the ping alone decides.
  }
  const queue = taskQueue ?? (await acts.resolveHost(hostId)).taskQueue;
  try {
    await pingActivity(queue, pingTimeoutSeconds)();
    return undefined;
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure) {
      return `its worker did not pick up a ping within ${pingTimeoutSeconds}s (${(err.cause.timeoutType ?? 'unknown').toLowerCase().replaceAll('_', '-')} timeout on ${queue}): the worker listed there is gone or stuck`;
    }
    // A worker took it and answered with an error (e.g. an older version without `ping`): it is there.
    return undefined;
  }
}

/** The message and type at the bottom of a child's failure (an ApplicationFailure's type, else the failure's name, e.g. `TerminatedFailure`). */
function childFailure(err: unknown): { message: string; type: string } {
  let e: unknown = err;
  while ((e instanceof ChildWorkflowFailure || e instanceof ActivityFailure) && e.cause) e = e.cause;
  const type = e instanceof ApplicationFailure && e.type ? e.type : e instanceof Error ? e.name : 'Error';
  const message = e instanceof Error ? e.message : String(e);
  return { message, type };
}

/** How a child's report maps to the host's state. */
function fromReport(report: Partial<RunbookReport> | undefined): HostEnd {
  const s = report?.summary;
  if (!s) return { state: 'ok', summary: 'completed' };
  return { state: s.status, summary: s.text };
}

/** Runs one host to its end; never throws (every way it can end is a {@link HostEnd}). */
export async function runHost(h: HostRun): Promise<HostEnd> {
  try {
    if (h.jitterMs > 0) {
      h.note(`waiting ${Math.round(h.jitterMs / 1000)}s (jitter)`);
      await sleep(h.jitterMs);
    }
    const before = h.stopReason();
    if (before) return { state: 'skipped', summary: `not started: ${before}` };
    h.note('checking its worker');
    const why = await unreachable(h.hostId, h.pingTimeoutSeconds, h.livenessAsActivity);
    if (why) return { state: 'unreachable', summary: why };
    // The rollout may have halted while the worker was checked: start nothing new.
    const after = h.stopReason();
    if (after) return { state: 'skipped', summary: `not started: ${after}` };
    const child = await startChild(h.workflowType, {
      workflowId: h.childWorkflowId,
      taskQueue: h.taskQueue,
      args: [{ ...h.input, hostId: h.hostId }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      staticSummary: h.staticSummary,
    });
    h.note('run started');
    return fromReport((await child.result()) as Partial<RunbookReport> | undefined);
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      return { state: 'fail', summary: `${h.childWorkflowId} already ran: a host runs at most once per fleet`, failureType: 'WorkflowExecutionAlreadyStarted' };
    }
    const f = childFailure(err);
    return { state: 'fail', summary: f.message, failureType: f.type };
  }
}
