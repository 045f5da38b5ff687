/**
 * What the three maintenance runbooks share: input, host routing, the host
 * lock, progress, steps that turn a failure into a finding, and the report.
 */
import { isCancellation, workflowInfo } from '@temporalio/workflow';
import { buildReport, finding, worstStatus, type Finding, type FindingStatus, type RunbookReport } from '../common/report.js';
import { hostActivities } from './activity-profiles.js';
import { withHostLock } from './host-lease.js';
import { measured } from './outcome.js';
import { trackProgress, type ProgressTracker } from './progress.js';
import { failureMessage, inputObject, routeToHost } from './shared.js';

/** Input of the maintenance runbooks; JSON, secret-free. */
export interface MaintenanceInput {
  /** Host to maintain. @default the orchestrator's own host */
  hostId?: string;
}

/** How one step went: its worst finding, the checks it produced, how long it took. */
export interface StepOutcome {
  step: string;
  status: FindingStatus;
  checks: string[];
  seconds: number;
}

/** The result of a maintenance runbook: the report every runbook returns, plus its steps. */
export interface MaintenanceReport extends RunbookReport {
  steps: StepOutcome[];
  /** Monthly: the report files written on the host. */
  reportFiles?: { text: string; json: string };
}

export type HostActivityProxy = ReturnType<typeof hostActivities>;

export interface MaintenanceContext {
  hostId: string;
  workflowId: string;
  /** Host activities, `quick` profile. */
  host: HostActivityProxy;
  /** Host activities, `long` profile (scans, verification, VACUUM, package commands). */
  long: HostActivityProxy;
  progress: ProgressTracker;
  /**
   * Runs one step. Its findings are added to the report; an activity that
   * fails after its retries becomes a `fail` finding named `name`, and the
   * runbook goes on. Cancellation is not a finding: it ends the run.
   */
  step(name: string, fn: () => Promise<Finding | Finding[]>): Promise<Finding[]>;
  /** The report as it stands (findings so far). */
  report(): RunbookReport;
}

/**
 * Runs a maintenance runbook on one host under the host lock. `steps` names
 * the steps in order, for the progress query (`step 2 of 6`). The workflow
 * fails only when it cannot run at all (bad input, unknown host, host busy for
 * too long); everything else is a finding.
 */
export async function runMaintenance(
  runbook: string,
  input: MaintenanceInput | null | undefined,
  steps: readonly string[],
  body: (ctx: MaintenanceContext) => Promise<Pick<MaintenanceReport, 'reportFiles'> | void>,
  /**
   * Steps run after the host lock is released, e.g. a wait for an operator
   * that must not keep other runbooks off the host; `relock` takes the lock
   * again around what changes the host.
   */
  afterLock?: (ctx: MaintenanceContext & { relock<T>(fn: () => Promise<T>): Promise<T> }) => Promise<void>,
): Promise<MaintenanceReport> {
  const startedAt = new Date();
  const { hostId } = inputObject(input, runbook);
  const progress = trackProgress(runbook);
  // The metrics' host label is 'unknown' until routing succeeds: raw input would make it unbounded.
  let knownHost = 'unknown';
  return measured(runbook, () => knownHost, async () => {
    const route = await routeToHost(hostId);
    knownHost = route.hostId;
    const { workflowId } = workflowInfo();
    const findings: Finding[] = [];
    const outcomes: StepOutcome[] = [];
    const report = () => buildReport({ runbook, hostId: route.hostId, startedAt, finishedAt: new Date(), findings: [...findings] });

    let ctx!: MaintenanceContext;
    const locked = await withHostLock(route.hostId, runbook, progress, async () => {
      ctx = {
        hostId: route.hostId,
        workflowId,
        host: hostActivities(route.taskQueue, 'quick'),
        long: hostActivities(route.taskQueue, 'long'),
        progress,
        report,
        async step(name, fn) {
          const index = steps.indexOf(name);
          progress.set(name, index >= 0 ? `step ${index + 1} of ${steps.length}` : undefined);
          const t0 = Date.now();
          let found: Finding[];
          try {
            const r = await fn();
            found = Array.isArray(r) ? r : [r];
          } catch (err) {
            if (isCancellation(err)) throw err;
            found = [finding(name, 'fail', `${name} could not run: ${failureMessage(err)}`, {})];
          }
          findings.push(...found);
          outcomes.push({ step: name, status: worstStatus(found.map((f) => f.status)), checks: found.map((f) => f.check), seconds: Math.round((Date.now() - t0) / 100) / 10 });
          return found;
        },
      };
      const extra = await body(ctx);
      if (!afterLock) progress.set('done');
      return { ...report(), steps: outcomes, ...(extra ?? {}) };
    });
    if (!afterLock) return locked;
    await afterLock({ ...ctx, relock: (fn) => withHostLock(route.hostId, runbook, progress, fn) });
    progress.set('done');
    return { ...report(), steps: outcomes, ...(locked.reportFiles ? { reportFiles: locked.reportFiles } : {}) };
  });
}
