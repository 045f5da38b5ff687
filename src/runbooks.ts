/** The runbooks an operator can start by name, and the workflow type behind each. */

export interface RunbookDefinition {
  /** Workflow type, as in `temporal workflow start --type`. */
  workflowType: string;
  /** Workflow ids start with this, then host and time. */
  idPrefix: string;
  description: string;
  /** Workflow execution timeout. */
  executionTimeout: string;
}

export const RUNBOOKS = {
  'health-check': {
    workflowType: 'healthCheck',
    idPrefix: 'health-check',
    description: 'every service active, disk and memory under their thresholds (read-only)',
    executionTimeout: '15 minutes',
  },
} as const satisfies Record<string, RunbookDefinition>;

export type RunbookName = keyof typeof RUNBOOKS;

export function isRunbookName(name: string): name is RunbookName {
  return Object.hasOwn(RUNBOOKS, name);
}
