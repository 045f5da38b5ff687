/**
 * Starts and stops the sandbox's services, only through the configured service
 * manager, the way a runbook on a production host would.
 */
import type { ServiceManager } from '../../services/index.js';

export interface FleetStartResult {
  started: string[];
  alreadyRunning: string[];
}

export async function startFleet(manager: ServiceManager): Promise<FleetStartResult> {
  const result: FleetStartResult = { started: [], alreadyRunning: [] };
  for (const service of manager.services) {
    const before = await manager.status(service);
    if (before.state === 'active') {
      result.alreadyRunning.push(service);
      continue;
    }
    await manager.start(service);
    result.started.push(service);
  }
  return result;
}

/** Stops the given services (by default all), in reverse order; keeps going past a failure and reports it at the end. */
export async function stopFleet(manager: ServiceManager, services: readonly string[] = manager.services): Promise<void> {
  const errors: unknown[] = [];
  for (const service of [...services].reverse()) {
    try {
      await manager.stop(service);
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length) throw new AggregateError(errors, `could not stop ${errors.length} sandbox service(s)`);
}
