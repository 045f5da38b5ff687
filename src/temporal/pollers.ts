/**
 * Who polls a task queue, from Temporal's task queue description. A poller
 * stays listed for a few minutes after its worker died (the server keeps the
 * last poll time), so "listed" means "polled lately", not "alive": the fleet
 * confirms with a ping, `status` shows when each was last seen.
 */
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

export interface QueuePoller {
  identity: string;
  /** ISO time of its last poll, when the server says. */
  lastAccessTime?: string;
}

/** The pollers of a task queue's workflow or activity side. */
export async function queuePollers(
  service: Client['workflowService'],
  namespace: string,
  taskQueue: string,
  kind: 'workflow' | 'activity',
): Promise<QueuePoller[]> {
  const { TaskQueueType } = proto.temporal.api.enums.v1;
  const r = await service.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: kind === 'workflow' ? TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW : TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return (r.pollers ?? []).map((p) => {
    const seconds = p.lastAccessTime?.seconds;
    const at = seconds !== undefined && seconds !== null ? new Date(Number(seconds) * 1000 + Math.floor((p.lastAccessTime?.nanos ?? 0) / 1e6)).toISOString() : undefined;
    return { identity: p.identity ?? '', ...(at ? { lastAccessTime: at } : {}) };
  });
}
