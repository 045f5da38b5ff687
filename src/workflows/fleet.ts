/**
 * `fleet`: one runbook over many hosts, a few at a time, as child workflows.
 *
 * An orchestrator workflow, not a host runbook: it takes no host lock (each
 * child takes its own), and shares with the runbook wrapper its strict input
 * check (`InvalidInput`), its search attributes (`McpRunbook=fleet`, `McpHost=*`,
 * `McpOutcome`) and the metrics sink.
 *
 * The rollout is a sliding window (at most `maxParallel` hosts running; the
 * next starts as soon as one ends), behind a canary gate and a failure budget
 * (src/workflows/fleet-rollout.ts); each host is a liveness check and a child
 * run (src/workflows/fleet-host.ts). `pause`, `resume` and `abort` are updates;
 * `progress` is a query with every host's state. A cancel request is taken as
 * an abort: nothing new starts, and running children finish (or compensate) on
 * their own; then the fleet ends as cancelled.
 *
 * Continue-as-new: once the history passes `continueAsNewAfterEvents` (5,000)
 * or Temporal suggests it, the fleet starts no new host, lets the window drain,
 * and continues as new carrying the ended hosts' outcomes, the order (with its
 * seed), the pause and the run count. Draining first keeps it simple and
 * correct: no child is ever running across the boundary, so the new run starts
 * exactly the hosts that never started, and a host never runs twice (the
 * children's REJECT_DUPLICATE ids enforce it on the server too). The cost is a
 * short dip in parallelism every ~400 hosts.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineUpdate,
  patched,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  childWorkflowId,
  describeCounts,
  FLEET_DEFAULTS,
  FLEET_HOST_LABEL,
  FLEET_PROGRESS_QUERY,
  FLEET_UPDATES,
  FLEET_WORKFLOW_TYPE,
  fleetPassed,
  orderHosts,
  resolvePolicy,
  type FleetControl,
  type FleetProgress,
  type FleetResult,
} from '../common/fleet.js';
import { RUNBOOK_FAILURES } from '../common/failures.js';
import { fleetControlInput, parseFleetInput, parseInput, type FleetInput } from '../common/inputs.js';
import type { RunOutcome } from '../common/search-attributes.js';
import { RUNBOOKS, type RunbookName } from '../runbooks.js';
import { FLEET_LIVENESS_PATCH, runHost } from './fleet-host.js';
import { Rollout } from './fleet-rollout.js';
import { reportEnd, setRunAttributes, sinkKind } from './outcome.js';

export const fleetProgressQuery = defineQuery<FleetProgress>(FLEET_PROGRESS_QUERY);
/** Starts no new host until `resume`; running ones go on. */
export const pauseFleetUpdate = defineUpdate<FleetProgress, [FleetControl?]>(FLEET_UPDATES.pause);
export const resumeFleetUpdate = defineUpdate<FleetProgress, [FleetControl?]>(FLEET_UPDATES.resume);
/** Starts nothing new, ever; running children finish or compensate on their own. */
export const abortFleetUpdate = defineUpdate<FleetProgress, [FleetControl?]>(FLEET_UPDATES.abort);

export type { FleetInput, FleetProgress, FleetResult };

/** An update's argument, strictly checked (the validator rejects it before it is recorded). */
function checkControl(by?: unknown): void {
  const parsed = parseInput(fleetControlInput, by);
  if (!parsed.ok) throw new Error(`invalid argument: ${parsed.problems.message}`);
}

