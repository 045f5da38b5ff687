import { finding } from '../common/report.js';
import { maintenanceRunbook, type MaintenanceReport } from './maintenance.js';

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
export const monthlyMaintenance = maintenanceRunbook('monthlyMaintenance', MONTHLY_STEPS, { lock: 'run', budget: { lockWaits: 1, work: '8 hours' } }, async ({ step, acts, report, workflowId }) => {
  await step('security.audit', () => acts.auditStatus());
  await step('packages.security', async () => (await acts.checkPackages()).findings);
  await step('security.user', () => acts.serviceUserAccess());
  await step('security.permissions', () => acts.checkPermissions());
  await step('security.certificates', () => acts.checkCertificates());
  await step('postgres.vacuum', () => acts.vacuumDatabase());
  await step('memory.consolidate', () => acts.consolidateMemoryService());
  await step('system', async () => [await acts.checkDisk(), await acts.checkMemory(), ...(await acts.checkCpuAndLoad())]);
  await step('services', () => acts.checkServices());
  await step('backup.status', () => acts.backupStatus());
  let reportFiles: MaintenanceReport['reportFiles'];
  await step('report.monthly', async () => {
    const files = await acts.writeMonthlyReport({ report: report(), workflowId });
    reportFiles = { text: files.text, json: files.json };
    return finding('report.monthly', 'ok', `monthly report written: ${files.text} and ${files.json} (${files.recommendations} recommendations)`, { ...files });
  });
  return reportFiles ? { reportFiles } : undefined;
});
