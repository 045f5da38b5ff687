/** Starting runbooks from a client (the CLI, `dev`, tests). */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { UsageError } from '../common/errors.js';
import type { RunbookReport } from '../common/report.js';
import { hostTaskQueue, pickHost } from '../common/task-queues.js';
import type { Config } from '../config/config.js';
import { selectHosts } from '../config/host-selector.js';
import { RUNBOOKS, type RunbookName } from '../runbooks.js';
import { queuePollers } from '../temporal/pollers.js';

/** `20261123T020000.123Z`: sortable, and valid in a workflow id. */
export function compactTime(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '');
}

/** e.g. `health-check-local-20261123T020000.123Z`: runbook, host and time, easy to find in the UI. */
export function runbookWorkflowId(runbook: RunbookName, hostId: string, at: Date): string {
  return `${RUNBOOKS[runbook].idPrefix}-${hostId}-${compactTime(at)}`;
}

/**
 * The host a client-side request is about; unknown hosts are a usage error. A
 * selector (`role=db`) is taken when it selects exactly one host; more than one
 * is a usage error that points at `fleet run`.
 */
export function resolveHostForClient(config: Config, requested?: string): string {
  if (requested !== undefined && /[=,]/.test(requested)) {
    const selected = selectHosts(config.inventory, requested);
    if (selected.length > 1) throw new UsageError(`--host ${requested} selects ${selected.length} hosts (${selected.join(', ')}); run one host, or use \`mcp-runbooks fleet run <runbook> --hosts ${requested}\``);
    return selected[0]!;
  }
  const id = pickHost(config.hosts, config.hostId, requested);
  if (!id) throw new UsageError(`unknown host "${requested ?? ''}": configured hosts are ${config.hosts.join(', ')} (config "hosts")`);
  return id;
}

/** Task queues that no worker polls right now, with a hint for each. */
export async function missingWorkers(client: Client, config: Config, hostId: string): Promise<string[]> {
  const checks = [
    { queue: config.temporal.taskQueue, kind: 'workflow' as const, hint: 'start `mcp-runbooks worker --role orchestrator` (or `all`)' },
    {
      queue: hostTaskQueue(config.temporal.taskQueue, hostId),
      kind: 'activity' as const,
      hint: `start \`mcp-runbooks worker --role host --host-id ${hostId}\` on that host`,
    },
  ];
  const missing: string[] = [];
  for (const c of checks) {
    const pollers = await queuePollers(client.workflowService, config.temporal.namespace, c.queue, c.kind);
    if (!pollers.length) missing.push(`no worker polls task queue "${c.queue}": ${c.hint}`);
  }
  return missing;
}

export interface StartRunbookOptions {
  client: Client;
  config: Config;
  runbook: RunbookName;
  hostId: string;
  /** Extra input fields, merged after `hostId`. */
  input?: Record<string, unknown>;
  now?: Date;
}

export async function startRunbook(opts: StartRunbookOptions): Promise<WorkflowHandle> {
  const def = RUNBOOKS[opts.runbook];
  return opts.client.workflow.start(def.workflowType, {
    taskQueue: opts.config.temporal.taskQueue,
    workflowId: runbookWorkflowId(opts.runbook, opts.hostId, opts.now ?? new Date()),
    args: [{ hostId: opts.hostId, ...opts.input }],
    // No execution timeout: it would end the run with none of its undos run. Each runbook has its own deadline.
    staticSummary: `${opts.runbook} on ${opts.hostId}${opts.input?.dryRun === true ? ' (dry run)' : ''}`,
  });
}

export async function runRunbook(opts: StartRunbookOptions): Promise<{ workflowId: string; report: RunbookReport }> {
  const handle = await startRunbook(opts);
  const report = (await handle.result()) as RunbookReport;
  return { workflowId: handle.workflowId, report };
}
