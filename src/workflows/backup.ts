import { ApplicationFailure, isCancellation } from '@temporalio/workflow';
import type { ArchiveResult, BackupPlan } from '../activities/backup.js';
import type { ResticBackupResult, ResticRetentionResult, ResticVerifyResult, TargetInfo } from '../activities/offsite.js';
import { reportTarget } from './outcome.js';
import { failedOnlyOffsite, targetOutcomeOf, type TargetReportLine } from '../common/outcome.js';
import type { VerifyOutcome } from '../archive/verify.js';
import type { Downtime } from '../archive/manifest.js';
import { backupInput, type BackupInput } from '../common/inputs.js';
import { buildReport, finding, type Finding, type RunbookReport } from '../common/report.js';
import { runbook, type RunbookContext } from './runbook.js';
import { failedWith, failureMessage, startEach } from './shared.js';
import { leaseFor, withRepositoryLease } from './repository-lease.js';
import { REPOSITORY_LOCKED } from '../common/repository-lock.js';

export type { BackupInput };

export interface BackupResult extends RunbookReport {
  dryRun: boolean;
  plan: Pick<BackupPlan, 'archive' | 'sources' | 'dump' | 'stopGroups' | 'missing' | 'estimatedBytes'>;
  archive?: ArchiveResult;
  verification?: VerifyOutcome;
  downtime: Downtime[];
  durations: { snapshotSeconds: number; archiveSeconds: number; verifySeconds: number; totalSeconds: number };
  retention?: { removed: string[]; kept: number };
  /** How each backup target fared, in config order. */
  targets?: TargetReport[];
}

const seconds = (from: number, to: number) => Math.round((to - from) / 100) / 10;

/**
 * Backs up one host without keeping its services down for the compression:
 * online sources and the database dump are copied while everything runs; each
 * stop-mode source is copied with only its owners stopped; the archive is built,
 * verified and pruned after every service is back. Every stop registers its
 * restart first, and restarts run whatever happens (failure, cancel, deadline).
 */
