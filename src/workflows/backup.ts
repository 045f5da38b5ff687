import { ApplicationFailure, isCancellation, workflowInfo } from '@temporalio/workflow';
import type { ArchiveResult, BackupPlan } from '../activities/backup.js';
import type { VerifyOutcome } from '../archive/verify.js';
import { buildReport, finding, type Finding, type RunbookReport } from '../common/report.js';
import type { Downtime } from '../archive/manifest.js';
import { hostActivities } from './activity-profiles.js';
import { withHostLock } from './host-lease.js';
import { trackProgress } from './progress.js';
import { measured } from './outcome.js';
import { Compensations } from './saga.js';
import { failureMessage, inputObject, routeToHost } from './shared.js';

/** Input of {@link backup}; JSON, secret-free. */
export interface BackupInput {
  /** @default the orchestrator's own host */
  hostId?: string;
  /** Recorded in the manifest, e.g. `before upgrade`. */
  reason?: string;
  /** Plan only: report what would be archived and which services would stop. */
  dryRun?: boolean;
}

export interface BackupResult extends RunbookReport {
  dryRun: boolean;
  plan: Pick<BackupPlan, 'archive' | 'sources' | 'dump' | 'stopGroups' | 'missing' | 'estimatedBytes'>;
  archive?: ArchiveResult;
  verification?: VerifyOutcome;
  downtime: Downtime[];
  durations: { snapshotSeconds: number; archiveSeconds: number; verifySeconds: number; totalSeconds: number };
  retention?: { removed: string[]; kept: number };
}

const seconds = (from: number, to: number) => Math.round((to - from) / 100) / 10;

/**
 * Backs up one host without keeping its services down for the compression:
 * online sources and the database dump are copied while everything runs; each
 * stop-mode source is copied with only its owners stopped; the archive is built,
 * verified and pruned after every service is back. Every stop registers its
 * restart first, and restarts run whatever happens.
 */
