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
import { recordFrozen, recordRunbookOutcome, recordTargetOutcome } from './runbook-sink.js';
import { HOST_LOCK_WORKFLOW_TYPE, hostLockWorkflowId, LOCK_STATE_QUERY, type HostLockState } from '../common/host-lock.js';
import { failedOnlyOffsite, targetOutcomeOf, type TargetReportLine } from '../common/outcome.js';

/** Runbooks whose outcome gauges feed alerts, by workflow type. */
export const RESTORED_RUNBOOKS = ['backup', 'disasterRecovery', 'verifyBackups', 'restoreDrill', 'healthCheck', 'dailyMaintenance', 'weeklyMaintenance', 'monthlyMaintenance'] as const;
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
  /** backup: the targets whose last success or failure was read back from the newest runs' reports. */
  targets?: string[];
}

/** Backup runs whose reports are read for per-target outcomes, newest first. */
const TARGET_RUNS_READ = 20;

/**
 * Per-target last success and failure (and size, snapshots, verification)
 * from the reports of the newest backup runs: a completed run's result, or a
 * failed run's failure details (a `BackupTargetFailed` carries the report).
 * Each target's newest success and newest failure are recorded, as if the run had just ended.
 */
async function restoreTargetOutcomes(opts: RestoreOutcomesOptions, host: string, runs: WorkflowExecutionInfo[]): Promise<string[]> {
  const seen = { success: new Set<string>(), failure: new Set<string>() };
  const newestFirst = [...runs].sort((a, b) => b.closeTime!.getTime() - a.closeTime!.getTime()).slice(0, TARGET_RUNS_READ);
  for (const wf of newestFirst) {
    const report = await backupReportOf(opts.client, wf);
    if (!report?.targets || !report.plan?.archive) continue;
    for (const line of report.targets) {
      const kind = line.ok ? 'success' : 'failure';
      if (seen[kind].has(line.target)) continue;
      seen[kind].add(line.target);
      const a = report.archive || report.retention ? { ...(report.archive ? { bytes: report.archive.bytes } : {}), ...(report.retention ? { kept: report.retention.kept } : {}) } : undefined;
      recordTargetOutcome(opts.metrics, targetOutcomeOf({ hostId: host, archive: report.plan.archive, endedAt: wf.closeTime!.toISOString(), line, ...(a ? { archiveTarget: a } : {}) }), { restored: true });
    }
  }
  return [...new Set([...seen.success, ...seen.failure])].sort();
}

interface StoredBackupReport {
  plan?: { archive?: string };
  archive?: { bytes: number };
  retention?: { kept: number };
  targets?: TargetReportLine[];
}

/** A finished backup's report: its result, or the report a failed run attached to its failure. */
async function backupReportOf(client: Client, wf: WorkflowExecutionInfo): Promise<StoredBackupReport | undefined> {
  try {
    return (await client.workflow.getHandle(wf.workflowId, wf.runId).result()) as StoredBackupReport;
  } catch (err) {
    for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
      const details = (e as { details?: unknown }).details;
      if ((e as { name?: unknown }).name === 'ApplicationFailure' && Array.isArray(details) && details[0] && typeof details[0] === 'object') return details[0] as StoredBackupReport;
    }
    return undefined;
  }
}

/**
 * The newest failed backup that was not only its restic targets' failure ({@link failedOnlyOffsite}: the
 * live sink leaves the runbook's last failure alone for those), among the newest few failed runs.
 */
async function newestHostFailure(client: Client, failures: WorkflowExecutionInfo[]): Promise<WorkflowExecutionInfo | undefined> {
  const newestFirst = [...failures].sort((a, b) => b.closeTime!.getTime() - a.closeTime!.getTime()).slice(0, TARGET_RUNS_READ);
  for (const wf of newestFirst) {
    if (!failedOnlyOffsite((await backupReportOf(client, wf))?.targets)) return wf;
  }
  return undefined;
}

/** What one scan found for one host. */
interface HostRuns {
  /** Runs read for this host (at most `limit`). */
  read: number;
  success?: WorkflowExecutionInfo;
  failure?: WorkflowExecutionInfo;
  /** Closed runs that succeeded or failed. */
  closed: WorkflowExecutionInfo[];
  failures: WorkflowExecutionInfo[];
}

