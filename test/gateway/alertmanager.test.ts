/**
 * POST /v1/alertmanager on `mcp-runbooks gateway` (a subprocess) in front of a
 * real sandbox host: Alertmanager's version 4 payloads, sent as Alertmanager
 * would (resends included). A firing ServiceDown starts restartService once
 * per (rule, fingerprint, startsAt); a capped alert is answered 503 so
 * Alertmanager delivers it again; the cap and the per-rule throttle come from
 * Temporal, so they hold across a gateway restart; a resolved alert stops a
 * remediation that has changed nothing yet (one stuck on a host with no
 * worker) and leaves one whose restart has begun (a service whose restart
 * waits for the test) to finish.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_SERVICES } from '../../src/common/seed.js';
import { freePort } from '../../src/dev/ports.js';
import type { AlertResult } from '../../src/gateway/alertmanager.js';
import type { RestartServiceResult } from '../../src/workflows/index.js';
import { startGatewayCli } from '../helpers/cli.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { pollUntil } from '../helpers/temporal.js';

const HOST = 'am-host';
/** In `hosts`, but no worker polls its queue: a remediation there waits in its first activity, having changed nothing. */
const GHOST = 'am-ghost';
/** Two more hosts without a worker, for a burst of alerts at once. */
const BURST = ['am-burst-1', 'am-burst-2'];
/** A service on HOST whose restart waits until the test lets it go: a remediation that has begun changing the host. */
const HELD = 'held-svc';
let host: TestHost;
let stopGateway: (() => Promise<void>) | undefined;
let dir: string;
let url: string;
const token = randomBytes(24).toString('hex');
/** May start health-check only: not the runbook the rules map alerts to. */
const readerToken = randomBytes(24).toString('hex');
const held = { restarting: () => join(dir, 'held.restarting'), go: () => join(dir, 'held.go') };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-am-'));
  await writeFile(join(dir, 'am.token'), `${token}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'reader.token'), `${readerToken}\n`, { mode: 0o600 });
  const heldService = {
    name: HELD,
    commands: { status: ['true'], start: ['true'], stop: ['true'], restart: ['sh', '-c', `touch ${held.restarting()}; while [ ! -e ${held.go()} ]; do sleep 0.1; done`] },
  };
  host = await startTestHost({
    hostId: HOST,
    hosts: [HOST, GHOST, ...BURST],
    extra: {
      services: [...SEED_SERVICES, heldService],
      gateway: {
        port: await freePort(),
        maxConcurrentRemediations: 1,
        tokens: [
          { name: 'alertmanager', token: { file: join(dir, 'am.token') }, runbooks: ['restart-service'] },
          { name: 'reader', token: { file: join(dir, 'reader.token') }, runbooks: ['health-check'] },
        ],
        alertRules: [
          { name: 'service-down', alert: 'ServiceDown', matchers: { severity: 'critical' }, runbook: 'restart-service', labels: { service: 'service' }, throttleMinutes: 30 },
          // A second rule for the same runbook: the throttle is per rule.
          { name: 'memory-unreachable', alert: 'MemoryServiceUnreachable', runbook: 'restart-service', labels: { service: 'service' }, throttleMinutes: 30 },
        ],
      },
    },
  });
  const started = await startGatewayCli(host.sbx.configPath);
  ({ url, stop: stopGateway } = started);
}, 120_000);
afterAll(async () => {
  await writeFile(held.go(), '').catch(() => undefined);
  await stopGateway?.();
  await host?.close();
  await rm(dir, { recursive: true, force: true });
});

interface Alert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  startsAt: string;
  fingerprint: string;
}
const alert = (h: string, status: Alert['status'], startsAt: string, extra: Record<string, string> = {}): Alert => ({
  status,
  labels: { alertname: 'ServiceDown', severity: 'critical', service: 'mcp-memory', host: h, ...extra },
  startsAt,
  fingerprint: `fp-${h}-${extra.alertname ?? 'ServiceDown'}`,
});
async function post(alerts: Alert[], opts: { token?: string; raw?: string } = {}): Promise<{ status: number; body: { results?: AlertResult[]; error?: string } }> {
  const payload = { version: '4', groupKey: '{}:{alertname="ServiceDown"}', status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved', receiver: 'gateway', alerts };
  const r = await fetch(`${url}/v1/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(opts.token === '' ? {} : { authorization: `Bearer ${opts.token ?? token}` }) },
    body: opts.raw ?? JSON.stringify(payload),
  });
  return { status: r.status, body: (await r.json()) as { results?: AlertResult[]; error?: string } };
}
const actions = (r: { body: { results?: AlertResult[] } }) => (r.body.results ?? []).map((x) => `${x.host ?? '-'} ${x.action}`);
const statusOf = (id: string) => host.client.workflow.getHandle(id).describe().then((d) => d.status.name);
/** Visibility lists the run as running: what a gateway started before it restarted is in Temporal, not only in its memory. */
async function visibleRunning(id: string): Promise<void> {
  await pollUntil(
    `visibility listing ${id} as running`,
    async () => {
      for await (const wf of host.client.workflow.list({ query: `WorkflowId = '${id}' AND ExecutionStatus = 'Running'` })) return true;
      return false;
    },
    (yes) => yes,
    { timeoutMs: 30_000, intervalMs: 250 },
  );
}
const pidOf = async () => Number((await readFile(join(host.sbx.config.sandbox!.root, 'run', 'mcp-memory.pid'), 'utf8')).trim());