export const backup = runbook(
  'backup',
  backupInput,
  {
    lock: 'run',
    budget: { lockWaits: 1, work: '18 hours' },
    failure: 'BackupFailed',
    // A dry run only planned: not a success, or it would set the last success and clear BackupFailed.
    outcome: (r: BackupResult) => (r.dryRun ? 'dry-run' : 'success'),
    // Only restic targets failed and the archive target stored it: OffsiteBackupFailed names each target, not BackupFailed.
    offsiteOnly: (err) => err instanceof ApplicationFailure && failedOnlyOffsite((err.details?.[0] as Partial<BackupResult> | undefined)?.targets),
    summary: (input, host) => `backup of ${host}${input.dryRun ? ' (dry run)' : ''}${input.reason ? `: ${input.reason}` : ''}`,
  },
  async (ctx, { reason, dryRun }): Promise<BackupResult> => {
    const { acts, progress } = ctx;
    const findings: Finding[] = [];
    const downtime: Downtime[] = [];
    const t = { snap: 0, arch: 0, ver: 0 };

    progress.set('plan');
    const plan = await acts.planBackup();
    for (const m of plan.missing) findings.push(finding('backup.source', 'warn', `source ${m} does not exist; not archived`, { path: m }));
    const report = (extra: Partial<BackupResult> = {}): BackupResult => ({
      ...buildReport({ runbook: 'backup', hostId: ctx.hostId, startedAt: ctx.startedAt, finishedAt: new Date(), findings }),
      dryRun: Boolean(dryRun),
      plan: { archive: plan.archive, sources: plan.sources, ...(plan.dump ? { dump: plan.dump } : {}), stopGroups: plan.stopGroups, missing: plan.missing, estimatedBytes: plan.estimatedBytes },
      downtime,
      durations: { snapshotSeconds: t.snap, archiveSeconds: t.arch, verifySeconds: t.ver, totalSeconds: seconds(ctx.startedAt.getTime(), Date.now()) },
      ...extra,
    });
    if (dryRun) {
      findings.push(finding('backup.plan', 'ok', `would archive ${plan.sources.length} folders${plan.dump ? ' and a database dump' : ''} into ${plan.archive}`, { stopGroups: plan.stopGroups }));
      return report();
    }

    ctx.undo.addCleanup('remove staging', () => [plan.stagingDir], () => acts.removeStaging({ stagingDir: plan.stagingDir }));
    const t0 = Date.now();
    // The dump and each stop group run side by side: a group's services are stopped only for its
    // own folders. Every part settles before a failure is handled, so no copy still runs during undo.
    const parts = await Promise.allSettled([...(plan.dump ? [acts.dumpDatabase({ dump: plan.dump })] : []), ...plan.stopGroups.map((g) => snapshotGroup(ctx, plan, g, downtime))]);
    const failed = parts.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    t.snap = seconds(t0, Date.now());
    const stopMode = plan.sources.filter((s) => s.mode === 'stop').length;
    findings.push(
      finding('backup.snapshot', 'ok', `snapshot of ${stopMode} stop-mode folders${plan.dump ? ' and the database' : ''} taken; ${plan.sources.length - stopMode} online folders are read live`, {
        downtime: downtime.map((d) => ({ service: d.service, seconds: d.seconds })),
      }),
    );

    // Every target gets the same snapshot, one after the other; a target that fails does not stop the rest.
    const targets = await acts.describeTargets();
    const outcomes: TargetReport[] = [];
    let archived: Partial<BackupResult> = {};
    for (const target of targets) {
      const line = (l: TargetReport, extra: { verificationFailed?: boolean } = {}) => {
        outcomes.push(l);
        const a = archived.archive || archived.retention ? { ...(archived.archive ? { bytes: archived.archive.bytes } : {}), ...(archived.retention ? { kept: archived.retention.kept } : {}) } : undefined;
        reportTarget(targetOutcomeOf({ hostId: ctx.hostId, archive: plan.archive, endedAt: new Date().toISOString(), line: l, ...(a ? { archiveTarget: a } : {}), ...extra }));
      };
      try {
        if (target.type === 'archive') {
          archived = await toArchive(ctx, plan, { reason, downtime, findings, t });
          line({ target: target.name, type: 'archive', ok: true });
        } else {
          const r = await toRestic(ctx, plan, target, { reason, downtime, findings });
          line({ target: target.name, type: 'restic', ok: true, restic: r });
        }
      } catch (err) {
        if (isCancellation(err)) throw err;
        const message = failureMessage(err);
        findings.push(finding(`backup.target.${target.name}`, 'fail', `target ${target.name} (${target.type}, ${target.location}) failed: ${message}`, { target: target.name }));
        line({ target: target.name, type: target.type, ok: false, error: message }, { verificationFailed: failedWith(err, 'BackupVerificationFailed') });
      }
    }
    // A staging folder that will not go (a mount inside it, a busy file) costs its bounded retries and a
    // warning, not the backup: every target has been written.
    const staging = await acts.removeStaging({ stagingDir: plan.stagingDir }).then(
      () => undefined,
      (err: unknown) => {
        if (isCancellation(err)) throw err;
        return err;
      },
    );
    if (staging) findings.push(finding('backup.staging', 'warn', `staging folder ${plan.stagingDir} could not be removed (${failureMessage(staging)}); remove it by hand`, { stagingDir: plan.stagingDir }));
    const failedTargets = outcomes.filter((o) => !o.ok);
    const result = report({ ...archived, targets: outcomes });
    if (failedTargets.length) {
      const stored = outcomes.filter((o) => o.ok).map((o) => o.target);
      throw ApplicationFailure.nonRetryable(
        `backup ${plan.archive} failed on target${failedTargets.length > 1 ? 's' : ''} ${failedTargets.map((o) => `${o.target} (${o.error ?? 'failed'})`).join('; ')}${stored.length ? `; stored on ${stored.join(', ')}` : ''}`,
        failedTargets.every((o) => o.type === 'archive') && archived.verification && archived.verification.status !== 'ok' ? 'BackupVerificationFailed' : 'BackupTargetFailed',
        result,
      );
    }
    return result;
  },
);

