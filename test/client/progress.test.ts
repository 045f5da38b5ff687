/**
 * The CLI's progress follower on a real dev server and worker: every phase a
 * runbook went through is printed once, in order, even the ones that began and
 * ended between two polls.
 */
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followProgress } from '../../src/client/progress.js';
import { startRunbook } from '../../src/client/run-runbook.js';
import type { RunbookProgress } from '../../src/common/progress.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import type { TestSandbox } from '../helpers/sandbox.js';

let host: TestHost;
let sbx: TestSandbox;
let client: Client;

beforeAll(async () => {
  host = await startTestHost({ hostId: 'progress-host', extra: { thresholds: { diskPercent: 99, memoryPercent: 99 } } });
  ({ sbx, client } = host);
});
afterAll(() => host?.close());

const asLine = (p: { phase: string; detail?: string }) => `${p.phase}${p.detail ? ` (${p.detail})` : ''}`;

describe('followProgress', () => {
  it('with one poll an hour, still prints every phase of a finished runbook once, in order', async () => {
    const handle = await startRunbook({ client, config: sbx.config, runbook: 'daily', hostId: 'progress-host' });
    const lines: string[] = [];
    const done = followProgress(handle, (line) => lines.push(line), { intervalMs: 3_600_000 });
    await handle.result();
    await done();
    const final = await handle.query<RunbookProgress>('progress');
    const phases = final.phases.map(asLine);
    // The daily runbook's five steps, each its own phase, all after the first poll.
    expect(phases.filter((p) => /\(step \d of 5\)$/.test(p))).toHaveLength(5);
    expect(lines.filter((l) => !l.startsWith('  '))).toEqual(phases);
  }, 120_000);

  it('does not repeat the phases an earlier watch already showed', async () => {
    const handle = await startRunbook({ client, config: sbx.config, runbook: 'daily', hostId: 'progress-host' });
    await handle.result();
    const all = (await handle.query<RunbookProgress>('progress')).phases.map(asLine);
    expect(all.length).toBeGreaterThan(2);
    const lines: string[] = [];
    await followProgress(handle, (line) => lines.push(line), { shownPhases: 2 })();
    expect(lines).toEqual(all.slice(2));
  }, 60_000);
});
