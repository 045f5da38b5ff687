import type { BackupListing } from '../activities/backup.js';
import { hostOnlyInput, verifyBackupsInput, type VerifyBackupsInput } from '../common/inputs.js';
import { buildReport } from '../common/report.js';
import { runbook } from './runbook.js';
import { verifyArchives } from './verify-archives.js';

export type { VerifyBackupsInput };

/** Archives in a host's backups folder, newest first (read-only, no lock). */
export const listBackups = runbook(
  'listBackups',
  hostOnlyInput,
  { lock: 'none', budget: { lockWaits: 0, work: '10 minutes' } },
  async ({ acts, hostId }): Promise<{ hostId: string; backups: BackupListing[] }> => ({ hostId, backups: await acts.listBackups() }),
);

/**
 * Verifies archives with the same verifier the backup runbook uses: read back
 * whole, checksum, entries and bytes against the manifest, dumps with
 * `pg_restore --list`. Takes the host lock, so retention cannot delete an
 * archive while it is read. One finding per archive.
 */
export const verifyBackups = runbook('verifyBackups', verifyBackupsInput, { lock: 'run', budget: { lockWaits: 1, work: '18 hours' } }, async ({ acts, hostId, startedAt, progress }, input) => {
  const names = input.archives?.length && !input.all ? input.archives : (await acts.listBackups()).map((b) => b.archive);
  const findings = await verifyArchives(acts, names, progress);
  return buildReport({ runbook: 'verifyBackups', hostId, startedAt, finishedAt: new Date(), findings });
});
