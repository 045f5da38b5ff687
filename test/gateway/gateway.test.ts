/**
 * `mcp-runbooks gateway` as an operator runs it (a subprocess), in front of a
 * real sandbox host and worker on the test dev server: every refused request
 * gets its status, names what was wrong and starts nothing; a start with an
 * Idempotency-Key starts one run however often it is sent; a run's status,
 * progress and report; a recovery rejected, and one approved and run to the
 * end, by a token that may, recorded with the token's name; no token in logs
 * or in workflow history.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { freePort } from '../../src/dev/ports.js';
import { inputJsonSchema } from '../../src/common/input-docs.js';
import type { RunbookType } from '../../src/common/inputs.js';
import { alertmanagerPayload } from '../../src/gateway/alertmanager.js';
import { buildGateway, keylessWorkflowId } from '../../src/gateway/server.js';
import { startGatewayCli, type RunningCli } from '../helpers/cli.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { pollUntil } from '../helpers/temporal.js';

const HOST = 'gw-host';
let host: TestHost;
let gateway: RunningCli;
let stopGateway: (() => Promise<void>) | undefined;
let dir: string;
let url: string;
const tokens = { ops: randomBytes(24).toString('hex'), reader: randomBytes(24).toString('hex'), recoverer: randomBytes(24).toString('hex') };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-gw-'));
  await writeFile(join(dir, 'ops.token'), `${tokens.ops}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'reader.token'), `${tokens.reader}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'recoverer.token'), `${tokens.recoverer}\n`, { mode: 0o600 });
  const port = await freePort();
  host = await startTestHost({
    hostId: HOST,
    extra: {
      gateway: {
        port,
        bodyLimitBytes: 4096,
        tokens: [
          { name: 'ops', token: { file: join(dir, 'ops.token') }, runbooks: ['*'], approve: true },
          { name: 'reader', token: { file: join(dir, 'reader.token') }, runbooks: ['health-check'] },
          { name: 'recoverer', token: { file: join(dir, 'recoverer.token') }, runbooks: ['disaster-recovery'] },
        ],
      },
    },
  });
  const started = await startGatewayCli(host.sbx.configPath);
  ({ process: gateway, url, stop: stopGateway } = started);
}, 120_000);
afterAll(async () => {
  await stopGateway?.();
  await host?.close();
  await rm(dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

async function call(method: string, path: string, opts: { token?: string; body?: string; json?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined = opts.body;
  if (opts.json !== undefined) body = JSON.stringify(opts.json);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/** Runs of this sandbox's task queue that visibility knows. */
async function runsStarted(): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of host.client.workflow.list({ query: `TaskQueue = '${host.sbx.config.temporal.taskQueue}' AND WorkflowType != 'hostLock'` })) ids.push(wf.workflowId);
  return ids.sort();
}

