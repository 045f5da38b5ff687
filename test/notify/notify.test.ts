/**
 * Notifications out, on the real dev server with real sandbox hosts: a local
 * HTTP server in the test receives what `webhook`, `slack` and `healthchecks`
 * targets send. A scheduled backup pings /start and the base URL; a failed
 * backup's message names the failure; a recovery waiting for approval names
 * the approve command; a target that is down delays and changes nothing, is
 * retried without sending the others a second copy, and shows in the metrics.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookBody } from '../../src/notify/send.js';
import { applySchedules } from '../../src/schedules/apply.js';
import { triggerSchedule } from '../../src/schedules/operate.js';
import { scheduleIdFor } from '../../src/schedules/spec.js';
import { freePort } from '../../src/dev/ports.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { assertReplays, pollUntil } from '../helpers/temporal.js';

interface Received {
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
const received: Received[] = [];
let base: string;
let dir: string;
let ok: TestHost;
let bad: TestHost;
const hcId = randomUUID();
const slackPath = `/slack/T0/B0/${randomBytes(12).toString('hex')}`;
const webhookToken = `Bearer ${randomBytes(16).toString('hex')}`;
const parents: string[] = [];

const webhooks = (workflowId: string) => received.filter((r) => r.path === '/hook').map((r) => JSON.parse(r.body) as WebhookBody).filter((b) => b.workflowId === workflowId);
const slack = () => received.filter((r) => r.path === slackPath).map((r) => (JSON.parse(r.body) as { text: string }).text);
const pings = (runId: string) => received.filter((r) => r.path.startsWith(`/hc/${hcId}`) && r.query.get('rid') === runId);

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      received.push({ path: u.pathname, query: u.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end('OK');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'mcp-notify-'));
  await writeFile(join(dir, 'hc.url'), `${base}/hc/${hcId}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'slack.url'), `${base}${slackPath}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'webhook.auth'), `${webhookToken}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'restic.pass'), 'not used: there is no repository\n', { mode: 0o600 });
  // Nothing listens here: every delivery to it is refused.
  const down = `http://127.0.0.1:${await freePort()}/down`;
  const notify = {
    temporalUiUrl: 'http://127.0.0.1:8233',
    targets: [
      { name: 'hook', kind: 'webhook', url: `${base}/hook`, authorization: { file: join(dir, 'webhook.auth') } },
      { name: 'chat', kind: 'slack', url: { file: join(dir, 'slack.url') } },
      { name: 'dms', kind: 'healthchecks', url: { file: join(dir, 'hc.url') }, runbooks: ['backup'] },
      { name: 'down', kind: 'webhook', url: down, timeoutSeconds: 2 },
    ],
  };
  ok = await startTestHost({ hostId: 'notify-ok', extra: { defaultSchedules: false, schedules: [{ runbook: 'backup', every: '24h' }], notify } });
  bad = await startTestHost({
    hostId: 'notify-bad',
    extra: {
      notify,
      defaultSchedules: false,
      schedules: [{ runbook: 'backup', every: '24h' }],
      backup: { targets: [{ name: 'local', type: 'archive' }, { name: 'missing', type: 'restic', repository: join(dir, 'no-such-repo'), password: { file: join(dir, 'restic.pass') } }] },
    },
  });
}, 180_000);

afterAll(async () => {
  // Deliveries to the target that is down retry for minutes: end them with the test.
  if (ok) {
    for await (const w of ok.client.workflow.list({ query: `WorkflowType = 'deliverNotifications' AND ExecutionStatus = 'Running'` })) {
      if (parents.some((p) => w.workflowId.startsWith(`${p}/`))) await ok.client.workflow.getHandle(w.workflowId).terminate('test ended').catch(() => undefined);
    }
    await ok.client.schedule.getHandle(scheduleIdFor(ok.sbx.config.temporal.taskQueue, 'backup', 'notify-ok')).delete().catch(() => undefined);
    if (bad) await bad.client.schedule.getHandle(scheduleIdFor(bad.sbx.config.temporal.taskQueue, 'backup', 'notify-bad')).delete().catch(() => undefined);
  }
  await ok?.close();
  await bad?.close();
  await new Promise((r) => server?.close(r));
  await rm(dir, { recursive: true, force: true });
});

const metricsText = (h: TestHost) => h.worker.registry.registry.metrics();
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('notifications', () => {
  let archive: string;

  it('a scheduled backup pings /start, then the base URL, with its run id; the webhook gets the success; a target that is down changes nothing', async () => {
    const config = ok.sbx.config;
    await applySchedules({ client: ok.client, config });
    const started = Date.now();
    const t = await triggerSchedule(ok.client, config, scheduleIdFor(config.temporal.taskQueue, 'backup', 'notify-ok'));
    expect(t.workflowId).toBeDefined();
    parents.push(t.workflowId!);
    const result = await ok.client.workflow.getHandle(t.workflowId!).result();
    // A target that is down retries in a child the run does not wait for.
    const runSeconds = (Date.now() - started) / 1000;
    archive = (result as { archive: { archive: string } }).archive.archive;

    const hc = await pollUntil('the start and success pings', async () => pings(t.runId!), (p) => p.length >= 2, { timeoutMs: 20_000 });
    expect(hc.map((p) => p.path)).toEqual([`/hc/${hcId}/start`, `/hc/${hcId}`]);
    expect(hc[1]!.body).toContain('backup on notify-ok succeeded');

    const [hook] = await pollUntil('the webhook', async () => webhooks(t.workflowId!), (w) => w.length >= 1, { timeoutMs: 20_000 });
    expect(hook).toMatchObject({ version: 1, event: 'success', runbook: 'backup', host: 'notify-ok', outcome: 'success', scheduled: true, workflowId: t.workflowId, runId: t.runId });
    expect(hook!.link).toBe(`http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(t.workflowId!)}/${t.runId}/history`);
    expect(received.find((r) => r.path === '/hook')?.headers.authorization).toBe(webhookToken);

    // The delivery is retried for the target that is down (a first retry after 5 s): the others get no second copy.
    const text = await pollUntil(
      'a second failed attempt for the target that is down',
      () => metricsText(ok),
      (m) => (sample(m, 'mcp_runbooks_notifications_total', { target: 'down', event: 'success', result: 'failed' }) ?? 0) >= 2,
      { timeoutMs: 30_000 },
    );
    expect(webhooks(t.workflowId!)).toHaveLength(1);
    expect(pings(t.runId!)).toHaveLength(2);
    // The run ended while its delivery still retries for the target that is down: it waited for nothing.
    expect((await ok.client.workflow.getHandle(t.workflowId!).describe()).status.name).toBe('COMPLETED');
    expect((await ok.client.workflow.getHandle(`${t.workflowId!}/notify-2-success`).describe()).status.name).toBe('RUNNING');
    expect(sample(text, 'mcp_runbooks_notify_target_up', { target: 'down' })).toBe(0);
    expect(sample(text, 'mcp_runbooks_notify_target_up', { target: 'hook' })).toBe(1);
    expect(sample(text, 'mcp_runbooks_notifications_total', { target: 'hook', event: 'success', result: 'sent' })).toBe(1);
    // Nothing to say in chat about a success.
    expect(slack().filter((s) => s.includes(t.workflowId!))).toEqual([]);
    // The run's history (its notification children included) replays on the current code.
    await assertReplays(ok.client.workflow.getHandle(t.workflowId!));
    console.log(`scheduled backup with a notify target down: ${runSeconds.toFixed(1)} s`);
  }, 120_000);

  it("a failed backup's messages name the failure; a run no schedule started pings no dead man's switch, a scheduled one pings /fail", async () => {
    const workflowId = `backup-notify-bad-${Date.now()}`;
    parents.push(workflowId);
    const handle = await bad.client.workflow.start('backup', { taskQueue: bad.sbx.config.temporal.taskQueue, workflowId, args: [{ hostId: 'notify-bad' }] });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e as { cause?: { type?: string } },
    );
    expect(err?.cause?.type).toBe('BackupTargetFailed');
    const [hook] = await pollUntil('the failure webhook', async () => webhooks(workflowId), (w) => w.length >= 1, { timeoutMs: 20_000 });
    expect(hook).toMatchObject({ event: 'failure', outcome: 'failure', failureType: 'BackupTargetFailed', scheduled: false, host: 'notify-bad' });
    expect(hook!.summary).toContain('failed on target missing');
    const chat = await pollUntil('the chat message', async () => slack().filter((s) => s.includes(workflowId)), (s) => s.length >= 1, { timeoutMs: 20_000 });
    expect(chat[0]).toContain(':x: *backup* on `notify-bad` failed (BackupTargetFailed)');
    expect(chat[0]).toContain('restic -r');
    const { runId } = await handle.describe();
    expect(pings(runId)).toEqual([]);

    // The same failure, started by the schedule: the dead man's switch gets /start, then /fail naming it.
    const config = bad.sbx.config;
    await applySchedules({ client: bad.client, config });
    const t = await triggerSchedule(bad.client, config, scheduleIdFor(config.temporal.taskQueue, 'backup', 'notify-bad'));
    parents.push(t.workflowId!);
    await bad.client.workflow.getHandle(t.workflowId!).result().catch(() => undefined);
    const hc = await pollUntil('the start and fail pings', async () => pings(t.runId!), (p) => p.length >= 2, { timeoutMs: 20_000 });
    expect(hc.map((p) => p.path)).toEqual([`/hc/${hcId}/start`, `/hc/${hcId}/fail`]);
    expect(hc[1]!.body).toContain('backup on notify-bad failed (BackupTargetFailed)');
    expect(hc[1]!.body).toContain('failed on target missing');
  }, 120_000);

  it('a recovery waiting for approval sends the approve command; rejected, it says that it changed nothing', async () => {
    const workflowId = `recover-notify-${Date.now()}`;
    parents.push(workflowId);
    const handle = await ok.client.workflow.start('disasterRecovery', { taskQueue: ok.sbx.config.temporal.taskQueue, workflowId, args: [{ hostId: 'notify-ok', backup: archive, approvalTimeoutMinutes: 30 }] });
    const [waiting] = await pollUntil('the approval request', async () => webhooks(workflowId), (w) => w.length >= 1, { timeoutMs: 60_000 });
    expect(waiting).toMatchObject({ event: 'waiting-for-approval', outcome: 'running', runbook: 'disaster-recovery', approveCommand: `mcp-runbooks approve ${workflowId}` });
    expect(waiting!.summary).toContain(archive);
    const chat = await pollUntil('the approval request in chat', async () => slack().filter((s) => s.includes(workflowId)), (s) => s.length >= 1, { timeoutMs: 20_000 });
    expect(chat[0]).toContain(`Approve: \`mcp-runbooks approve ${workflowId}\``);
    expect(chat[0]).toContain(`mcp-runbooks approve --reject ${workflowId}`);

    await handle.executeUpdate('reject', { args: [{ by: 'notify-test' }] });
    await handle.result();
    const ends = await pollUntil('the declined webhook', async () => webhooks(workflowId), (w) => w.length >= 2, { timeoutMs: 20_000 });
    expect(ends[1]).toMatchObject({ event: 'declined', outcome: 'rejected' });
  }, 120_000);

  it('no URL secret or authorization reaches a workflow history', async () => {
    const histories = [];
    for await (const w of ok.client.workflow.list({ query: `WorkflowType = 'deliverNotifications'` })) {
      if (parents.some((p) => w.workflowId.startsWith(`${p}/`))) histories.push(await ok.client.workflow.getHandle(w.workflowId).fetchHistory());
    }
    for (const p of parents) histories.push(await ok.client.workflow.getHandle(p).fetchHistory());
    expect(histories.length).toBeGreaterThan(parents.length);
    // Payloads are base64 JSON in the history: search the decoded text too.
    const raw = JSON.stringify(histories);
    const decoded = [...raw.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8')).join('\n');
    expect(decoded).toContain('notify-ok');
    for (const secret of [hcId, slackPath, webhookToken.slice('Bearer '.length)]) {
      expect(raw).not.toContain(secret);
      expect(decoded).not.toContain(secret);
    }
  }, 60_000);
});
