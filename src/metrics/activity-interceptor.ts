/** Activity durations and failures by activity type, for every activity a worker runs. */
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import type { Context } from '@temporalio/activity';
import type { WorkerMetrics } from './registry.js';

export function activityMetricsInterceptor(m: WorkerMetrics) {
  return (ctx: Context): { inbound: ActivityInboundCallsInterceptor } => ({
    inbound: {
      async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
        const activity = ctx.info.activityType;
        const taskQueue = ctx.info.taskQueue;
        const t0 = process.hrtime.bigint();
        const seconds = () => Number(process.hrtime.bigint() - t0) / 1e9;
        try {
          const result = await next(input);
          m.activityDuration.observe({ activity, task_queue: taskQueue, outcome: 'success' }, seconds());
          return result;
        } catch (err) {
          m.activityDuration.observe({ activity, task_queue: taskQueue, outcome: 'failure' }, seconds());
          m.activityFailures.inc({ activity, task_queue: taskQueue, error: err instanceof Error ? err.name : 'unknown' });
          throw err;
        }
      },
    },
  });
}