describe('gateway: refused requests', () => {
  const big = JSON.stringify({ reason: 'x'.repeat(5000) });
  const cases: Array<[string, () => Promise<Reply>, number, RegExp]> = [
    ['no token', () => call('POST', '/v1/runbooks/health-check', { json: {} }), 401, /no bearer token/],
    ['a wrong token', () => call('POST', '/v1/runbooks/health-check', { token: 'x'.repeat(48), json: {} }), 401, /not one of this gateway's tokens/],
    ['a token out of its scope', () => call('POST', '/v1/runbooks/backup', { token: tokens.reader, json: {} }), 403, /token reader may not start backup \(its runbooks: health-check\)/],
    ['an oversized body', () => call('POST', '/v1/runbooks/backup', { token: tokens.ops, body: big }), 413, /body larger than 4096 bytes/],
    ['malformed JSON', () => call('POST', '/v1/runbooks/backup', { token: tokens.ops, body: '{"reason": ' }), 400, /malformed JSON body/],
    ['a schema error', () => call('POST', '/v1/runbooks/backup', { token: tokens.ops, json: { dryRun: 'yes' } }), 400, /input\.dryRun: expected boolean, got string "yes"/],
    ['an unknown field', () => call('POST', '/v1/runbooks/backup', { token: tokens.ops, json: { hostid: HOST } }), 400, /input\.hostid: unknown field/],
    ['an unknown host', () => call('POST', '/v1/runbooks/backup', { token: tokens.ops, json: { hostId: 'db-9' } }), 400, /input\.hostId: unknown host "db-9"/],
    ['an unknown runbook', () => call('POST', '/v1/runbooks/defrag', { token: tokens.ops, json: {} }), 404, /no runbook "defrag"/],
    ['a bad Idempotency-Key', () => call('POST', '/v1/runbooks/health-check', { token: tokens.ops, json: {}, headers: { 'idempotency-key': 'a b' } }), 400, /Idempotency-Key/],
    ['an unknown run', () => call('GET', '/v1/runs/nope-123', { token: tokens.ops }), 404, /no run nope-123/],
    ['approve without the approve scope', () => call('POST', '/v1/runs/nope-123/approve', { token: tokens.reader }), 403, /may not approve/],
    [
      'a recovery started with approve: true by a token without the approve scope (it would approve itself)',
      () => call('POST', '/v1/runbooks/disaster-recovery', { token: tokens.recoverer, json: { backup: 'mcp_backup_20261201_020000.tar.gz', approve: true } }),
      403,
      /token recoverer may not approve .*may not start disaster-recovery with approve: true; .*nothing started/,
    ],
    ['an unknown route', () => call('GET', '/v2/everything', { token: tokens.ops }), 404, /no route GET \/v2\/everything/],
  ];

  it.each(cases)('%s: refused with its status, naming what was wrong', async (_what, send, status, message) => {
    const r = await send();
    expect(r.status).toBe(status);
    expect(String(r.body.error)).toMatch(message);
  });

  it('nothing was started by any of them; a start with an Idempotency-Key, sent three times, is one run; its status ends with the report', async () => {
    const send = () => call('POST', '/v1/runbooks/health-check', { token: tokens.reader, json: {}, headers: { 'idempotency-key': 'alert-123:2026-12-03T09:00:00Z' } });
    const first = await send();
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.body).toMatchObject({ runbook: 'health-check', host: HOST, statusUrl: `/v1/runs/${String(first.body.workflowId)}` });
    const again = await send();
    const third = await send();
    for (const r of [again, third]) expect(r).toMatchObject({ status: 200, body: { workflowId: first.body.workflowId, deduplicated: true } });
    const done = await pollUntil('the run completed', () => call('GET', String(first.body.statusUrl), { token: tokens.reader }), (r) => r.body.status === 'COMPLETED', { timeoutMs: 60_000, intervalMs: 250 });
    expect(done.body).toMatchObject({ runbook: 'health-check', host: HOST, report: { runbook: 'healthCheck', hostId: HOST } });
    // After the run ended, the same key still starts nothing.
    expect((await send()).status).toBe(200);
    // Visibility has caught up with the one run; nothing else was ever started.
    const started = await pollUntil('visibility showing the run', runsStarted, (ids) => ids.includes(String(first.body.workflowId)), { timeoutMs: 30_000, intervalMs: 500 });
    expect(started).toEqual([first.body.workflowId]);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/mcp_runbooks_gateway_requests_total\{route="POST \/v1\/runbooks\/:runbook",status="401"\} 2/);
    expect(metrics).toMatch(/mcp_runbooks_gateway_runs_started_total\{runbook="health-check"\} 1/);
    expect(metrics).toMatch(/mcp_runbooks_gateway_runs_deduplicated_total\{runbook="health-check"\} 3/);
  }, 120_000);
});

describe('gateway: a gateway for several hosts', () => {
  it('refuses a start without hostId (400, naming the hosts) instead of picking the first; starts nothing', async () => {
    const config = { ...host.sbx.config, hosts: [HOST, 'gw-other'] };
    const { app } = buildGateway({ config, client: host.client });
    try {
      const before = await runsStarted();
      const r = await app.inject({ method: 'POST', url: '/v1/runbooks/health-check', headers: { authorization: `Bearer ${tokens.ops}`, 'content-type': 'application/json' }, payload: '{}' });
      expect(r.statusCode).toBe(400);
      expect((r.json() as { error: string }).error).toBe(`input.hostId is required: this gateway serves 2 hosts (${HOST}, gw-other); nothing started`);
      expect(await runsStarted()).toEqual(before);
    } finally {
      await app.close();
    }
  });
});

