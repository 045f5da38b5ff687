import { ApplicationFailure, condition, defineQuery, defineSignal, defineUpdate, isCancellation, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ArchiveResult } from '../activities/backup.js';
import type { RestorePlan } from '../activities/restore.js';
import type { Downtime } from '../archive/manifest.js';
import { archiveNameProblem } from '../common/archive-names.js';
import { buildReport, finding, type Finding, type RunbookReport } from '../common/report.js';
import { hostActivities } from './activity-profiles.js';
import { withHostLock } from './host-lease.js';
import { trackProgress } from './progress.js';
import { measured } from './outcome.js';
import { Compensations } from './saga.js';
import { failedWith, failureMessage, inputObject, routeToHost } from './shared.js';

/** Input of {@link disasterRecovery}; JSON, secret-free. */
export interface DisasterRecoveryInput {
  /** Archive name inside the host's backups folder, e.g. `mcp_backup_20261124_020000.tar.gz`. */
  backup: string;
  /** @default the orchestrator's own host */
  hostId?: string;
  /** Skip the wait for an `approve` update. @default false */
  approve?: boolean;
  /** Inspect and report the plan; change nothing. */
  dryRun?: boolean;
  /** How long to wait for approval before ending with nothing changed. @default 60 */
  approvalTimeoutMinutes?: number;
}

export interface ApprovalInput {
  /** Who approved, for the record. */
  by?: string;
}

export interface ApprovalResult {
  approved: boolean;
  by?: string;
}

/** Approves a waiting recovery: `temporal workflow update execute --name approve --workflow-id <id> --input '{"by": "alice"}'`. */
export const approveUpdate = defineUpdate<ApprovalResult, [ApprovalInput?]>('approve');
/** The same, as a signal, for systems that can only signal. */
export const approveSignal = defineSignal<[ApprovalInput?]>('approve');
/** Declines a waiting recovery: it ends having changed nothing. */
export const rejectUpdate = defineUpdate<ApprovalResult, [ApprovalInput?]>('reject');
/** The inspected plan (what will be restored where), once the archive passed its checks. */
export const planQuery = defineQuery<RestorePlan | null>('plan');

export const RECOVERY_OUTCOMES = ['recovered', 'dry-run', 'not-approved', 'rejected'] as const;
export type RecoveryOutcome = (typeof RECOVERY_OUTCOMES)[number];

export interface RecoveryResult extends RunbookReport {
  outcome: RecoveryOutcome;
  archive: string;
  plan?: RestorePlan;
  approvedBy?: string;
  /** The archive of the state before the recovery. */
  emergencyBackup?: ArchiveResult;
  downtime: Downtime[];
  /** Post-recovery checks. */
  checks: Finding[];
  /** Where the time went, in seconds: only the steps that ran. `restoreSeconds` runs from the first stop to the last start. */
  durations: RecoveryDurations;
}

export interface RecoveryDurations {
  inspectSeconds?: number;
  approvalWaitSeconds?: number;
  extractSeconds?: number;
  restoreSeconds?: number;
  emergencyBackupSeconds?: number;
  totalSeconds: number;
}

const seconds = (from: string, to: string) => Math.round((Date.parse(to) - Date.parse(from)) / 100) / 10;

/**
 * Restores a host from a backup archive. Nothing is touched until the archive
 * passed every check; then (after approval) it extracts beside each target while
 * services run, stops them, dumps the current database, swaps folders by
 * rename, restores the database, starts services and checks them. Any failure
 * after the first stop puts the previous folders and database back and restarts
 * the services. The emergency archive of the previous state is written from the
 * preserved folders after the services are back.
 */
