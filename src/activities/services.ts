/** Activities that read or change the state of the host's services. */
import { errorMessage } from '../common/errors.js';
import { finding, type Finding } from '../common/report.js';
import type { ServiceManager } from '../services/index.js';
import { activitySignal, rethrowIfCancelled } from './context.js';

export interface ServiceActivityDeps {
  services: ServiceManager;
}

export function createServiceActivities({ services }: ServiceActivityDeps) {
  return {
    /** One finding per configured service: `ok` when active, `fail` otherwise. Read-only. */
    async checkServices(): Promise<Finding[]> {
      const signal = activitySignal();
      return Promise.all(
        services.services.map(async (name): Promise<Finding> => {
          try {
            const s = await services.status(name, signal ? { signal } : {});
            return s.state === 'active'
              ? finding(`service.${name}`, 'ok', `${name} is active`, { service: name, state: s.state, detail: s.detail })
              : finding(`service.${name}`, 'fail', `${name} is ${s.state} (${s.detail})`, { service: name, state: s.state, detail: s.detail });
          } catch (err) {
            rethrowIfCancelled(err, signal);
            return finding(`service.${name}`, 'fail', `could not read the state of ${name}: ${errorMessage(err)}`, {
              service: name,
              state: 'unknown',
            });
          }
        }),
      );
    },
  };
}
