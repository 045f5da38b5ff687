/**
 * `POST /v1/alertmanager`: Alertmanager's webhook (payload version 4) turned
 * into remediations by the config's `gateway.alertRules`.
 *
 * - A firing alert starts its rule's runbook at most once per (rule,
 *   fingerprint, startsAt), however often Alertmanager resends it: the workflow
 *   id is derived from those three and Temporal refuses a second start with it
 *   (REJECT_DUPLICATE), also after the first run ended.
 * - The throttle: a rule starts at most one remediation per host within its
 *   `throttleMinutes`. A throttled alert is deliberately not remediated (it
 *   stays firing for a human). The starts are read from Temporal's visibility
 *   (the id names runbook and host, the memo the rule), so the throttle holds
 *   across a gateway restart and between gateways; a run a resolved alert
 *   stopped before it changed anything does not count.
 * - The cap: `maxConcurrentRemediations` runs started by alert rules may run
 *   at once, counted from visibility (Running, with an alert-derived id), so it
 *   is shared by every gateway and survives a restart. A capped alert is not
 *   lost: the route answers 503 and Alertmanager delivers it again.
 * - Both are checked against what this process is starting, with no await
 *   between the check and the reservation, so a burst cannot all pass them;
 *   visibility lags a start by a moment, so this process's own recent starts
 *   count until it shows them.
 * - A resolved alert asks its remediation to stop (the `stopIfUnchanged`
 *   update): the run stops if it has not begun changing the host, and says so;
 *   otherwise it finishes.
 */
import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { z } from 'zod';
import { errorMessage } from '../common/errors.js';
import { parseInput, RUNBOOK_INPUTS, type RunbookType } from '../common/inputs.js';
import { SEARCH_ATTRIBUTES } from '../common/search-attributes.js';
import { STOP_IF_UNCHANGED, STOPPABLE_WORKFLOW_TYPES, type StopIfUnchangedAnswer, type StopIfUnchangedInput } from '../common/stop-if-unchanged.js';
import type { Config, GatewayAlertRule, GatewayToken } from '../config/config.js';
import { API_RUNBOOKS } from '../runbooks.js';
import { mayUse } from './auth.js';

/** Alertmanager's webhook body, version 4 (only what the rules read is required). */
export const alertmanagerPayload = z.object({
  version: z.literal('4'),
  groupKey: z.string(),
  status: z.enum(['firing', 'resolved']),
  alerts: z
    .array(
      z.object({
        status: z.enum(['firing', 'resolved']),
        labels: z.record(z.string(), z.string()),
        annotations: z.record(z.string(), z.string()).default({}),
        startsAt: z.string().min(1),
        fingerprint: z.string().min(1),
      }),
    )
    .max(1000),
});
export type AlertmanagerPayload = z.infer<typeof alertmanagerPayload>;
type Alert = AlertmanagerPayload['alerts'][number];

export const ALERT_ACTIONS = ['started', 'deduplicated', 'throttled', 'capped', 'skipped', 'cancelled', 'left running', 'nothing to stop'] as const;
export type AlertAction = (typeof ALERT_ACTIONS)[number];

export interface AlertResult {
  alert: string;
  fingerprint: string;
  rule?: string;
  host?: string;
  action: AlertAction;
  workflowId?: string;
  reason?: string;
}

export interface AlertMetrics {
  received(status: string): void;
  action(rule: string, action: AlertAction): void;
}

const digest = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);

/** The id of a run started by an alert rule ends so; no keyed (`-key-`) or keyless (time) id does. */
const ALERT_RUN_ID = /-am-[0-9a-f]{32}$/;
/** The memo field naming the rule that started a run: the throttle is per rule. */
const RULE_MEMO = 'alertRule';
/** How long a start made here may be missing from visibility, which indexes it a moment later. */
const VISIBILITY_LAG_MS = 30_000;
/** The longest the gateway waits for a run to answer `stopIfUnchanged` (its workflow worker may be down): then 502, and Alertmanager resends. */
const STOP_ANSWER_MS = 15_000;

