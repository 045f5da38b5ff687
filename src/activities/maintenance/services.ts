/** Daily maintenance's service step: every configured service active; a stopped one is started and verified. */
import { errorMessage } from '../../common/errors.js';
import { finding, type Finding } from '../../common/report.js';
import type { ServiceManager } from '../../services/index.js';
import { activitySignal, rethrowIfCancelled, trackStep } from '../context.js';
import { createServiceActivities } from '../services.js';

export interface MaintenanceServiceDeps {
  services: ServiceManager;
  /** How long a started service may take to report active. @default 30 s */
  startTimeoutMs?: number;
}

export function createMaintenanceServiceActivities({ services, startTimeoutMs }: MaintenanceServiceDeps) {
  // The backup runbook's start-and-wait-until-active, so "started" means the same everywhere.
  const { startServices } = createServiceActivities({ services, ...(startTimeoutMs ? { startTimeoutMs } : {}) });
  return {
    /**
     * One finding per service: `ok` when active; a stopped service is started
     * once and verified active (`warn`: it was down); `fail` when it does not
     * come up or its state cannot be read. Services are handled one by one.
     */
    async ensureServicesRunning(): Promise<Finding[]> {
      const signal = activitySignal();
      const out: Finding[] = [];
      const report = trackStep('services checked', 'items', services.services.length);
      for (const name of services.services) {
        report(out.length);
        const check = `service.${name}`;
        let before;
        try {
          before = await services.status(name, signal ? { signal } : {});
        } catch (err) {
          rethrowIfCancelled(err, signal);
          out.push(finding(check, 'fail', `could not read the state of ${name}: ${errorMessage(err)}`, { service: name, state: 'unknown' }));
          continue;
        }
        if (before.state === 'active') {
          out.push(finding(check, 'ok', `${name} is active`, { service: name, state: before.state, detail: before.detail }));
          continue;
        }
        try {
          const [started] = await startServices({ services: [name] });
          const after = await services.status(name, signal ? { signal } : {});
          out.push(
            finding(check, 'warn', `${name} was ${before.state}; started, and it is active now (find out why it stopped)`, {
              service: name,
              state: after.state,
              detail: after.detail,
              before: before.state,
              startedAt: started?.at,
              action: 'started',
            }),
          );
        } catch (err) {
          rethrowIfCancelled(err, signal);
          out.push(
            finding(check, 'fail', `${name} was ${before.state} and did not start: ${errorMessage(err)}`, {
              service: name,
              state: before.state,
              before: before.state,
              action: 'start failed',
            }),
          );
        }
      }
      return out;
    },
  };
}
