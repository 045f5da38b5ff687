import { ApplicationFailure } from '@temporalio/workflow';
import type { BackupListing } from '../activities/backup.js';
import { archiveNameProblem } from '../common/archive-names.js';
import { buildReport, type RunbookReport } from '../common/report.js';
import { hostActivities } from './activity-profiles.js';
import { withHostLock } from './host-lease.js';
import { measured } from './outcome.js';
import { trackProgress } from './progress.js';
import { inputObject, routeToHost } from './shared.js';
import { verifyArchives } from './verify-archives.js';

/** Archives in a host's backups folder, newest first (read-only, no lock). */
export async function listBackups(input: { hostId?: string } = {}): Promise<{ hostId: string; backups: BackupListing[] }> {
  const { hostId } = inputObject(input, 'listBackups');
  const route = await routeToHost(hostId);
  return { hostId: route.hostId, backups: await hostActivities(route.taskQueue).listBackups() };
}

export interface VerifyBackupsInput {
  hostId?: string;
  /** Archive names; omit (or `all: true`) for every archive. */
  archives?: string[];
  all?: boolean;
}

/**
 * Verifies archives with the same verifier the backup runbook uses: read back
 * whole, checksum, entries and bytes against the manifest, dumps with
 * `pg_restore --list`. Takes the host lock, so retention cannot delete an
 * archive while it is read. One finding per archive.
 */
export async function verifyBackups(input: VerifyBackupsInput = {}): Promise<RunbookReport> {
  const startedAt = new Date();
  const args = inputObject(input, 'verifyBackups');
  for (const name of args.archives ?? []) {
    const problem = archiveNameProblem(name);
    if (problem) throw ApplicationFailure.nonRetryable(`input.archives: ${problem}`, 'InvalidInput');
  }
  const progress = trackProgress('verifyBackups');
  // The metrics' host label is 'unknown' until routing succeeds: raw input would make it unbounded.
  let knownHost = 'unknown';
  return measured('verifyBackups', () => knownHost, async () => {
    const route = await routeToHost(args.hostId);
    knownHost = route.hostId;
    return withHostLock(route.hostId, 'verifyBackups', progress, async () => {
      const host = hostActivities(route.taskQueue, 'quick');
      const long = hostActivities(route.taskQueue, 'long');
      const names = args.archives?.length && !args.all ? args.archives : (await host.listBackups()).map((b) => b.archive);
      const findings = await verifyArchives(long, names, progress);
      return buildReport({ runbook: 'verifyBackups', hostId: route.hostId, startedAt, finishedAt: new Date(), findings });
    });
  });
}
