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
} as const satisfies Record<string, RunbookDefinition>;

export type RunbookName = keyof typeof RUNBOOKS;

export function isRunbookName(name: string): name is RunbookName {
  return Object.hasOwn(RUNBOOKS, name);
}
