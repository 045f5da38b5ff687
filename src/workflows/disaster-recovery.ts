import { ApplicationFailure, CancellationScope, defineQuery, isCancellation, patched, setHandler } from '@temporalio/workflow';
import type { ArchiveResult } from '../activities/backup.js';
import type { RestorePlan } from '../activities/restore.js';
import type { Downtime } from '../archive/manifest.js';
import { disasterRecoveryInput, type DisasterRecoveryInput } from '../common/inputs.js';
import { buildReport, finding, type Finding, type RunbookReport } from '../common/report.js';
import { approvalGate, type ApprovalGate } from './approval.js';
import { leaseFor, withRepositoryLease } from './repository-lease.js';
import { runbook, type RunbookContext } from './runbook.js';
import { failedWith, failureMessage, startEach } from './shared.js';

export type { DisasterRecoveryInput };
export { approveUpdate, approveSignal, rejectUpdate, type ApprovalInput, type ApprovalResult } from './approval.js';

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
  /** The one pass that checks the archive and extracts it into staging (recoveries started since it exists; dry runs inspect only). */
  stageSeconds?: number;
  /** The dump restored into the staging database while the services run. */
  stageDatabaseSeconds?: number;
  approvalWaitSeconds?: number;
  extractSeconds?: number;
  restoreSeconds?: number;
  emergencyBackupSeconds?: number;
  totalSeconds: number;
}

const tenths = (ms: number) => Math.round(ms / 100) / 10;
const DEFAULT_APPROVAL_MINUTES = 60;
/** Recoveries recorded before the one-pass staging inspect, wait, then extract; replays of them keep doing so. */
const ONE_PASS_RESTORE_PATCH = 'one-pass-restore';

/**
 * Seed 5, disaster recovery. Under the host lock, one pass over the archive
 * checks it (manifest, checksum, every entry) while it extracts each folder
 * beside its target and the dump into a private folder; a refusal removes all
 * of it. The dump is restored into a staging database beside the live one.
 * The services run throughout. Then it waits for approval (without the lock;
 * a rejection removes the staged copies), takes the lock again, stops only
 * the services that own what is restored, swaps folders and the database by
 * rename, starts the services and checks them. Any failure after the first
 * stop puts the previous folders and database back and restarts the services;
 * if any of that fails, the recovery folder and the previous folders (and
 * database) are kept and named. The state it replaced is archived after the
 * services are back. A database the role may not swap (see `swapProblem`) is
 * dumped and restored in place while the services are stopped. Runs recorded
 * before the one pass (and every dry run) inspect first and extract after the wait.
 */
export const disasterRecovery = runbook(
  'disasterRecovery',
  disasterRecoveryInput,
  {
    lock: 'steps',
    budget: {
      lockWaits: 2,
      work: '18 hours',
      approvalMs: (i) => (i.approve || i.dryRun ? 0 : (i.approvalTimeoutMinutes ?? DEFAULT_APPROVAL_MINUTES) * 60_000),
    },
    failure: 'RecoveryFailed',
    outcome: (r: RecoveryResult) => r.outcome,
    summary: (i, host) => `recover ${host} from ${i.backup}${i.dryRun ? ' (dry run)' : ''}`,
    handlers: (input) => {
      setHandler(planQuery, () => null);
      // In the first activation (see notificationsPatched). A dry run only inspects, either way.
      return { gate: approvalGate('this recovery'), onePass: !input.dryRun && patched(ONE_PASS_RESTORE_PATCH) };
    },
  },
  async (ctx, input, { gate, onePass }): Promise<RecoveryResult> => {
    const r = recoveryRecord(ctx, input.backup);
    gate.notWaiting(onePass ? 'the archive is still being checked and staged' : 'the archive is still being inspected');
    let plan: RestorePlan | undefined;
    let staging: Staging | undefined;
    /** Checks (in one pass: and stages) the archive; approved up front, also restores the staging database. */
    const prepare = async (): Promise<RestorePlan> => {
      const p = await r.timed(onePass ? 'stageSeconds' : 'inspectSeconds', () => inspect(ctx, input, r.findings, onePass));
      plan = p;
      if (p.staged) {
        staging = stagedCleanup(ctx, p);
        if (input.approve) await stageDatabase(ctx, p, r);
      }
      return p;
    };
    try {
      // Approved up front, in one pass: one hold of the host lock from the first check to the emergency archive.
      if (onePass && input.approve) return await ctx.locked(async () => finish(ctx, await prepare(), r, staging, gate));
      await ctx.locked(prepare);
      return await recover(ctx, input, gate, plan!, r, staging);
    } finally {
      // A copy fetched from a target goes whatever happened: it can be fetched again.
      const fetchedDir = plan?.archiveDir;
      if (fetchedDir) await CancellationScope.nonCancellable(() => ctx.acts.removeFetched({ dir: fetchedDir })).catch(() => undefined);
    }
  },
);

