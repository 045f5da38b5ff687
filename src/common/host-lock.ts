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

export interface HostLockState {
  hostId: string;
  holder?: Lease;
  queue: LeaseRequest[];
  /** Leases granted over the lock's lifetime. */
  granted: number;
  /** Leases taken back from holders that closed without releasing. */
  revoked: number;
}
