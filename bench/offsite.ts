/**
 * Off-host backups on restic (issue 10), on the same data set and sandbox as
 * `bench/backup.ts`: backup.targets = the archive folder (`local`) and a restic
 * repository (`offsite`) on a SeaweedFS S3 server this bench starts on 127.0.0.1.
 *
 * Seed baseline in the same run: stop all, `tar -czf`, start all, `tar -tzf`;
 * restore: stop all, `tar -xzf` in place, start all.
 * Ours: a first backup workflow to the S3 target alone, a change of about 1 %
 * of the data set's bytes, a second backup (restic stores only what changed),
 * the same backup to the archive target alone (for comparison), then, on an
 * emptied host (folders and local archives deleted; the seed's restore gets
 * the same), `disasterRecovery` from `offsite` (restic dump
 * from S3, then the same inspection and restore as an archive from the folder).
 *
 * Prints the ratios ours/seed on stderr; the last stdout line is one JSON object.
 */
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupResult, RecoveryResult } from '../src/workflows/index.js';
import { startS3Server, type S3Server } from '../test/helpers/offsite-servers.js';
import { s3Repository } from '../test/helpers/offsite.js';
import { prng } from './lib/dataset.js';
import { log, MB, ratio, secs, withBenchSandbox } from './lib/sandbox.js';

function randomBuffer(rand: () => number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) b.writeUInt32LE(rand(), i);
  return b;
}

/**
 * A night's worth of change, the same every run, about `budget` bytes: 40 % as
 * regions rewritten in place inside two large binaries, 20 % appended
 * to report logs, 40 % as small compliance files rewritten whole. Returns the
 * bytes written.
 */
async function changeDataset(installRoot: string, budget: number): Promise<{ bytes: number; files: number }> {
  const rand = prng(1010);
  let bytes = 0;
  let files = 0;
  // In place: a region from 2 MiB on in each of two 6 MiB binaries.
  const inPlace = Math.floor((budget * 0.4) / 2);
  for (const name of ['r0.bin', 'r1.bin']) {
    const fh = await open(join(installRoot, 'filesystem_data', 'bench', 'bin', name), 'r+');
    try {
      await fh.write(randomBuffer(rand, inPlace), 0, inPlace, 2 * MB);
    } finally {
      await fh.close();
    }
    bytes += inPlace;
    files += 1;
  }
  // Appended: four report logs grow.
  const append = Math.floor((budget * 0.2) / 4);
  for (const i of [1, 2, 4, 5]) {
    const line = `2026-12-01T00:00:00.000Z report appended id=${i}\n`;
    const text = line.repeat(Math.ceil(append / line.length)).slice(0, append);
    const fh = await open(join(installRoot, 'reports', 'bench', `d${i % 50}`, `f${i}.log`), 'a');
    try {
      await fh.write(text);
    } finally {
      await fh.close();
    }
    bytes += append;
    files += 1;
  }
  // Rewritten whole: compliance logs get new content of the same size until the budget is spent.
  for (let i = 1; bytes < budget; i += 3) {
    const path = join(installRoot, 'compliance_data', 'bench', `d${i % 50}`, `f${i}.log`);
    const size = (await readFile(path)).length;
    const body = Buffer.from(randomBuffer(rand, Math.ceil(size / 2)).toString('hex').slice(0, size));
    await writeFile(path, body);
    bytes += size;
    files += 1;
  }
  return { bytes, files };
}

const restic = (b: BackupResult, target: string) => {
  const t = b.targets?.find((x) => x.target === target);
  if (!t?.ok || !t.restic) throw new Error(`target ${target} did not store the backup: ${t?.error ?? 'no report'}`);
  return t.restic;
};

