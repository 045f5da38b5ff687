/** Verifying archives one by one with the shared verifier (`verifyBackup`), one finding each. */
import { isCancellation } from '@temporalio/workflow';
import type { HostActivities } from '../activities/index.js';
import { finding, type Finding } from '../common/report.js';
import type { ProgressTracker } from './progress.js';
import { failureMessage } from './shared.js';

/**
 * Reads each archive back whole and checks it against its manifest: `ok` when
 * it matches, `warn` when it reads back but has no manifest, `fail` otherwise.
 * Used by `verifyBackups` and weekly maintenance, so both judge an archive alike.
 */
export async function verifyArchives(long: Pick<HostActivities, 'verifyBackup' | 'backupFolderState'>, archives: readonly string[], progress: ProgressTracker): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [i, archive] of archives.entries()) {
    progress.set('verify', `${archive} (${i + 1} of ${archives.length})`);
    try {
      const v = await long.verifyBackup({ archive });
      findings.push(
        v.status === 'ok'
          ? finding(`backup.verify.${archive}`, 'ok', `${archive} reads back whole and matches its manifest`, { entries: v.entries, bytes: v.bytes, sha256: v.sha256 })
          : v.status === 'no-manifest'
            ? finding(`backup.verify.${archive}`, 'warn', `${archive} reads back whole but has no manifest to check it against`, { entries: v.entries, bytes: v.bytes })
            : finding(`backup.verify.${archive}`, 'fail', `${archive}: ${v.problems.join('; ')}`, { problems: v.problems }),
      );
    } catch (err) {
      if (isCancellation(err)) throw err;
      findings.push(finding(`backup.verify.${archive}`, 'fail', `${archive} could not be verified: ${failureMessage(err)}`, {}));
    }
  }
  if (archives.length === 0) {
    const { dir, exists } = await long.backupFolderState();
    findings.push(finding('backup.verify', 'warn', exists ? `no archives in ${dir}` : `backup folder ${dir} does not exist: no archives to verify`, { backupDir: dir, exists }));
  }
  return findings;
}
