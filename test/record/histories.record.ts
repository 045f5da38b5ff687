/**
 * Records one history of every runbook (and of the host lock) from the current
 * code into test/histories/, for test/workflows/replay.test.ts: a later change
 * that would break replay of runs in flight then fails `npm test`.
 *
 *   npm run histories:record
 *   HISTORIES=fleet npm run histories:record    # only these (comma-separated), the others kept
 *
 * Run it when a release changes a workflow on purpose (behind `patched()` for
 * runs in flight, or after they drained), and commit the files.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hostLockWorkflowId } from '../../src/common/host-lock.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { awaitPhase } from '../helpers/temporal.js';

const OUT = new URL('../histories/', import.meta.url).pathname;
const HOST = 'history-host';
/** In the inventory, with no worker: the fleet's history has an unreachable host too. */
const GHOST = 'history-ghost';
/** `HISTORIES=a,b`: record only these, keep the other files. */
const ONLY = process.env.HISTORIES?.split(',').filter(Boolean);
let host: TestHost;

beforeAll(async () => {
  host = await startTestHost({ hostId: HOST, hosts: [HOST, GHOST] });
}, 120_000);
afterAll(async () => {
  await host?.close();
});

function start(type: string, input: unknown, tag: string): Promise<WorkflowHandle> {
  return host.client.workflow.start(type, { taskQueue: host.sbx.config.temporal.taskQueue, workflowId: `history-${tag}`, args: [input] });
}

/**
 * Binary protobuf (`.binpb`), as the server sent it: the SDK's JSON reader
 * (historyFromJSON) breaks on this install's nested protobufjs, and the binary
 * form needs no conversion at all.
 */
async function save(name: string, handle: WorkflowHandle): Promise<void> {
  const history = await handle.fetchHistory();
  await writeFile(join(OUT, `${name}.binpb`), proto.temporal.api.history.v1.History.encode(history).finish());
}

const settle = (h: WorkflowHandle) => h.result().catch(() => undefined);

/**
 * A recovery in one pass (checked while staged, the database swapped in by rename), approved by update.
 * Kept beside `disasterRecovery-approved`, recorded before the one pass existed: both paths must replay.
 */
async function recordOnePassRecovery(): Promise<WorkflowHandle> {
  await settle(await start('backup', { hostId: HOST, reason: 'history one-pass recovery' }, 'disasterRecovery-one-pass-backup'));
  const list = (await (await start('listBackups', { hostId: HOST }, 'disasterRecovery-one-pass-list')).result()) as { backups: Array<{ archive: string }> };
  const h = await start('disasterRecovery', { hostId: HOST, backup: list.backups[0]!.archive, approvalTimeoutMinutes: 5 }, 'disasterRecovery-one-pass');
  await awaitPhase(h, 'awaiting approval');
  await h.executeUpdate('approve', { args: [{ by: 'history' }] });
  await settle(h);
  return h;
}

/** Histories that can be recorded alone (`HISTORIES=fleet`). */
const ALONE: Record<string, () => Promise<WorkflowHandle>> = { fleet: recordFleet, restoreDrill: recordRestoreDrill, 'disasterRecovery-one-pass': recordOnePassRecovery };

async function recordOnly(names: readonly string[]): Promise<void> {
  await mkdir(OUT, { recursive: true });
  for (const name of names) {
    const record = ALONE[name];
    if (!record) throw new Error(`HISTORIES: no recorder for "${name}" alone (known: ${Object.keys(ALONE).join(', ')}); run without HISTORIES to record every one`);
    await save(name, await record());
  }
}

/** A fleet over a host with a worker and one without, paused and resumed on the way. */
async function recordFleet(): Promise<WorkflowHandle> {
  const h = await start('fleet', { runbook: 'health-check', hosts: [HOST, GHOST], selector: 'all', policy: { maxParallel: 1, maxFailures: 1 } }, 'fleet');
  await h.executeUpdate('pause', { args: [{ by: 'history' }] });
  await h.executeUpdate('resume', { args: [{ by: 'history' }] });
  await settle(h);
  return h;
}

/** A drill of the newest verified backup (a backup is taken first). */
async function recordRestoreDrill(): Promise<WorkflowHandle> {
  await settle(await start('backup', { hostId: HOST, reason: 'history drill' }, 'restoreDrill-backup'));
  const h = await start('restoreDrill', { hostId: HOST }, 'restoreDrill');
  await settle(h);
  return h;
}

it(ONLY ? `records ${ONLY.join(', ')}` : 'records a history of every runbook', async () => {
  if (ONLY) return recordOnly(ONLY);
  await mkdir(OUT, { recursive: true });
  for (const f of await readdir(OUT)) if (f.endsWith('.binpb')) await rm(join(OUT, f));
  const runs: Array<[string, WorkflowHandle]> = [];
  const run = async (name: string, type: string, input: unknown) => {
    const h = await start(type, input, name);
    await settle(h);
    runs.push([name, h]);
    return h;
  };
  await run('healthCheck', 'healthCheck', { hostId: HOST });
  await run('backup', 'backup', { hostId: HOST, reason: 'history' });
  await run('backup-dry-run', 'backup', { hostId: HOST, dryRun: true });
  await run('backup-invalid-input', 'backup', { hostid: HOST });
  const list = (await (await run('listBackups', 'listBackups', { hostId: HOST })).result()) as { backups: Array<{ archive: string }> };
  const archive = list.backups[0]!.archive;
  await run('verifyBackups', 'verifyBackups', { hostId: HOST, all: true });
  await run('disasterRecovery-dry-run', 'disasterRecovery', { hostId: HOST, backup: archive, dryRun: true });
  const rejected = await start('disasterRecovery', { hostId: HOST, backup: archive }, 'disasterRecovery-rejected');
  await awaitPhase(rejected, 'awaiting approval');
  await rejected.executeUpdate('reject', { args: [{ by: 'history' }] });
  await settle(rejected);
  runs.push(['disasterRecovery-rejected', rejected]);
  const approved = await start('disasterRecovery', { hostId: HOST, backup: archive, approvalTimeoutMinutes: 5 }, 'disasterRecovery-approved');
  await awaitPhase(approved, 'awaiting approval');
  await approved.executeUpdate('approve', { args: [{ by: 'history' }] });
  await settle(approved);
  runs.push(['disasterRecovery-approved', approved]);
  await run('dailyMaintenance', 'dailyMaintenance', { hostId: HOST });
  await run('weeklyMaintenance', 'weeklyMaintenance', { hostId: HOST });
  await run('monthlyMaintenance', 'monthlyMaintenance', { hostId: HOST });
  await run('restartService', 'restartService', { hostId: HOST, service: 'mcp-memory', reason: 'history' });
  runs.push(['fleet', await recordFleet()]);
  runs.push(['restoreDrill', await recordRestoreDrill()]);
  for (const [name, h] of runs) await save(name, h);
  // The lock's own history (still running or ended idle; either replays).
  await save('hostLock', host.client.workflow.getHandle(hostLockWorkflowId(HOST)));
  expect((await readdir(OUT)).filter((f) => f.endsWith('.binpb')).length).toBe(runs.length + 1);
}, 600_000);