describe('POST /v1/alertmanager', () => {
  it('refuses what is not an authenticated Alertmanager payload, or a token outside the rules\' runbook (403); skips alerts no rule takes', async () => {
    expect((await post([], { token: '' })).status).toBe(401);
    // A token without the runbook the rules map the alert to: refused, nothing started (the next test starts this very alert).
    const outside = await post([alert(GHOST, 'firing', '2026-12-03T09:00:00Z')], { token: readerToken });
    expect(outside.status).toBe(403);
    expect(outside.body.error).toMatch(/^token reader may not start restart-service, which gateway.alertRules map these alerts to \(its runbooks: health-check\); nothing started$/);
    const bad = await post([], { raw: JSON.stringify({ version: '3', alerts: [] }) });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/not an Alertmanager webhook payload \(version 4\): body\.version/);
    const none = await post([alert(HOST, 'firing', '2026-12-03T08:00:00Z', { severity: 'warning' }), { ...alert(HOST, 'firing', '2026-12-03T08:00:00Z'), labels: { alertname: 'ServiceDown', severity: 'critical', service: 'mcp-memory' } }]);
    expect(none.status).toBe(200);
    expect(none.body.results?.map((r) => [r.action, r.reason])).toEqual([
      ['skipped', 'no rule in gateway.alertRules matches it'],
      ['skipped', 'the alert has no "host" label (the rule\'s hostLabel)'],
    ]);
  });

  it('starts once per alert whatever Alertmanager resends; caps, cancels what changed nothing, throttles a re-fired alert', async () => {
    // A remediation on the host without a worker: started, then stuck before it changed anything.
    const ghost = await post([alert(GHOST, 'firing', '2026-12-03T09:00:00Z')]);
    expect(actions(ghost)).toEqual([`${GHOST} started`]);
    const ghostId = ghost.body.results![0]!.workflowId!;
    // The cap (1): the real host's alert is answered 503, so Alertmanager delivers it again.
    const killed = await pidOf();
    process.kill(killed, 'SIGKILL');
    const firing = alert(HOST, 'firing', '2026-12-03T09:01:00Z');
    const capped = await post([firing]);
    expect(capped.status).toBe(503);
    expect(actions(capped)).toEqual([`${HOST} capped`]);
    // Resolved before it changed anything: the run stops itself and completes, its report saying why.
    const resolvedGhost = await post([alert(GHOST, 'resolved', '2026-12-03T09:00:00Z')]);
    expect(resolvedGhost.status).toBe(200);
    expect(actions(resolvedGhost)).toEqual([`${GHOST} cancelled`]);
    const stopped = (await host.client.workflow.getHandle(ghostId).result()) as RestartServiceResult;
    expect(stopped).toMatchObject({ stopped: expect.stringMatching(/^alert resolved/) as unknown, refused: false });
    expect(stopped.restart).toBeUndefined();

    // Alertmanager resends the real alert (group_interval, repeat_interval): one start, then duplicates.
    const deliveries = [await post([firing]), await post([firing]), await post([firing])];
    expect(deliveries.map(actions)).toEqual([[`${HOST} started`], [`${HOST} deduplicated`], [`${HOST} deduplicated`]]);
    expect(deliveries.map((d) => d.status)).toEqual([200, 200, 200]);
    const id = deliveries[0]!.body.results![0]!.workflowId!;
    expect(new Set(deliveries.map((d) => d.body.results![0]!.workflowId))).toEqual(new Set([id]));
    const report = (await host.client.workflow.getHandle(id).result()) as { service: string; refused: boolean; summary: { fail: number } };
    expect(report).toMatchObject({ service: 'mcp-memory', refused: false, summary: { fail: 0 } });
    expect((await host.sbx.manager.status('mcp-memory')).state).toBe('active');
    expect(await pidOf()).not.toBe(killed);
    // After the run ended a resend still starts nothing; a resolved alert has nothing to stop.
    expect(actions(await post([firing]))).toEqual([`${HOST} deduplicated`]);
    expect(actions(await post([{ ...firing, status: 'resolved' }]))).toEqual([`${HOST} nothing to stop`]);
    // The alert fires again (a new startsAt) within the rule's 30 minutes: throttled, not a loop.
    expect(actions(await post([alert(HOST, 'firing', '2026-12-03T09:05:00Z')]))).toEqual([`${HOST} throttled`]);

    // Exactly one remediation ran on the host.
    const runs = await pollUntil(
      'visibility showing the remediation',
      async () => {
        const ids: string[] = [];
        for await (const wf of host.client.workflow.list({ query: `WorkflowType = 'restartService' AND McpHost = '${HOST}'` })) ids.push(wf.workflowId);
        return ids;
      },
      (ids) => ids.length > 0,
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(runs).toEqual([id]);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/mcp_runbooks_gateway_remediations_total\{rule="service-down",action="started"\} 2/);
    expect(metrics).toMatch(/mcp_runbooks_gateway_remediations_total\{rule="service-down",action="deduplicated"\} 3/);
    expect(metrics).toMatch(/mcp_runbooks_gateway_remediations_total\{rule="service-down",action="throttled"\} 1/);
    expect(metrics).toMatch(/mcp_runbooks_gateway_remediations_total\{rule="service-down",action="capped"\} 1/);
    expect(metrics).toMatch(/mcp_runbooks_gateway_remediations_total\{rule="service-down",action="cancelled"\} 1/);
    expect(metrics).toMatch(/mcp_runbooks_gateway_alerts_received_total\{status="firing"\} \d+/);
  }, 180_000);

  it('the throttle and the cap come from Temporal: they hold after the gateway restarts; the throttle is per rule and ignores a run stopped before it changed anything; a resolved alert leaves a restart that has begun to finish', async () => {
    // The ghost's alert fires again: its first run was stopped having changed nothing, so the rule's throttle does not hold it.
    const again = await post([alert(GHOST, 'firing', '2026-12-03T09:30:00Z')]);
    expect(actions(again)).toEqual([`${GHOST} started`]);
    const ghostId = again.body.results![0]!.workflowId!;
    await visibleRunning(ghostId);

    // A new gateway process: nothing of the old one's memory is left.
    await stopGateway!();
    ({ url, stop: stopGateway } = await startGatewayCli(host.sbx.configPath));
    // The host's remediation of the last test (rule service-down) still throttles the rule there.
    const throttled = await post([alert(HOST, 'firing', '2026-12-03T09:40:00Z')]);
    expect(throttled.status).toBe(200);
    expect(actions(throttled)).toEqual([`${HOST} throttled`]);
    // The ghost's run, started by the old process, still fills the cap.
    const capped = await post([alert(BURST[0]!, 'firing', '2026-12-03T09:40:00Z')]);
    expect(capped.status).toBe(503);
    expect(actions(capped)).toEqual([`${BURST[0]} capped`]);
    // And the new process stops it.
    expect(actions(await post([alert(GHOST, 'resolved', '2026-12-03T09:30:00Z')]))).toEqual([`${GHOST} cancelled`]);
    await pollUntil('the ghost run completed', () => statusOf(ghostId), (st) => st === 'COMPLETED', { timeoutMs: 30_000, intervalMs: 250 });

    // Another rule on the same host is not throttled by service-down's run. Its restart (of the held service) begins ...
    const other = { alertname: 'MemoryServiceUnreachable', service: HELD };
    const started = await post([alert(HOST, 'firing', '2026-12-03T09:45:00Z', other)]);
    expect(actions(started)).toEqual([`${HOST} started`]);
    const heldId = started.body.results![0]!.workflowId!;
    await pollUntil('the held restart begun', () => readFile(held.restarting()).then(() => true, () => false), (yes) => yes, { timeoutMs: 30_000, intervalMs: 100 });
    // ... so the resolved alert is told it has begun changing the host, and the run goes on.
    const resolved = await post([alert(HOST, 'resolved', '2026-12-03T09:45:00Z', other)]);
    expect(actions(resolved)).toEqual([`${HOST} left running`]);
    expect(resolved.body.results![0]!.reason).toMatch(/in "restart": it had begun changing the host/);
    await writeFile(held.go(), '');
    const report = (await host.client.workflow.getHandle(heldId).result()) as RestartServiceResult;
    expect(report).toMatchObject({ service: HELD, refused: false, summary: { fail: 0 } });
    expect(report.stopped).toBeUndefined();
    expect(report.restart).toBeDefined();
  }, 120_000);

  it('a burst of deliveries at once passes the cap only as far as it allows: one started, the other capped', async () => {
    const at = '2026-12-03T10:00:00Z';
    const both = await Promise.all(BURST.map((h) => post([alert(h, 'firing', at)])));
    expect(both.flatMap(actions).map((a) => a.split(' ')[1]).sort()).toEqual(['capped', 'started']);
    expect(both.map((b) => b.status).sort()).toEqual([200, 503]);
    const started = both.flatMap((b) => b.body.results ?? []).find((r) => r.action === 'started')!;
    expect(actions(await post([alert(started.host!, 'resolved', at)]))).toEqual([`${started.host} cancelled`]);
  }, 60_000);
});
