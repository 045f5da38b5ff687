/**
 * The fleet's liveness probe. A poller stays listed on a host's task queue for
 * minutes after its worker died, so before a fleet starts a host's run it
 * schedules this on the host's queue with a short schedule-to-start timeout: a
 * worker that picks it up is alive now; none within the timeout, and the host
 * is `unreachable` at once instead of holding the rollout until a lock wait
 * or heartbeat timeout ends.
 */
export interface PingAnswer {
  hostId: string;
  pid: number;
  /** ISO time on the host. */
  at: string;
}

export function createPingActivities({ hostId }: { hostId: string }) {
  return {
    /** Answers at once, changing nothing. */
    async ping(): Promise<PingAnswer> {
      return { hostId, pid: process.pid, at: new Date().toISOString() };
    },
  };
}
