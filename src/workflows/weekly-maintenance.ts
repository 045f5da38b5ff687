import { defineQuery, setHandler } from '@temporalio/workflow';
import type { PackageCheck } from '../activities/maintenance/index.js';
import { finding, type Finding } from '../common/report.js';
import { count } from '../common/words.js';
import { approvalGate, approveUpdate, rejectUpdate, type ApprovalGate, type ApprovalResult } from './approval.js';
import { maintenanceRunbook, type MaintenanceContext } from './maintenance.js';
import { verifyArchives } from './verify-archives.js';

/** Steps of {@link weeklyMaintenance}, in order (seed 4.2). */
export const WEEKLY_STEPS = ['packages.updates', 'logs.errors', 'postgres', 'memory.stats', 'temp.cleanup', 'backup.verify', 'packages.upgrade'] as const;

/**
 * Approves the pending package upgrade of a weekly run that waits for it
 * (`maintenance.packages.upgradeApprovalTimeoutMinutes` > 0). Same update as
 * the recovery's, so `mcp-runbooks approve <workflow-id>` works for both.
 */
export const approveUpgradesUpdate = approveUpdate;
/** Declines it: the run ends without installing anything. */
export const rejectUpgradesUpdate = rejectUpdate;

/** What a waiting weekly run would install, for whoever approves it. */
export interface PendingUpgrade {
  awaitingApproval: boolean;
  pending: number;
  security: number;
  packages: string[];
  decided?: ApprovalResult;
}
export const pendingUpgradeQuery = defineQuery<PendingUpgrade | null>('pendingUpgrade');

/** The config's longest upgrade approval wait (`upgradeApprovalTimeoutMinutes` at most 1440). */
const MAX_APPROVAL_MS = 24 * 60 * 60_000;

/**
 * Seed 4.2, weekly: pending package updates (security ones flagged), error
 * lines in each service's log since the previous scan, PostgreSQL slow queries
 * and connection usage, the memory service's size and operations, old `mcp_*`
 * temp files removed, every backup archive verified; then, only when the config
 * allows it or an operator approves this run (seed defect 9 upgraded
 * unattended), the packages are installed. The wait for approval holds no
 * host lock, so a nightly backup is never kept waiting a day.
 */
export const weeklyMaintenance = maintenanceRunbook(
  'weeklyMaintenance',
  WEEKLY_STEPS,
  {
    lock: 'steps',
    budget: { lockWaits: 2, work: '12 hours', approvalMs: () => MAX_APPROVAL_MS },
    handlers: () => {
      const gate = approvalGate('this weekly run');
      gate.notWaiting('it waits only when updates are pending and maintenance.packages.upgradeApprovalTimeoutMinutes > 0');
      return { gate, check: undefined as PackageCheck | undefined };
    },
  },
  async (m, state) => {
    setHandler(pendingUpgradeQuery, () =>
      state.check
        ? { awaitingApproval: state.gate.waiting, pending: state.check.pending, security: state.check.security, packages: state.check.packages, ...(state.gate.decided ? { decided: state.gate.decided } : {}) }
        : null,
    );
    const { step, acts, workflowId, progress } = m;
    await m.locked(async () => {
      await step('packages.updates', async () => {
        state.check = await acts.checkPackages();
        return state.check.findings;
      });
      await step('logs.errors', () => acts.countLogErrors({ workflowId }));
      await step('postgres', () => acts.checkPostgres());
      await step('memory.stats', () => acts.memoryServiceStats());
      await step('temp.cleanup', () => acts.cleanTempFiles());
      await step('backup.verify', async () => verifyArchives(acts, (await acts.listBackups()).map((b) => b.archive), progress));
    });
    await step('packages.upgrade', () => upgrade(m, state.gate, state.check));
  },
);

/** Installs the pending updates when allowed, or after an operator's approval given while the run waits outside the host lock. */
async function upgrade(m: MaintenanceContext, gate: ApprovalGate, check: PackageCheck | undefined): Promise<Finding | Finding[]> {
  if (!check?.listed) return [];
  const { pending, security, policy } = check;
  if (pending === 0) return finding('packages.upgrade', 'ok', 'nothing to install: no updates pending', { pending: 0 });
  const what = `${count(pending, 'update')} (${security} security)`;
  if (policy.allowUpgrades) return m.locked(() => m.acts.upgradePackages({ by: 'maintenance.packages.allowUpgrades' }));
  if (policy.approvalTimeoutMinutes <= 0) {
    return finding('packages.upgrade', 'ok', `${what} not installed: this host only reports (set maintenance.packages.allowUpgrades, or upgradeApprovalTimeoutMinutes to wait for an operator's approval)`, { pending, security, installed: false });
  }
  m.progress.set('awaiting upgrade approval', `${what}; approve with \`mcp-runbooks approve <workflow id>\` within ${policy.approvalTimeoutMinutes} minutes`);
  const decision = await gate.wait(Math.round(policy.approvalTimeoutMinutes * 60_000), () =>
    m.notes.send('waiting-for-approval', 'running', `${what} on ${m.hostId} wait up to ${policy.approvalTimeoutMinutes} minutes for approval to be installed`, { approveCommand: `mcp-runbooks approve ${m.workflowId}` }),
  );
  gate.notWaiting(decision === 'not-approved' ? 'the wait for approval timed out' : 'it was decided');
  if (decision === 'not-approved') {
    return finding('packages.upgrade', 'ok', `${what} not installed: no approval within ${policy.approvalTimeoutMinutes} minutes`, { pending, security, installed: false, approval: 'timed out' });
  }
  const by = gate.decided?.by;
  if (decision === 'rejected') {
    return finding('packages.upgrade', 'ok', `${what} not installed: rejected${by ? ` by ${by}` : ''}`, { pending, security, installed: false, approval: 'rejected', approved: false, ...(by ? { by } : {}) });
  }
  return m.locked(() => {
    m.progress.set('packages.upgrade', `installing ${what}`);
    return m.acts.upgradePackages({ by: `approved by ${by ?? 'an operator'}`, approved: { pending, packages: check.packages } });
  });
}
