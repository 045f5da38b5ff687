import { ApplicationFailure } from '@temporalio/workflow';
import type { BackupListing } from '../activities/backup.js';
import { listBackupsInput, verifyBackupsInput, type VerifyBackupsInput } from '../common/inputs.js';
import { buildReport, finding } from '../common/report.js';
import { reportTarget } from './outcome.js';
import { leaseFor, withRepositoryLease } from './repository-lease.js';
import { runbook } from './runbook.js';
import { verifyArchives } from './verify-archives.js';

export type { VerifyBackupsInput };

/** Backups of a host, newest first: in its backups folder, or in one target (read-only, no lock). */
export const listBackups = runbook(
  'listBackups',
  listBackupsInput,
  { lock: 'none', budget: { lockWaits: 0, work: '10 minutes' } },
  async ({ acts, hostId }, { target }): Promise<{ hostId: string; target?: string; backups: BackupListing[] }> => {
    if (target === undefined) return { hostId, backups: await acts.listBackups() };
    const info = (await acts.describeTargets()).find((t) => t.name === target);
    if (!info) throw ApplicationFailure.nonRetryable(`host ${hostId} has no backup target "${target}" (config backup.targets)`, 'UnknownTarget');
    return { hostId, target, backups: info.type === 'archive' ? await acts.listBackups() : await acts.listTargetBackups({ target }) };
  },
);

/**
 * Verifies archives with the same verifier the backup runbook uses: read back
 * whole, checksum, entries and bytes against the manifest, dumps with
 * `pg_restore --list`. Takes the host lock, so retention cannot delete an
 * archive while it is read. One finding per archive.
 */
export const verifyBackups = runbook('verifyBackups', verifyBackupsInput, { lock: 'run', budget: { lockWaits: 1, work: '18 hours' } }, async (ctx, input) => {
  const { acts, hostId, startedAt, progress } = ctx;
  const info = input.target === undefined ? undefined : (await acts.describeTargets()).find((t) => t.name === input.target);
  if (input.target !== undefined && !info) throw ApplicationFailure.nonRetryable(`host ${hostId} has no backup target "${input.target}" (config backup.targets)`, 'UnknownTarget');
  if (info?.type === 'restic') {
    // Every byte of the repository read (restic check --read-data), and each backup read back whole against its manifest.
    const archives = input.archives?.length && !input.all ? input.archives : [undefined];
    const findings = [];
    for (const archive of archives) {
      // A full read runs alone on the repository: no backup of another host writes to it meanwhile.
      const v = await withRepositoryLease(leaseFor(ctx, info, 'exclusive'), progress, () => {
        progress.set(`restic check --read-data ${info.name}`, archive ?? 'newest backup');
        return acts.resticVerify({ target: info.name, full: true, ...(archive ? { archive } : {}) });
      });
      findings.push(finding(`verify.${info.name}.${v.archive ?? 'repository'}`, v.ok ? 'ok' : 'fail', v.ok ? `${info.name}: every byte read and checked; ${v.archive ?? 'no backup'} matches its manifest` : `${info.name}: ${v.problems.join('; ')}`, { ...v }));
      reportTarget({ verifyOnly: true, hostId, target: info.name, type: 'restic', outcome: v.ok ? 'success' : 'failure', endedAt: v.verifiedAt, ...(v.archive ? { archive: v.archive } : {}), verification: { ok: v.ok, at: v.verifiedAt, full: true }, ...(v.ok ? {} : { message: v.problems.join('; ') }) });
    }
    return buildReport({ runbook: 'verifyBackups', hostId, startedAt, finishedAt: new Date(), findings });
  }
  const names = input.archives?.length && !input.all ? input.archives : (await acts.listBackups()).map((b) => b.archive);
  const findings = await verifyArchives(acts, names, progress);
  return buildReport({ runbook: 'verifyBackups', hostId, startedAt, finishedAt: new Date(), findings });
});
