/**
 * One notification to one target: the request each kind sends, and the POST.
 * A target's URL may itself be the credential (Slack, Healthchecks): it is
 * never put in an error, a log line or a metric; the target's name is.
 */
import type { NotifyEvent, RunEvent } from '../common/notify.js';
import type { NotifyTarget } from '../config/config.js';

/** Our webhook's body (version 1). */
export interface WebhookBody {
  version: 1;
  event: NotifyEvent;
  runbook: string;
  host: string;
  outcome: string;
  summary: string;
  workflowId: string;
  runId: string;
  scheduled: boolean;
  at: string;
  link?: string;
  failureType?: string;
  approveCommand?: string;
}

const VERB: Record<NotifyEvent, string> = {
  started: 'started',
  'waiting-for-approval': 'waits for approval',
  success: 'succeeded',
  warn: 'completed with warnings',
  failure: 'failed',
  'timed-out': 'passed its deadline',
  cancelled: 'was cancelled',
  declined: 'changed nothing (declined)',
  'dry-run': 'ran dry (changed nothing)',
  'invalid-input': 'refused its input',
};

const ICON: Record<NotifyEvent, string> = {
  started: ':arrow_forward:',
  'waiting-for-approval': ':raising_hand:',
  success: ':white_check_mark:',
  warn: ':warning:',
  failure: ':x:',
  'timed-out': ':hourglass:',
  cancelled: ':no_entry_sign:',
  declined: ':leftwards_arrow_with_hook:',
  'dry-run': ':mag:',
  'invalid-input': ':x:',
};

/** One line for a human: `backup on db-1 failed (BackupFailed): ...`. */
export function describeEvent(e: RunEvent): string {
  const type = e.failureType ? ` (${e.failureType})` : '';
  return `${e.runbook} on ${e.hostId} ${VERB[e.event]}${type}: ${e.summary}`;
}

export interface PreparedRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** The request a target sends for an event, or undefined when its kind has nothing to say (a healthchecks target and a dry run). */
export function prepare(target: NotifyTarget, e: RunEvent, link: string | undefined): PreparedRequest | undefined {
  const auth: Record<string, string> = target.authorization ? { authorization: target.authorization.reveal() } : {};
  const base = target.url.reveal();
  switch (target.kind) {
    case 'webhook': {
      const body: WebhookBody = {
        version: 1,
        event: e.event,
        runbook: e.runbook,
        host: e.hostId,
        outcome: e.outcome,
        summary: e.summary,
        workflowId: e.workflowId,
        runId: e.runId,
        scheduled: e.scheduled,
        at: e.at,
        ...(link ? { link } : {}),
        ...(e.failureType ? { failureType: e.failureType } : {}),
        ...(e.approveCommand ? { approveCommand: e.approveCommand } : {}),
      };
      return { url: base, headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) };
    }
    case 'slack': {
      // A summary can carry text from outside (a repository's error output, an alert's labels): Slack's
      // control sequences (<!channel>, <url|label>) in it are escaped, as its docs ask; only our link is markup.
      const lines = [`${ICON[e.event]} *${slackText(e.runbook)}* on \`${slackText(e.hostId)}\` ${VERB[e.event]}${e.failureType ? ` (${slackText(e.failureType)})` : ''}`, slackText(e.summary)];
      if (e.approveCommand) lines.push(`Approve: \`${e.approveCommand}\` (or reject: \`${e.approveCommand.replace(' approve ', ' approve --reject ')}\`)`);
      lines.push(link ? `<${link}|${e.workflowId}>` : `workflow \`${e.workflowId}\``);
      return { url: base, headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ text: lines.join('\n') }) };
    }
    case 'healthchecks': {
      const path = healthchecksPath(e.event);
      if (path === undefined) return undefined;
      const u = new URL(base);
      u.pathname = `${u.pathname.replace(/\/+$/, '')}${path}`;
      // Healthchecks pairs a start with its end by run id (a UUID, as Temporal's run ids are), so it measures the run's duration.
      u.searchParams.set('rid', e.runId);
      return { url: u.toString(), headers: { 'content-type': 'text/plain; charset=utf-8', ...auth }, body: `${describeEvent(e)}\n${e.workflowId}${link ? `\n${link}` : ''}\n` };
    }
  }
}

/** Slack's escaping of `&`, `<` and `>` in message text. */
function slackText(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** `/start`, `` (success) or `/fail`; undefined for what a dead man's switch does not track. */
function healthchecksPath(event: NotifyEvent): string | undefined {
  switch (event) {
    case 'started':
      return '/start';
    case 'success':
    case 'warn':
      return '';
    case 'failure':
    case 'timed-out':
    case 'cancelled':
    case 'invalid-input':
      return '/fail';
    default:
      return undefined;
  }
}

/** Thrown for a target that did not take the notification; the message names the target, never its URL. */
export class NotifyError extends Error {
  override name = 'NotifyError';
}

/** POSTs one prepared request; a non-2xx answer, a timeout or a refused connection is a {@link NotifyError}. */
export async function send(target: NotifyTarget, req: PreparedRequest): Promise<void> {
  let res: Response;
  try {
    res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body, redirect: 'error', signal: AbortSignal.timeout(target.timeoutSeconds * 1000) });
  } catch (err) {
    throw new NotifyError(`notify target ${target.name} (${target.kind}) not reached: ${reason(err)}`);
  }
  // Read the answer so the connection is released; its text is not shown (it may echo the request).
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new NotifyError(`notify target ${target.name} (${target.kind}) answered HTTP ${res.status}`);
}

/** Why a fetch failed, without the URL: `ECONNREFUSED`, `timed out after 10 s`. */
function reason(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string }; message?: string };
  if (e.name === 'TimeoutError') return 'timed out';
  if (e.cause?.code) return e.cause.code;
  return e.name ?? 'error';
}