/** Hosts per visibility query (`McpHost IN (...)`). */
const HOSTS_PER_QUERY = 100;

/**
 * The closed runs of one runbook on some hosts, by host: one visibility scan
 * for up to {@link HOSTS_PER_QUERY} hosts, not one per host (an orchestrator of
 * a thousand hosts asked 7,000 queries at every start, beside the runs it was
 * serving). Each host counts at most `limit` runs, and the scan reads at most
 * `limit` runs per host in all (what per-host queries would read at most).
 */
async function scanRuns(opts: RestoreOutcomesOptions, runbook: string, hosts: readonly string[], since: string): Promise<Map<string, HostRuns>> {
  const limit = opts.limit ?? 200;
  const byHost = new Map<string, HostRuns>(hosts.map((h) => [h, { read: 0, closed: [], failures: [] }]));
  let full = 0;
  let total = 0;
  // Host ids match HOST_ID_PATTERN (config and inputs check it): no quote can occur in one.
  const query = `WorkflowType = '${runbook}' AND ${SEARCH_ATTRIBUTES.host} IN (${hosts.map((h) => `'${h}'`).join(', ')}) AND ExecutionStatus != 'Running' AND CloseTime > '${since}'`;
  let capped = false;
  for await (const wf of opts.client.workflow.list({ query })) {
    if (++total > limit * byHost.size) {
      capped = true;
      break;
    }
    const host = hostOf(wf);
    const runs = host === undefined ? undefined : byHost.get(host);
    if (!runs || runs.read >= limit) continue;
    runs.read += 1;
    take(runs, wf);
    if (runs.read === limit && ++full === byHost.size) break;
  }
  // A busy host used up the shared reads: each host not read to its limit gets its own query, as before grouping.
  if (capped) {
    for (const [host, runs] of byHost) {
      if (runs.read >= limit) continue;
      const mine: HostRuns = { read: 0, closed: [], failures: [] };
      for await (const wf of opts.client.workflow.list({ query: `WorkflowType = '${runbook}' AND ${SEARCH_ATTRIBUTES.host} = '${host}' AND ExecutionStatus != 'Running' AND CloseTime > '${since}'` })) {
        if (++mine.read > limit) break;
        take(mine, wf);
      }
      byHost.set(host, mine);
    }
  }
  return byHost;
}

function take(runs: HostRuns, wf: WorkflowExecutionInfo): void {
  // A run the server ended (terminated, timed out, over the history limit) never set its outcome: a failure.
  const recorded = outcomeOf(wf);
  const outcome = recorded === 'running' && ['TERMINATED', 'TIMED_OUT', 'FAILED'].includes(wf.status.name) ? 'failure' : recorded;
  if (!wf.closeTime || !outcome) return;
  if (SUCCESS_OUTCOMES.includes(outcome) || FAILED.includes(outcome)) runs.closed.push(wf);
  if (FAILED.includes(outcome)) runs.failures.push(wf);
  if (SUCCESS_OUTCOMES.includes(outcome) && (!runs.success || wf.closeTime > runs.success.closeTime!)) runs.success = wf;
  if (FAILED.includes(outcome) && (!runs.failure || wf.closeTime > runs.failure.closeTime!)) runs.failure = wf;
}