/** The staged copies (folders, dump, staging database) and their cleanup, registered as an undo until the recovery is done. */
interface Staging {
  forget: () => void;
}

/** Right after the one pass: the cleanup of what it staged (folders, dump, later the staging database), as an undo until the recovery is done. */
function stagedCleanup(ctx: RunbookContext, plan: RestorePlan): Staging {
  return { forget: ctx.undo.addCleanup('remove staging and recovery files', () => stagedPaths(plan), () => ctx.acts.cleanupRecovery({ plan, keepPrevious: true })) };
}

/**
 * A dump to be swapped in is restored into its staging database, while the services run: once the
 * recovery is approved (the dump's SQL runs with the configured role's rights, so not before).
 */
async function stageDatabase(ctx: RunbookContext, plan: RestorePlan, r: RecoveryRecord): Promise<void> {
  const dump = plan.dump;
  if (dump?.swap) {
    ctx.progress.set('restore database', `into ${dump.swap.staging}, beside ${dump.database}`);
    await r.timed('stageDatabaseSeconds', () => ctx.acts.stageRestoreDatabase({ plan }));
    r.findings.push(finding('recovery.database', 'ok', `database ${dump.database} restored into ${dump.swap.staging} while the services run; it is swapped in by rename while they are stopped`, { staging: dump.swap.staging }));
  } else if (dump?.inPlace) {
    r.findings.push(finding('recovery.database', 'ok', `database ${dump.database} is restored in place while the services are stopped: ${dump.inPlace}`, { why: dump.inPlace }));
  }
}

function stagedPaths(plan: RestorePlan): string[] {
  return [plan.recoveryDir, ...plan.roots.map((x) => x.previous), ...(plan.dump?.swap ? [`database ${plan.dump.swap.staging}`, `database ${plan.dump.swap.previous}`] : [])];
}

async function recover(ctx: RunbookContext, input: DisasterRecoveryInput, gate: ApprovalGate, plan: RestorePlan, r: RecoveryRecord, staging: Staging | undefined): Promise<RecoveryResult> {
  if (input.dryRun) return r.result('dry-run', plan);

  if (!input.approve) {
    const decision = await r.timed('approvalWaitSeconds', () => awaitApproval(ctx, gate, plan, input.approvalTimeoutMinutes ?? DEFAULT_APPROVAL_MINUTES, r.findings));
    if (decision !== 'approved') {
      // Nothing live was touched; the staged copies go.
      if (staging) {
        await ctx.acts.cleanupRecovery({ plan, databases: false });
        staging.forget();
      }
      return r.result(decision, plan, gate.decided?.by);
    }
  }
  gate.notWaiting('it is already changing the host');
  return ctx.locked(async () => {
    if (staging) await stageDatabase(ctx, plan, r);
    return finish(ctx, plan, r, staging, gate);
  });
}

/** Under the host lock: restore, check, then archive what was replaced. */
async function finish(ctx: RunbookContext, plan: RestorePlan, r: RecoveryRecord, staging: Staging | undefined, gate: ApprovalGate): Promise<RecoveryResult> {
  gate.notWaiting('it is already changing the host');
  await restoreHost(ctx, plan, r, staging);
  await archivePreviousState(ctx, plan, r);
  return r.result('recovered', plan, gate.decided?.by);
}

