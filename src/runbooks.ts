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
  options: ReadonlyArray<'reason' | 'dryRun'>;
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
} as const satisfies Record<string, RunbookDefinition>;

export type RunbookName = keyof typeof RUNBOOKS;

export function isRunbookName(name: string): name is RunbookName {
  return Object.hasOwn(RUNBOOKS, name);
}
