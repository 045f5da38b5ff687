/**
 * The identity a worker gives Temporal, shown as the poller of its task queue
 * (`temporal task-queue describe`, the UI's "Workers" tab). One format, written
 * by the worker and read back by `doctor` to tell this host's own worker from a
 * worker on another machine that claims the same host id.
 */

/** `host:<hostId>@<machine>/<pid>`: the host worker of `hostId`, on `machine`, in process `pid`. */
export function hostWorkerIdentity(hostId: string, machine: string, pid: number): string {
  return `host:${hostId}@${machine}/${pid}`;
}

/** `orchestrator@<machine>/<pid>`. */
export function orchestratorWorkerIdentity(machine: string, pid: number): string {
  return `orchestrator@${machine}/${pid}`;
}

export interface HostWorkerIdentity {
  hostId: string;
  machine: string;
  pid: number;
}

const HOST_IDENTITY = /^host:([^@]+)@(.+)\/(\d+)$/;

/** The parts of a {@link hostWorkerIdentity}, or undefined for an identity in another format (another program, the SDK's default). */
export function parseHostWorkerIdentity(identity: string): HostWorkerIdentity | undefined {
  const m = HOST_IDENTITY.exec(identity);
  if (!m) return undefined;
  return { hostId: m[1]!, machine: m[2]!, pid: Number(m[3]) };
}
