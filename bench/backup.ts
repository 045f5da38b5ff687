/**
 * Backup and restore, ours against the seed's own method, on the same data set
 * (>= 500 MB of mixed files) and the same sandbox services.
 *
 * Seed backup (automated-backup.sh): stop every service, `tar -czf` the folders,
 * start every service, `tar -tzf` to check it. Seed restore: stop every service,
 * `tar -xzf` in place, start every service.
 * Ours: the `backup` and `disasterRecovery` workflows on an embedded dev server.
 *
 * Before each timed part the page cache's dirty pages are written out (`sync`),
 * so neither side pays for the writes of the one before it; a restore's total
 * also includes the `sync` after it, so each side pays for its own writes.
 *
 * Prints the ratios ours/seed; the last line is one JSON object.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import type { BackupResult, RecoveryResult } from '../src/workflows/index.js';
import { log, ratio, secs, withBenchSandbox } from './lib/sandbox.js';

export async function benchBackup(): Promise<Record<string, unknown>> {
  return withBenchSandbox({}, async (sb) => {
    const seedArchive = join(sb.dir, 'seed.tar.gz');

    // --- the seed's backup ---------------------------------------------------
    log('seed backup: stop all, tar -czf, start all, tar -tzf ...');
    await settle();
    const { totalMs: seedTotal, downMs: sDown } = await sb.seedBackup(seedArchive);

    // --- ours ------------------------------------------------------------------
    await sb.startWorker();
    log('ours: backup workflow ...');
    await settle();
    const o0 = Date.now();
    const backup = await sb.run<BackupResult>('backup', {});
    const oursTotal = Date.now() - o0;
    const oursDown = Math.max(...backup.downtime.map((d) => d.seconds)) * 1000;

    // --- restore -------------------------------------------------------------
    log('seed restore: stop all, tar -xzf in place, start all ...');
    // A restore's total includes writing its data out (sync at its end): ours writes more (staging beside the
    // live folders, a staging database, the emergency archive) and pays for it here.
    await settle();
    const seedRestore = (await sb.seedRestore(seedArchive)) + (await settle());
    log('ours: disasterRecovery workflow ...');
    await settle();
    const q0 = Date.now();
    const recovery = await sb.run<RecoveryResult>('disasterRecovery', { backup: backup.archive!.archive, approve: true });
    await settle();
    const oursRestore = Date.now() - q0;
    const restoreActivities = await sb.lastActivities();
    const oursRestoreDown = Math.max(...recovery.downtime.map((d) => d.seconds)) * 1000;
    // Services are back once the last one started; the emergency archive of the old state is written after that.
    const oursRestoreUp = Math.max(...recovery.downtime.map((d) => Date.parse(d.startedAt))) - q0;

    const result = {
      bench: 'backup',
      dataset_bytes: sb.dataset.bytes,
      dataset_files: sb.dataset.files,
      compressor: backup.archive?.compressor,
      seed: { backup_total_s: secs(seedTotal), downtime_s: secs(sDown), restore_total_s: secs(seedRestore), restore_downtime_s: secs(seedRestore) },
      ours: {
        backup_total_s: secs(oursTotal),
        downtime_s: secs(oursDown),
        downtime_by_service_s: Object.fromEntries(backup.downtime.map((d) => [d.service, d.seconds])),
        steps_s: backup.durations,
        restore_total_s: secs(oursRestore),
        restore_downtime_s: secs(oursRestoreDown),
        restore_until_up_s: secs(oursRestoreUp),
        restore_steps_s: recovery.durations,
        restore_activities_s: restoreActivities.map((a) => `${a.activity} ${a.seconds}`),
        archive_bytes: backup.archive?.bytes,
      },
      total_ratio: ratio(oursTotal, seedTotal),
      downtime_ratio: ratio(oursDown, sDown),
      restore_ratio: ratio(oursRestore, seedRestore),
      restore_downtime_ratio: ratio(oursRestoreDown, seedRestore),
      restore_until_up_ratio: ratio(oursRestoreUp, seedRestore),
      targets: { total_ratio: 1.2, downtime_ratio: 0.25, restore_ratio: 2.0, restore_until_up_ratio: 1.0, restore_downtime_ratio: 0.3 },
    };
    log('');
    log(`                   seed      ours     ratio (ours/seed)`);
    log(`backup total   ${secs(seedTotal).toFixed(2).padStart(8)}s ${secs(oursTotal).toFixed(2).padStart(8)}s  ${result.total_ratio}  (target <= 1.2)`);
    log(`downtime       ${secs(sDown).toFixed(2).padStart(8)}s ${secs(oursDown).toFixed(2).padStart(8)}s  ${result.downtime_ratio}  (target <= 0.25; ours: the longest single service)`);
    log(`restore total  ${secs(seedRestore).toFixed(2).padStart(8)}s ${secs(oursRestore).toFixed(2).padStart(8)}s  ${result.restore_ratio}  (target <= 2.0)`);
    log(`restore up at  ${secs(seedRestore).toFixed(2).padStart(8)}s ${secs(oursRestoreUp).toFixed(2).padStart(8)}s  ${result.restore_until_up_ratio}  (target <= 1.0; ours: start of the workflow to the last service started)`);
    log(`restore down   ${secs(seedRestore).toFixed(2).padStart(8)}s ${secs(oursRestoreDown).toFixed(2).padStart(8)}s  ${result.restore_downtime_ratio}  (target <= 0.3; ours: the longest single service)`);
    return result;
  });
}

/** Writes out dirty pages (so the next timed part starts from a quiet disk); returns how long it took, in ms. */
async function settle(): Promise<number> {
  const t0 = Date.now();
  await execa('sync');
  return Date.now() - t0;
}