interface TargetReport extends TargetReportLine {
  restic?: ResticStored;
}

interface ResticStored {
  backup: ResticBackupResult;
  verify: ResticVerifyResult;
  retention: ResticRetentionResult;
}

/** The archive target: build the .tar.gz, read it back whole against its manifest, apply retention. */
async function toArchive(
  ctx: RunbookContext,
  plan: BackupPlan,
  o: { reason: string | undefined; downtime: Downtime[]; findings: Finding[]; t: { arch: number; ver: number } },
): Promise<Pick<BackupResult, 'archive' | 'verification' | 'retention'>> {
  const { acts, progress } = ctx;
  const t1 = Date.now();
  progress.set('archive', plan.archive);
  const archive = await acts.createArchive({ plan, workflowId: ctx.workflowId, ...(o.reason ? { reason: o.reason } : {}), downtime: o.downtime });
  o.findings.push(finding('backup.archive', 'ok', `${archive.archive}: ${archive.bytes} bytes, ${archive.entries} entries (${archive.compressor})`, { ...archive }));
  if (archive.changedWhileRead?.length) {
    o.findings.push(finding('backup.changed-while-read', 'warn', `${archive.changedWhileRead.length} file(s) of online folders changed while they were read, each archived as it was read (possibly part old, part new): ${archive.changedWhileRead.slice(0, 10).join(', ')}`, { files: archive.changedWhileRead }));
  }
  o.t.arch = seconds(t1, Date.now());

  const t2 = Date.now();
  progress.set('verify', archive.archive);
  const verification = await acts.verifyBackup({ archive: archive.archive });
  o.t.ver = seconds(t2, Date.now());
  if (verification.status !== 'ok') {
    const problems = verification.problems.join('; ');
    o.findings.push(finding('backup.verify', 'fail', `${archive.archive} failed verification: ${problems}`, { ...verification }));
    throw ApplicationFailure.nonRetryable(`${archive.archive} failed verification: ${problems}`, 'BackupVerificationFailed');
  }
  o.findings.push(finding('backup.verify', 'ok', `${archive.archive} reads back whole and matches its manifest`, { entries: verification.entries, sha256: verification.sha256 }));

  progress.set('retention');
  const retention = await acts.applyRetention({ protect: [archive.archive] });
  o.findings.push(finding('backup.retention', 'ok', `${retention.removed.length} old archives removed, ${retention.kept.length} kept`, { removed: retention.removed.map((r) => r.archive) }));
  return { archive, verification, retention: { removed: retention.removed.map((r) => r.archive), kept: retention.kept.length } };
}

/**
 * A restic target: the tar stream into the repository (after the services are back), then
 * `restic check` on a subset plus the stored size against the manifest, then forget and prune.
 * Under the host lock the run holds, and a repository lease: shared for the backup (other hosts'
 * backups may run beside it), exclusive for check, tag, forget and prune (nothing else of ours runs).
 */
