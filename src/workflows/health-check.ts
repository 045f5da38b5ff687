import { hostOnlyInput, type HostOnlyInput } from '../common/inputs.js';
import { buildReport } from '../common/report.js';
import { runbook } from './runbook.js';
import { runChecks } from './shared.js';

/** Input of {@link healthCheck}; JSON, secret-free. */
export type HealthCheckInput = HostOnlyInput;

/**
 * Read-only health check of one host: every service's state, disk and memory
 * usage against the thresholds. Changes nothing and takes no lock; a check that
 * cannot run is a `fail` finding, not a failed workflow.
 */
export const healthCheck = runbook('healthCheck', hostOnlyInput, { lock: 'none', budget: { lockWaits: 0, work: '15 minutes' } }, async ({ acts, hostId, startedAt }) => {
  const findings = await runChecks({
    services: () => acts.checkServices(),
    'system.disk': () => acts.checkDisk(),
    'system.memory': () => acts.checkMemory(),
  });
  return buildReport({ runbook: 'healthCheck', hostId, startedAt, finishedAt: new Date(), findings });
});
