/**
 * The repository lock: one workflow per restic repository (by the target's
 * `repositoryId`, a hash of its location, never the location itself) grants
 * shared and exclusive leases, so our runs on one repository never fight:
 * backups (of different hosts) and reads go together, check and prune alone.
 * Pure names and shapes shared by the lock workflow, the runbooks and the CLI.
 */
import type { LeaseRequest } from './host-lock.js';

export const REPOSITORY_LOCK_WORKFLOW_TYPE = 'repositoryLock';
export const REPOSITORY_LOCK_SIGNALS = {
  request: 'requestRepositoryLease',
  release: 'releaseRepositoryLease',
  withdraw: 'withdrawRepositoryLease',
  granted: 'repositoryLeaseGranted',
} as const;
export const REPOSITORY_LOCK_STATE_QUERY = 'repositoryLockState';

/**
 * The failure type of a restic step restic refused because the repository is locked (most likely a
 * lock a killed run left): not retried in place, where it holds only a shared lease. The workflow
 * removes the stale locks under the exclusive lease (`resticUnlockStale`) and tries the step once more.
 */
export const REPOSITORY_LOCKED = 'RepositoryLocked';

/** `shared`: backup, and a recovery's reads (restic takes no lock for those). `exclusive`: check, tag, forget, prune, unlock. */
export type LeaseMode = 'shared' | 'exclusive';

/** `mcp-runbooks.repository-lock.<repositoryId>` */
export function repositoryLockWorkflowId(repositoryId: string): string {
  return `mcp-runbooks.repository-lock.${repositoryId}`;
}

export interface RepositoryLeaseRequest extends LeaseRequest {
  mode: LeaseMode;
  /** The host the run works for (a shared repository serves several). */
  hostId: string;
  /** Echoed in the grant, so a late grant of a withdrawn request is never taken for the next one. */
  requestId: string;
}

export interface RepositoryLease extends RepositoryLeaseRequest {
  leaseId: string;
  grantedAt: string;
}

export interface RepositoryLockState {
  repositoryId: string;
  /** Every lease held now: any number of shared ones, or one exclusive. */
  holders: RepositoryLease[];
  queue: RepositoryLeaseRequest[];
  granted: number;
  revoked: number;
}

/** Whether `next` may be granted beside `holders`. */
export function compatible(holders: readonly { mode: LeaseMode }[], next: { mode: LeaseMode }): boolean {
  if (holders.length === 0) return true;
  return next.mode === 'shared' && holders.every((h) => h.mode === 'shared');
}