/**
 * The archive's checks: nothing is touched until they pass. From a restic target the backup is
 * first read into a private folder (its manifest bounded, its tar hashed), then checked as an archive.
 */
async function inspect(ctx: RunbookContext, input: DisasterRecoveryInput, findings: Finding[], onePass: boolean): Promise<RestorePlan> {
  const { backup: archive, from } = input;
  const select = { ...(input.only ? { only: input.only } : {}), ...(input.skipDatabase ? { skipDatabase: true } : {}), ...(input.includeReports ? { includeReports: true } : {}) };
  let plan: RestorePlan;
  let fetched: { dir: string; bytes: number } | undefined;
  try {
    if (from !== undefined) {
      const target = (await ctx.acts.describeTargets()).find((t) => t.name === from);
      if (!target) throw ApplicationFailure.nonRetryable(`host ${ctx.hostId} has no backup target "${from}" (config backup.targets)`, 'RestoreRefused');
      if (target.type === 'restic') {
        // Shared with backups: a prune (which runs alone) cannot remove what is being read.
        fetched = await withRepositoryLease(leaseFor(ctx, target, 'shared'), ctx.progress, () => {
          ctx.progress.set('fetch', `${archive} from ${target.name} (${target.location})`);
          return ctx.acts.fetchFromTarget({ target: from, archive, workflowId: ctx.workflowId, runId: ctx.runId });
        });
        findings.push(finding('recovery.fetch', 'ok', `${archive} read from target ${target.name} (${target.location}): ${fetched.bytes} bytes`, { target: target.name }));
      }
    }
    const req = { archive, workflowId: ctx.workflowId, runId: ctx.runId, ...(fetched ? { fromDir: fetched.dir } : {}), ...(Object.keys(select).length ? { select } : {}) };
    if (onePass) {
      ctx.progress.set('check and extract', `${archive}, beside each target while the services run`);
      plan = await ctx.acts.stageRestore(req);
    } else {
      ctx.progress.set('inspect', archive);
      plan = await ctx.acts.inspectRestore(req);
    }
  } catch (err) {
    // A one pass that failed (out of retries, cancelled) may have left its staging beside the targets: this run's tag only.
    if (onePass) await CancellationScope.nonCancellable(() => ctx.acts.discardStaged({ workflowId: ctx.workflowId, runId: ctx.runId })).catch(() => undefined);
    if (isCancellation(err)) throw err;
    if (fetched) await ctx.acts.removeFetched({ dir: fetched.dir }).catch(() => undefined);
    throw ApplicationFailure.nonRetryable(`${failureMessage(err)}. Nothing was changed.`, failedWith(err, 'RestoreRefusedError') ? 'RestoreRefused' : 'RecoveryInspectFailed');
  }
  setHandler(planQuery, () => plan);
  findings.push(
    finding('recovery.inspect', 'ok', `${archive} matches its manifest and is safe to restore: ${plan.roots.length} folders${plan.dump ? ' and a database dump' : ''}${plan.staged ? ', extracted beside their targets' : ''}`, {
      roots: plan.roots.map((x) => x.target),
      fromOtherHost: plan.fromOtherHost,
    }),
  );
  for (const k of plan.kept ?? []) findings.push(finding('recovery.kept', 'ok', `${k.target} is left as it is: ${k.why}`, { target: k.target }));
  if (plan.fromOtherHost) findings.push(finding('recovery.host', 'warn', `${archive} was made on host ${plan.backupHost}, not ${ctx.hostId}`, {}));
  if (plan.dump?.spaceWarning) findings.push(finding('recovery.database-space', 'warn', plan.dump.spaceWarning, {}));
  return plan;
}