/** Reads the newest success and failure of each runbook on each host back into the gauges. */
export async function restoreRunbookOutcomes(opts: RestoreOutcomesOptions): Promise<RestoredOutcome[]> {
  const since = new Date((opts.now ?? new Date()).getTime() - (opts.lookBackDays ?? 40) * 86_400_000).toISOString();
  const out: RestoredOutcome[] = [];
  for (const runbook of RESTORED_RUNBOOKS) {
    const byHost = new Map<string, HostRuns>();
    for (let i = 0; i < opts.hosts.length; i += HOSTS_PER_QUERY) {
      for (const [host, runs] of await scanRuns(opts, runbook, opts.hosts.slice(i, i + HOSTS_PER_QUERY), since)) byHost.set(host, runs);
    }
    for (const host of opts.hosts) {
      const { success, closed, failures } = byHost.get(host)!;
      let failure = byHost.get(host)!.failure;
      const restored: RestoredOutcome = { runbook, host };
      if (runbook === 'backup' && failure) failure = await newestHostFailure(opts.client, failures);
      if (failure?.closeTime) {
        recordRunbookOutcome(opts.metrics, { runbook, hostId: host, outcome: 'failure', seconds: 0, endedAt: failure.closeTime.toISOString() }, { restored: true });
        restored.lastFailure = failure.closeTime.toISOString();
      }
      if (success?.closeTime) {
        let findings: RunbookReport['summary'] | undefined;
        let drill: { target: string; restoreSeconds: number } | undefined;
        if (WITH_FINDINGS.has(runbook) || runbook === 'restoreDrill') {
          const report = (await opts.client.workflow.getHandle(success.workflowId, success.runId).result().catch(() => undefined)) as (RunbookReport & { target?: string; restoreSeconds?: number }) | undefined;
          if (WITH_FINDINGS.has(runbook)) findings = report?.summary;
          if (findings) restored.findingsFrom = success.workflowId;
          // A passed drill's target and measured restore time (RestoreDrillStale, the dashboard's restore seconds).
          if (runbook === 'restoreDrill' && typeof report?.target === 'string' && typeof report.restoreSeconds === 'number') drill = { target: report.target, restoreSeconds: report.restoreSeconds };
        }
        recordRunbookOutcome(
          opts.metrics,
          {
            runbook,
            hostId: host,
            outcome: 'success',
            seconds: 0,
            endedAt: success.closeTime.toISOString(),
            ...(findings ? { findings: { ok: findings.ok, warn: findings.warn, fail: findings.fail } } : {}),
            ...(drill ? { drill } : {}),
          },
          { restored: true },
        );
        restored.lastSuccess = success.closeTime.toISOString();
      }
      if (runbook === 'backup') {
        const targets = await restoreTargetOutcomes(opts, host, closed);
        if (targets.length) restored.targets = targets;
      }
      if (restored.lastFailure || restored.lastSuccess || restored.targets) out.push(restored);
    }
  }
  return out;
}

function hostOf(wf: WorkflowExecutionInfo): string | undefined {
  const v = wf.searchAttributes?.[SEARCH_ATTRIBUTES.host];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first : undefined;
}

function outcomeOf(wf: WorkflowExecutionInfo): RunOutcome | undefined {
  const v = wf.searchAttributes?.[SEARCH_ATTRIBUTES.outcome];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? (first as RunOutcome) : undefined;
}

/**
 * The freezes in force (`mcp_runbooks_host_frozen_until_timestamp_seconds`), read from the running host
 * locks of this deployment (its orchestration task queue) for the configured hosts: the gauge is set by the
 * lock workflow as the freeze changes, which a restarted worker did not see. One visibility query, then one
 * query per running lock, each bounded (a lock whose worker is away must not hold the start up).
 */
export async function restoreFreezes(opts: Pick<RestoreOutcomesOptions, 'client' | 'hosts' | 'metrics'> & { taskQueue: string; queryTimeoutMs?: number }): Promise<string[]> {
  const ids = new Map(opts.hosts.map((h) => [hostLockWorkflowId(h), h]));
  const frozen: string[] = [];
  for await (const wf of opts.client.workflow.list({ query: `WorkflowType = '${HOST_LOCK_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND TaskQueue = '${opts.taskQueue}'` })) {
    const hostId = ids.get(wf.workflowId);
    if (hostId === undefined) continue;
    const state = await opts.client
      .withDeadline(Date.now() + (opts.queryTimeoutMs ?? 5_000), () => opts.client.workflow.getHandle(wf.workflowId).query<HostLockState>(LOCK_STATE_QUERY))
      .catch(() => undefined);
    if (!state?.frozen) continue;
    recordFrozen(opts.metrics, hostId, state.frozen.until);
    if (Date.parse(state.frozen.until) > Date.now()) frozen.push(hostId);
  }
  return frozen;
}
