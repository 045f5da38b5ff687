import { condition, defineQuery, defineUpdate, patched, setHandler } from '@temporalio/workflow';
import type { PackageCheck } from '../activities/maintenance/index.js';
import { finding, type Finding } from '../common/report.js';
import type { ApprovalInput, ApprovalResult } from './disaster-recovery.js';
import { runMaintenance, type MaintenanceContext, type MaintenanceInput, type MaintenanceReport } from './maintenance.js';
import { verifyArchives } from './verify-archives.js';
import { count } from '../common/words.js';

/** Steps of {@link weeklyMaintenance}, in order (seed 4.2). */
export const WEEKLY_STEPS = ['packages.updates', 'logs.errors', 'postgres', 'memory.stats', 'temp.cleanup', 'backup.verify', 'packages.upgrade'] as const;

/**
 * Approves the pending package upgrade of a weekly run that waits for it
 * (`maintenance.packages.upgradeApprovalTimeoutMinutes` > 0). Same name and
 * shape as the recovery's, so `mcp-runbooks approve <workflow-id>` and
 * `temporal workflow update execute --name approve` work for both.
 */
export const approveUpgradesUpdate = defineUpdate<ApprovalResult, [ApprovalInput?]>('approve');
/** Declines it: the run ends without installing anything. */
export const rejectUpgradesUpdate = defineUpdate<ApprovalResult, [ApprovalInput?]>('reject');

/** What a waiting weekly run would install, for whoever approves it. */
export interface PendingUpgrade {
  awaitingApproval: boolean;
  pending: number;
  security: number;
  packages: string[];
  decided?: ApprovalResult;
}
export const pendingUpgradeQuery = defineQuery<PendingUpgrade | null>('pendingUpgrade');

/**
 * Seed 4.2, weekly: pending package updates (security ones flagged), error
 * lines in each service's log since the previous scan, PostgreSQL slow queries
 * and connection usage, the memory service's size and operations, old `mcp_*`
 * temp files removed, every backup archive verified. Packages are installed
 * only when the config allows it or an operator approves this run through the
 * `approve` update while it waits (seed defect 9 upgraded unattended). The
 * wait happens after the host lock is released, and the lock is taken again
 * only around the install, so a nightly backup is never kept waiting a day.
 */
export async function weeklyMaintenance(input: MaintenanceInput = {}): Promise<MaintenanceReport> {
  let check: PackageCheck | undefined;
  let waiting = false;
  let decided: ApprovalResult | undefined;
  const decide = (approved: boolean) => (a?: ApprovalInput): ApprovalResult => {
    decided ??= { approved, ...(typeof a?.by === 'string' && a.by ? { by: a.by.slice(0, 200) } : {}) };
    return decided;
  };
  const validator = (_a?: ApprovalInput) => {
    if (decided) throw new Error(`the upgrade was already ${decided.approved ? 'approved' : 'rejected'}${decided.by ? ` by ${decided.by}` : ''}`);
    if (!waiting) throw new Error('this weekly run is not waiting for an upgrade approval (it waits only when updates are pending and maintenance.packages.upgradeApprovalTimeoutMinutes > 0)');
  };
  setHandler(approveUpgradesUpdate, (a?: ApprovalInput) => decide(true)(a), { validator });
  setHandler(rejectUpgradesUpdate, (a?: ApprovalInput) => decide(false)(a), { validator });
  setHandler(pendingUpgradeQuery, () =>
    check ? { awaitingApproval: waiting, pending: check.pending, security: check.security, packages: check.packages, ...(decided ? { decided } : {}) } : null,
  );

  /** `locked` runs the install under the host lock: at once inside it, or by taking it again after a wait outside it. */
  const upgrade = async ({ long, progress }: MaintenanceContext, locked: <T>(fn: () => Promise<T>) => Promise<T>): Promise<Finding | Finding[]> => {
    if (!check?.listed) return [];
    const { pending, security, policy } = check;
    if (pending === 0) return finding('packages.upgrade', 'ok', 'nothing to install: no updates pending', { pending: 0 });
    const what = `${count(pending, 'update')} (${security} security)`;
    if (policy.allowUpgrades) return locked(() => long.upgradePackages({ by: 'maintenance.packages.allowUpgrades' }));
    if (policy.approvalTimeoutMinutes <= 0) {
      return finding('packages.upgrade', 'ok', `${what} not installed: this host only reports (set maintenance.packages.allowUpgrades, or upgradeApprovalTimeoutMinutes to wait for an operator's approval)`, { pending, security, installed: false });
    }
    waiting = true;
    progress.set('awaiting upgrade approval', `${what}; approve with \`mcp-runbooks approve <workflow id>\` within ${policy.approvalTimeoutMinutes} minutes`);
    const answered = await condition(() => decided !== undefined, Math.round(policy.approvalTimeoutMinutes * 60_000));
    waiting = false;
    if (!answered || !decided) {
      return finding('packages.upgrade', 'ok', `${what} not installed: no approval within ${policy.approvalTimeoutMinutes} minutes`, { pending, security, installed: false, approval: 'timed out' });
    }
    if (!decided.approved) {
      return finding('packages.upgrade', 'ok', `${what} not installed: rejected${decided.by ? ` by ${decided.by}` : ''}`, { pending, security, installed: false, approval: 'rejected', ...decided });
    }
    const by = `approved by ${decided.by ?? 'an operator'}`;
    return locked(() => {
      progress.set('packages.upgrade', `installing ${what}`);
      return long.upgradePackages({ by });
    });
  };
  const inLock = <T>(fn: () => Promise<T>) => fn();
  /** Set when the run waits for approval after releasing the host lock. */
  let waitOutsideLock = false;

  return runMaintenance('weeklyMaintenance', input, WEEKLY_STEPS, async (ctx) => {
    const { step, host, long, workflowId, progress } = ctx;
    await step('packages.updates', async () => {
      check = await long.checkPackages();
      return check.findings;
    });
    await step('logs.errors', () => long.countLogErrors({ workflowId }));
    await step('postgres', () => host.checkPostgres());
    await step('memory.stats', () => host.memoryServiceStats());
    await step('temp.cleanup', () => host.cleanTempFiles());
    await step('backup.verify', async () => verifyArchives(long, (await host.listBackups()).map((b) => b.archive), progress));
    const needsApproval = Boolean(check?.listed && check.pending > 0 && !check.policy.allowUpgrades && check.policy.approvalTimeoutMinutes > 0);
    // The wait (up to a day) must not hold the host lock: other runbooks give up after LOCK_WAIT (6 h).
    // Runs recorded before this change waited inside the lock, and replay that way.
    if (needsApproval && patched('weekly-approval-outside-host-lock')) {
      waitOutsideLock = true;
      return;
    }
    await step('packages.upgrade', () => upgrade(ctx, inLock));
  }, async (ctx) => {
    if (waitOutsideLock) await ctx.step('packages.upgrade', () => upgrade(ctx, ctx.relock));
  });
}
