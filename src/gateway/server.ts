/**
 * The gateway: authenticated HTTP requests turned into Temporal starts and
 * updates (fastify for routing, body limits and JSON parsing).
 *
 * Every refusal is decided before anything is started and names what was
 * wrong: 401 (no or unknown token), 403 (outside the token's scopes), 404
 * (unknown runbook or run), 400 (malformed JSON, input the runbook's own
 * schema refuses, unknown host), 413 (body over the limit). Tokens are never
 * logged or put in workflow input; the token's name is what runs record.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter, Registry } from 'prom-client';
import { errorMessage, UsageError } from '../common/errors.js';
import { parseInput, RUNBOOK_INPUTS, type RunbookType } from '../common/inputs.js';
import type { RunbookProgress } from '../common/progress.js';
import { SEARCH_ATTRIBUTES } from '../common/search-attributes.js';
import type { Config, GatewayToken } from '../config/config.js';
import { compactTime, resolveHostForClient } from '../client/run-runbook.js';
import { API_RUNBOOKS, isApiRunbookName } from '../runbooks.js';
import { AlertRemediator, alertmanagerPayload } from './alertmanager.js';
import { authenticate, mayUse } from './auth.js';
import { openApiDocument } from './openapi.js';

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,200}$/;
const PUBLIC_ROUTES = new Set(['/v1/openapi.json', '/healthz', '/metrics']);

export interface GatewayMetrics {
  registry: Registry;
  requests: Counter;
  started: Counter;
  deduplicated: Counter;
  alerts: Counter;
  remediations: Counter;
}

/** The gateway's own registry, served on its /metrics. */
export function gatewayMetrics(): GatewayMetrics {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({ name: 'mcp_runbooks_gateway_requests_total', help: 'Gateway requests by route and HTTP status.', labelNames: ['route', 'status'], registers: [registry] }),
    started: new Counter({ name: 'mcp_runbooks_gateway_runs_started_total', help: 'Runbooks the gateway started, by runbook.', labelNames: ['runbook'], registers: [registry] }),
    deduplicated: new Counter({ name: 'mcp_runbooks_gateway_runs_deduplicated_total', help: 'Start requests answered with the run an earlier request (same Idempotency-Key) started.', labelNames: ['runbook'], registers: [registry] }),
    alerts: new Counter({ name: 'mcp_runbooks_gateway_alerts_received_total', help: 'Alerts received from Alertmanager, by status.', labelNames: ['status'], registers: [registry] }),
    remediations: new Counter({ name: 'mcp_runbooks_gateway_remediations_total', help: 'What each alert did per rule: started, deduplicated, throttled, capped, skipped, cancelled, left running, nothing to stop.', labelNames: ['rule', 'action'], registers: [registry] }),
  };
}

