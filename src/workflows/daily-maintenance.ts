import { maintenanceRunbook } from './maintenance.js';

/** Steps of {@link dailyMaintenance}, in order (seed 4.1). */
export const DAILY_STEPS = ['services', 'system.disk', 'system.memory', 'backup.status', 'logs.rotate'] as const;

/**
 * Seed 4.1, daily: every service active (a stopped one is started and
 * verified), disk usage of the install root with old logs deleted above the
 * threshold, memory usage, the backups on hand, a log rotation. Holds the host
 * lock, so it never runs beside a backup (seed defect 2: both at 02:00).
 */
export const dailyMaintenance = maintenanceRunbook('dailyMaintenance', DAILY_STEPS, { lock: 'run', budget: { lockWaits: 1, work: '2 hours' } }, async ({ step, acts }) => {
  await step('services', () => acts.ensureServicesRunning());
  await step('system.disk', () => acts.checkDiskAndCleanLogs());
  await step('system.memory', () => acts.checkMemory());
  await step('backup.status', () => acts.backupStatus());
  await step('logs.rotate', () => acts.rotateLogs());
});
