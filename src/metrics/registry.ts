/** The worker's Prometheus registry: explicit, never prom-client's global one. */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { VERSION } from '../version.js';

export interface WorkerMetrics {
  registry: Registry;
  /** 1 while every Temporal worker in this process is running. */
  ready: Gauge;
}

export function createWorkerMetrics(labels: { role: string; hostId: string }): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const info = new Gauge({
    name: 'mcp_runbooks_build_info',
    help: 'Always 1; labels carry the version, role and host of this worker.',
    labelNames: ['version', 'role', 'host'] as const,
    registers: [registry],
  });
  info.set({ version: VERSION, role: labels.role, host: labels.hostId }, 1);
  const ready = new Gauge({
    name: 'mcp_runbooks_worker_ready',
    help: '1 while every Temporal worker in this process is polling, else 0.',
    registers: [registry],
  });
  ready.set(0);
  return { registry, ready };
}
