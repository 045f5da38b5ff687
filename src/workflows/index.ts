/** Every workflow the orchestrator worker registers. */
export { healthCheck, type HealthCheckInput } from './health-check.js';
export { backup, type BackupInput, type BackupResult } from './backup.js';
export { disasterRecovery, planQuery, type DisasterRecoveryInput, type RecoveryResult } from './disaster-recovery.js';
export { approveUpdate, approveSignal, rejectUpdate, type ApprovalInput, type ApprovalResult } from './approval.js';
export { listBackups, verifyBackups, type VerifyBackupsInput } from './backups.js';
export { dailyMaintenance, DAILY_STEPS } from './daily-maintenance.js';
export { weeklyMaintenance, WEEKLY_STEPS, approveUpgradesUpdate, rejectUpgradesUpdate, pendingUpgradeQuery, type PendingUpgrade } from './weekly-maintenance.js';
export { monthlyMaintenance, MONTHLY_STEPS } from './monthly-maintenance.js';
export { restoreDrill, type RestoreDrillInput, type RestoreDrillResult } from './restore-drill.js';
export { restartService, type RestartServiceInput, type RestartServiceResult } from './restart-service.js';
export type { MaintenanceInput, MaintenanceReport, StepOutcome } from './maintenance.js';
export { hostLock, lockStateQuery } from './host-lock.js';
export { repositoryLock, repositoryLockStateQuery } from './repository-lock.js';
export { progressQuery } from './progress.js';
export { deliverNotifications } from './notify.js';
export { fleet, fleetProgressQuery, pauseFleetUpdate, resumeFleetUpdate, abortFleetUpdate, type FleetInput, type FleetProgress, type FleetResult } from './fleet.js';
