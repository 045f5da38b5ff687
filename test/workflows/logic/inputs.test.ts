/**
 * Bad input, for every runbook and every field of its schema: a typo, a wrong
 * type (strings for booleans, numbers as strings, null, arrays, objects), an
 * extra field, an input that is not an object. Each fails at once with
 * InvalidInput naming the field; no activity ran (not even routing), and nothing
 * is left running (no host lock workflow was started).
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNBOOK_FAILURES } from '../../../src/common/failures.js';
import { hostLockWorkflowId } from '../../../src/common/host-lock.js';
import { RUNBOOK_INPUTS } from '../../../src/common/inputs.js';
import { LogicEnv } from '../../helpers/time-skipping.js';
import { ARCHIVE, newFakes } from './fixtures.js';
import { applicationFailureOf } from './traces.js';

/** Values of the wrong type for a field of each type. */
const WRONG: Record<string, unknown[]> = {
  string: [42, true, null, [], {}],
  boolean: ['false', 'true', 0, null, [], {}],
  number: ['10', true, null, [], {}],
  array: ['a.tar.gz', 1, null, {}],
};

/** An input each runbook accepts, so one wrong field is the only problem. */
const VALID: Record<keyof typeof RUNBOOK_INPUTS, Record<string, unknown>> = {
  healthCheck: {},
  backup: {},
  disasterRecovery: { backup: ARCHIVE },
  listBackups: {},
  verifyBackups: {},
  dailyMaintenance: {},
  weeklyMaintenance: {},
  monthlyMaintenance: {},
  restartService: { service: 'mcp-memory' },
  restoreDrill: {},
};

function fieldType(schema: z.ZodType): string {
  let t = schema as unknown as { def: { type: string; innerType?: unknown } };
  while (t.def.type === 'optional') t = t.def.innerType as typeof t;
  return t.def.type;
}

interface BadInput {
  runbook: keyof typeof RUNBOOK_INPUTS;
  what: string;
  input: unknown;
  /** The one problem expected, as a regexp over `input.<field>: ...`. */
  problem: RegExp;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const cases: BadInput[] = [];
for (const [runbook, schema] of Object.entries(RUNBOOK_INPUTS) as Array<[keyof typeof RUNBOOK_INPUTS, (typeof RUNBOOK_INPUTS)[keyof typeof RUNBOOK_INPUTS]]>) {
  const valid = VALID[runbook];
  cases.push({ runbook, what: 'typo hostid', input: { ...valid, hostid: 'h' }, problem: /^input\.hostid: unknown field \(fields: .*hostId.*\)$/ });
  cases.push({ runbook, what: 'extra field', input: { ...valid, force: true }, problem: /^input\.force: unknown field/ });
  cases.push({ runbook, what: 'an array', input: [valid], problem: /^input: expected object, got an array$/ });
  cases.push({ runbook, what: 'a number', input: 5, problem: /^input: expected object, got number 5$/ });
  for (const [field, fieldSchema] of Object.entries(schema.shape) as Array<[string, z.ZodType]>) {
    const type = fieldType(fieldSchema);
    const wrong = WRONG[type];
    if (!wrong) throw new Error(`${runbook}.${field}: no wrong values for type ${type}; add them to WRONG`);
    for (const v of wrong) {
      cases.push({ runbook, what: `${field} = ${JSON.stringify(v)}`, input: { ...valid, [field]: v }, problem: new RegExp(`^input\\.${esc(field)}: expected ${type}, got `) });
    }
  }
}

const fakes = newFakes();
let env: LogicEnv;

beforeAll(async () => {
  env = await LogicEnv.start({ hosts: ['h'], fakes, lock: 'real' });
});
afterAll(async () => {
  await env?.teardown();
});

describe('bad input fails at once with InvalidInput naming the field; nothing ran', () => {
  it('covers every field of every runbook', () => {
    for (const [runbook, schema] of Object.entries(RUNBOOK_INPUTS)) {
      for (const field of Object.keys(schema.shape)) expect(cases.some((c) => c.runbook === runbook && c.what.startsWith(`${field} = `)), `${runbook}.${field}`).toBe(true);
    }
  });

  it.each(cases.map((c, i) => [c.runbook, c.what, i, c] as const))('%s: %s', async (runbook, _what, i, c) => {
    const workflowId = `input-${runbook}-${i}`;
    const handle = await env.start(runbook, c.input, workflowId);
    const failure = await applicationFailureOf(handle);
    expect(failure.type).toBe(RUNBOOK_FAILURES.InvalidInput);
    expect(failure.nonRetryable).toBe(true);
    const problems = (failure.details?.[0] as { problems: string[] }).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(c.problem);
    expect(failure.message).toBe(`${runbook} input is invalid: ${problems[0]}. Nothing ran.`);

    expect(fakes.of(workflowId)).toEqual([]);
    expect(env.orchestratorCalls.filter((o) => o.workflowId === workflowId)).toEqual([]);
    expect(env.ends.find((e) => e.workflowId === workflowId)).toMatchObject({ runbook, hostId: 'unknown', outcome: 'invalid-input' });
    expect((await handle.describe()).status.name).toBe('FAILED');
    await expect(env.client.workflow.getHandle(hostLockWorkflowId('h')).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });
});
