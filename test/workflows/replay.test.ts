/**
 * Committed histories of every runbook (test/histories/, recorded with
 * `npm run histories:record`) replay on the current workflow code: a change
 * that would break runs in flight fails here instead of in production.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { RUNBOOK_INPUTS } from '../../src/common/inputs.js';
import { workflowBundle } from '../helpers/temporal.js';

const DIR = new URL('../histories/', import.meta.url).pathname;
const { History } = proto.temporal.api.history.v1;

describe('replay of committed histories', () => {
  it('every runbook, the host lock and the fleet have a history, and each replays without a nondeterminism error', async () => {
    const files = (await readdir(DIR)).filter((f) => f.endsWith('.binpb')).sort();
    // Replayed under the id the recorder gave each run (`history-<name>`): the fleet derives its children's ids from its own.
    const histories = await Promise.all(files.map(async (f) => ({ workflowId: `history-${f.replace(/\.binpb$/, '')}`, history: History.decode(await readFile(join(DIR, f))) })));
    const types = new Set(histories.map((h) => h.history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name));
    expect([...types].sort()).toEqual([...Object.keys(RUNBOOK_INPUTS), 'hostLock', 'fleet'].sort());
    const sinks = { runbooks: { ended: { fn: () => undefined }, target: { fn: () => undefined } } };
    const replayed: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: workflowBundle(), sinks }, histories)) {
      expect(result.error, `replay of ${result.workflowId}: ${String(result.error)}`).toBeUndefined();
      replayed.push(result.workflowId);
    }
    expect(replayed.sort()).toEqual(histories.map((h) => h.workflowId).sort());
  }, 120_000);
});
