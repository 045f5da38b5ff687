/**
 * The maintenance runbooks' host activities (seed section 4), grouped by what
 * they touch. Each returns findings; a check that cannot run says so in a
 * finding rather than throwing, so one broken part never hides the others.
 */
import type { Config } from '../../config/config.js';
import type { ServiceManager } from '../../services/index.js';
import type { BackupListing } from '../backup.js';
import { createMaintenanceBackupActivities } from './backups.js';
import { createMaintenanceLogActivities } from './logs.js';
import { createMaintenanceMemoryActivities } from './memory.js';
import { createMaintenancePackageActivities } from './packages.js';
import { createMaintenancePostgresActivities } from './postgres.js';
import { createMaintenanceReportActivities } from './reports.js';
import { createMaintenanceSecurityActivities } from './security.js';
import { createMaintenanceServiceActivities } from './services.js';
import { createMaintenanceSystemActivities } from './system.js';
import { createMaintenanceTempActivities } from './temp-files.js';

export interface MaintenanceActivityDeps {
  config: Config;
  services: ServiceManager;
  /** The backup activities' listing, shared with the backup runbook. */
  listBackups: () => Promise<BackupListing[]>;
  /** @default /proc */
  procRoot?: string;
}

/** Every maintenance activity of a host, from its config, service manager and the backup listing. */
export function createMaintenanceActivities({ config, services, listBackups, procRoot }: MaintenanceActivityDeps) {
  return {
    ...createMaintenanceServiceActivities({ services }),
    ...createMaintenanceSystemActivities({ config, ...(procRoot ? { procRoot } : {}) }),
    ...createMaintenanceBackupActivities({ config, listBackups }),
    ...createMaintenanceLogActivities({ config, services }),
    ...createMaintenancePostgresActivities({ config }),
    ...createMaintenanceMemoryActivities({ config }),
    ...createMaintenanceTempActivities({ config }),
    ...createMaintenancePackageActivities({ config }),
    ...createMaintenanceSecurityActivities({ config }),
    ...createMaintenanceReportActivities({ config }),
  };
}

export type { PackageCheck } from './packages.js';
export type { ReportFiles } from './reports.js';