export async function backup(input: BackupInput = {}): Promise<BackupResult> {
  const startedAt = new Date();
  const { hostId, reason, dryRun } = inputObject(input, 'backup');
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 500)) {
    throw ApplicationFailure.nonRetryable('input.reason must be a string of at most 500 characters', 'InvalidInput');
  }
  const progress = trackProgress('backup');
  // The metrics' host label is 'unknown' until routing succeeds: raw input would make it unbounded.
  let knownHost = 'unknown';
  return measured('backup', () => knownHost, async () => {
    const route = await routeToHost(hostId);
    knownHost = route.hostId;
    const workflowId = workflowInfo().workflowId;

    return withHostLock(route.hostId, 'backup', progress, async () => {
      const host = hostActivities(route.taskQueue, 'quick');
      const long = hostActivities(route.taskQueue, 'long');
      const critical = hostActivities(route.taskQueue, 'critical');
      const undo = hostActivities(route.taskQueue, 'undo');
      const findings: Finding[] = [];
      const downtime: Downtime[] = [];

      progress.set('plan');
      const plan = await host.planBackup();
      const planSummary = {
        archive: plan.archive,
        sources: plan.sources,
        ...(plan.dump ? { dump: plan.dump } : {}),
        stopGroups: plan.stopGroups,
        missing: plan.missing,
        estimatedBytes: plan.estimatedBytes,
      };
      for (const m of plan.missing) findings.push(finding('backup.source', 'warn', `source ${m} does not exist; not archived`, { path: m }));
      const report = (extra: Partial<BackupResult>, t: { snap: number; arch: number; ver: number }): BackupResult => ({
        ...buildReport({ runbook: 'backup', hostId: route.hostId, startedAt, finishedAt: new Date(), findings }),
        dryRun: Boolean(dryRun),
        plan: planSummary,
        downtime,
        durations: { snapshotSeconds: t.snap, archiveSeconds: t.arch, verifySeconds: t.ver, totalSeconds: seconds(startedAt.getTime(), Date.now()) },
        ...extra,
      });
      if (dryRun) {
        findings.push(
          finding('backup.plan', 'ok', `would archive ${plan.sources.length} folders${plan.dump ? ' and a database dump' : ''} into ${plan.archive}`, {
            stopGroups: plan.stopGroups,
          }),
        );
        return report({}, { snap: 0, arch: 0, ver: 0 });
      }

      const saga = new Compensations();
      saga.add('remove staging', () => undo.removeStaging({ stagingDir: plan.stagingDir }));
      try {
        const tSnap = Date.now();
        // Online sources need no snapshot: the archive reads them live, after the services are back.
        // The dump and each stop group run side by side: a group's services are stopped only for
        // its own folders, and no group waits for another's copy.
        const snapshotGroup = async (group: (typeof plan.stopGroups)[number]) => {
          progress.set('snapshot', `stopping ${group.services.join(', ')}`);
          const states = await host.serviceStates({ services: group.services });
          const running = states.filter((s) => s.state === 'active').map((s) => s.service);
          // The restart is registered before the stop: whatever happens next, they come back.
          const forget = saga.add(`restart ${running.join(', ')}`, () =>
            Promise.all(running.map((service) => undo.startServices({ services: [service] }))),
          );
          const stopped = await host.stopServices({ services: running });
          for (const archivePath of group.sources) {
            const source = plan.sources.find((s) => s.archivePath === archivePath)!;
            progress.set('snapshot', `${source.originalPath} (${group.services.join(', ')} stopped)`);
            await long.snapshotSource({ source });
          }
          progress.set('snapshot', `starting ${running.join(', ')}`);
          const started = await critical.startServices({ services: running });
          forget();
          for (const s of stopped) {
            const up = started.find((x) => x.service === s.service);
            if (up) downtime.push({ service: s.service, stoppedAt: s.at, startedAt: up.at, seconds: seconds(Date.parse(s.at), Date.parse(up.at)) });
          }
        };
        const snapshots = await Promise.allSettled([
          ...(plan.dump ? [long.dumpDatabase({ dump: plan.dump })] : []),
          ...plan.stopGroups.map(snapshotGroup),
        ]);
        // Every part has settled before any failure is handled: no copy is still running when compensation starts.
        const failed = snapshots.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
        const tArch = Date.now();
        findings.push(
          finding('backup.snapshot', 'ok', `snapshot of ${plan.sources.filter((s) => s.mode === 'stop').length} stop-mode folders${plan.dump ? ' and the database' : ''} taken; ${plan.sources.filter((s) => s.mode === 'online').length} online folders are read live`, {
            downtime: downtime.map((d) => ({ service: d.service, seconds: d.seconds })),
          }),
        );

        progress.set('archive', plan.archive);
        const archive = await long.createArchive({ plan, workflowId, ...(reason ? { reason } : {}), downtime });
        findings.push(finding('backup.archive', 'ok', `${archive.archive}: ${archive.bytes} bytes, ${archive.entries} entries (${archive.compressor})`, { ...archive }));
        await host.removeStaging({ stagingDir: plan.stagingDir });
        const tVer = Date.now();

        progress.set('verify', archive.archive);
        const verification = await long.verifyBackup({ archive: archive.archive });
        if (verification.status !== 'ok') {
          findings.push(finding('backup.verify', 'fail', `${archive.archive} failed verification: ${verification.problems.join('; ')}`, { ...verification }));
          throw ApplicationFailure.nonRetryable(`backup ${archive.archive} failed verification: ${verification.problems.join('; ')}`, 'BackupVerificationFailed', report({ archive, verification }, { snap: 0, arch: 0, ver: 0 }));
        }
        findings.push(finding('backup.verify', 'ok', `${archive.archive} reads back whole and matches its manifest`, { entries: verification.entries, sha256: verification.sha256 }));
        const tRet = Date.now();

        progress.set('retention');
        const retention = await host.applyRetention({ protect: [archive.archive] });
        findings.push(
          finding('backup.retention', 'ok', `${retention.removed.length} old archives removed, ${retention.kept.length} kept`, {
            removed: retention.removed.map((r) => r.archive),
          }),
        );
        progress.set('done', archive.archive);
        return report(
          { archive, verification, retention: { removed: retention.removed.map((r) => r.archive), kept: retention.kept.length } },
          { snap: seconds(tSnap, tArch), arch: seconds(tArch, tVer), ver: seconds(tVer, tRet) },
        );
      } catch (err) {
        progress.set('compensating', failureMessage(err));
        const undone = await saga.run();
        const notUndone = undone.filter((u) => !u.ok);
        if (isCancellation(err) || (err instanceof ApplicationFailure && err.type === 'BackupVerificationFailed')) throw err;
        throw ApplicationFailure.nonRetryable(
          `backup failed: ${failureMessage(err)}; compensated: ${undone.map((u) => `${u.step}${u.ok ? '' : ` (FAILED: ${u.error ?? ''})`}`).join(', ') || 'nothing to undo'}`,
          'BackupFailed',
          { undone, notUndone: notUndone.length },
        );
      }
    });
    // A dry run only planned: not a success, or it would set the last success and clear BackupFailed.
  }, (r) => (r.dryRun ? 'dry-run' : 'success'));
}
