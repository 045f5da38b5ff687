/**
 * Periodic probes that feed the metrics: on a host worker, its services, its
 * backups folder and its memory service (the seed's exporter); on an
 * orchestrator, the schedules in Temporal. Each probe runs again only after the
 * previous one finished, and a failing probe never stops the worker.
 */
import type { Client } from '@temporalio/client';
import type { Config } from '../config/config.js';
import { createBackupActivities, newestBackup } from '../activities/backup.js';
import { archiveTime } from '../common/archive-names.js';
import type { ServiceManager } from '../services/index.js';
import { getMemoryStats, type MemoryStats } from '../system/memory-service.js';
import { mirrorTotal, type WorkerMetrics } from './registry.js';

export interface Probe {
  /** Runs the probe once, now. */
  run(): Promise<void>;
  stop(): void;
}

/**
 * Runs `fn` now and then every `seconds` after each run ends. `stop()` aborts
 * the signal `fn` gets, so an in-flight probe (a status command) never holds
 * up a worker's exit.
 */
export function every(seconds: number, fn: (signal: AbortSignal) => Promise<void>): Probe {
  let timer: NodeJS.Timeout | undefined;
  const controller = new AbortController();
  const loop = async () => {
    try {
      await fn(controller.signal);
    } catch {
      // A probe that fails shows in its own metric (e.g. mcp_memory_up 0); it never stops the worker.
    }
    if (!controller.signal.aborted) timer = setTimeout(() => void loop(), seconds * 1000).unref();
  };
  void loop();
  return {
    run: () => fn(controller.signal),
    stop() {
      controller.abort();
      if (timer) clearTimeout(timer);
    },
  };
}

export function serviceProbe(config: Config, services: ServiceManager, m: WorkerMetrics): (signal: AbortSignal) => Promise<void> {
  let last = Date.now();
  return async (signal) => {
    const now = Date.now();
    const elapsed = (now - last) / 1000;
    last = now;
    await Promise.all(
      services.services.map(async (service) => {
        let up = 0;
        try {
          up = (await services.status(service, { signal })).state === 'active' ? 1 : 0;
        } catch {
          if (signal.aborted) return;
          up = 0;
        }
        const labels = { host: config.hostId, service };
        m.serviceUp.set(labels, up);
        m.serviceDowntime.inc(labels, up ? 0 : elapsed);
      }),
    );
  };
}

export function backupProbe(config: Config, m: WorkerMetrics): () => Promise<void> {
  const backups = createBackupActivities({ config });
  const host = { host: config.hostId };
  return async () => {
    const list = await backups.listBackups();
    m.backups.set(host, list.length);
    // The newest backup, not the newest archive: a recovery's emergency archive must neither raise
    // BackupNotVerified nor reset BackupTooOld (see isBackup).
    const newest = newestBackup(list);
    if (!newest) {
      m.backupNewest.remove(host);
      m.backupNewestSize.remove(host);
      m.backupNewestVerified.remove(host);
      return;
    }
    m.backupNewest.set(host, (archiveTime(newest.archive) ?? new Date(newest.createdAt)).getTime() / 1000);
    m.backupNewestSize.set(host, newest.bytes);
    m.backupNewestVerified.set(host, newest.verified?.ok ? 1 : 0);
  };
}

export function memoryProbe(config: Config, m: WorkerMetrics): () => Promise<void> {
  const host = { host: config.hostId };
  const operations = new Map<string, number>();
  const errors = new Map<string, number>();
  return async () => {
    const t0 = process.hrtime.bigint();
    let stats: MemoryStats;
    try {
      stats = await getMemoryStats(config.memoryService.url, config.memoryService.timeoutSeconds * 1000);
    } catch {
      // Observed on failure too: a service that hangs until the timeout must raise HighResponseTime.
      m.memoryLatency.observe(host, Number(process.hrtime.bigint() - t0) / 1e9);
      m.memoryUp.set(host, 0);
      return;
    }
    m.memoryLatency.observe(host, Number(process.hrtime.bigint() - t0) / 1e9);
    m.memoryUp.set(host, 1);
    m.memorySize.set(host, stats.size);
    m.memoryUptime.set(host, stats.uptime);
    mirrorTotal(m.memoryOperations, host, stats.operations, operations);
    mirrorTotal(m.memoryErrors, host, stats.errors, errors);
  };
}

export function scheduleProbe(config: Config, client: Client, m: WorkerMetrics): () => Promise<void> {
  const missed = new Map<string, number>();
  const skipped = new Map<string, number>();
  return async () => {
    const { scheduleStatuses } = await import('../schedules/status.js');
    for (const s of await scheduleStatuses({ client, config, nextRuns: 0 })) {
      const labels = { schedule: s.scheduleId, runbook: s.runbook ?? '', host: s.hostId ?? '' };
      if (s.lastSuccessAt) m.scheduleLastSuccess.set(labels, s.lastSuccessAt.getTime() / 1000);
      m.schedulePaused.set(labels, s.paused ? 1 : 0);
      mirrorTotal(m.scheduleMissed, labels, s.missedCatchupWindow, missed);
      mirrorTotal(m.scheduleSkipped, labels, s.skippedOverlap, skipped);
    }
  };
}