export async function fleet(raw?: FleetInput | null): Promise<FleetResult> {
  const info = workflowInfo();
  // In the first activation, before any await (see notificationsPatched): runs recorded before the patch replay with local activities.
  const livenessAsActivity = patched(FLEET_LIVENESS_PATCH);
  setRunAttributes({ runbook: FLEET_WORKFLOW_TYPE, host: FLEET_HOST_LABEL, outcome: 'running' });
  const parsed = parseFleetInput(raw);
  if (!parsed.ok) {
    setRunAttributes({ outcome: 'invalid-input' });
    reportEnd(FLEET_WORKFLOW_TYPE, FLEET_HOST_LABEL, 'invalid-input', 0);
    throw ApplicationFailure.nonRetryable(`fleet input is invalid: ${parsed.problems.message}. Nothing ran.`, RUNBOOK_FAILURES.InvalidInput, { problems: parsed.problems.problems });
  }
  const input = parsed.value;
  const carried = input.carried;
  const def = RUNBOOKS[input.runbook as RunbookName];
  const startedAt = carried?.startedAt ?? new Date().toISOString();
  const run = carried?.run ?? 1;
  const given = resolvePolicy(input.policy ?? {}, input.hosts.length, def.changesHost);
  // Math.random is seeded by Temporal: a picked seed is the same on replay, and recorded in the result.
  const seed = carried?.seed ?? (given.order === 'shuffle' ? (given.seed ?? Math.floor(Math.random() * 2 ** 32)) : undefined);
  const policy = seed === undefined ? given : { ...given, seed };
  const order = carried?.order ?? orderHosts(input.hosts, policy.order, { ...(seed !== undefined ? { seed } : {}), ...(input.labels ? { labels: input.labels } : {}) });
  const rollout = new Rollout(order, policy, info.workflowId, carried);
  const headline = `fleet of ${input.runbook} over ${input.selector ?? `${order.length} hosts`}`;
  const base = { target: input.runbook, workflowId: info.workflowId, ...(input.selector ? { selector: input.selector } : {}), startedAt, run };
  let phase: FleetProgress['phase'] = 'running';
  const progress = () => rollout.progress(base, phase === 'running' && rollout.paused ? 'paused' : phase);
  const show = () => setCurrentDetails(`${headline}: ${describeCounts(rollout.counts)}${rollout.paused ? ' (paused)' : ''}${rollout.halted ? ' (stopping)' : ''}`);

  // Handlers before the first await: an early pause or query gets its own answer.
  setHandler(fleetProgressQuery, progress);
  const refuseAfterAbort = (what: string) => (by?: unknown) => {
    checkControl(by);
    if (rollout.aborted) throw new Error(`the fleet was aborted${rollout.aborted.by ? ` by ${rollout.aborted.by}` : ''}: nothing to ${what}`);
  };
  setHandler(
    pauseFleetUpdate,
    (by) => {
      rollout.pause(by ?? {});
      show();
      return progress();
    },
    { validator: refuseAfterAbort('pause') },
  );
  setHandler(
    resumeFleetUpdate,
    () => {
      rollout.resume();
      show();
      return progress();
    },
    { validator: refuseAfterAbort('resume') },
  );
  setHandler(
    abortFleetUpdate,
    (by) => {
      rollout.abort(by ?? {}, new Date().toISOString());
      show();
      return progress();
    },
    { validator: checkControl },
  );
  let cancelled = false;
  CancellationScope.current().cancelRequested.catch(() => {
    cancelled = true;
    rollout.abort({ by: 'cancel request', reason: 'the fleet workflow was cancelled' }, new Date().toISOString());
  });
  show();

  const limit = input.continueAsNewAfterEvents ?? FLEET_DEFAULTS.continueAsNewAfterEvents;
  const wantsNewRun = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= limit;
  const staticSummary = (host: string) => `${input.runbook} on ${host} (fleet ${info.workflowId})`;

  // Nothing here is cancellable: a cancel is an abort (above), and a child's steps are its own to undo.
  await CancellationScope.nonCancellable(async () => {
    while (rollout.hasNext) {
      await condition(() => rollout.halted || wantsNewRun() || rollout.canStart());
      if (rollout.halted) break;
      if (wantsNewRun()) {
        phase = 'draining';
        await condition(() => rollout.running === 0);
        if (rollout.halted || !rollout.hasNext) break;
        await condition(allHandlersFinished);
        await continueAsNew<typeof fleet>({ ...input, carried: { run: run + 1, startedAt, order, ...(seed !== undefined ? { seed } : {}), ...rollout.carry() } });
      }
      const host = rollout.startNext();
      show();
      void runHost({
        hostId: host,
        workflowType: def.workflowType,
        input: input.input ?? {},
        childWorkflowId: childWorkflowId(info.workflowId, host),
        taskQueue: info.taskQueue,
        jitterMs: policy.jitterSeconds > 0 ? Math.floor(Math.random() * policy.jitterSeconds * 1000) : 0,
        pingTimeoutSeconds: policy.pingTimeoutSeconds,
        livenessAsActivity,
        stopReason: () => (rollout.aborted ? 'the fleet was aborted' : rollout.stoppedByPolicy),
        note: (summary) => rollout.note(host, summary),
        staticSummary: staticSummary(host),
      }).then((end) => {
        rollout.ended(host, end);
        show();
      });
    }
    phase = 'draining';
    await condition(() => rollout.running === 0);
  });
  rollout.skipRest();
  phase = 'done';

  const hosts = rollout.rows();
  const counts = rollout.counts;
  const outcome: RunOutcome = rollout.aborted ? 'cancelled' : fleetPassed(counts) ? 'success' : 'failure';
  const text = `${describeCounts(counts)}${rollout.aborted ? `; aborted${rollout.aborted.by ? ` by ${rollout.aborted.by}` : ''}` : ''}${rollout.stoppedByPolicy ? `; stopped: ${rollout.stoppedByPolicy}` : ''}`;
  setRunAttributes({ outcome });
  setCurrentDetails(`${headline}: ${text}`);
  reportEnd(FLEET_WORKFLOW_TYPE, FLEET_HOST_LABEL, sinkKind(outcome), Math.round((Date.now() - Date.parse(startedAt)) / 100) / 10);
  if (cancelled) throw new CancelledFailure(`${headline} was cancelled: ${text}`);
  return {
    runbook: FLEET_WORKFLOW_TYPE,
    target: input.runbook,
    workflowId: info.workflowId,
    ...(input.selector ? { selector: input.selector } : {}),
    startedAt,
    finishedAt: new Date().toISOString(),
    policy,
    ...(seed !== undefined ? { seed } : {}),
    ...(rollout.aborted ? { aborted: rollout.aborted } : {}),
    ...(rollout.stoppedByPolicy ? { stoppedByPolicy: rollout.stoppedByPolicy } : {}),
    runs: run,
    counts,
    hosts,
    summary: { text },
  };
}
