import { DefaultLogger, Runtime, type LogLevel, type LogMetadata } from '@temporalio/worker';

/** A host worker has no workflows by design; the SDK's warning about it is noise. */
const EXPECTED = ['No workflows registered, not polling for workflow tasks'];

/**
 * An Error, also one from another realm (a workflow's log reaches the worker
 * through a sink, out of the workflow's isolate, where `instanceof Error` fails).
 */
function isErrorLike(v: unknown): v is Error & { type?: unknown; cause?: unknown } {
  return v instanceof Error || (typeof v === 'object' && v !== null && typeof (v as Error).message === 'string' && typeof (v as Error).stack === 'string');
}

/**
 * The error's class name. A workflow's error reaches the worker's logger structured-cloned,
 * which keeps only message and stack (name becomes `Error`, an ApplicationFailure's `type`
 * is gone); the stack's first line still names the class.
 */
function errorName(e: Error): string {
  const fromStack = /^([A-Za-z_$][\w$]*):/.exec(e.stack ?? '')?.[1];
  return e.name === 'Error' && fromStack ? fromStack : e.name;
}

/** An error as JSON: name, ApplicationFailure type, message, stack and cause (JSON.stringify alone gives `{}`). */
function errorJson(e: Error & { type?: unknown; cause?: unknown }, depth = 0): Record<string, unknown> {
  return {
    name: errorName(e),
    ...(typeof e.type === 'string' ? { type: e.type } : {}),
    message: e.message,
    ...(e.stack ? { stack: e.stack } : {}),
    ...(isErrorLike(e.cause) && depth < 5 ? { cause: errorJson(e.cause, depth + 1) } : {}),
  };
}

/**
 * A log entry's metadata as one line of JSON. Errors keep their message, type and
 * stack; a config Secret stays `[redacted]` (its own toJSON); bigints become strings.
 */
export function logMetaJson(meta: LogMetadata): string {
  return JSON.stringify(meta, (_key, value: unknown) => {
    if (isErrorLike(value)) return errorJson(value);
    if (typeof value === 'bigint') return value.toString();
    return value;
  });
}

/**
 * Installs the SDK runtime, once per process, before any connection: SDK logs at
 * `level` on stderr, and no SDK signal handlers, because the CLI shuts workers down itself.
 */
export function installRuntime(level: LogLevel, opts: { sdkMetricsAddress?: string } = {}): void {
  const logger = new DefaultLogger(level, (entry) => {
    if (EXPECTED.includes(entry.message)) return;
    const meta = entry.meta && Object.keys(entry.meta).length ? ` ${logMetaJson(entry.meta)}` : '';
    process.stderr.write(`${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} [${entry.level}] ${entry.message}${meta}\n`);
  });
  Runtime.install({
    logger,
    shutdownSignals: [],
    ...(opts.sdkMetricsAddress
      ? {
          telemetryOptions: {
            metrics: { prometheus: { bindAddress: opts.sdkMetricsAddress, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true } },
          },
        }
      : {}),
  });
}