function matches(rule: GatewayAlertRule, labels: Record<string, string>): boolean {
  if (labels.alertname !== rule.alert) return false;
  return Object.entries(rule.matchers).every(([k, v]) => labels[k] === v);
}

/** What this process started: it counts for the throttle and the cap until visibility shows it. */
interface StartedHere {
  key: string;
  at: number;
  /** Seen ended, or stopped by its resolved alert. */
  ended: boolean;
  /** Stopped by its resolved alert before it changed anything: not a start for the throttle. */
  unchanged: boolean;
}

/** Handles one webhook delivery; what happened to each (alert, rule) pair, in order. */
export class AlertRemediator {
  readonly #rules: readonly GatewayAlertRule[];
  readonly #max: number;
  /** Runs started here, by workflow id. */
  readonly #startedHere = new Map<string, StartedHere>();
  /** (rule, host) of the starts in flight: they count against the throttle and the cap before Temporal has answered. */
  readonly #starting = new Set<string>();

  constructor(
    private readonly config: Config,
    private readonly client: Client,
    private readonly metrics: AlertMetrics,
  ) {
    this.#rules = config.gateway?.alertRules ?? [];
    this.#max = config.gateway?.maxConcurrentRemediations ?? 3;
  }

  /**
   * The runbooks the payload's alerts would start or stop that the token may
   * not use (empty: it may do all). The route refuses such a delivery with 403
   * before anything happens: a token set up without a rule's runbook is a
   * mistake Alertmanager should report, not alerts to skip.
   */
  outOfScope(payload: AlertmanagerPayload, token: GatewayToken): string[] {
    const runbooks = new Set(payload.alerts.flatMap((a) => this.#rules.filter((r) => matches(r, a.labels)).map((r) => r.runbook)));
    return [...runbooks].filter((r) => !mayUse(token, r)).sort();
  }

  async handle(payload: AlertmanagerPayload): Promise<AlertResult[]> {
    const out: AlertResult[] = [];
    for (const alert of payload.alerts) {
      this.metrics.received(alert.status);
      const base = { alert: alert.labels.alertname ?? '(no alertname)', fingerprint: alert.fingerprint };
      const matching = this.#rules.filter((r) => matches(r, alert.labels));
      if (!matching.length) {
        out.push({ ...base, action: 'skipped', reason: 'no rule in gateway.alertRules matches it' });
        continue;
      }
      for (const rule of matching) {
        // Temporal not answering is not a skip: the error becomes a 502, and Alertmanager delivers again (the derived
        // workflow ids make what this delivery already started a duplicate then).
        const r = await this.#one(rule, alert);
        this.metrics.action(rule.name, r.action);
        out.push({ ...base, rule: rule.name, ...r });
      }
    }
    return out;
  }

  async #one(rule: GatewayAlertRule, alert: Alert): Promise<Omit<AlertResult, 'alert' | 'fingerprint' | 'rule'>> {
    const def = API_RUNBOOKS[rule.runbook]!;
    const host = alert.labels[rule.hostLabel];
    if (!host) return { action: 'skipped', reason: `the alert has no "${rule.hostLabel}" label (the rule's hostLabel)` };
    if (!this.config.hosts.includes(host)) return { host, action: 'skipped', reason: `host "${host}" is not one of this orchestrator's hosts` };
    const prefix = `${def.idPrefix}-${host}-am-`;
    const workflowId = `${prefix}${digest(rule.name, alert.fingerprint, alert.startsAt)}`;
    if (alert.status === 'resolved') return { host, workflowId, ...(await this.#resolve(workflowId)) };

    const input: Record<string, unknown> = { ...rule.input, hostId: host };
    for (const [field, label] of Object.entries(rule.labels)) {
      const value = alert.labels[label];
      if (value === undefined) return { host, action: 'skipped', reason: `the alert has no "${label}" label (for input.${field})` };
      input[field] = value;
    }
    if (def.workflowType === 'restartService' && input.reason === undefined) input.reason = `alert ${alert.labels.alertname ?? ''} (${alert.fingerprint}) firing since ${alert.startsAt}`;
    const parsed = parseInput(RUNBOOK_INPUTS[def.workflowType as RunbookType], input);
    if (!parsed.ok) return { host, action: 'skipped', reason: `rule ${rule.name} builds input the runbook refuses: ${parsed.problems.message}` };

    // A resend of an alert already handled is answered by Temporal: same id, refused.
    const existing = await this.client.workflow.getHandle(workflowId).describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
    if (existing) return { host, workflowId, action: 'deduplicated' };

    const key = `${rule.name}\0${host}`;
    const since = Date.now() - rule.throttleMinutes * 60_000;
    const [throttledBy, running] = await Promise.all([this.#ruleStartedSince(rule, prefix, since), this.#runningRemediations()]);
    // Checked and reserved with no await between: the alerts of one burst cannot all pass the same checks.
    if (throttledBy || this.#startedHereSince(key, since) || this.#starting.has(key)) {
      return { host, action: 'throttled', reason: `rule ${rule.name} started a remediation on ${host} within the last ${rule.throttleMinutes} minutes${throttledBy ? ` (${throttledBy})` : ''}: not started again; the alert stays for a human` };
    }
    const count = this.#runningCount(running);
    if (count >= this.#max) return { host, action: 'capped', reason: `${count} remediations started by alert rules are running (gateway.maxConcurrentRemediations: ${this.#max}); answered 503 so Alertmanager delivers it again` };
    this.#starting.add(key);
    try {
      await this.client.workflow.start(def.workflowType, {
        taskQueue: this.config.temporal.taskQueue,
        workflowId,
        args: [parsed.value],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        memo: { [RULE_MEMO]: rule.name },
        staticSummary: `${rule.runbook} on ${host} for alert ${alert.labels.alertname ?? ''} (rule ${rule.name})`,
      });
      this.#startedHere.set(workflowId, { key, at: Date.now(), ended: false, unchanged: false });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return { host, workflowId, action: 'deduplicated' };
      throw err;
    } finally {
      this.#starting.delete(key);
    }
    return { host, workflowId, action: 'started' };
  }

  /**
   * A run `rule` started on the host since `since` (its id, empty when none),
   * from visibility: the id's prefix names runbook and host, the memo the rule
   * (a run from before the memo counts for every rule). A run a resolved alert
   * stopped before it changed anything (completed, outcome `cancelled`) does not count.
   */
  async #ruleStartedSince(rule: GatewayAlertRule, prefix: string, since: number): Promise<string> {
    if (rule.throttleMinutes <= 0) return '';
    const query = `WorkflowId STARTS_WITH '${prefix}' AND StartTime > '${new Date(since).toISOString()}'`;
    for await (const wf of this.client.workflow.list({ query })) {
      if (!ALERT_RUN_ID.test(wf.workflowId) || wf.workflowId.length !== prefix.length + 32) continue;
      const byRule = wf.memo?.[RULE_MEMO];
      if (byRule !== undefined && byRule !== rule.name) continue;
      if (stoppedUnchanged(wf) || this.#startedHere.get(wf.workflowId)?.unchanged) continue;
      return wf.workflowId;
    }
    return '';
  }

  #startedHereSince(key: string, since: number): boolean {
    for (const s of this.#startedHere.values()) if (s.key === key && s.at > since && !s.unchanged) return true;
    return false;
  }

  /**
   * The ids of remediations that run: visibility's Running runs with an
   * alert-derived id. Where those and this process's unseen starts reach the
   * cap, each is asked (describe): visibility may not have indexed an end yet.
   */
  async #runningRemediations(): Promise<Set<string>> {
    const types = [...new Set(this.#rules.map((r) => API_RUNBOOKS[r.runbook]!.workflowType))];
    const ids = new Set<string>();
    const query = `ExecutionStatus = 'Running' AND WorkflowType IN (${types.map((t) => `'${t}'`).join(', ')})`;
    for await (const wf of this.client.workflow.list({ query })) if (ALERT_RUN_ID.test(wf.workflowId)) ids.add(wf.workflowId);
    const now = Date.now();
    for (const [id, s] of this.#startedHere) {
      // Older than the lag and not Running in visibility: it ended.
      if (!s.ended && !ids.has(id) && now - s.at > VISIBILITY_LAG_MS) s.ended = true;
    }
    if (this.#runningCount(ids) >= this.#max) {
      await Promise.all(
        [...new Set([...ids, ...this.#unseen(ids)])].map(async (id) => {
          const d = await this.client.workflow.getHandle(id).describe().catch((err: unknown) => {
            if (err instanceof WorkflowNotFoundError) return undefined;
            throw err;
          });
          if (d?.status.name === 'RUNNING') return;
          ids.delete(id);
          const here = this.#startedHere.get(id);
          if (here) here.ended = true;
        }),
      );
    }
    this.#forgetOld(now);
    return ids;
  }

  /** Starts made here that have not been seen ending and that visibility does not list (yet). */
  #unseen(visible: Set<string>): string[] {
    return [...this.#startedHere].filter(([id, s]) => !s.ended && !visible.has(id)).map(([id]) => id);
  }

  /** Visibility's running remediations, this process's unseen starts, and its starts in flight. */
  #runningCount(visible: Set<string>): number {
    return visible.size + this.#unseen(visible).length + this.#starting.size;
  }

  /** Ended starts older than every rule's throttle window have nothing left to say. */
  #forgetOld(now: number): void {
    const keep = Math.max(0, ...this.#rules.map((r) => r.throttleMinutes)) * 60_000;
    for (const [id, s] of this.#startedHere) if (s.ended && now - s.at > keep) this.#startedHere.delete(id);
  }

  /** A resolved alert: its remediation is asked to stop, and stops only if it has not begun changing the host. */
  async #resolve(workflowId: string): Promise<Pick<AlertResult, 'action' | 'reason'>> {
    const handle = this.client.workflow.getHandle(workflowId);
    const d = await handle.describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
    if (!d || d.status.name !== 'RUNNING') return { action: 'nothing to stop', reason: d ? `its remediation already ended (${d.status.name})` : 'no remediation was started for it' };
    if (!STOPPABLE_WORKFLOW_TYPES.has(d.type)) return { action: 'left running', reason: `${d.type} cannot be asked to stop (only ${[...STOPPABLE_WORKFLOW_TYPES].join(', ')} handles ${STOP_IF_UNCHANGED}): it finishes` };
    let answer: StopIfUnchangedAnswer;
    try {
      answer = await this.client.withDeadline(Date.now() + STOP_ANSWER_MS, () =>
        handle.executeUpdate<StopIfUnchangedAnswer, [StopIfUnchangedInput]>(STOP_IF_UNCHANGED, { args: [{ reason: `alert resolved (Alertmanager, ${new Date().toISOString()})` }] }),
      );
    } catch (err) {
      // It ended between the describe and the update (the server: "workflow execution already completed").
      if (err instanceof WorkflowNotFoundError) return { action: 'nothing to stop', reason: 'its remediation ended meanwhile' };
      // A run started by an older deployment has no handler for the update: its workflow refuses it. It finishes as it
      // would have; answering with an error instead would be a 502 that Alertmanager resends at every group interval.
      if (err instanceof WorkflowUpdateFailedError) {
        return { action: 'left running', reason: `its remediation does not take ${STOP_IF_UNCHANGED} (a run of an older version): it finishes (${errorMessage(err.cause ?? err)})` };
      }
      throw err;
    }
    if (answer.stopped) {
      const here = this.#startedHere.get(workflowId);
      if (here) Object.assign(here, { ended: true, unchanged: true });
      return { action: 'cancelled', reason: `resolved while its remediation was in "${answer.phase}": stopped before it changed anything` };
    }
    return { action: 'left running', reason: `resolved while its remediation was in "${answer.phase}": it had begun changing the host, so it finishes` };
  }
}

/** A run that a resolved alert stopped before it changed anything: completed with outcome `cancelled`. */
function stoppedUnchanged(wf: WorkflowExecutionInfo): boolean {
  const outcome = wf.searchAttributes?.[SEARCH_ATTRIBUTES.outcome];
  return wf.status.name === 'COMPLETED' && Array.isArray(outcome) && outcome[0] === 'cancelled';
}
