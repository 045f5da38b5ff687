/**
 * `hostLock`: one per host (`mcp-runbooks.host-lock.<hostId>`). Grants leases
 * in request order, one at a time; takes a lease back when its holder closes
 * without releasing it (failed, terminated, timed out), so a host never stays
 * locked; ends when idle; continues as new before its history grows large.
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
import { LOCK_SIGNALS, LOCK_STATE_QUERY, type HostFreeze, type HostLockState, type Lease, type LeaseDeferral, type LeaseRequest } from '../common/host-lock.js';
import { durationMs, orchestrator } from './activity-policies.js';
import { reportFrozen } from './outcome.js';

export const requestLeaseSignal = defineSignal<[LeaseRequest]>(LOCK_SIGNALS.request);
export const releaseLeaseSignal = defineSignal<[{ leaseId: string }]>(LOCK_SIGNALS.release);
export const withdrawLeaseSignal = defineSignal<[{ workflowId: string; runId: string }]>(LOCK_SIGNALS.withdraw);
export const leaseGrantedSignal = defineSignal<[{ leaseId: string; hostId: string }]>(LOCK_SIGNALS.granted);
export const leaseDeferredSignal = defineSignal<[LeaseDeferral]>(LOCK_SIGNALS.deferred);
export const freezeSignal = defineSignal<[Omit<HostFreeze, 'at'>]>(LOCK_SIGNALS.freeze);
export const unfreezeSignal = defineSignal<[{ by?: string }]>(LOCK_SIGNALS.unfreeze);
export const lockStateQuery = defineQuery<HostLockState>(LOCK_STATE_QUERY);

/** How often a held lease's holder is checked for being still open. */
const HOLDER_CHECK = '30 seconds';
/** An idle lock ends after this; the next request starts a new run. */
const IDLE = '2 minutes';

export async function hostLock(input: { hostId: string; state?: HostLockState }): Promise<void> {
  const state: HostLockState = input.state ?? { hostId: input.hostId, queue: [], granted: 0, revoked: 0 };
  const same = (a: { workflowId: string; runId: string }, b: { workflowId: string; runId: string }) => a.workflowId === b.workflowId && a.runId === b.runId;

  setHandler(requestLeaseSignal, (req) => {
    if (state.holder && same(state.holder, req)) return;
    if (!state.queue.some((q) => same(q, req))) state.queue.push(req);
  });
  setHandler(releaseLeaseSignal, ({ leaseId }) => {
    if (state.holder?.leaseId === leaseId) delete state.holder;
  });
  setHandler(withdrawLeaseSignal, (who) => {
    state.queue = state.queue.filter((q) => !same(q, who));
    if (state.holder && same(state.holder, who)) delete state.holder;
  });
  setHandler(lockStateQuery, () => state);
  // A freeze holds every new grant until it ends; the holder keeps its lease. Requesters are told once per freeze.
  let told = new Set<string>();
  const frozen = () => state.frozen !== undefined && Date.parse(state.frozen.until) > Date.now();
  setHandler(freezeSignal, (f) => {
    state.frozen = { ...f, at: new Date().toISOString() };
    told = new Set();
    reportFrozen(state.hostId, f.until);
  });
  setHandler(unfreezeSignal, () => {
    delete state.frozen;
    reportFrozen(state.hostId, undefined);
  });
  const keyOf = (q: LeaseRequest) => `${q.workflowId}\u0000${q.runId}`;
  const untold = () => state.queue.some((q) => !told.has(keyOf(q)));
  /** Tells each queued requester not told yet about this freeze; with `skip`, drops them from the queue. */
  const deferQueued = async (f: HostFreeze) => {
    for (const q of [...state.queue]) {
      const key = keyOf(q);
      if (told.has(key)) continue;
      told.add(key);
      if (f.skip) state.queue = state.queue.filter((x) => !same(x, q));
      await getExternalWorkflowHandle(q.workflowId, q.runId)
        .signal(leaseDeferredSignal, { hostId: state.hostId, until: f.until, note: f.note, ...(f.skip ? { skip: true } : {}) })
        .catch(() => undefined);
    }
  };

  /** Takes the lease back from a holder that closed without releasing it. */
  const checkHolder = async (holder: Lease) => {
    // A failed check (Temporal briefly unreachable) must not fail the lock itself: its queue and holder
    // would be lost and the next request would start a second lock. Take the holder as open; check again.
    const open = await orchestrator.workflowIsOpen({ workflowId: holder.workflowId, runId: holder.runId }).catch((err: unknown) => {
      if (isCancellation(err)) throw err;
      return true;
    });
    if (!open && state.holder === holder) {
      delete state.holder;
      state.revoked += 1;
    }
  };
  const continueIfLong = async () => {
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 2000) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof hostLock>({ hostId: state.hostId, state });
    }
  };

  for (;;) {
    if (state.frozen) {
      if (!frozen()) {
        delete state.frozen;
        reportFrozen(state.hostId, undefined);
      }
      else {
        // Frozen: tell the waiting, then sleep until it ends, is lifted or changed, or someone new asks. A holder
        // keeps its lease and is still checked; the history is still bounded.
        const f = state.frozen;
        await deferQueued(f);
        const holder = state.holder;
        const left = Math.max(1, Date.parse(f.until) - Date.now());
        const woke = await condition(() => state.frozen !== f || untold() || (holder !== undefined && state.holder !== holder), holder ? Math.min(left, durationMs(HOLDER_CHECK)) : left);
        if (!woke && holder && state.holder === holder && frozen()) await checkHolder(holder);
        await continueIfLong();
        continue;
      }
    }
    while (!state.holder && state.queue.length > 0 && !frozen()) {
      const next = state.queue.shift()!;
      const leaseId = uuid4();
      // The holder is set before the grant is sent: a withdraw (or a repeated request) that arrives
      // while the grant is in flight then finds it, instead of a lease nobody will release.
      const lease = { ...next, leaseId, grantedAt: new Date().toISOString() };
      state.holder = lease;
      try {
        await getExternalWorkflowHandle(next.workflowId, next.runId).signal(leaseGrantedSignal, { leaseId, hostId: state.hostId });
        state.granted += 1;
      } catch {
        // The requester closed while it waited: skip it.
        if (state.holder === lease) delete state.holder;
      }
    }
    if (!state.holder) {
      const requested = await condition(() => state.queue.length > 0 || state.frozen !== undefined, IDLE);
      if (!requested) {
        await condition(allHandlersFinished);
        // A freeze keeps the lock running: it is the freeze's record, and holds the grants back until it ends.
        if (state.queue.length === 0 && !frozen()) return;
      }
      continue;
    }
    const holder = state.holder;
    const released = await condition(() => state.holder !== holder, HOLDER_CHECK);
    if (!released && state.holder === holder) await checkHolder(holder);
    await continueIfLong();
  }
}
