import { DefaultLogger, Runtime, type LogLevel, type LogMetadata } from '@temporalio/worker';

/** A host worker has no workflows by design; the SDK's warning about it is noise. */
const EXPECTED = ['No workflows registered, not polling for workflow tasks'];

/**
 * Installs the SDK runtime, once per process, before any connection: SDK logs at
 * `level` on stderr, and no SDK signal handlers, because the CLI shuts workers down itself.
 */
export function installRuntime(level: LogLevel, opts: { sdkMetricsAddress?: string } = {}): void {
  const logger = new DefaultLogger(level, (entry) => {
    if (EXPECTED.includes(entry.message)) return;
    const meta = entry.meta && Object.keys(entry.meta).length ? ` ${JSON.stringify(entry.meta satisfies LogMetadata)}` : '';
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