export async function disasterRecovery(input: DisasterRecoveryInput): Promise<RecoveryResult> {
  const startedAt = new Date();
  const args = inputObject(input, 'disasterRecovery');
  const nameProblem = archiveNameProblem(args.backup);
  if (nameProblem) throw ApplicationFailure.nonRetryable(`input.backup: ${nameProblem}`, 'InvalidInput');
  const archive = args.backup as string;
  const timeoutMinutes = args.approvalTimeoutMinutes ?? 60;
  if (typeof timeoutMinutes !== 'number' || !(timeoutMinutes > 0 && timeoutMinutes <= 7 * 24 * 60)) {
    throw ApplicationFailure.nonRetryable('input.approvalTimeoutMinutes must be a number of minutes from 1 to 10080', 'InvalidInput');
  }
  const progress = trackProgress('disasterRecovery');
  let approved = args.approve === true;
  let rejected = false;
  let decidedBy: string | undefined;
  let changing = false;
  const decide = (ok: boolean) => (a?: ApprovalInput): ApprovalResult => {
    if (!approved && !rejected) {
      approved = ok;
      rejected = !ok;
      decidedBy = typeof a?.by === 'string' ? a.by : undefined;
    }
    return { approved, ...(decidedBy ? { by: decidedBy } : {}) };
  };
  setHandler(approveUpdate, (a?: ApprovalInput) => decide(true)(a), {
    validator: (_a?: ApprovalInput) => {
      if (rejected) throw new Error('this recovery was already rejected');
    },
  });
  setHandler(approveSignal, (a?: ApprovalInput) => void decide(true)(a));
  setHandler(planQuery, () => null);
  setHandler(rejectUpdate, (a?: ApprovalInput) => decide(false)(a), {
    validator: (_a?: ApprovalInput) => {
      if (changing) throw new Error('too late to reject: the recovery is already changing the host');
    },
  });

  // The metrics' host label is 'unknown' until routing succeeds: raw input would make it unbounded.
  let knownHost = 'unknown';
  return measured('disasterRecovery', () => knownHost, async () => {
    const route = await routeToHost(args.hostId);
    knownHost = route.hostId;
    const workflowId = workflowInfo().workflowId;
    const findings: Finding[] = [];
    const downtime: Downtime[] = [];
    let checks: Finding[] = [];
    const durations: Omit<RecoveryDurations, 'totalSeconds'> = {};
    /** Runs one step and records its workflow-clock duration (deterministic on replay). */
    const timed = async <T>(key: keyof typeof durations, step: () => Promise<T>): Promise<T> => {
      const t0 = Date.now();
      try {
        return await step();
      } finally {
        durations[key] = Math.round((Date.now() - t0) / 100) / 10;
      }
    };
    const result = (outcome: RecoveryOutcome, extra: Partial<RecoveryResult> = {}): RecoveryResult => ({
      ...buildReport({ runbook: 'disasterRecovery', hostId: route.hostId, startedAt, finishedAt: new Date(), findings }),
      outcome,
      archive,
      downtime,
      checks,
      durations: { ...durations, totalSeconds: Math.round((Date.now() - startedAt.getTime()) / 100) / 10 },
      ...(decidedBy ? { approvedBy: decidedBy } : {}),
      ...extra,
    });

    return withHostLock(route.hostId, 'disasterRecovery', progress, async () => {
      const host = hostActivities(route.taskQueue, 'quick');
      const long = hostActivities(route.taskQueue, 'long');
      const critical = hostActivities(route.taskQueue, 'critical');
      const undo = hostActivities(route.taskQueue, 'undo');

      progress.set('inspect', archive);
      let plan: RestorePlan;
      try {
        plan = await timed('inspectSeconds', () => long.inspectRestore({ archive, workflowId, runId: workflowInfo().runId }));
      } catch (err) {
        if (isCancellation(err)) throw err;
        throw ApplicationFailure.nonRetryable(`${failureMessage(err)}. Nothing was changed.`, failedWith(err, 'RestoreRefusedError') ? 'RestoreRefused' : 'RecoveryInspectFailed');
      }
      setHandler(planQuery, () => plan);
      findings.push(
        finding('recovery.inspect', 'ok', `${archive} matches its manifest and is safe to restore: ${plan.roots.length} folders${plan.dump ? ' and a database dump' : ''}`, {
          roots: plan.roots.map((r) => r.target),
          fromOtherHost: plan.fromOtherHost,
        }),
      );
      if (plan.fromOtherHost) findings.push(finding('recovery.host', 'warn', `${archive} was made on host ${plan.backupHost}, not ${route.hostId}`, {}));
      if (args.dryRun) return result('dry-run', { plan });

      if (!approved) {
        progress.set('awaiting approval', `approve with the "approve" update within ${timeoutMinutes} minutes`);
        const decided = await timed('approvalWaitSeconds', () => condition(() => approved || rejected, `${timeoutMinutes} minutes`));
        if (!decided || rejected) {
          findings.push(finding('recovery.approval', 'warn', decided ? `rejected${decidedBy ? ` by ${decidedBy}` : ''}; nothing was changed` : `not approved within ${timeoutMinutes} minutes; nothing was changed`, {}));
          return result(decided ? 'rejected' : 'not-approved', { plan });
        }
      }
      changing = true;

      const saga = new Compensations();
      try {
        saga.add('remove staging and recovery files', () => undo.cleanupRecovery({ plan, keepPrevious: true }));
        progress.set('extract', `${plan.totals.files} files, ${plan.totals.bytes} bytes beside their targets`);
        await timed('extractSeconds', () => long.extractForRestore({ plan }));
        const restoreStarted = Date.now();

        progress.set('stop services');
        const states = await host.serviceStates({});
        const running = states.filter((s) => s.state === 'active').map((s) => s.service);
        saga.add(`start ${running.join(', ') || 'no services'}`, () => Promise.all(running.map((service) => undo.startServices({ services: [service] }))));
        const stopped = await host.stopServices({ services: running });

        if (plan.dump) {
          progress.set('emergency dump', plan.dump.database);
          await long.dumpCurrentDatabase({ plan });
        }
        progress.set('swap');
        for (const root of plan.roots) {
          saga.add(`put back ${root.target}`, () => undo.undoSwap({ root }));
          await critical.swapRoot({ root });
        }
        if (plan.dump) {
          const dump = plan.dump;
          progress.set('restore database', dump.database);
          saga.add(`put back database ${dump.database}`, () => undo.restoreDatabase({ file: dump.emergencyFile }));
          await long.restoreDatabase({ file: dump.file });
        }

        progress.set('start services');
        saga.add('stop services before rolling back', () => undo.stopServices({ services: plan.services }));
        const started = await host.startServices({ services: plan.services });
        durations.restoreSeconds = Math.round((Date.now() - restoreStarted) / 100) / 10;
        for (const s of stopped) {
          const up = started.find((x) => x.service === s.service);
          if (up) downtime.push({ service: s.service, stoppedAt: s.at, startedAt: up.at, seconds: seconds(s.at, up.at) });
        }

        progress.set('post-recovery checks');
        checks = await host.postRecoveryChecks();
        const failed = checks.filter((c) => c.status === 'fail');
        if (failed.length) throw ApplicationFailure.nonRetryable(`post-recovery checks failed: ${failed.map((f) => f.message).join('; ')}`, 'RecoveryCheckFailed');
        findings.push(finding('recovery.restore', 'ok', `restored ${plan.roots.length} folders${plan.dump ? ` and database ${plan.dump.database}` : ''} from ${archive}`, {}));
        findings.push(...checks);
      } catch (err) {
        progress.set('rolling back', failureMessage(err));
        const undone = await saga.run();
        if (isCancellation(err)) throw err;
        const list = undone.map((u) => `${u.step}${u.ok ? '' : ` (FAILED: ${u.error ?? ''})`}`).join('; ');
        throw ApplicationFailure.nonRetryable(`recovery from ${archive} failed: ${failureMessage(err)}. Rolled back: ${list || 'nothing had changed'}`, 'RecoveryFailed', {
          undone,
          checks,
        });
      }

      // Recovered. Keep the state it replaced as a normal archive, then drop the preserved folders.
      progress.set('emergency backup', 'archiving the previous state');
      let emergencyBackup: ArchiveResult | undefined;
      try {
        emergencyBackup = await timed('emergencyBackupSeconds', () => long.archivePreviousState({ plan, workflowId }));
        await host.cleanupRecovery({ plan });
        if (emergencyBackup) findings.push(finding('recovery.emergency-backup', 'ok', `previous state archived as ${emergencyBackup.archive}`, { archive: emergencyBackup.archive }));
      } catch (err) {
        findings.push(
          finding('recovery.emergency-backup', 'warn', `could not archive the previous state (${failureMessage(err)}); the previous folders are kept beside their targets`, {
            previous: plan.roots.map((r) => r.previous),
          }),
        );
      }
      progress.set('done');
      return result('recovered', { plan, ...(emergencyBackup ? { emergencyBackup } : {}) });
    });
    // Only a recovery that ran is a success; a dry run, a rejection or a wait that timed out changed nothing.
  }, (r) => (r.outcome === 'recovered' ? 'success' : r.outcome === 'dry-run' ? 'dry-run' : 'declined'));
}
