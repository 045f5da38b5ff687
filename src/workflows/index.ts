/** Every workflow the orchestrator worker registers. */
export { healthCheck, type HealthCheckInput } from './health-check.js';
