/** The gateway's OpenAPI 3.1 document, generated from the schemas the routes validate with (the runbooks' inputs, Alertmanager's payload). */
import { z } from 'zod';
import { inputJsonSchema } from '../common/input-docs.js';
import type { RunbookType } from '../common/inputs.js';
import { API_RUNBOOKS } from '../runbooks.js';
import { VERSION } from '../version.js';
import { ALERT_ACTIONS, alertmanagerPayload } from './alertmanager.js';

const error = { type: 'object', properties: { error: { type: 'string' }, problems: { type: 'array', items: { type: 'string' } } }, required: ['error'] };
const refused = (what: string) => ({ description: what, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
const auth = {
  '401': refused('no bearer token, or not one of the configured tokens'),
  '403': refused('the token may not do this (its runbooks or approve scope)'),
};

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(API_RUNBOOKS)) {
    paths[`/v1/runbooks/${name}`] = {
      post: {
        summary: `start ${name} (${def.workflowType}): ${def.description}`,
        operationId: `start_${def.workflowType}`,
        parameters: [
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description: 'The same key from the same token names the same run: a retried request returns the run it started, never a second one.',
            schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,200}$' },
          },
        ],
        requestBody: { required: false, content: { 'application/json': { schema: inputJsonSchema(def.workflowType as RunbookType) } } },
        responses: {
          '202': { description: 'started', content: { 'application/json': { schema: { $ref: '#/components/schemas/Started' } } } },
          '200': { description: 'already started with this Idempotency-Key: the existing run', content: { 'application/json': { schema: { $ref: '#/components/schemas/Started' } } } },
          '400': refused('malformed JSON, or input the runbook refuses (each problem names its field); nothing started'),
          ...auth,
          '413': refused('body larger than gateway.bodyLimitBytes; nothing started'),
        },
      },
    };
  }
  paths['/v1/runbooks/{runbook}'] = { post: { summary: 'any other name', responses: { '404': refused('no such runbook; nothing started') } } };
  paths['/v1/alertmanager'] = {
    post: {
      summary: "Alertmanager's webhook (version 4): each alert matched against gateway.alertRules; firing starts the rule's runbook once per (rule, fingerprint, startsAt), resolved stops a remediation that changed nothing yet",
      // The schema the route parses the body with; fields it does not read (receiver, groupLabels, ...) are allowed.
      requestBody: { required: true, content: { 'application/json': { schema: z.toJSONSchema(alertmanagerPayload, { io: 'input' }) } } },
      responses: {
        '200': { description: 'what happened to each (alert, rule): started, deduplicated, throttled, skipped, cancelled, left running, nothing to stop', content: { 'application/json': { schema: { $ref: '#/components/schemas/AlertResults' } } } },
        '503': { description: 'an alert was capped (gateway.maxConcurrentRemediations remediations run): Alertmanager delivers it again; the results say what each alert did', content: { 'application/json': { schema: { $ref: '#/components/schemas/AlertResults' } } } },
        '400': refused('not an Alertmanager version 4 payload; nothing started'),
        '401': auth['401'],
        '403': refused('a rule maps one of the alerts to a runbook outside the token\'s runbooks; nothing started'),
        '413': refused('body larger than gateway.bodyLimitBytes; nothing started'),
      },
    },
  };
  paths['/v1/runs/{workflowId}'] = {
    get: {
      summary: 'status, progress and, when done, the report (or the failure)',
      parameters: [{ name: 'workflowId', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { '200': { description: 'the run', content: { 'application/json': { schema: { $ref: '#/components/schemas/Run' } } } }, ...auth, '404': refused('no such run') },
    },
  };
  for (const decision of ['approve', 'reject']) {
    paths[`/v1/runs/{workflowId}/${decision}`] = {
      post: {
        summary: `${decision} what the run waits for (a recovery, a weekly upgrade); the token's name is recorded as who decided`,
        parameters: [{ name: 'workflowId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': { description: 'decided', content: { 'application/json': { schema: { type: 'object', properties: { workflowId: { type: 'string' }, approved: { type: 'boolean' }, by: { type: 'string' } } } } } },
          ...auth,
          '404': refused('no such run'),
          '409': refused('the run is not waiting for a decision'),
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'mcp-runbooks gateway', version: VERSION },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: error,
        AlertResults: {
          type: 'object',
          properties: {
            results: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  alert: { type: 'string' },
                  fingerprint: { type: 'string' },
                  rule: { type: 'string' },
                  host: { type: 'string' },
                  action: { type: 'string', enum: [...ALERT_ACTIONS] },
                  workflowId: { type: 'string' },
                  reason: { type: 'string' },
                },
                required: ['alert', 'fingerprint', 'action'],
              },
            },
          },
        },
        Started: { type: 'object', properties: { workflowId: { type: 'string' }, runId: { type: 'string' }, runbook: { type: 'string' }, host: { type: 'string' }, statusUrl: { type: 'string' }, deduplicated: { type: 'boolean' } }, required: ['workflowId', 'statusUrl'] },
        Run: {
          type: 'object',
          properties: {
            workflowId: { type: 'string' },
            runbook: { type: 'string' },
            host: { type: 'string' },
            status: { type: 'string', enum: ['RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT', 'CONTINUED_AS_NEW'] },
            startedAt: { type: 'string' },
            closedAt: { type: 'string' },
            progress: { type: 'object' },
            report: { type: 'object' },
            failure: { type: 'object', properties: { type: { type: 'string' }, message: { type: 'string' } } },
          },
        },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
