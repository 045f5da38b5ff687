/**
 * The custom search attributes every runbook sets, so the Temporal UI list and
 * `temporal workflow list --query "McpOutcome='dry-run' AND McpRunbook='backup'"`
 * tell runs apart. All are Keyword. Pure: workflows, the dev server and the
 * metrics read-back share the names.
 */

/** Search attribute names and their Temporal type. */
export const SEARCH_ATTRIBUTES = {
  /** The runbook's workflow type, e.g. `backup`. */
  runbook: 'McpRunbook',
  /** The host the run is about, once routing to it succeeded (`unknown` before). */
  host: 'McpHost',
  /** How the run ended, or `running`; see {@link RUN_OUTCOMES}. */
  outcome: 'McpOutcome',
} as const;

export type SearchAttributeName = (typeof SEARCH_ATTRIBUTES)[keyof typeof SEARCH_ATTRIBUTES];

/** `--search-attribute` arguments for `temporal server start-dev`. */
export const DEV_SERVER_SEARCH_ATTRIBUTES = Object.values(SEARCH_ATTRIBUTES).map((name) => `${name}=Keyword`);

/**
 * Values of `McpOutcome`. `running` while the run is in progress; the rest once it ended.
 * A run that did nothing on purpose (a dry run, a rejected or unapproved recovery or
 * upgrade) is never `success`, so it never counts as a last success.
 */
export const RUN_OUTCOMES = [
  'running',
  'success',
  'failure',
  'cancelled',
  'timed-out',
  'invalid-input',
  'dry-run',
  'rejected',
  'not-approved',
  'recovered',
] as const;

export type RunOutcome = (typeof RUN_OUTCOMES)[number];

/** Outcomes that count as a success for `last success` metrics and alerts. */
export const SUCCESS_OUTCOMES: readonly RunOutcome[] = ['success', 'recovered'];

/** Outcomes of a run that changed nothing on purpose. */
export const DECLINED_OUTCOMES: readonly RunOutcome[] = ['dry-run', 'rejected', 'not-approved'];
