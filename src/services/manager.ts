/**
 * Service managers: one interface over systemd and argv-template commands, so
 * runbooks never care how a host runs its services.
 */
import { ServiceNotConfiguredError } from '../common/errors.js';

export const SERVICE_STATES = ['active', 'activating', 'inactive', 'failed', 'unknown'] as const;
export type ServiceState = (typeof SERVICE_STATES)[number];

export interface ServiceStatus {
  service: string;
  state: ServiceState;
  /** What the manager said, e.g. `active (pid 1234)` or systemctl's word. */
  detail: string;
}

export interface LogLine {
  /** ISO time of the line when the source gives one. */
  time?: string;
  text: string;
  /** Log file path or `journal`. */
  source: string;
}

export interface CallOptions {
  /** Cancels the command (an activity's cancellation signal). */
  signal?: AbortSignal;
}

export interface ServiceManager {
  readonly type: 'systemd' | 'command';
  /** The services this manager may touch; anything else is refused. */
  readonly services: readonly string[];
  status(service: string, opts?: CallOptions): Promise<ServiceStatus>;
  start(service: string, opts?: CallOptions): Promise<void>;
  stop(service: string, opts?: CallOptions): Promise<void>;
  restart(service: string, opts?: CallOptions): Promise<void>;
  /** Log lines written at or after `since`. */
  logsSince(service: string, since: Date, opts?: CallOptions): Promise<LogLine[]>;
}

/** Throws {@link ServiceNotConfiguredError} unless `service` is one of `services`. */
export function assertConfigured(service: string, services: readonly string[]): void {
  if (!services.includes(service)) throw new ServiceNotConfiguredError(service, services);
}
