/**
 * What every command shares: output, config loading, the SDK runtime, stop
 * signals, a connected client, following a run and printing its report. Exit
 * codes come from `./exit-codes.ts` only.
 */
import { CommanderError, Option, type Command } from 'commander';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { LogLevel } from '@temporalio/worker';
import type { RunbookReport } from '../common/report.js';
import type { Config } from '../config/config.js';
import { UsageError, errorMessage } from '../common/errors.js';
import { EXIT_CODES, exitCodeForError, exitCodeForReport } from './exit-codes.js';

// Commands import what they need when they run, so `--help` does not load the Temporal SDK.

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export const out = (line: string) => process.stdout.write(`${line}\n`);
export const err = (line: string) => process.stderr.write(`${line}\n`);

export interface GlobalOptions {
  config?: string;
  logLevel?: LogLevel;
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

export async function load(cmd: Command, extra: { hostId?: string } = {}): Promise<Config> {
  const { loadConfig } = await import('../config/load.js');
  const g = globals(cmd);
  return loadConfig({ ...(g.config ? { path: g.config } : {}), env: process.env, ...extra });
}

export async function installRuntime(cmd: Command, fallback: LogLevel, sdkMetricsPort = 0): Promise<string | undefined> {
  const { installRuntime } = await import('../temporal/runtime.js');
  const address = sdkMetricsPort > 0 ? `127.0.0.1:${sdkMetricsPort}` : undefined;
  installRuntime(globals(cmd).logLevel ?? fallback, address ? { sdkMetricsAddress: address } : {});
  return address ? `http://${address}/metrics` : undefined;
}

/**
 * An AbortSignal that fires on the first SIGINT or SIGTERM; a second signal
 * exits at once. The listeners stay installed (not `once`): execa's exit hook
 * re-raises a signal that no other listener handles, which would kill the
 * process in the middle of a graceful shutdown.
 */
export function stopSignal(onStop?: (signal: string) => void): AbortSignal {
  const controller = new AbortController();
  const handler = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      err(`${signal} again: exiting now`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    onStop?.(signal);
    controller.abort(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return controller.signal;
}

/**
 * Runs `fn` with a client connected to the config's Temporal; closes it after.
 * Client commands do not install the SDK Runtime (`--log-level`): only a worker logs through it.
 */
export async function withClient<T>(config: Config, fn: (client: Client) => Promise<T>): Promise<T> {
  const { connectClient } = await import('../temporal/connection.js');
  const client = await connectClient(config.temporal);
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

export interface Connected {
  config: Config;
  client: Client;
  hostId: string;
}

/** Loads config, connects, resolves the host and checks that workers poll its queues. */
export async function connected(cmd: Command, host: string | undefined, fn: (c: Connected) => Promise<void>): Promise<void> {
  const config = await load(cmd);
  const { missingWorkers, resolveHostForClient } = await import('../client/run-runbook.js');
  const hostId = resolveHostForClient(config, host);
  await withClient(config, async (client) => {
    const missing = await missingWorkers(client, config, hostId);
    if (missing.length) {
      for (const m of missing) err(m);
      process.exitCode = EXIT_CODES.failed;
      return;
    }
    await fn({ config, client, hostId });
  });
}

/**
 * Prints a runbook's report: as JSON, or as `textLines` then the report's text.
 * The exit code says how it ended (`fail` findings, declined, ok).
 */
export async function printReport(report: RunbookReport, json: boolean, textLines: readonly string[] = []): Promise<void> {
  if (json) out(JSON.stringify(report, null, 2));
  else {
    const { renderReportText } = await import('../report/render-text.js');
    for (const line of textLines) out(line);
    out(renderReportText(report).trimEnd());
  }
  process.exitCode = exitCodeForReport(report);
}

/** `--reconnect-timeout <seconds>`, on the commands that follow a run. */
export function reconnectOption(): Option {
  return new Option('--reconnect-timeout <seconds>', 'while following a run, how long to keep retrying a Temporal server that went away').default('300');
}

function reconnectSeconds(value: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n >= 0)) throw new UsageError(`--reconnect-timeout: expected a number of seconds >= 0, found "${value}"`);
  return n;
}

export interface FollowCliOptions {
  /** No progress lines (e.g. `--json`). */
  quiet: boolean;
  /** How many of the run's phases an earlier watch already printed. */
  shownPhases?: number;
  /** The `--reconnect-timeout` value. */
  reconnectTimeout: string;
}

/**
 * Follows a run to its end, printing its progress on stderr and riding out a
 * Temporal restart; returns the result, or undefined when the run failed (its
 * reason printed, the exit code set from its failure type).
 */
export async function followResult<T>(config: Config, handle: WorkflowHandle, opts: FollowCliOptions): Promise<T | undefined> {
  const seconds = reconnectSeconds(opts.reconnectTimeout);
  const { followRun } = await import('../client/follow.js');
  const { connectionSettings } = await import('../temporal/connection.js');
  const { WorkflowFailedError } = await import('@temporalio/client');
  try {
    return await followRun<T>(handle, {
      ...(opts.quiet ? {} : { onProgress: (line: string) => err(`  ${line}`) }),
      onNotice: err,
      ...(opts.shownPhases ? { shownPhases: opts.shownPhases } : {}),
      address: connectionSettings(config.temporal).address,
      namespace: config.temporal.namespace,
      reconnectSeconds: seconds,
    });
  } catch (e) {
    if (e instanceof WorkflowFailedError) {
      err(`${handle.workflowId} failed: ${e.cause?.message ?? e.message}`);
      process.exitCode = exitCodeForError(e);
      return undefined;
    }
    throw e;
  }
}

/** The top-level error handler: prints what went wrong and sets the exit code. */
export function reportError(e: unknown): void {
  // commander printed its own message (or the help) already.
  if (!(e instanceof CommanderError)) err(`mcp-runbooks: ${errorMessage(e)}`);
  process.exitCode = exitCodeForError(e);
}