describe('gateway: starts without an Idempotency-Key', () => {
  it('two ids made in the same millisecond differ; starts sent at once are each their own run', async () => {
    const at = new Date('2026-12-03T09:00:00.123Z');
    const [a, b] = [keylessWorkflowId('health-check', HOST, at), keylessWorkflowId('health-check', HOST, at)];
    expect(a).toMatch(new RegExp(`^health-check-${HOST}-20261203T090000\\.123Z-[0-9a-f]{8}$`));
    expect(a).not.toBe(b);
    const replies = await Promise.all([1, 2, 3].map(() => call('POST', '/v1/runbooks/health-check', { token: tokens.reader, json: {} })));
    expect(replies.map((r) => r.status)).toEqual([202, 202, 202]);
    expect(new Set(replies.map((r) => r.body.workflowId)).size).toBe(3);
    for (const r of replies) await host.client.workflow.getHandle(String(r.body.workflowId)).result();
  }, 60_000);
});

describe('gateway: documents and transport', () => {
  it('/v1/openapi.json (no token) describes every runbook with the schema its workflow checks', async () => {
    const r = await fetch(`${url}/v1/openapi.json`);
    expect(r.status).toBe(200);
    const doc = (await r.json()) as { openapi: string; paths: Record<string, { post?: { requestBody?: { content: Record<string, { schema: unknown }> } } }> };
    expect(doc.openapi).toBe('3.1.0');
    for (const [name, type] of Object.entries({ 'health-check': 'healthCheck', backup: 'backup', 'restart-service': 'restartService', 'disaster-recovery': 'disasterRecovery' })) {
      expect(doc.paths[`/v1/runbooks/${name}`]?.post?.requestBody?.content['application/json']?.schema, name).toEqual(inputJsonSchema(type as RunbookType));
    }
    expect(doc.paths['/v1/runs/{workflowId}/approve']).toBeDefined();
  });

  it("/v1/openapi.json's Alertmanager body is the route's own schema: it accepts and refuses what POST /v1/alertmanager does", async () => {
    const doc = (await (await fetch(`${url}/v1/openapi.json`)).json()) as { paths: Record<string, { post: { requestBody: { content: Record<string, { schema: unknown }> } } }> };
    const schema = doc.paths['/v1/alertmanager']!.post.requestBody.content['application/json']!.schema as Parameters<typeof z.fromJSONSchema>[0];
    expect(schema).toEqual(z.toJSONSchema(alertmanagerPayload, { io: 'input' }));
    const documented = z.fromJSONSchema(schema);
    const a = { status: 'firing', labels: { alertname: 'NoRuleTakesIt', host: HOST }, annotations: {}, startsAt: '2026-12-03T09:00:00Z', fingerprint: 'fp-doc' };
    const body = (alerts: unknown[], extra: Record<string, unknown> = {}) => ({ version: '4', groupKey: '{}:{}', status: 'firing', receiver: 'gw', groupLabels: {}, alerts, ...extra });
    const cases: Array<[string, unknown, boolean]> = [
      ['a full payload (fields the route does not read included)', body([a, { ...a, status: 'resolved', fingerprint: 'fp-doc-2' }]), true],
      ['an alert without annotations', body([{ ...a, annotations: undefined }]), true],
      ['no alerts', body([]), true],
      ['version 3', body([a], { version: '3' }), false],
      ['no groupKey', body([a], { groupKey: undefined }), false],
      ['status pending', body([a], { status: 'pending' }), false],
      ['an alert without a fingerprint', body([{ ...a, fingerprint: undefined }]), false],
      ['an empty startsAt', body([{ ...a, startsAt: '' }]), false],
      ['a label that is not a string', body([{ ...a, labels: { alertname: 'X', count: 3 } }]), false],
      ['alerts that are not a list', body([], { alerts: { 0: a } }), false],
    ];
    for (const [what, payload, ok] of cases) {
      const json = JSON.parse(JSON.stringify(payload)) as unknown;
      expect(documented.safeParse(json).success, `the document: ${what}`).toBe(ok);
      const r = await call('POST', '/v1/alertmanager', { token: tokens.ops, json });
      expect(r.status, `the route: ${what}: ${JSON.stringify(r.body).slice(0, 300)}`).toBe(ok ? 200 : 400);
    }
  });

  it('serves HTTPS from gateway.tls (a certificate made with openssl), and reads the key only from its file', async () => {
    const crt = join(dir, 'gw.crt');
    const key = join(dir, 'gw.key');
    await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    const config = { ...host.sbx.config, gateway: { ...host.sbx.config.gateway!, port: 0, tls: { certFile: crt, keyFile: key } } };
    const { app } = buildGateway({ config, client: host.client });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      expect(address).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = await readFile(crt);
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest(`${address}/v1/runs/nope`, { ca, headers: { authorization: `Bearer ${tokens.ops}` } }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(`${res.statusCode} ${text}`));
        });
        req.on('error', reject);
        req.end();
      });
      expect(body).toMatch(/^404 .*no run nope/);
    } finally {
      await app.close();
    }
  });
});

