import { buildReport, type RunbookReport } from '../common/report.js';
import { hostActivities } from './activity-profiles.js';
import { measured } from './outcome.js';
import { inputObject, routeToHost, runChecks } from './shared.js';

/** Input of {@link healthCheck}; JSON, secret-free. */
export interface HealthCheckInput {
  /** Host to check. @default the orchestrator's own host */
  hostId?: string;
}

/**
 * Read-only health check of one host: every service's state, disk and memory
 * usage against the thresholds. Changes nothing; a check that cannot run is a
 * `fail` finding, not a failed workflow.
 */
export async function healthCheck(input: HealthCheckInput = {}): Promise<RunbookReport> {
  const startedAt = new Date();
  const { hostId } = inputObject(input, 'healthCheck');
  // The metrics' host label is 'unknown' until routing succeeds: raw input would make it unbounded.
  let knownHost = 'unknown';
  return measured('healthCheck', () => knownHost, async () => {
    const route = await routeToHost(hostId);
    knownHost = route.hostId;
    const host = hostActivities(route.taskQueue);
    const findings = await runChecks({
      services: () => host.checkServices(),
      'system.disk': () => host.checkDisk(),
      'system.memory': () => host.checkMemory(),
    });
    return buildReport({ runbook: 'healthCheck', hostId: route.hostId, startedAt, finishedAt: new Date(), findings });
  });
}
