/**
 * Failure signals that survive a restart: the runbook outcome gauges (last
 * success, last failure, findings of the latest completed run) are read back
 * from Temporal's visibility when the orchestrator starts, so `BackupFailed` and
 * `MaintenanceFailFindings` stay on after a worker restart until a run succeeds,
 * exactly as Temporal itself still shows the failure.
 *
 * Runs are found by the search attributes every runbook sets (`McpRunbook`,
 * `McpHost`, `McpOutcome`); values restored never override newer ones the
 * live sink recorded meanwhile.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { SEARCH_ATTRIBUTES, SUCCESS_OUTCOMES, type RunOutcome } from '../common/search-attributes.js';
import type { RunbookReport } from '../common/report.js';
import type { WorkerMetrics } from './registry.js';
import { recordRunbookOutcome } from './runbook-sink.js';

/** Runbooks whose outcome gauges feed alerts, by workflow type. */
export const RESTORED_RUNBOOKS = ['backup', 'disasterRecovery', 'verifyBackups', 'healthCheck', 'dailyMaintenance', 'weeklyMaintenance', 'monthlyMaintenance'] as const;
const WITH_FINDINGS = new Set<string>(['dailyMaintenance', 'weeklyMaintenance', 'monthlyMaintenance']);
const FAILED: readonly RunOutcome[] = ['failure', 'timed-out'];

export interface RestoreOutcomesOptions {
  client: Client;
  hosts: readonly string[];
  metrics: WorkerMetrics;
  /** How far back to look. @default 40 days (a monthly run and some) */
  lookBackDays?: number;
  /** Most runs read per runbook and host. @default 200 */
  limit?: number;
  now?: Date;
}

export interface RestoredOutcome {
  runbook: string;
  host: string;
  lastSuccess?: string;
  lastFailure?: string;
  findingsFrom?: string;
}

/** Reads the newest success and failure of each runbook on each host back into the gauges. */
export async function restoreRunbookOutcomes(opts: RestoreOutcomesOptions): Promise<RestoredOutcome[]> {
  const since = new Date((opts.now ?? new Date()).getTime() - (opts.lookBackDays ?? 40) * 86_400_000).toISOString();
  const out: RestoredOutcome[] = [];
  for (const runbook of RESTORED_RUNBOOKS) {
    for (const host of opts.hosts) {
      const query = `WorkflowType = '${runbook}' AND ${SEARCH_ATTRIBUTES.host} = '${host}' AND ExecutionStatus != 'Running' AND CloseTime > '${since}'`;
      let success: WorkflowExecutionInfo | undefined;
      let failure: WorkflowExecutionInfo | undefined;
      let n = 0;
      for await (const wf of opts.client.workflow.list({ query })) {
        if (++n > (opts.limit ?? 200)) break;
        // A run the server ended (terminated, timed out, over the history limit) never set its outcome: a failure.
        const recorded = outcomeOf(wf);
        const outcome = recorded === 'running' && ['TERMINATED', 'TIMED_OUT', 'FAILED'].includes(wf.status.name) ? 'failure' : recorded;
        if (!wf.closeTime || !outcome) continue;
        if (SUCCESS_OUTCOMES.includes(outcome) && (!success || wf.closeTime > success.closeTime!)) success = wf;
        if (FAILED.includes(outcome) && (!failure || wf.closeTime > failure.closeTime!)) failure = wf;
      }
      const restored: RestoredOutcome = { runbook, host };
      if (failure?.closeTime) {
        recordRunbookOutcome(opts.metrics, { runbook, hostId: host, outcome: 'failure', seconds: 0, endedAt: failure.closeTime.toISOString() }, { restored: true });
        restored.lastFailure = failure.closeTime.toISOString();
      }
      if (success?.closeTime) {
        let findings: RunbookReport['summary'] | undefined;
        if (WITH_FINDINGS.has(runbook)) {
          const report = (await opts.client.workflow.getHandle(success.workflowId, success.runId).result().catch(() => undefined)) as RunbookReport | undefined;
          findings = report?.summary;
          if (findings) restored.findingsFrom = success.workflowId;
        }
        recordRunbookOutcome(
          opts.metrics,
          { runbook, hostId: host, outcome: 'success', seconds: 0, endedAt: success.closeTime.toISOString(), ...(findings ? { findings: { ok: findings.ok, warn: findings.warn, fail: findings.fail } } : {}) },
          { restored: true },
        );
        restored.lastSuccess = success.closeTime.toISOString();
      }
      if (restored.lastFailure || restored.lastSuccess) out.push(restored);
    }
  }
  return out;
}

function outcomeOf(wf: WorkflowExecutionInfo): RunOutcome | undefined {
  const v = wf.searchAttributes?.[SEARCH_ATTRIBUTES.outcome];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? (first as RunOutcome) : undefined;
}