/** Waits outside the host lock; a rejection or a timeout ends the run with nothing changed. */
async function awaitApproval(ctx: RunbookContext, gate: ApprovalGate, plan: RestorePlan, minutes: number, findings: Finding[]) {
  ctx.progress.set('awaiting approval', `approve with the "approve" update within ${minutes} minutes`);
  const command = `mcp-runbooks approve ${ctx.workflowId}`;
  const decision = await gate.wait(minutes * 60_000, () =>
    ctx.notes.send('waiting-for-approval', 'running', `recovery of ${ctx.hostId} from ${plan.archive} (${plan.roots.length} folders${plan.dump ? ' and the database' : ''}; stops ${plan.services.join(', ') || 'no service'}) waits up to ${minutes} minutes for approval; nothing has been changed yet`, { approveCommand: command }),
  );
  const by = gate.decided?.by ? ` by ${gate.decided.by}` : '';
  if (decision === 'rejected') findings.push(finding('recovery.approval', 'warn', `rejected${by}; nothing was changed`, {}));
  if (decision === 'not-approved') findings.push(finding('recovery.approval', 'warn', `not approved within ${minutes} minutes; nothing was changed`, {}));
  return decision;
}

/** Extract, stop, emergency dump, swap, restore the database, start, check: each change registers its undo first. */
async function restoreHost(ctx: RunbookContext, plan: RestorePlan, r: RecoveryRecord, staging: Staging | undefined): Promise<void> {
  const { acts, progress, undo } = ctx;
  // Every undo is dropped once the restored host passed its checks: from then on a cancel or the
  // deadline (during the emergency archive) must not roll a recovered host back.
  const registered: Array<() => void> = [];
  if (staging) registered.push(staging.forget);
  else {
    // Kept when an undo fails: what an operator needs to finish by hand.
    registered.push(undo.addCleanup('remove staging and recovery files', () => [plan.recoveryDir, ...plan.roots.map((x) => x.previous)], () => acts.cleanupRecovery({ plan, keepPrevious: true })));
    progress.set('extract', `${plan.totals.files} files, ${plan.totals.bytes} bytes beside their targets`);
    await r.timed('extractSeconds', () => acts.extractForRestore({ plan }));
  }
  const down = Date.now();

  progress.set('stop services');
  // Only the services that own what is restored (all of them for a whole host); of those, the ones running.
  const running = (await acts.serviceStates({})).filter((s) => s.state === 'active' && plan.services.includes(s.service)).map((s) => s.service);
  registered.push(undo.add(`start ${running.join(', ') || 'no services'}`, () => startEach(acts, running)));
  // One pass (runs since it exists): the services stop side by side, as they start, and the folders and the
  // database swap side by side: the downtime is the slowest of each, not their sum.
  const sideBySide = staging !== undefined;
  const stopped = sideBySide ? (await allSettled(running.map((svc) => acts.stopServices({ services: [svc] })))).flat() : await acts.stopServices({ services: running });

  if (plan.dump && !plan.dump.swap) {
    progress.set('emergency dump', plan.dump.database);
    await acts.dumpCurrentDatabase({ plan });
  }
  progress.set('swap');
  if (sideBySide) {
    // Every undo first: each is a no-op for a swap that did not happen.
    for (const root of plan.roots) registered.push(undo.add(`put back ${root.target}`, () => acts.undoSwap({ root })));
    const swap = plan.dump?.swap;
    if (swap) registered.push(undo.add(`put back database ${plan.dump!.database} (kept as ${swap.previous})`, () => acts.undoDatabaseSwap({ plan })));
    await allSettled<unknown>([...plan.roots.map((root) => acts.swapRoot({ root })), ...(swap ? [acts.swapDatabase({ plan })] : [])]);
  } else {
    for (const root of plan.roots) {
      registered.push(undo.add(`put back ${root.target}`, () => acts.undoSwap({ root })));
      await acts.swapRoot({ root });
    }
  }
  if (plan.dump && !plan.dump.swap) {
    const dump = plan.dump;
    progress.set('restore database', dump.database);
    registered.push(undo.add(`put back database ${dump.database} from ${dump.emergencyFile}`, () => acts.restoreDatabase({ file: dump.emergencyFile })));
    await acts.restoreDatabase({ file: dump.file });
  }

  progress.set('start services');
  registered.push(undo.add('stop services before rolling back', () => acts.stopServices({ services: plan.services })));
  const started = sideBySide ? (await allSettled(plan.services.map((svc) => acts.startServices({ services: [svc] })))).flat() : await acts.startServices({ services: plan.services });
  r.durations.restoreSeconds = tenths(Date.now() - down);
  for (const s of stopped) {
    const up = started.find((x) => x.service === s.service);
    if (up) r.downtime.push({ service: s.service, stoppedAt: s.at, startedAt: up.at, seconds: tenths(Date.parse(up.at) - Date.parse(s.at)) });
  }

  progress.set('post-recovery checks');
  r.checks.push(...(await acts.postRecoveryChecks()));
  const failed = r.checks.filter((c) => c.status === 'fail');
  if (failed.length) throw ApplicationFailure.nonRetryable(`post-recovery checks failed: ${failed.map((f) => f.message).join('; ')}`, 'RecoveryCheckFailed', { checks: r.checks });
  for (const forget of registered) forget();
  r.findings.push(finding('recovery.restore', 'ok', `restored ${plan.roots.length} folders${plan.dump ? ` and database ${plan.dump.database}` : ''} from ${plan.archive}`, {}), ...r.checks);
}

