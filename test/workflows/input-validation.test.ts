/**
 * Every bad input of every runbook, on the real dev server: a typo, a wrong type
 * for each field, null, arrays, extra fields. Each run fails at once as
 * InvalidInput naming the field, schedules no activity, is left running nowhere,
 * and is listed with McpOutcome=invalid-input.
 */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputJsonSchema } from '../../src/common/input-docs.js';
import { RUNBOOK_INPUTS, type RunbookType } from '../../src/common/inputs.js';
import { SEARCH_ATTRIBUTES } from '../../src/common/search-attributes.js';
import { startTestHost, type TestHost } from '../helpers/host.js';

let host: TestHost;
let client: Client;

beforeAll(async () => {
  host = await startTestHost({ hostId: 'input-host' });
  ({ client } = host);
}, 120_000);
afterAll(async () => {
  await host?.close();
});

const ARCHIVE = 'mcp_backup_20261124_020000.tar.gz';
/** The smallest valid input: what each wrong field is added to. */
const VALID: Record<RunbookType, Record<string, unknown>> = Object.fromEntries(
  (Object.keys(RUNBOOK_INPUTS) as RunbookType[]).map((r) => [r, r === 'disasterRecovery' ? { backup: ARCHIVE } : {}]),
) as Record<RunbookType, Record<string, unknown>>;

/** Values of the wrong type for a field of the given JSON Schema type. */
function wrongValues(type: string | undefined): unknown[] {
  switch (type) {
    case 'boolean':
      return ['false', 'yes', 1, null, [true]];
    case 'number':
      return ['30', null, true, [30], { minutes: 30 }];
    case 'array':
      return ['all', null, 1, { a: 1 }];
    default:
      return [1, null, true, ['a'], { a: 1 }];
  }
}

interface Case {
  runbook: RunbookType;
  input: unknown;
  field: string;
}

const cases: Case[] = [];
for (const runbook of Object.keys(RUNBOOK_INPUTS) as RunbookType[]) {
  const schema = inputJsonSchema(runbook);
  for (const [field, s] of Object.entries(schema.properties ?? {})) {
    for (const value of wrongValues(s.type)) cases.push({ runbook, input: { ...VALID[runbook], [field]: value }, field: `input.${field}` });
    cases.push({ runbook, input: { ...VALID[runbook], [field.toLowerCase() === field ? `${field}s` : field.toLowerCase()]: VALID[runbook][field] ?? 'x' }, field: `input.${field.toLowerCase() === field ? `${field}s` : field.toLowerCase()}` });
  }
  cases.push({ runbook, input: { ...VALID[runbook], extra: 1 }, field: 'input.extra' });
  cases.push({ runbook, input: [VALID[runbook]], field: 'input' });
  cases.push({ runbook, input: 42, field: 'input' });
}

describe('bad input, every runbook', () => {
  it(`${cases.length} bad inputs each fail at once as InvalidInput naming the field, with nothing run and nothing left running`, async () => {
    expect(cases.length).toBeGreaterThan(60);
    const t0 = Date.now();
    const results = await Promise.all(
      cases.map(async (c, i) => {
        const handle = await client.workflow.start(c.runbook, { taskQueue: host.sbx.config.temporal.taskQueue, workflowId: `bad-input-${i}-${t0}`, args: [c.input] });
        const err = await handle.result().then(
          () => undefined,
          (e: unknown) => e,
        );
        const history = await handle.fetchHistory();
        const description = await handle.describe();
        return { c, err, history, description };
      }),
    );
    for (const { c, err, history, description } of results) {
      const what = `${c.runbook} ${JSON.stringify(c.input)}`;
      expect(err, what).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause;
      expect(cause, what).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type, what).toBe('InvalidInput');
      expect(cause!.message, what).toContain(`${c.field}${c.field === 'input' ? ':' : ''}`);
      expect(cause!.message, what).toContain('Nothing ran.');
      expect(description.status.name, what).toBe('FAILED');
      const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes);
      expect(scheduled.length, `${what}: activities or local activities ran`).toBe(0);
      expect(description.searchAttributes[SEARCH_ATTRIBUTES.outcome], what).toEqual(['invalid-input']);
      expect(description.searchAttributes[SEARCH_ATTRIBUTES.runbook], what).toEqual([c.runbook]);
    }
    // "At once": the whole table, started side by side, is refused in seconds.
    expect(Date.now() - t0).toBeLessThan(60_000);
  }, 120_000);
});