async function toRestic(ctx: RunbookContext, plan: BackupPlan, target: TargetInfo, o: { reason: string | undefined; downtime: Downtime[]; findings: Finding[] }): Promise<ResticStored> {
  const { acts, progress } = ctx;
  // Backups (of any host) share the repository; check, tag, forget, prune and unlock have it alone.
  const store = () =>
    withRepositoryLease(leaseFor(ctx, target, 'shared'), progress, () => {
      progress.set(`restic backup to ${target.name}`, target.location);
      return acts.resticBackup({ plan, target: target.name, workflowId: ctx.workflowId, ...(o.reason ? { reason: o.reason } : {}), downtime: o.downtime });
    });
  const backup = await store().catch(async (err: unknown) => {
    if (!failedWith(err, REPOSITORY_LOCKED)) throw err;
    // Refused as locked: most likely a lock a killed run left (restic's best-known failure: every later
    // backup fails until it goes). Removed under the exclusive lease, when no run of ours is in the
    // repository, by plain `restic unlock` (only locks restic proves stale); then the backup once more.
    const unlocked = await withRepositoryLease(leaseFor(ctx, target, 'exclusive'), progress, () => {
      progress.set(`restic unlock ${target.name}`);
      return acts.resticUnlockStale({ target: target.name });
    });
    o.findings.push(
      finding(
        `backup.restic-unlock.${target.name}`,
        unlocked.removed ? 'ok' : 'warn',
        unlocked.removed ? `${target.name}: restic refused the backup as locked; ${unlocked.removed} stale locks removed under the exclusive lease` : `${target.name}: restic refused the backup as locked, and no lock is stale: a live restic holds it`,
        { ...unlocked },
      ),
    );
    return store();
  });
  o.findings.push(
    finding(`backup.restic.${target.name}`, 'ok', `${plan.archive} stored in ${target.name} as snapshot ${backup.snapshotId.slice(0, 8)}: ${backup.tarBytes} bytes read, ${backup.dataAdded} bytes added`, { ...backup }),
  );
  if (backup.skipped?.length) {
    o.findings.push(finding(`backup.restic-skipped.${target.name}`, 'warn', `${target.name}: ${backup.skipped.length} entries of online folders were not copied for restic (vanished while copied, or not a file, folder or link): ${backup.skipped.slice(0, 10).join(', ')}`, { skipped: backup.skipped }));
  }
  return withRepositoryLease(leaseFor(ctx, target, 'exclusive'), progress, async () => {
    progress.set(`restic check ${target.name}`);
    const verify = await acts.resticVerify({ target: target.name, archive: plan.archive });
    if (!verify.ok) {
      o.findings.push(finding(`backup.restic-verify.${target.name}`, 'fail', `${plan.archive} in ${target.name} failed verification: ${verify.problems.join('; ')}`, { ...verify }));
      throw ApplicationFailure.nonRetryable(`${plan.archive} in ${target.name} failed verification: ${verify.problems.join('; ')}`, 'BackupVerificationFailed');
    }
    o.findings.push(finding(`backup.restic-verify.${target.name}`, 'ok', `${target.name}: restic check (read ${verify.readData} of the data) passed and ${backup.layout === 'folders' ? 'the stored folders match' : 'the stored tar matches'} its manifest${verify.locksRemoved ? `; ${verify.locksRemoved} stale locks removed` : ''}`, { ...verify }));
    progress.set(`restic forget and prune ${target.name}`);
    const retention = await acts.resticRetention({ target: target.name, protect: [plan.archive] });
    o.findings.push(finding(`backup.restic-retention.${target.name}`, 'ok', `${target.name}: ${retention.removed.length} old backups forgotten, ${retention.kept} kept`, { ...retention }));
    return { backup, verify, retention };
  });
}

/** Stops one group's running services (their restart registered first), copies its folders, starts them again. */
async function snapshotGroup(ctx: RunbookContext, plan: BackupPlan, group: BackupPlan['stopGroups'][number], downtime: Downtime[]): Promise<void> {
  const { acts, progress } = ctx;
  progress.set('snapshot', `stopping ${group.services.join(', ')}`);
  const running = (await acts.serviceStates({ services: group.services })).filter((s) => s.state === 'active').map((s) => s.service);
  const forget = ctx.undo.add(`restart ${running.join(', ')}`, () => startEach(acts, running));
  const stopped = await acts.stopServices({ services: running });
  for (const archivePath of group.sources) {
    const source = plan.sources.find((s) => s.archivePath === archivePath)!;
    progress.set('snapshot', `${source.originalPath} (${group.services.join(', ')} stopped)`);
    await acts.snapshotSource({ source });
  }
  progress.set('snapshot', `starting ${running.join(', ')}`);
  const started = await acts.startServices({ services: running });
  forget();
  for (const s of stopped) {
    const up = started.find((x) => x.service === s.service);
    if (up) downtime.push({ service: s.service, stoppedAt: s.at, startedAt: up.at, seconds: seconds(Date.parse(s.at), Date.parse(up.at)) });
  }
}
