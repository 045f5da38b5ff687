/**
 * What the three maintenance runbooks add to the runbook wrapper: steps that
 * turn a failure into a finding, step progress (`step 2 of 6`), and the report.
 */
import { isCancellation } from '@temporalio/workflow';
import { hostOnlyInput, type HostOnlyInput } from '../common/inputs.js';
import { buildReport, finding, worstStatus, type Finding, type FindingStatus, type RunbookReport } from '../common/report.js';
import { runbook, type RunbookContext, type RunbookOptions } from './runbook.js';
import { failureMessage } from './shared.js';

/** Input of the maintenance runbooks; JSON, secret-free. */
export type MaintenanceInput = HostOnlyInput;

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

export interface MaintenanceContext extends RunbookContext {
  /**
   * Runs one step. Its findings are added to the report; an activity that
   * fails after its retries becomes a `fail` finding named `name`, and the
   * runbook goes on. Cancellation and a passed deadline are not findings: they end the run.
   */
  step(name: string, fn: () => Promise<Finding | Finding[]>): Promise<Finding[]>;
  /** The report as it stands (findings so far). */
  report(): RunbookReport;
}

/**
 * A maintenance runbook: `steps` names the steps in order, for the progress
 * query. The workflow fails only when it cannot run at all (bad input, unknown
 * host, host busy for too long, its deadline); everything else is a finding.
 */
export function maintenanceRunbook<H = undefined>(
  name: string,
  steps: readonly string[],
  options: Pick<RunbookOptions<MaintenanceInput, MaintenanceReport, H>, 'lock' | 'budget' | 'handlers'>,
  body: (m: MaintenanceContext, handlers: H) => Promise<Pick<MaintenanceReport, 'reportFiles'> | void>,
) {
  return runbook(name, hostOnlyInput, { ...options, summary: (_i, host) => `${name} on ${host}` }, async (ctx, _input, handlers) => {
    const findings: Finding[] = [];
    const outcomes: StepOutcome[] = [];
    const report = () => buildReport({ runbook: name, hostId: ctx.hostId, startedAt: ctx.startedAt, finishedAt: new Date(), findings: [...findings] });
    const m: MaintenanceContext = {
      ...ctx,
      report,
      async step(step, fn) {
        const index = steps.indexOf(step);
        ctx.progress.set(step, index >= 0 ? `step ${index + 1} of ${steps.length}` : undefined);
        const t0 = Date.now();
        let found: Finding[];
        try {
          const r = await fn();
          found = Array.isArray(r) ? r : [r];
        } catch (err) {
          if (isCancellation(err)) throw err;
          found = [finding(step, 'fail', `${step} could not run: ${failureMessage(err)}`, {})];
        }
        findings.push(...found);
        outcomes.push({ step, status: worstStatus(found.map((f) => f.status)), checks: found.map((f) => f.check), seconds: Math.round((Date.now() - t0) / 100) / 10 });
        return found;
      },
    };
    const extra = await body(m, handlers);
    return { ...report(), steps: outcomes, ...(extra ?? {}) };
  });
}
