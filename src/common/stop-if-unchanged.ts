/**
 * The `stopIfUnchanged` update: "stop, unless you have begun changing the
 * host". The gateway sends it when the alert that started a remediation
 * resolves. The run decides, in its own workflow task, so no change can slip in
 * between the question and the answer (a progress query followed by a cancel
 * could: the run may begin its restart between the two). Pure: the workflow and
 * the gateway share the name and the shapes.
 */
import { z } from 'zod';

/** `temporal workflow update execute --name stopIfUnchanged --workflow-id <id> --input '{"reason": "…"}'` */
export const STOP_IF_UNCHANGED = 'stopIfUnchanged';

export const stopIfUnchangedInput = z.strictObject({
  reason: z.string().min(1).max(500).describe('Why it should stop, for the record, e.g. the alert that resolved.'),
});
export type StopIfUnchangedInput = z.infer<typeof stopIfUnchangedInput>;

export interface StopIfUnchangedAnswer {
  /** True: the run stops and changes nothing (also when an earlier request stopped it). False: it had begun changing the host and goes on. */
  stopped: boolean;
  /** The run's phase when it answered, e.g. `waiting for the host lock` or `restart`. */
  phase: string;
}

/** The workflow types that handle the update; a resolved alert leaves every other runbook running. */
export const STOPPABLE_WORKFLOW_TYPES: ReadonlySet<string> = new Set(['restartService']);
