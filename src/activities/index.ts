/**
 * The host worker's activities, built from its config (dependency injection, no
 * globals). Workflows see these only as types: `proxyActivities<HostActivities>`.
 */
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import { createServiceManager, type ServiceManager } from '../services/index.js';
import { createBackupActivities } from './backup.js';
import { createDrillActivities } from './drill.js';
import { withStallWatch } from './heartbeat.js';
import { NO_FAULTS, type Faults } from './faults.js';
import { createMaintenanceActivities } from './maintenance/index.js';
import { createOffsiteActivities } from './offsite.js';
import { createPingActivities } from './ping.js';
import { createRemediationActivities } from './remediation.js';
import { createRestoreActivities } from './restore.js';
import { createServiceActivities } from './services.js';
import { createSystemActivities } from './system.js';

export interface HostActivityDeps {
  config: Config;
  /** @default the manager `config.serviceManager` describes */
  services?: ServiceManager;
  /** Fault points for kill tests; production never passes one. @default {@link NO_FAULTS} */
  faults?: Faults;
}

export function createActivities(deps: HostActivityDeps) {
  const services = deps.services ?? createServiceManager(deps.config);
  const faults = deps.faults ?? NO_FAULTS;
  const backup = createBackupActivities({ config: deps.config, faults });
  // Every activity under the stall watch: heartbeats only while its work moves (see heartbeat.ts).
  return withStallWatch({
    ...createServiceActivities({ services, faults, transitionsDir: join(deps.config.paths.backupDir, '.service-transitions') }),
    ...createSystemActivities({ config: deps.config }),
    ...createPingActivities({ hostId: deps.config.hostId }),
    ...backup,
    ...createRestoreActivities({ config: deps.config, services, faults }),
    ...createOffsiteActivities({ config: deps.config, faults }),
    ...createDrillActivities({ config: deps.config }),
    ...createRemediationActivities({ config: deps.config, services }),
    ...createMaintenanceActivities({ config: deps.config, services, listBackups: backup.listBackups }),
  }, { stallSeconds: deps.config.activities.stallSeconds, ...(deps.config.activities.stallSecondsFor ? { stallSecondsFor: deps.config.activities.stallSecondsFor } : {}) });
}

export type HostActivities = ReturnType<typeof createActivities>;

export { createOrchestratorActivities, type OrchestratorActivities } from './orchestrator.js';
