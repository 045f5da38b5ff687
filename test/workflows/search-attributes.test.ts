/**
 * Runs tell their outcome apart in the Temporal list: a dry run, a rejected and
 * a not-approved recovery and a real backup each carry McpRunbook, McpHost and
 * McpOutcome, found by the README's own `temporal workflow list --query`.
 */
import { execa } from 'execa';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { awaitPhase, pollUntil } from '../helpers/temporal.js';

let host: TestHost;
const HOST = 'sa-host';
const tag = String(Date.now());

beforeAll(async () => {
  host = await startTestHost({ hostId: HOST });
}, 120_000);
afterAll(async () => {
  await host?.close();
});

function start(type: string, input: unknown, name: string): Promise<WorkflowHandle> {
  return host.client.workflow.start(type, { taskQueue: host.sbx.config.temporal.taskQueue, workflowId: `sa-${name}-${tag}`, args: [input], staticSummary: `test ${name}` });
}

/** Workflow ids `temporal workflow list --query` prints for the query, among this file's runs. */
async function listed(query: string): Promise<string[]> {
  const r = await execa(inject('temporalBinary'), ['workflow', 'list', '--address', inject('temporalAddress'), '--query', query, '--output', 'json']);
  const rows = r.stdout.trim() ? (JSON.parse(r.stdout) as Array<{ execution: { workflowId: string } }>) : [];
  return rows.map((x) => x.execution.workflowId).filter((id) => id.endsWith(tag)).sort();
}

describe('search attributes', () => {
  it('dry run, rejected, not approved and a real backup are listed apart by McpOutcome', async () => {
    const backup = await start('backup', { hostId: HOST }, 'backup');
    const archive = ((await backup.result()) as { archive: { archive: string } }).archive.archive;
    const dry = await start('backup', { hostId: HOST, dryRun: true }, 'backup-dry');
    const recoveryDry = await start('disasterRecovery', { hostId: HOST, backup: archive, dryRun: true }, 'recover-dry');
    const rejected = await start('disasterRecovery', { hostId: HOST, backup: archive }, 'recover-rejected');
    const unapproved = await start('disasterRecovery', { hostId: HOST, backup: archive, approvalTimeoutMinutes: 0.02 }, 'recover-unapproved');
    await awaitPhase(rejected, 'awaiting approval');
    await rejected.executeUpdate('reject', { args: [{ by: 'test' }] });
    await Promise.all([dry, recoveryDry, rejected, unapproved].map((h) => h.result()));

    const byOutcome = async (q: string, expected: string[]) =>
      pollUntil(`list ${q}`, () => listed(q), (ids) => JSON.stringify(ids) === JSON.stringify([...expected].sort()), { timeoutMs: 20_000, intervalMs: 500 });
    await byOutcome("McpOutcome='dry-run' AND McpRunbook='backup'", [dry.workflowId]);
    await byOutcome("McpOutcome='dry-run' AND McpRunbook='disasterRecovery'", [recoveryDry.workflowId]);
    await byOutcome("McpOutcome='rejected'", [rejected.workflowId]);
    await byOutcome("McpOutcome='not-approved'", [unapproved.workflowId]);
    await byOutcome(`McpOutcome='success' AND McpHost='${HOST}'`, [backup.workflowId]);
    const d = await rejected.describe();
    expect(d.searchAttributes).toMatchObject({ McpRunbook: ['disasterRecovery'], McpHost: [HOST], McpOutcome: ['rejected'] });
  }, 120_000);
});
