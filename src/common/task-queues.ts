/** Task queue naming: one orchestration queue, one queue per managed host. */

/** @default task queue for workflows. */
export const DEFAULT_TASK_QUEUE = 'mcp-runbooks';

/** Host ids are used in task queue names and workflow ids: keep them plain. */
export const HOST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The task queue a host's worker polls, e.g. `mcp-runbooks.host.db-1`. */
export function hostTaskQueue(baseTaskQueue: string, hostId: string): string {
  return `${baseTaskQueue}.host.${hostId}`;
}

/**
 * The host a runbook is about: the requested one if the orchestrator knows it;
 * by default this machine's host when it is in the list, else the first host.
 * Returns undefined for a host that is not in `hosts`.
 */
export function pickHost(hosts: readonly string[], ownHostId: string, requested?: string): string | undefined {
  const id = requested ?? (hosts.includes(ownHostId) ? ownHostId : hosts[0]);
  return id !== undefined && hosts.includes(id) ? id : undefined;
}
