/** Freezes live in each host's lock workflow: a signal (starting the lock if it is not running). */
import type { Client } from '@temporalio/client';
import { UsageError } from '../common/errors.js';
import { HOST_LOCK_WORKFLOW_TYPE, hostLockWorkflowId, LOCK_SIGNALS, type HostFreeze } from '../common/host-lock.js';
import type { Config } from '../config/config.js';
import { HostSelectorError, selectHosts } from '../config/host-selector.js';

function hostsOf(config: Config, selector: string): string[] {
  try {
    return selectHosts(config.inventory, selector);
  } catch (err) {
    if (err instanceof HostSelectorError) throw new UsageError(err.message);
    throw err;
  }
}

/** Freezes every selected host; returns their ids. */
export async function freezeHosts(client: Client, config: Config, selector: string, freeze: Omit<HostFreeze, 'at'>): Promise<string[]> {
  const hosts = hostsOf(config, selector);
  for (const hostId of hosts) {
    await client.workflow.signalWithStart(HOST_LOCK_WORKFLOW_TYPE, {
      workflowId: hostLockWorkflowId(hostId),
      taskQueue: config.temporal.taskQueue,
      args: [{ hostId }],
      signal: LOCK_SIGNALS.freeze,
      signalArgs: [freeze],
    });
  }
  return hosts;
}

/** Lifts the freeze of every selected host whose lock runs (a host whose lock is not running is not frozen). */
export async function unfreezeHosts(client: Client, config: Config, selector: string): Promise<string[]> {
  const hosts = hostsOf(config, selector);
  for (const hostId of hosts) {
    await client.workflow
      .getHandle(hostLockWorkflowId(hostId))
      .signal(LOCK_SIGNALS.unfreeze, {})
      .catch((err: unknown) => {
        if ((err as Error).name !== 'WorkflowNotFoundError') throw err;
      });
  }
  return hosts;
}
