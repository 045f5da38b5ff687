/**
 * `repositoryLock`: one per restic repository
 * (`mcp-runbooks.repository-lock.<repositoryId>`). Grants leases in request
 * order: shared ones together, an exclusive one alone. A shared request behind
 * a waiting exclusive one waits too, so a stream of backups cannot starve a
 * prune. Takes back leases whose holder closed without releasing; ends when
 * idle; continues as new before its history grows large. The same shape as
 * the host lock (src/workflows/host-lock.ts), with modes.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  isCancellation,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import {
  compatible,
  REPOSITORY_LOCK_SIGNALS,
  REPOSITORY_LOCK_STATE_QUERY,
  type RepositoryLease,
  type RepositoryLeaseRequest,
  type RepositoryLockState,
} from '../common/repository-lock.js';
import { orchestrator } from './activity-policies.js';

export const requestRepositoryLeaseSignal = defineSignal<[RepositoryLeaseRequest]>(REPOSITORY_LOCK_SIGNALS.request);
export const releaseRepositoryLeaseSignal = defineSignal<[{ leaseId: string }]>(REPOSITORY_LOCK_SIGNALS.release);
export const withdrawRepositoryLeaseSignal = defineSignal<[{ workflowId: string; runId: string }]>(REPOSITORY_LOCK_SIGNALS.withdraw);
export const repositoryLeaseGrantedSignal = defineSignal<[{ leaseId: string; requestId: string; repositoryId: string; mode: string }]>(REPOSITORY_LOCK_SIGNALS.granted);
export const repositoryLockStateQuery = defineQuery<RepositoryLockState>(REPOSITORY_LOCK_STATE_QUERY);

const HOLDER_CHECK = '30 seconds';
const IDLE = '2 minutes';

type Run = { workflowId: string; runId: string };
const same = (a: Run, b: Run) => a.workflowId === b.workflowId && a.runId === b.runId;

export async function repositoryLock(input: { repositoryId: string; state?: RepositoryLockState }): Promise<void> {
  const state: RepositoryLockState = input.state ?? { repositoryId: input.repositoryId, holders: [], queue: [], granted: 0, revoked: 0 };

  setHandler(requestRepositoryLeaseSignal, (req) => {
    if (state.holders.some((h) => same(h, req)) || state.queue.some((q) => same(q, req))) return;
    state.queue.push(req);
  });
  setHandler(releaseRepositoryLeaseSignal, ({ leaseId }) => {
    state.holders = state.holders.filter((h) => h.leaseId !== leaseId);
  });
  setHandler(withdrawRepositoryLeaseSignal, (who) => {
    state.queue = state.queue.filter((q) => !same(q, who));
    state.holders = state.holders.filter((h) => !same(h, who));
  });
  setHandler(repositoryLockStateQuery, () => state);

  const grantable = () => state.queue.length > 0 && compatible(state.holders, state.queue[0]!);
  for (;;) {
    while (grantable()) {
      const next = state.queue.shift()!;
      const leaseId = uuid4();
      // Held before the grant is sent: a withdraw arriving meanwhile finds it (see the host lock).
      const lease: RepositoryLease = { ...next, leaseId, grantedAt: new Date().toISOString() };
      state.holders.push(lease);
      try {
        await getExternalWorkflowHandle(next.workflowId, next.runId).signal(repositoryLeaseGrantedSignal, { leaseId, requestId: next.requestId, repositoryId: state.repositoryId, mode: next.mode });
        state.granted += 1;
      } catch {
        state.holders = state.holders.filter((h) => h !== lease);
      }
    }
    if (state.holders.length === 0) {
      const requested = await condition(() => state.queue.length > 0, IDLE);
      if (!requested) {
        await condition(allHandlersFinished);
        if (state.queue.length === 0) return;
      }
      continue;
    }
    const before = state.holders.slice();
    const changed = await condition(() => grantable() || state.holders.length !== before.length || state.holders.some((h, i) => h !== before[i]), HOLDER_CHECK);
    if (!changed) {
      for (const holder of before) {
        // A failed check (Temporal briefly unreachable) takes the holder as open, as the host lock does.
        const open = await orchestrator.workflowIsOpen({ workflowId: holder.workflowId, runId: holder.runId }).catch((err: unknown) => {
          if (isCancellation(err)) throw err;
          return true;
        });
        if (!open && state.holders.includes(holder)) {
          state.holders = state.holders.filter((h) => h !== holder);
          state.revoked += 1;
        }
      }
    }
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 2000) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof repositoryLock>({ repositoryId: state.repositoryId, state });
    }
  }
}