/** A refusal: its status and what was wrong. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems?: readonly string[],
  ) {
    super(message);
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    token?: GatewayToken;
  }
}

export interface GatewayOptions {
  config: Config;
  client: Client;
}

export interface Gateway {
  app: FastifyInstance;
  metrics: GatewayMetrics;
}

/** The gateway's routes (not listening yet): `app.listen` or `app.inject`. */
export function buildGateway({ config, client }: GatewayOptions): Gateway {
  const g = config.gateway;
  if (!g) throw new UsageError(`config ${config.source} has no gateway section: add gateway.tokens (README: "Gateway")`);
  const metrics = gatewayMetrics();
  const app = Fastify({
    bodyLimit: g.bodyLimitBytes,
    logger: false,
    ...(g.tls ? { https: { cert: readFileSync(g.tls.certFile), key: readFileSync(g.tls.keyFile) } } : {}),
  });
  const base = `${g.tls ? 'https' : 'http'}://${g.host}:${g.port}`;
  const statusUrl = (workflowId: string) => `/v1/runs/${encodeURIComponent(workflowId)}`;

  // Before the body is read: a request without a valid token costs no parsing.
  app.addHook('onRequest', async (req) => {
    if (PUBLIC_ROUTES.has(req.routeOptions.url ?? '')) return;
    const token = authenticate(req.headers.authorization, g.tokens);
    if (!token) throw new Refusal(401, req.headers.authorization ? 'the bearer token is not one of this gateway\'s tokens' : 'no bearer token: send Authorization: Bearer <token>');
    req.token = token;
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.requests.inc({ route: `${req.method} ${req.routeOptions.url ?? 'unknown'}`, status: String(reply.statusCode) });
  });
  app.setNotFoundHandler(async (req) => {
    throw new Refusal(404, `no route ${req.method} ${req.url.split('?')[0] ?? ''}`);
  });
  app.setErrorHandler(async (err: Error & { code?: string; statusCode?: number }, _req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof Refusal) return reply.code(err.status).send({ error: err.message, ...(err.problems ? { problems: err.problems } : {}) });
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: `body larger than ${g.bodyLimitBytes} bytes (gateway.bodyLimitBytes); nothing started` });
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.code(415).send({ error: 'send the body as Content-Type: application/json' });
    if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return reply.code(400).send({ error: `malformed JSON body: ${err.message}; nothing started` });
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message });
    return reply.code(502).send({ error: `Temporal did not answer as expected: ${errorMessage(err)}` });
  });

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  app.get('/v1/openapi.json', async () => ({ ...openApiDocument(), servers: [{ url: base }] }));

  app.post<{ Params: { runbook: string } }>('/v1/runbooks/:runbook', async (req, reply) => {
    const name = req.params.runbook;
    if (!isApiRunbookName(name)) throw new Refusal(404, `no runbook "${name}" (known: ${Object.keys(API_RUNBOOKS).join(', ')}); nothing started`);
    const token = req.token!;
    if (!mayUse(token, name)) throw new Refusal(403, `token ${token.name} may not start ${name} (its runbooks: ${token.runbooks.join(', ') || 'none'}); nothing started`);
    const def = API_RUNBOOKS[name]!;
    const parsed = parseInput(RUNBOOK_INPUTS[def.workflowType as RunbookType], req.body);
    if (!parsed.ok) throw new Refusal(400, `${name} input is invalid: ${parsed.problems.message}; nothing started`, parsed.problems.problems);
    const input = parsed.value as { hostId?: string; approve?: boolean };
    // `approve: true` skips the approval wait: that is an approval, so it needs the approve scope the
    // /approve route needs, or a token scoped to start a recovery could approve its own.
    if (input.approve === true && !token.approve) {
      throw new Refusal(403, `token ${token.name} may not approve (gateway.tokens: approve: true), so it may not start ${name} with approve: true; start it without and have it approved; nothing started`);
    }
    // With several hosts a missing hostId would quietly pick the first: the caller must say which.
    if (input.hostId === undefined && config.hosts.length > 1) {
      throw new Refusal(400, `input.hostId is required: this gateway serves ${config.hosts.length} hosts (${config.hosts.join(', ')}); nothing started`);
    }
    let hostId: string;
    try {
      hostId = resolveHostForClient(config, input.hostId);
    } catch (err) {
      throw new Refusal(400, `input.hostId: ${errorMessage(err)}; nothing started`);
    }
    const key = req.headers['idempotency-key'];
    if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) {
      throw new Refusal(400, 'Idempotency-Key: 1 to 200 of letters, digits, ".", "_", ":", "-"; nothing started');
    }
    const workflowId = key ? keyedWorkflowId(def.idPrefix, hostId, token.name, key) : keylessWorkflowId(def.idPrefix, hostId);
    try {
      const handle = await client.workflow.start(def.workflowType, {
        taskQueue: config.temporal.taskQueue,
        workflowId,
        args: [{ ...parsed.value, hostId }],
        // A key names one run for good: not even a finished run with that id is started again.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: `${name} on ${hostId}, started through the gateway by ${token.name}`,
      });
      metrics.started.inc({ runbook: name });
      return reply.code(202).send({ workflowId, runId: handle.firstExecutionRunId, runbook: name, host: hostId, statusUrl: statusUrl(workflowId) });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError) || !key) throw err;
      metrics.deduplicated.inc({ runbook: name });
      return reply.code(200).send({ workflowId, runbook: name, host: hostId, statusUrl: statusUrl(workflowId), deduplicated: true });
    }
  });

  app.get<{ Params: { workflowId: string } }>('/v1/runs/:workflowId', async (req) => {
    const { handle, runbook, description } = await runOf(client, req.params.workflowId, req.token!);
    const status = description.status.name;
    const host = description.searchAttributes?.[SEARCH_ATTRIBUTES.host];
    const out: Record<string, unknown> = {
      workflowId: handle.workflowId,
      runId: description.runId,
      runbook,
      ...(Array.isArray(host) && typeof host[0] === 'string' ? { host: host[0] } : {}),
      status,
      startedAt: description.startTime.toISOString(),
      ...(description.closeTime ? { closedAt: description.closeTime.toISOString() } : {}),
    };
    if (status === 'RUNNING') {
      out.progress = await handle.query<RunbookProgress>('progress').catch(() => undefined);
    } else if (status === 'COMPLETED') {
      out.report = await handle.result();
    } else {
      await handle.result().catch((err: unknown) => {
        const cause = err instanceof WorkflowFailedError ? (err.cause as { type?: string; message?: string } | undefined) : undefined;
        out.failure = { ...(cause?.type ? { type: cause.type } : {}), message: cause?.message ?? errorMessage(err) };
      });
    }
    return out;
  });

  const remediator = new AlertRemediator(config, client, {
    received: (status) => metrics.alerts.inc({ status }),
    action: (rule, action) => metrics.remediations.inc({ rule, action }),
  });
  app.post('/v1/alertmanager', async (req, reply) => {
    const parsed = alertmanagerPayload.safeParse(req.body);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${['body', ...i.path.map(String)].join('.')}: ${i.message}`);
      throw new Refusal(400, `not an Alertmanager webhook payload (version 4): ${problems.join('; ')}; nothing started`, problems);
    }
    const token = req.token!;
    const outside = remediator.outOfScope(parsed.data, token);
    if (outside.length) {
      throw new Refusal(403, `token ${token.name} may not start ${outside.join(', ')}, which gateway.alertRules map these alerts to (its runbooks: ${token.runbooks.join(', ') || 'none'}); nothing started`);
    }
    const results = await remediator.handle(parsed.data);
    // Alertmanager retries a 5xx (with back-off, then at each group_interval) and drops a 2xx until repeat_interval:
    // an alert the cap held back must come again, so the whole delivery is a 503 (what it started is then a duplicate).
    if (results.some((r) => r.action === 'capped')) return reply.code(503).header('retry-after', '30').send({ results });
    return { results };
  });

  for (const decision of ['approve', 'reject'] as const) {
    app.post<{ Params: { workflowId: string } }>(`/v1/runs/:workflowId/${decision}`, async (req) => {
      const token = req.token!;
      if (!token.approve) throw new Refusal(403, `token ${token.name} may not approve or reject (gateway.tokens: approve: true)`);
      const { handle } = await runOf(client, req.params.workflowId, token);
      try {
        const r = await handle.executeUpdate<{ approved: boolean; by?: string }, [{ by: string }]>(decision, { args: [{ by: `gateway:${token.name}` }] });
        return { workflowId: handle.workflowId, approved: r.approved, ...(r.by ? { by: r.by } : {}) };
      } catch (err) {
        // A finished run (the server says "already completed"), or a run not waiting: the update's validator refused it.
        if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError || /already completed|not found|no handler|Unknown update|update.*(rejected|not accepted)/i.test(errorMessage(err))) {
          throw new Refusal(409, `${handle.workflowId} is not waiting for a decision: ${errorMessage((err as { cause?: unknown }).cause ?? err)}`);
        }
        throw err;
      }
    });
  }
  return { app, metrics };
}

/**
 * `<prefix>-<host>-<time>-<random>` for a start without an Idempotency-Key. The
 * time alone (milliseconds) named two requests that arrived together the same:
 * Temporal refused the second (REJECT_DUPLICATE) and its caller got a 502.
 */
export function keylessWorkflowId(idPrefix: string, hostId: string, at: Date = new Date()): string {
  return `${idPrefix}-${hostId}-${compactTime(at)}-${randomBytes(4).toString('hex')}`;
}

/** `<prefix>-<host>-key-<digest>`: one key from one token names one run. */
function keyedWorkflowId(idPrefix: string, hostId: string, tokenName: string, key: string): string {
  return `${idPrefix}-${hostId}-key-${createHash('sha256').update(`${tokenName}\0${key}`).digest('hex').slice(0, 32)}`;
}

/** The run, if it exists, is one of our runbooks, and the token may read that runbook. */
async function runOf(client: Client, workflowId: string, token: GatewayToken) {
  const handle = client.workflow.getHandle(workflowId);
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new Refusal(404, `no run ${workflowId}`);
    throw err;
  }
  const runbook = Object.entries(API_RUNBOOKS).find(([, d]) => d.workflowType === description.type)?.[0];
  if (!runbook) throw new Refusal(404, `${workflowId} is not a runbook run (${description.type})`);
  if (!mayUse(token, runbook)) throw new Refusal(403, `token ${token.name} may not read ${runbook} runs`);
  return { handle, runbook, description };
}