/** Waits for every step (so no undo starts while one still runs); then fails with the first failure, if any. */
async function allSettled<T>(steps: Array<Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(steps);
  const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((x) => (x as PromiseFulfilledResult<T>).value);
}

/** Recovered: keep the state it replaced as an emergency archive, then drop the preserved folders. */
async function archivePreviousState(ctx: RunbookContext, plan: RestorePlan, r: RecoveryRecord): Promise<void> {
  ctx.progress.set('emergency backup', 'archiving the previous state');
  try {
    const archive = await r.timed('emergencyBackupSeconds', () => ctx.acts.archivePreviousState({ plan, workflowId: ctx.workflowId }));
    await ctx.acts.cleanupRecovery({ plan });
    if (archive) {
      r.emergencyBackup = archive;
      r.findings.push(finding('recovery.emergency-backup', 'ok', `previous state archived as ${archive.archive}`, { archive: archive.archive }));
    }
  } catch (err) {
    // Also a cancel or the deadline: the host is recovered and checked, so the run ends recovered, with the previous state kept.
    r.findings.push(
      finding(
        'recovery.emergency-backup',
        'warn',
        `could not archive the previous state (${isCancellation(err) ? 'cancelled' : failureMessage(err)}); the previous folders${plan.dump?.swap ? `, the previous database ${plan.dump.swap.previous}` : ''} and the recovery folder ${plan.recoveryDir} are kept`,
        { previous: [...plan.roots.map((x) => x.previous), ...(plan.dump?.swap ? [`database ${plan.dump.swap.previous}`] : [])] },
      ),
    );
  }
}

type RecoveryRecord = ReturnType<typeof recoveryRecord>;

/** What the recovery reports as it goes: findings, checks, downtime and where the time went. */
function recoveryRecord(ctx: RunbookContext, archive: string) {
  const findings: Finding[] = [];
  const durations: Omit<RecoveryDurations, 'totalSeconds'> = {};
  const record = {
    findings,
    checks: [] as Finding[],
    downtime: [] as Downtime[],
    durations,
    emergencyBackup: undefined as ArchiveResult | undefined,
    /** Runs one step and records its workflow-clock duration (deterministic on replay). */
    async timed<T>(key: keyof typeof durations, step: () => Promise<T>): Promise<T> {
      const t0 = Date.now();
      try {
        return await step();
      } finally {
        durations[key] = tenths(Date.now() - t0);
      }
    },
    result(outcome: RecoveryOutcome, plan: RestorePlan, approvedBy?: string): RecoveryResult {
      return {
        ...buildReport({ runbook: 'disasterRecovery', hostId: ctx.hostId, startedAt: ctx.startedAt, finishedAt: new Date(), findings }),
        outcome,
        archive,
        plan,
        downtime: record.downtime,
        checks: record.checks,
        durations: { ...durations, totalSeconds: tenths(Date.now() - ctx.startedAt.getTime()) },
        ...(approvedBy ? { approvedBy } : {}),
        ...(record.emergencyBackup ? { emergencyBackup: record.emergencyBackup } : {}),
      };
    },
  };
  return record;
}