export async function benchOffsite(): Promise<Record<string, unknown>> {
  const serverDir = await mkdtemp(join(tmpdir(), 'mcp-bench-s3-'));
  let s3: S3Server | undefined;
  try {
    log('starting the S3 server (weed mini) on 127.0.0.1 ...');
    s3 = await startS3Server(join(serverDir, 's3'));
    // BENCH_OFFSITE_LAYOUT=tar measures the tar layout (the default, auto, stores folders where the worker can).
    const layout = process.env.BENCH_OFFSITE_LAYOUT ?? 'auto';
    if (!['auto', 'folders', 'tar'].includes(layout)) throw new Error(`BENCH_OFFSITE_LAYOUT: auto, folders or tar, not ${layout}`);
    const repo = await s3Repository({ name: 'offsite', dir: join(serverDir, 'repo'), endpoint: s3.endpoint, accessKey: s3.accessKey, secretKey: s3.secretKey, extra: { layout } });
    const targets = [{ name: 'local', type: 'archive' }, repo.target];
    return await withBenchSandbox({ targets }, async (sb) => {
      const seedArchive = join(sb.dir, 'seed.tar.gz');
      log('seed backup: stop all, tar -czf, start all, tar -tzf ...');
      const seed = await sb.seedBackup(seedArchive);

      // The ratios are for a backup to the S3 target alone, as the issue asks; the archive target is measured on its own below.
      await sb.startWorker(['offsite']);
      log('ours: first backup workflow to the S3 target (restic) ...');
      const b1t0 = Date.now();
      const first = await sb.run<BackupResult>('backup', {});
      const firstMs = Date.now() - b1t0;
      const r1 = restic(first, 'offsite');

      const change = await changeDataset(sb.config.paths.installRoot, Math.round(sb.dataset.bytes * 0.01));
      log(`changed ${change.files} files, ${change.bytes} bytes (${((change.bytes / sb.dataset.bytes) * 100).toFixed(2)} % of the data set)`);
      log('ours: second backup workflow to the S3 target ...');
      const b2t0 = Date.now();
      const second = await sb.run<BackupResult>('backup', {});
      const secondMs = Date.now() - b2t0;
      const r2 = restic(second, 'offsite');

      await sb.startWorker(['local']);
      log('ours, for comparison: the same backup to the archive target alone ...');
      const a0 = Date.now();
      const archived = await sb.run<BackupResult>('backup', {});
      const archiveMs = Date.now() - a0;

      // An emptied host: every backed-up folder and every local archive gone (the services still run, as on a host
      // whose disk was wiped under them; both restores stop them, put the data back and start them).
      const emptyHost = async () => {
        for (const f of sb.folders) await rm(f, { recursive: true, force: true });
        for (const f of await readdir(sb.config.paths.backupDir)) if (f.startsWith('mcp_backup_')) await rm(join(sb.config.paths.backupDir, f), { force: true });
      };
      await emptyHost();
      log('seed restore onto the emptied host: tar -xzf, start all ...');
      const seedRestore = await sb.seedRestore(seedArchive);
      await emptyHost();
      await sb.startWorker(['offsite']);
      log(`ours: disasterRecovery of ${second.plan.archive} from offsite (S3) onto the emptied host ...`);
      const q0 = Date.now();
      const recovery = await sb.run<RecoveryResult>('disasterRecovery', { backup: second.plan.archive, from: 'offsite', approve: true });
      const restoreMs = Date.now() - q0;
      if (recovery.outcome !== 'recovered') throw new Error(`recovery outcome ${recovery.outcome}`);
      const back = await readFile(join(sb.config.paths.installRoot, 'filesystem_data', 'bench', 'bin', 'r0.bin'));
      if (back.length !== 6 * MB) throw new Error(`restored r0.bin has ${back.length} bytes`);
      // Services are back once the last one started; the emergency archive of the old state is written after that.
      const restoreUpMs = Math.max(...recovery.downtime.map((d) => Date.parse(d.startedAt))) - q0;
      const restoreDownMs = Math.max(...recovery.downtime.map((d) => d.seconds)) * 1000;

      let repositoryBytes = r2.retention.repositoryBytes;
      if (repositoryBytes === undefined) {
        const stats = await repo.restic(['stats', '--json', '--mode', 'raw-data']);
        if (stats.exitCode === 0) repositoryBytes = (JSON.parse(stats.stdout) as { total_size: number }).total_size;
      }

      const perTarget = (b: BackupResult, r: typeof r1) => ({
        restic_backup_s: r.backup.seconds,
        restic_check_s: r.verify.seconds,
        tar_bytes: r.backup.tarBytes,
        data_added_bytes: r.backup.dataAdded,
        snapshot_s: b.durations.snapshotSeconds,
        downtime_s: Math.max(...b.downtime.map((d) => d.seconds)),
      });
      const result = {
        bench: 'offsite',
        layout: r2.backup.layout ?? 'tar',
        dataset_bytes: sb.dataset.bytes,
        dataset_files: sb.dataset.files,
        changed_bytes: change.bytes,
        changed_files: change.files,
        data_added_first_bytes: r1.backup.dataAdded,
        data_added_second_bytes: r2.backup.dataAdded,
        repository_bytes: repositoryBytes,
        archive_bytes: archived.archive?.bytes,
        seed: { backup_total_s: secs(seed.totalMs), downtime_s: secs(seed.downMs), restore_total_s: secs(seedRestore) },
        ours: {
          first_backup_total_s: secs(firstMs),
          second_backup_total_s: secs(secondMs),
          first: perTarget(first, r1),
          second: perTarget(second, r2),
          archive_target: { backup_total_s: secs(archiveMs), archive_s: archived.durations.archiveSeconds, verify_s: archived.durations.verifySeconds, archive_bytes: archived.archive?.bytes },
          restore_total_s: secs(restoreMs),
          restore_until_up_s: secs(restoreUpMs),
          restore_downtime_s: secs(restoreDownMs),
          restore_steps_s: recovery.durations,
          restore_outcome: recovery.outcome,
        },
        first_ratio: ratio(firstMs, seed.totalMs),
        second_ratio: ratio(secondMs, seed.totalMs),
        archive_target_ratio: ratio(archiveMs, seed.totalMs),
        restore_ratio: ratio(restoreMs, seedRestore),
        restore_until_up_ratio: ratio(restoreUpMs, seedRestore),
        second_added_of_dataset: Math.round((r2.backup.dataAdded / sb.dataset.bytes) * 10000) / 10000,
      };
      const row = (label: string, seedS: number | undefined, oursS: number, note = '') =>
        log(`${label.padEnd(34)}${seedS === undefined ? '        -' : `${seedS.toFixed(2).padStart(8)}s`} ${oursS.toFixed(2).padStart(8)}s  ${seedS === undefined ? '' : ratio(oursS, seedS)}${note ? `  ${note}` : ''}`);
      const mib = (n: number | undefined) => (n === undefined ? '?' : `${(n / MB).toFixed(1)} MiB`);
      log('');
      log(`${''.padEnd(34)}    seed      ours  ratio (ours/seed)`);
      row('first backup to S3, total', secs(seed.totalMs), secs(firstMs), `restic ${r1.backup.seconds}s + check ${r1.verify.seconds}s, ${mib(r1.backup.dataAdded)} added (target <= 0.75)`);
      row('second backup (1 % changed), total', secs(seed.totalMs), secs(secondMs), `restic ${r2.backup.seconds}s + check ${r2.verify.seconds}s, ${mib(r2.backup.dataAdded)} added (target <= 0.15)`);
      row('archive target alone, total', secs(seed.totalMs), secs(archiveMs), `archive ${archived.durations.archiveSeconds}s + verify ${archived.durations.verifySeconds}s, ${mib(archived.archive?.bytes)}`);
      row('restore from S3, total', secs(seedRestore), secs(restoreMs));
      row('restore from S3, until services up', secs(seedRestore), secs(restoreUpMs));
      row('restore from S3, downtime', secs(seedRestore), secs(restoreDownMs));
      log('');
      log(`data set ${mib(sb.dataset.bytes)}; changed ${mib(change.bytes)}; added to restic: first ${mib(r1.backup.dataAdded)}, second ${mib(r2.backup.dataAdded)} (${(result.second_added_of_dataset * 100).toFixed(2)} % of the data set)`);
      log(`repository ${mib(repositoryBytes)} after two backups; one local archive ${mib(archived.archive?.bytes)}`);
      return result;
    });
  } finally {
    await s3?.stop().catch(() => undefined);
    await rm(serverDir, { recursive: true, force: true });
  }
}
