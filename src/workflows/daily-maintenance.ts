import { runMaintenance, type MaintenanceInput, type MaintenanceReport } from './maintenance.js';

/** Steps of {@link dailyMaintenance}, in order (seed 4.1). */
export const DAILY_STEPS = ['services', 'system.disk', 'system.memory', 'backup.status', 'logs.rotate'] as const;

/**
 * Seed 4.1, daily: every service active (a stopped one is started and
 * verified), disk usage of the install root with old logs deleted above the
 * threshold, memory usage, the backups on hand, a log rotation. Holds the host
 * lock, so it never runs beside a backup (seed defect 2: both at 02:00).
 */
export async function dailyMaintenance(input: MaintenanceInput = {}): Promise<MaintenanceReport> {
  return runMaintenance('dailyMaintenance', input, DAILY_STEPS, async ({ step, host }) => {
    await step('services', () => host.ensureServicesRunning());
    await step('system.disk', () => host.checkDiskAndCleanLogs());
    await step('system.memory', () => host.checkMemory());
    await step('backup.status', () => host.backupStatus());
    await step('logs.rotate', () => host.rotateLogs());
  });
}
