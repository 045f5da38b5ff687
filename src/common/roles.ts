/** Worker roles: `orchestrator` runs workflows, `host` runs one host's activities, `all` is both. */
export const WORKER_ROLES = ['orchestrator', 'host', 'all'] as const;
export type WorkerRole = (typeof WORKER_ROLES)[number];
