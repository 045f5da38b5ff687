/** The runbooks an operator can start by name, and the workflow type behind each. */

export interface RunbookDefinition {
  /** Workflow type, as in `temporal workflow start --type`. */
  workflowType: string;
  /** Workflow ids start with this, then host and time. */
  idPrefix: string;
  description: string;
  /** Workflow execution timeout. */
  executionTimeout: string;
  /** Input fields beyond `hostId` that `mcp-runbooks run` may pass. */
  options: ReadonlyArray<'reason' | 'dryRun'>;
}

export const RUNBOOKS = {
  'health-check': {
    workflowType: 'healthCheck',
    idPrefix: 'health-check',
    description: 'every service active, disk and memory under their thresholds (read-only)',
    executionTimeout: '15 minutes',
    options: [],
  },
  backup: {
    workflowType: 'backup',
    idPrefix: 'backup',
    description: 'snapshot (stopping only the owners of stop-mode folders), archive, verify, prune',
    executionTimeout: '24 hours',
    options: ['reason', 'dryRun'],
  },
  daily: {
    workflowType: 'dailyMaintenance',
    idPrefix: 'daily',
    description: 'seed 4.1: services (a stopped one is started), disk (old logs deleted above the threshold), memory, backups on hand, log rotation',
    // Up to 6 hours waiting for the host lock (e.g. behind the 02:00 backup), then minutes of work.
    executionTimeout: '8 hours',
    options: [],
  },
  weekly: {
    workflowType: 'weeklyMaintenance',
    idPrefix: 'weekly',
    description: 'seed 4.2: package updates (installed only when allowed or approved), log errors, PostgreSQL slow queries and connections, memory service, temp files, every backup verified',
    // Lock wait, archive verification, and up to a day waiting for an upgrade approval.
    executionTimeout: '36 hours',
    options: [],
  },
  monthly: {
    workflowType: 'monthlyMaintenance',
    idPrefix: 'monthly',
    description: 'seed 4.3: security review, VACUUM ANALYZE, memory consolidation, system snapshot; writes reports/monthly-report-YYYYMM.txt and .json',
    executionTimeout: '12 hours',
    options: [],
  },
} as const satisfies Record<string, RunbookDefinition>;

export type RunbookName = keyof typeof RUNBOOKS;

export function isRunbookName(name: string): name is RunbookName {
  return Object.hasOwn(RUNBOOKS, name);
}