describe('gateway: approvals', () => {
  it('a recovery started through the gateway waits; a reader cannot decide; ops rejects it, recorded as gateway:ops; deciding again is 409; a second one approved by ops recovers the host', async () => {
    const backup = await call('POST', '/v1/runbooks/backup', { token: tokens.ops, json: { reason: 'before gateway test' } });
    expect(backup.status).toBe(202);
    const b = await pollUntil('the backup done', () => call('GET', String(backup.body.statusUrl), { token: tokens.ops }), (r) => r.body.status !== 'RUNNING', { timeoutMs: 120_000, intervalMs: 500 });
    const archive = (b.body.report as { plan: { archive: string } }).plan.archive;
    const rec = await call('POST', '/v1/runbooks/disaster-recovery', { token: tokens.ops, json: { backup: archive } });
    expect(rec.status, JSON.stringify(rec.body)).toBe(202);
    const path = String(rec.body.statusUrl);
    await pollUntil('awaiting approval', () => call('GET', path, { token: tokens.ops }), (r) => (r.body.progress as { phase?: string } | undefined)?.phase === 'awaiting approval', { timeoutMs: 60_000, intervalMs: 250 });
    // The reader may not even read a recovery run.
    expect((await call('GET', path, { token: tokens.reader })).status).toBe(403);
    expect((await call('POST', `${path}/approve`, { token: tokens.reader })).status).toBe(403);
    const rejected = await call('POST', `${path}/reject`, { token: tokens.ops });
    expect(rejected).toMatchObject({ status: 200, body: { approved: false, by: 'gateway:ops' } });
    const end = await pollUntil('the recovery ended', () => call('GET', path, { token: tokens.ops }), (r) => r.body.status !== 'RUNNING', { timeoutMs: 60_000, intervalMs: 250 });
    expect(end.body).toMatchObject({ status: 'COMPLETED', report: { outcome: 'rejected' } });
    const late = await call('POST', `${path}/approve`, { token: tokens.ops });
    expect(late.status, JSON.stringify(late.body)).toBe(409);
    expect(String(late.body.error)).toMatch(/is not waiting for a decision/);

    // The same recovery again, approved through the gateway: it runs to the end, and the report names the token.
    const again = await call('POST', '/v1/runbooks/disaster-recovery', { token: tokens.ops, json: { backup: archive } });
    expect(again.status, JSON.stringify(again.body)).toBe(202);
    const path2 = String(again.body.statusUrl);
    await pollUntil('awaiting approval', () => call('GET', path2, { token: tokens.ops }), (r) => (r.body.progress as { phase?: string } | undefined)?.phase === 'awaiting approval', { timeoutMs: 60_000, intervalMs: 250 });
    expect(await call('POST', `${path2}/approve`, { token: tokens.ops })).toMatchObject({ status: 200, body: { approved: true, by: 'gateway:ops' } });
    const recovered = await pollUntil('the approved recovery ended', () => call('GET', path2, { token: tokens.ops }), (r) => r.body.status !== 'RUNNING', { timeoutMs: 120_000, intervalMs: 500 });
    expect(recovered.body, JSON.stringify(recovered.body)).toMatchObject({ status: 'COMPLETED', report: { outcome: 'recovered', approvedBy: 'gateway:ops', summary: { fail: 0 } } });
    expect((await host.sbx.manager.status('mcp-memory')).state).toBe('active');

    // No token reached the gateway's output or any run's history.
    expect(gateway.output()).not.toContain(tokens.ops);
    for (const id of [String(backup.body.workflowId), String(rec.body.workflowId), String(again.body.workflowId)]) {
      const history = JSON.stringify(await host.client.workflow.getHandle(id).fetchHistory());
      for (const t of Object.values(tokens)) expect(history).not.toContain(t);
    }
  }, 300_000);
});
