/**
 * The seed guide's crontab as schedule defaults, and the defaults of every
 * schedule field. The seed installs four jobs (section 4 and 5.1):
 *
 * ```
 * 0 2 * * *  daily-maintenance.sh
 * 0 3 * * 0  weekly-maintenance.sh
 * 0 4 1 * *  monthly-maintenance.sh
 * 0 2 * * *  automated-backup.sh
 * ```
 *
 * each with `echo … | crontab -`, which replaces the whole crontab, so only the
 * last one installed ever ran (SEED-NOTES defect 1). Here each is its own
 * Temporal Schedule. Backup and daily maintenance keep the seed's shared 02:00
 * (defect 2 was that they stepped on each other): the runbooks take a per-host
 * lock, so the second one waits for the first instead of interleaving with it.
 */
import type { OverlapPolicy } from './overlap.js';

/** Defaults of a schedule's fields when neither the seed table nor the config sets them. */
export const SCHEDULE_FIELD_DEFAULTS = {
  /** Times are read in UTC: a local zone with daylight saving runs a job 0, 1 or 2 times on the change days. */
  timezone: 'UTC',
  jitter: '0s',
  overlap: 'SKIP' satisfies OverlapPolicy,
  /** Like cron: a run that cannot start within a minute of its time is counted as missed, not run late. */
  catchupWindow: '1m',
  pauseOnFailure: false,
  enabled: true,
} as const;

export interface SeedSchedule {
  cron: string;
  /** Each host's run starts up to this much later (Temporal's jitter, drawn per run): a fleet does not all start at 02:00:00. */
  jitter: string;
  /** How late a missed run may still start once Temporal is back. */
  catchupWindow: string;
  /** Where the seed guide installs it. */
  seed: string;
}

/** Default schedules by runbook name, declared on every host unless `defaultSchedules: false`. */
export const SEED_SCHEDULES: Readonly<Record<string, SeedSchedule>> = {
  /** A missed backup runs once when Temporal is back within a day, like systemd's `Persistent=true`. */
  backup: { cron: '0 2 * * *', jitter: '10m', catchupWindow: '1d', seed: '5.1 automated-backup.sh, daily at 02:00' },
  /** Maintenance may start up to an hour late; later than that it waits for the next time and counts as missed. */
  daily: { cron: '0 2 * * *', jitter: '10m', catchupWindow: '1h', seed: '4.1 daily-maintenance.sh, daily at 02:00' },
  weekly: { cron: '0 3 * * 0', jitter: '10m', catchupWindow: '1h', seed: '4.2 weekly-maintenance.sh, Sundays at 03:00' },
  monthly: { cron: '0 4 1 * *', jitter: '10m', catchupWindow: '1h', seed: '4.3 monthly-maintenance.sh, the 1st at 04:00' },
  /**
   * Not a seed cron job: the seed's first best practice ("test backup and recovery procedures regularly"), after
   * Friday night's backup. Read-only, so it does not wait for the host lock; a missed drill runs late, once.
   */
  'restore-drill': { cron: '0 5 * * 6', jitter: '30m', catchupWindow: '1d', seed: 'best practice 1 "test backup and recovery procedures regularly", Saturdays at 05:00' },
};
