/**
 * Waiting for an operator: the `approve` / `reject` updates (and an `approve`
 * signal for systems that can only signal), accepted only while the run is
 * waiting for them. Before the wait (the plan is still being inspected) and
 * after it (the host is being changed, or the wait timed out) they are refused
 * with the reason, so an approval can never be given for a plan nobody saw.
 * Shared by `disasterRecovery` and `weeklyMaintenance`.
 */
import { condition, defineSignal, defineUpdate, log, setHandler } from '@temporalio/workflow';
import { approvalInput, parseInput, type ApprovalInput } from '../common/inputs.js';

export type { ApprovalInput };

export interface ApprovalResult {
  approved: boolean;
  by?: string;
}

/** `temporal workflow update execute --name approve --workflow-id <id> --input '{"by": "alice"}'` */
export const approveUpdate = defineUpdate<ApprovalResult, [ApprovalInput?]>('approve');
/** The same, as a signal, for systems that can only signal; ignored while the run is not waiting. */
export const approveSignal = defineSignal<[ApprovalInput?]>('approve');
/** Declines: the run ends having changed nothing. */
export const rejectUpdate = defineUpdate<ApprovalResult, [ApprovalInput?]>('reject');

export type Decision = 'approved' | 'rejected' | 'not-approved';

export interface ApprovalGate {
  /** Why an approval is refused right now, e.g. `the archive is still being inspected`. */
  notWaiting(why: string): void;
  /** Waits up to `ms` for a decision; `announce` runs once the gate accepts decisions (e.g. the approval request's notification). */
  wait(ms: number, announce?: () => Promise<void>): Promise<Decision>;
  readonly waiting: boolean;
  readonly decided: ApprovalResult | undefined;
}

/** Registers the handlers; call it before the workflow's first await so early requests get a clear answer. */
export function approvalGate(what: string): ApprovalGate {
  let waiting = false;
  let decided: ApprovalResult | undefined;
  let why = 'it has not started waiting yet';
  const check = (a: unknown): ApprovalInput => {
    const p = parseInput(approvalInput, a);
    if (!p.ok) throw new Error(`approval input is invalid: ${p.problems.message}`);
    if (decided) throw new Error(`${what} was already ${decided.approved ? 'approved' : 'rejected'}${decided.by ? ` by ${decided.by}` : ''}`);
    if (!waiting) throw new Error(`${what} is not waiting for approval: ${why}`);
    return p.value;
  };
  const decide = (approved: boolean) => (a?: ApprovalInput): ApprovalResult => {
    const { by } = check(a);
    decided = { approved, ...(by ? { by } : {}) };
    return decided;
  };
  setHandler(approveUpdate, decide(true), { validator: (a?: ApprovalInput) => void check(a) });
  setHandler(rejectUpdate, decide(false), { validator: (a?: ApprovalInput) => void check(a) });
  setHandler(approveSignal, (a?: ApprovalInput) => {
    try {
      decide(true)(a);
    } catch (err) {
      log.warn('approve signal ignored', { reason: (err as Error).message });
    }
  });
  return {
    notWaiting(reason) {
      why = reason;
    },
    async wait(ms, announce) {
      waiting = true;
      try {
        await announce?.();
        const answered = await condition(() => decided !== undefined, ms);
        if (!answered || !decided) return 'not-approved';
        return decided.approved ? 'approved' : 'rejected';
      } finally {
        waiting = false;
        why = decided ? 'it was decided' : 'the wait for approval timed out';
      }
    },
    get waiting() {
      return waiting;
    },
    get decided() {
      return decided;
    },
  };
}
