import { randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { inject } from 'vitest';

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
  const sinks = { runbooks: { ended: { fn: () => undefined } } };
  for await (const result of Worker.runReplayHistories({ workflowBundle: workflowBundle(), sinks }, histories)) {
    if (result.error) throw new Error(`replay of ${result.workflowId} failed: ${String(result.error)}`, { cause: result.error });
  }
}
