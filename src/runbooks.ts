/** The runbooks an operator can start by name, and the workflow type behind each. */

export interface RunbookDefinition {
  /** Workflow type, as in `temporal workflow start --type`. */
  workflowType: string;
  /** Workflow ids start with this, then host and time. */
  idPrefix: string;
  description: string;
  /**
   * Whether it changes the host (stops services, deletes, installs). Such runs are
   * never started with an execution timeout, and no schedule may cancel or
   * terminate them for a newer run: a terminated run runs none of its undos.
   */
  changesHost: boolean;
  /** Input fields beyond `hostId` that `mcp-runbooks run` may pass. */
  options: ReadonlyArray<'reason' | 'dryRun' | 'service' | 'backup' | 'target'>;
  /** Input fields `mcp-runbooks run` requires (and a schedule could not give). */
  required?: ReadonlyArray<'service'>;
}

export const RUNBOOKS = {
  'health-check': {
    workflowType: 'healthCheck',
    idPrefix: 'health-check',
    description: 'every service active, disk and memory under their thresholds (read-only)',
    changesHost: false,
    options: [],
  },
  backup: {
    workflowType: 'backup',
    idPrefix: 'backup',
    description: 'snapshot (stopping only the owners of stop-mode folders), archive, verify, prune',
    changesHost: true,
    options: ['reason', 'dryRun'],
  },
  daily: {
    workflowType: 'dailyMaintenance',
    idPrefix: 'daily',
    description: 'seed 4.1: services (a stopped one is started), disk (old logs deleted above the threshold), memory, backups on hand, log rotation',
    changesHost: true,
    options: [],
  },
  weekly: {
    workflowType: 'weeklyMaintenance',
    idPrefix: 'weekly',
    description: 'seed 4.2: package updates (installed only when allowed or approved), log errors, PostgreSQL slow queries and connections, memory service, temp files, every backup verified',
    changesHost: true,
    options: [],
  },
  monthly: {
    workflowType: 'monthlyMaintenance',
    idPrefix: 'monthly',
    description: 'seed 4.3: security review, VACUUM ANALYZE, memory consolidation, system snapshot; writes reports/monthly-report-YYYYMM.txt and .json',
    changesHost: true,
    options: [],
  },
  'restore-drill': {
    workflowType: 'restoreDrill',
    idPrefix: 'restore-drill',
    description: 'proof a backup restores: the newest verified backup (--backup NAME, --target NAME) restored into scratch copies, every file checked against its sha256 and every table\'s rows against the dump, then removed; live folders and services untouched',
    changesHost: false,
    options: ['backup', 'target'],
  },
  'restart-service': {
    workflowType: 'restartService',
    idPrefix: 'restart-service',
    description: 'remediation: restart one service (--service NAME) under the host lock and check it; refused when it was restarted too often lately (remediation.maxRestarts within remediation.windowMinutes)',
    changesHost: true,
    options: ['reason', 'service'],
    required: ['service'],
  },
} as const satisfies Record<string, RunbookDefinition>;

export type RunbookName = keyof typeof RUNBOOKS;

export function isRunbookName(name: string): name is RunbookName {
  return Object.hasOwn(RUNBOOKS, name);
}

export interface ApiRunbook {
  workflowType: string;
  idPrefix: string;
  description: string;
}

/**
 * What the gateway starts by name (`POST /v1/runbooks/<name>`): every runbook of
 * `mcp-runbooks run`, and a recovery (`mcp-runbooks recover`), which waits for an
 * approval (from a token that may approve) unless its input says `approve`.
 */
export const API_RUNBOOKS: Readonly<Record<string, ApiRunbook>> = {
  ...Object.fromEntries(Object.entries(RUNBOOKS).map(([name, d]) => [name, { workflowType: d.workflowType, idPrefix: d.idPrefix, description: d.description }])),
  'disaster-recovery': {
    workflowType: 'disasterRecovery',
    idPrefix: 'recover',
    description: 'restore the host from a backup (input `backup`, optional `from` target): inspected, then waits for approval, then swapped in with an emergency backup of what it replaced',
  },
};

export function isApiRunbookName(name: string): boolean {
  return Object.hasOwn(API_RUNBOOKS, name);
}
