/**
 * The host lock: one workflow per host grants leases in order, so backup,
 * recovery and maintenance on one host never interleave (seed defect 2). Pure
 * names and shapes shared by the lock workflow, the runbooks and the CLI.
 */

export const HOST_LOCK_WORKFLOW_TYPE = 'hostLock';
export const LOCK_SIGNALS = {
  request: 'requestLease',
  release: 'releaseLease',
  withdraw: 'withdrawLease',
  granted: 'leaseGranted',
  /** To a requester: the host is frozen; its lease waits until the freeze ends (or, `skip`, it is not granted). */
  deferred: 'leaseDeferred',
  freeze: 'freeze',
  unfreeze: 'unfreeze',
} as const;
export const LOCK_STATE_QUERY = 'lockState';

/** `mcp-runbooks.host-lock.<hostId>` */
export function hostLockWorkflowId(hostId: string): string {
  return `mcp-runbooks.host-lock.${hostId}`;
}

export interface LeaseRequest {
  workflowId: string;
  runId: string;
  runbook: string;
  requestedAt: string;
}

export interface Lease extends LeaseRequest {
  leaseId: string;
  grantedAt: string;
}

/** An operator's freeze: no lease is granted until `until` (runbooks that change the host wait, or skip). */
export interface HostFreeze {
  /** ISO time the freeze ends. */
  until: string;
  note: string;
  by?: string;
  /** Requesters end as `HostFrozen` instead of waiting. */
  skip?: boolean;
  /** ISO time it was set. */
  at: string;
}

/** What a requester is told while the host is frozen. */
export interface LeaseDeferral {
  hostId: string;
  until: string;
  note: string;
  skip?: boolean;
}

export interface HostLockState {
  hostId: string;
  /** Set while a freeze is in force (or was set and has not been looked at since it ended). */
  frozen?: HostFreeze;
  holder?: Lease;
  queue: LeaseRequest[];
  /** Leases granted over the lock's lifetime. */
  granted: number;
  /** Leases taken back from holders that closed without releasing. */
  revoked: number;
}
