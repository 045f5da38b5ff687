/** Activities that read or change the state of the host's services. */
import { ServiceCommandError, errorMessage } from '../common/errors.js';
import { finding, type Finding } from '../common/report.js';
import type { ServiceManager, ServiceStatus } from '../services/index.js';
import { activitySignal, rethrowIfCancelled } from './context.js';
import { NO_FAULTS, type Faults } from './faults.js';
import { transitionRecord } from './service-transitions.js';

export interface ServiceActivityDeps {
  services: ServiceManager;
  /** How long a started service may take to report active. @default 30 s */
  startTimeoutMs?: number;
  /**
   * Where each stop/start keeps the times it observed, so a retry after a
   * killed worker reports when the service really went down or came up.
   * @default none: a retry reports its own time
   */
  transitionsDir?: string;
  /** @default {@link NO_FAULTS} */
  faults?: Faults;
}

export interface ServiceTransition {
  service: string;
  /**
   * ISO time on the host: just before the stop command that took the service
   * down, or when it was first seen active after the start. A retry of the same
   * activity reports the first attempt's time when the service is still in that state.
   */
  at: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createServiceActivities({ services, startTimeoutMs = 30_000, transitionsDir, faults = NO_FAULTS }: ServiceActivityDeps) {
  const call = () => {
    const signal = activitySignal();
    return signal ? { signal } : {};
  };
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

    /** States of the given services (all configured ones when omitted). */
    async serviceStates(req: { services?: string[] } = {}): Promise<ServiceStatus[]> {
      const names = req.services ?? [...services.services];
      return Promise.all(names.map((name) => services.status(name, call())));
    },

    /**
     * Stops services one by one and checks each is no longer active. Idempotent:
     * a retry reports, for a service an earlier attempt stopped and that is still
     * down, the time of that stop.
     */
    async stopServices(req: { services: string[] }): Promise<ServiceTransition[]> {
      const out: ServiceTransition[] = [];
      const record = await transitionRecord(transitionsDir, 'stop');
      for (const service of req.services) {
        const earlier = record.get(service);
        if (earlier && (await services.status(service, call())).state !== 'active') {
          out.push({ service, at: earlier });
          continue;
        }
        const at = new Date().toISOString();
        // Kept before the stop: a worker killed right after it still leaves the time behind.
        await record.set(service, at);
        await services.stop(service, call());
        const s = await services.status(service, call());
        if (s.state === 'active') {
          throw new ServiceCommandError({ service, action: 'stop', argv: [], exitCode: 0, timedOut: false, output: `still active after stop (${s.detail})` });
        }
        await faults.reach('services.stopped', activitySignal(), { service });
        out.push({ service, at });
      }
      return out;
    },

    /**
     * Starts services one by one and waits until each reports active. Idempotent:
     * a retry reports, for a service an earlier attempt saw come up and that is
     * still active, the time it came up.
     */
    async startServices(req: { services: string[] }): Promise<ServiceTransition[]> {
      const out: ServiceTransition[] = [];
      const record = await transitionRecord(transitionsDir, 'start');
      for (const service of req.services) {
        const earlier = record.get(service);
        if (earlier && (await services.status(service, call())).state === 'active') {
          out.push({ service, at: earlier });
          continue;
        }
        await services.start(service, call());
        const deadline = Date.now() + startTimeoutMs;
        let s = await services.status(service, call());
        while (s.state !== 'active' && Date.now() < deadline) {
          await sleep(250);
          s = await services.status(service, call());
        }
        if (s.state !== 'active') {
          throw new ServiceCommandError({
            service,
            action: 'start',
            argv: [],
            exitCode: 0,
            timedOut: true,
            output: `not active ${startTimeoutMs / 1000}s after start (${s.state}: ${s.detail})`,
          });
        }
        const at = new Date().toISOString();
        await record.set(service, at);
        await faults.reach('services.started', activitySignal(), { service });
        out.push({ service, at });
      }
      return out;
    },
  };
}
