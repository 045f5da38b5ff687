import { randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import type { RunbookProgress } from '../../src/common/progress.js';

export function temporalAddress(): string {
  return inject('temporalAddress');
}

export function workflowBundle(): { codePath: string } {
  return { codePath: inject('workflowBundlePath') };
}

/** A task queue no other test uses. */
export function uniqueTaskQueue(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function testClient(): Promise<Client> {
  const connection = await Connection.connect({ address: temporalAddress() });
  return new Client({ connection, namespace: 'default' });
}

export async function testNativeConnection(): Promise<NativeConnection> {
  return NativeConnection.connect({ address: temporalAddress() });
}

/**
 * Replays the histories workflows produced against the current workflow code
 * (`Worker.runReplayHistories`), so a nondeterministic change fails the test that ran them.
 */
export async function assertReplays(...handles: WorkflowHandle[]): Promise<void> {
  const histories = await Promise.all(handles.map(async (h) => ({ workflowId: h.workflowId, history: await h.fetchHistory() })));
  // The metrics sink is not called on replay; registering it keeps the replayer from logging it as unknown.
  const sinks = { runbooks: { ended: { fn: () => undefined }, target: { fn: () => undefined } } };
  for await (const result of Worker.runReplayHistories({ workflowBundle: workflowBundle(), sinks }, histories)) {
    if (result.error) throw new Error(`replay of ${result.workflowId} failed: ${String(result.error)}`, { cause: result.error });
  }
}

/**
 * Calls `probe` until `accept` holds for what it returns, and returns that; throws,
 * naming `what` and the last value seen, once `timeoutMs` has passed. A probe that
 * throws counts as not yet (its error is in the timeout message).
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  { timeoutMs = 60_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: { value: T } | { error: unknown } | undefined;
  for (;;) {
    try {
      const value = await probe();
      if (accept(value)) return value;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= deadline) {
      const seen = last === undefined ? 'nothing' : 'value' in last ? String(JSON.stringify(last.value)) : `error ${String(last.error)}`;
      // Long values (a whole progress object) are cut; the start says enough.
      throw new Error(`${what}: not reached within ${timeoutMs / 1000}s; last seen: ${seen.slice(0, 2000)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits until the workflow's `progress` query reports `phase`; throws if it does not within `timeoutMs`. */
export async function awaitPhase(handle: WorkflowHandle, phase: string, timeoutMs = 60_000): Promise<RunbookProgress> {
  return pollUntil(`${handle.workflowId} reaching phase "${phase}"`, () => handle.query<RunbookProgress>('progress'), (p) => p.phase === phase, { timeoutMs });
}

/**
 * The workflow's result, or, once `timeoutMs` has passed, an error saying where
 * the run stands (its status, last progress phase and pending activities), so a
 * hang in a loaded suite names its step instead of ending as a bare test timeout.
 */
export async function resultWithin<T = unknown>(handle: WorkflowHandle, timeoutMs = 90_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void whereIs(handle).then((where) => reject(new Error(`${handle.workflowId}: no result within ${timeoutMs / 1000}s; ${where}`)));
    }, timeoutMs);
  });
  try {
    return (await Promise.race([handle.result(), timedOut])) as T;
  } finally {
    clearTimeout(timer);
  }
}

async function whereIs(handle: WorkflowHandle): Promise<string> {
  const parts: string[] = [];
  try {
    const d = await handle.describe();
    parts.push(`status ${d.status.name}`);
    for (const a of d.raw.pendingActivities ?? []) {
      parts.push(`pending ${a.activityType?.name ?? '?'} (attempt ${a.attempt ?? '?'}, state ${String(a.state)}${a.lastFailure?.message ? `, last failure: ${a.lastFailure.message}` : ''})`);
    }
  } catch (err) {
    parts.push(`describe failed: ${String(err)}`);
  }
  try {
    const p = await handle.query<RunbookProgress>('progress');
    parts.push(`phase ${p.phase}`);
  } catch (err) {
    parts.push(`progress query failed: ${String(err)}`);
  }
  return parts.join('; ');
}

/** `p`, or an error naming `what` once `ms` has passed (a bare test timeout would not say which step hung). */
export async function within<T>(what: string, p: Promise<T>, ms = 60_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms / 1000}s`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
