/**
 * The worker's Prometheus metrics, in an explicit registry (never prom-client's
 * global one). Names follow Prometheus conventions: base units, `_total` for
 * counters, `_seconds`, `_bytes`, `_timestamp_seconds`. README "Metrics" lists
 * each with its meaning.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { VERSION } from '../version.js';

const RUNBOOK_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];
const ACTIVITY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const PROBE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createWorkerMetrics(labels: { role: string; hostId: string }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const info = new Gauge({
    name: 'mcp_runbooks_build_info',
    help: 'Always 1; labels carry the version, role and host of this worker.',
    labelNames: ['version', 'role', 'host'] as const,
    registers,
  });
  info.set({ version: VERSION, role: labels.role, host: labels.hostId }, 1);
  let isReady = () => false;

  return {
    registry,
    /** Tells the readiness gauge how to read readiness; it is read at each scrape. */
    setReadiness(fn: () => boolean) {
      isReady = fn;
    },
    ready: new Gauge({
      name: 'mcp_runbooks_worker_ready',
      help: '1 while every Temporal worker in this process is polling, else 0.',
      registers,
      collect() {
        this.set(isReady() ? 1 : 0);
      },
    }),

    // Runbook outcomes (orchestrator: recorded when a runbook workflow ends).
    runbookRuns: new Counter({
      name: 'mcp_runbooks_runbook_runs_total',
      help: 'Runbook runs that ended, by runbook, host and outcome (success: the workflow completed, whatever its findings; failure; cancelled; timed-out: it passed its deadline; invalid-input: refused before it ran; dry-run and declined: it changed nothing).',
      labelNames: ['runbook', 'host', 'outcome'] as const,
      registers,
    }),
    runbookDuration: new Histogram({
      name: 'mcp_runbooks_runbook_duration_seconds',
      help: 'Duration of runbook runs, start to end, by runbook and host (dry-run and declined runs left out).',
      labelNames: ['runbook', 'host'] as const,
      buckets: RUNBOOK_BUCKETS,
      registers,
    }),
    runbookLastSuccess: new Gauge({
      name: 'mcp_runbooks_runbook_last_success_timestamp_seconds',
      help: 'When a runbook last completed with outcome success on a host (Unix time).',
      labelNames: ['runbook', 'host'] as const,
      registers,
    }),
    runbookLastFailure: new Gauge({
      name: 'mcp_runbooks_runbook_last_failure_timestamp_seconds',
      help: 'When a runbook last failed on a host (Unix time).',
      labelNames: ['runbook', 'host'] as const,
      registers,
    }),
    findings: new Gauge({
      name: 'mcp_runbooks_runbook_findings',
      help: 'Findings of the latest completed run, by runbook, host and status (ok, warn, fail).',
      labelNames: ['runbook', 'host', 'status'] as const,
      registers,
    }),
    // Backup targets (orchestrator: recorded as each target of a backup run ends).
    targetRuns: new Counter({
      name: 'mcp_runbooks_backup_target_runs_total',
      help: 'Backup target steps that ended, by host, target, type (archive, restic) and outcome (success, failure).',
      labelNames: ['host', 'target', 'type', 'outcome'] as const,
      registers,
    }),
    targetLastSuccess: new Gauge({
      name: 'mcp_runbooks_backup_target_last_success_timestamp_seconds',
      help: 'When a backup was last stored and verified on a target (Unix time).',
      labelNames: ['host', 'target', 'type'] as const,
      registers,
    }),
    targetLastFailure: new Gauge({
      name: 'mcp_runbooks_backup_target_last_failure_timestamp_seconds',
      help: 'When a backup last failed on a target (Unix time).',
      labelNames: ['host', 'target', 'type'] as const,
      registers,
    }),
    targetBytesAdded: new Gauge({
      name: 'mcp_runbooks_backup_target_bytes_added_bytes',
      help: 'Bytes the last successful backup added to the target (restic: new deduplicated data; archive: the archive size).',
      labelNames: ['host', 'target', 'type'] as const,
      registers,
    }),
    targetRepositoryBytes: new Gauge({
      name: 'mcp_runbooks_backup_target_repository_bytes',
      help: 'Size of a restic repository after the last successful backup (restic stats --mode raw-data).',
      labelNames: ['host', 'target', 'type'] as const,
      registers,
    }),
    targetSnapshots: new Gauge({
      name: 'mcp_runbooks_backup_target_snapshots',
      help: "The host's backups kept in the target after the last successful backup's retention.",
      labelNames: ['host', 'target', 'type'] as const,
      registers,
    }),
    targetVerificationOk: new Gauge({
      name: 'mcp_runbooks_backup_target_verification_ok',
      help: '1 when the latest verification of the target (restic check plus the manifest comparison; archive read-back) passed, else 0.',
      labelNames: ['host', 'target', 'type'] as const,
      registers,
    }),
    targetLastVerified: new Gauge({
      name: 'mcp_runbooks_backup_target_last_verified_timestamp_seconds',
      help: "When the target's latest verification ran, in a backup run or a `backups verify --target` run (Unix time).",
      labelNames: ['host', 'target', 'type'] as const,
      registers,
    }),
    runbookDowntime: new Counter({
      name: 'mcp_runbooks_runbook_downtime_seconds_total',
      help: 'Service downtime caused by runbooks (the stops of backup and recovery), by runbook, host and service.',
      labelNames: ['runbook', 'host', 'service'] as const,
      registers,
    }),
    hostFrozenUntil: new Gauge({
      name: 'mcp_runbooks_host_frozen_until_timestamp_seconds',
      help: 'While a host is frozen (mcp-runbooks freeze): when the freeze ends (Unix time); absent when it is not frozen.',
      labelNames: ['host'] as const,
      registers,
    }),
    drillLastSuccess: new Gauge({
      name: 'mcp_runbooks_restore_drill_last_success_timestamp_seconds',
      help: 'When a restore drill last passed on a host, by the target it restored from (`archive`: the backups folder) (Unix time).',
      labelNames: ['host', 'target'] as const,
      registers,
    }),
    drillRestoreSeconds: new Gauge({
      name: 'mcp_runbooks_restore_drill_restore_seconds',
      help: 'Measured restore time of the last passed restore drill (extract every folder, restore the database), by host and target: the recovery time this backup can meet.',
      labelNames: ['host', 'target'] as const,
      registers,
    }),
    backupLastSize: new Gauge({
      name: 'mcp_runbooks_backup_last_size_bytes',
      help: 'Size of the archive the latest successful backup wrote, by host.',
      labelNames: ['host'] as const,
      registers,
    }),

    // Activities (any worker: an activity interceptor).
    activityDuration: new Histogram({
      name: 'mcp_runbooks_activity_duration_seconds',
      help: 'Duration of activity executions, by activity type, task queue and outcome.',
      labelNames: ['activity', 'task_queue', 'outcome'] as const,
      buckets: ACTIVITY_BUCKETS,
      registers,
    }),
    activityFailures: new Counter({
      name: 'mcp_runbooks_activity_failures_total',
      help: 'Activity executions that failed, by activity type, task queue and error name.',
      labelNames: ['activity', 'task_queue', 'error'] as const,
      registers,
    }),

    // The host, probed by the host worker.
    serviceUp: new Gauge({
      name: 'mcp_runbooks_service_up',
      help: '1 when the service manager reports the service active at the last probe, else 0.',
      labelNames: ['host', 'service'] as const,
      registers,
    }),
    serviceDowntime: new Counter({
      name: 'mcp_runbooks_service_downtime_seconds_total',
      help: 'Time a service was seen not active by the probes (planned or not), by host and service.',
      labelNames: ['host', 'service'] as const,
      registers,
    }),
    backups: new Gauge({ name: 'mcp_runbooks_backup_archives', help: 'Archives in the backups folder.', labelNames: ['host'] as const, registers }),
    backupNewest: new Gauge({
      name: 'mcp_runbooks_backup_newest_timestamp_seconds',
      help: 'When the newest backup in the backups folder was made (Unix time); a recovery\'s emergency archives are left out; absent when there is no backup.',
      labelNames: ['host'] as const,
      registers,
    }),
    backupNewestSize: new Gauge({ name: 'mcp_runbooks_backup_newest_size_bytes', help: 'Size of the newest backup (emergency archives left out).', labelNames: ['host'] as const, registers }),
    backupNewestVerified: new Gauge({
      name: 'mcp_runbooks_backup_newest_verified',
      help: '1 when the newest backup (emergency archives left out) passed verification, 0 when it failed or was not verified.',
      labelNames: ['host'] as const,
      registers,
    }),

    // The seed's memory-service exporter (`GET /get_stats`), running totals as counters.
    memoryUp: new Gauge({ name: 'mcp_memory_up', help: '1 when the memory service answered /get_stats at the last probe.', labelNames: ['host'] as const, registers }),
    memorySize: new Gauge({ name: 'mcp_memory_size', help: 'Memories held by the memory service (/get_stats size).', labelNames: ['host'] as const, registers }),
    memoryOperations: new Counter({
      name: 'mcp_memory_operations_total',
      help: 'Operations the memory service served since it started (/get_stats operations).',
      labelNames: ['host'] as const,
      registers,
    }),
    memoryErrors: new Counter({ name: 'mcp_memory_errors_total', help: 'Errors since the memory service started (/get_stats errors).', labelNames: ['host'] as const, registers }),
    memoryUptime: new Gauge({ name: 'mcp_memory_uptime_seconds', help: 'Uptime of the memory service (/get_stats uptime).', labelNames: ['host'] as const, registers }),
    memoryLatency: new Histogram({
      name: 'mcp_memory_request_duration_seconds',
      help: 'Response time of the memory service to the /get_stats probe, failed probes included (a hang counts as the timeout).',
      labelNames: ['host'] as const,
      buckets: PROBE_BUCKETS,
      registers,
    }),

    // Schedules (orchestrator: read from Temporal).
    scheduleLastSuccess: new Gauge({
      name: 'mcp_runbooks_schedule_last_success_timestamp_seconds',
      help: 'Close time of the newest run a schedule started that completed (Unix time).',
      labelNames: ['schedule', 'runbook', 'host'] as const,
      registers,
    }),
    scheduleMissed: new Counter({
      name: 'mcp_runbooks_schedule_missed_runs_total',
      help: 'Runs a schedule did not start because they were later than its catch-up window (Temporal unavailable).',
      labelNames: ['schedule', 'runbook', 'host'] as const,
      registers,
    }),
    scheduleSkipped: new Counter({
      name: 'mcp_runbooks_schedule_skipped_runs_total',
      help: 'Runs a schedule skipped because the previous run was still running (overlap policy).',
      labelNames: ['schedule', 'runbook', 'host'] as const,
      registers,
    }),
    schedulePaused: new Gauge({ name: 'mcp_runbooks_schedule_paused', help: '1 while a schedule is paused.', labelNames: ['schedule', 'runbook', 'host'] as const, registers }),

    // Notifications out (orchestrator: the deliverNotification activity).
    notifications: new Counter({
      name: 'mcp_runbooks_notifications_total',
      help: 'Notification deliveries by target, event and result (sent, or failed: each failed attempt, retried later).',
      labelNames: ['target', 'kind', 'event', 'result'] as const,
      registers,
    }),
    notifyTargetUp: new Gauge({
      name: 'mcp_runbooks_notify_target_up',
      help: '1 when the last delivery to the notification target succeeded, 0 when it failed.',
      labelNames: ['target', 'kind'] as const,
      registers,
    }),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

/**
 * Sets a counter to a total read from elsewhere (the memory service's running
 * totals, Temporal's schedule counts). A lower value is a restart of the
 * source: the counter starts again from it, which Prometheus reads as a reset.
 */
export function mirrorTotal<T extends string>(counter: Counter<T>, labels: Partial<Record<T, string | number>>, total: number, last: Map<string, number>): void {
  const key = JSON.stringify(labels);
  const previous = last.get(key);
  if (previous === undefined || total < previous) {
    counter.remove(labels);
    counter.inc(labels, total);
  } else if (total > previous) {
    counter.inc(labels, total - previous);
  }
  last.set(key, total);
}
