import { finding } from '../common/report.js';
import { runMaintenance, type MaintenanceInput, type MaintenanceReport } from './maintenance.js';

/** Steps of {@link monthlyMaintenance}, in order (seed 4.3). */
export const MONTHLY_STEPS = [
  'security.audit',
  'packages.security',
  'security.user',
  'security.permissions',
  'security.certificates',
  'postgres.vacuum',
  'memory.consolidate',
  'system',
  'services',
  'backup.status',
  'report.monthly',
] as const;

/**
 * Seed 4.3, monthly: security review (audit subsystem, pending security
 * updates, the service account, permission modes, certificate expiry),
 * VACUUM ANALYZE, memory service consolidation, a snapshot of CPU, load, disk
 * and memory, services and backups; then the report files
 * `reports/monthly-report-YYYYMM.txt` and `.json` on the host, with
 * recommendations derived from the findings. Installs nothing.
 */
export async function monthlyMaintenance(input: MaintenanceInput = {}): Promise<MaintenanceReport> {
  return runMaintenance('monthlyMaintenance', input, MONTHLY_STEPS, async ({ step, host, long, report, workflowId }) => {
    await step('security.audit', () => host.auditStatus());
    await step('packages.security', async () => (await long.checkPackages()).findings);
    await step('security.user', () => host.serviceUserAccess());
    await step('security.permissions', () => long.checkPermissions());
    await step('security.certificates', () => host.checkCertificates());
    await step('postgres.vacuum', () => long.vacuumDatabase());
    await step('memory.consolidate', () => host.consolidateMemoryService());
    await step('system', async () => [await host.checkDisk(), await host.checkMemory(), ...(await host.checkCpuAndLoad())]);
    await step('services', () => host.checkServices());
    await step('backup.status', () => host.backupStatus());
    let reportFiles: MaintenanceReport['reportFiles'];
    await step('report.monthly', async () => {
      const files = await host.writeMonthlyReport({ report: report(), workflowId });
      reportFiles = { text: files.text, json: files.json };
      return finding('report.monthly', 'ok', `monthly report written: ${files.text} and ${files.json} (${files.recommendations} recommendations)`, { ...files });
    });
    return reportFiles ? { reportFiles } : undefined;
  });
}
