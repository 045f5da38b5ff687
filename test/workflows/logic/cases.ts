/**
 * The steps of backup and recovery a test can stop in: the activity to block,
 * the progress phase it runs in, and the undos that must follow, newest first
 * (registered before the step, so a step that is cut short is undone too).
 */
import type { HostActivityName } from '../../helpers/time-skipping.js';
import { BACKUP_PLAN, STAGED_PLAN } from './fixtures.js';

export interface StepCase {
  step: string;
  block: HostActivityName;
  match?: (args: unknown[]) => boolean;
  phase: string;
  /** The calls after the blocked one: the undos, newest first. */
  undos: string[];
  /** The failure's list of what was undone. */
  undone?: string;
}

const arg0 = (args: unknown[]) => args[0] as Record<string, unknown>;
const removeStaging = `removeStaging(${JSON.stringify({ stagingDir: BACKUP_PLAN.stagingDir })})`;
const startOne = (s: string) => `startServices(${JSON.stringify({ services: [s] })})`;

export const BACKUP_CASES: StepCase[] = [
  { step: 'plan', block: 'planBackup', phase: 'plan', undos: [] },
  { step: 'the database dump part', block: 'dumpDatabase', phase: 'snapshot', undos: [removeStaging], undone: 'remove staging' },
  {
    step: "svc-a's snapshot part",
    block: 'snapshotSource',
    match: (a) => (arg0(a).source as { archivePath: string }).archivePath === 'srv/a',
    phase: 'snapshot',
    undos: [startOne('svc-a'), removeStaging],
    undone: 'restart svc-a; remove staging',
  },
  {
    step: "svc-b's snapshot part",
    block: 'snapshotSource',
    match: (a) => (arg0(a).source as { archivePath: string }).archivePath === 'srv/b',
    phase: 'snapshot',
    undos: [startOne('svc-b'), removeStaging],
    undone: 'restart svc-b; remove staging',
  },
  { step: 'archive', block: 'createArchive', phase: 'archive', undos: [removeStaging], undone: 'remove staging' },
  { step: 'verify', block: 'verifyBackup', phase: 'verify', undos: [removeStaging], undone: 'remove staging' },
  { step: 'retention', block: 'applyRetention', phase: 'retention', undos: [removeStaging], undone: 'remove staging' },
];

const plan = STAGED_PLAN;
const [rootA, rootB] = plan.roots as [(typeof plan.roots)[0], (typeof plan.roots)[0]];
const cleanup = `cleanupRecovery(${JSON.stringify({ plan, keepPrevious: true })})`;
const startAll = [startOne('svc-a'), startOne('svc-b')];
const putBack = (root: typeof rootA) => `undoSwap(${JSON.stringify({ root })})`;
const putBackDb = `undoDatabaseSwap(${JSON.stringify({ plan })})`;
const stopBeforeRollback = `stopServices(${JSON.stringify({ services: plan.services })})`;
const CLEANUP = 'remove staging and recovery files';
const PUT_BACK_DB = `put back database mcp (kept as ${plan.dump!.swap!.previous})`;
const afterStart = [stopBeforeRollback, putBackDb, putBack(rootB), putBack(rootA), ...startAll, cleanup];
const afterStartText = `stop services before rolling back; ${PUT_BACK_DB}; put back /srv/b; put back /srv/a; start svc-a, svc-b; ${CLEANUP}`;

/** A recovery's steps (one pass, the database swapped in by rename). */
export const RECOVERY_CASES: StepCase[] = [
  // Cut short, the one pass's leftovers (this run's staging only) are removed; the run's failure lists no undo.
  { step: 'check and extract', block: 'stageRestore', phase: 'check and extract', undos: ['discardStaged(this run)'] },
  { step: 'staging database', block: 'stageRestoreDatabase', phase: 'restore database', undos: [cleanup], undone: CLEANUP },
  { step: 'stop', block: 'stopServices', phase: 'stop services', undos: [...startAll, cleanup], undone: `start svc-a, svc-b; ${CLEANUP}` },
  // The folders and the database swap side by side, every undo registered before the first swap.
  ...(
    [
      ['swap of the first folder', 'swapRoot', (a: unknown[]) => (arg0(a).root as { target: string }).target === '/srv/a'],
      ['swap of the second folder', 'swapRoot', (a: unknown[]) => (arg0(a).root as { target: string }).target === '/srv/b'],
      ['swap of the database', 'swapDatabase', undefined],
    ] as const
  ).map(([step, block, match]) => ({
    step,
    block,
    ...(match ? { match } : {}),
    phase: 'swap',
    undos: [putBackDb, putBack(rootB), putBack(rootA), ...startAll, cleanup],
    undone: `${PUT_BACK_DB}; put back /srv/b; put back /srv/a; start svc-a, svc-b; ${CLEANUP}`,
  })),
  // Started side by side, one activity per service.
  { step: 'start', block: 'startServices', match: (a) => (arg0(a).services as string[])[0] === 'svc-b', phase: 'start services', undos: afterStart, undone: afterStartText },
  { step: 'checks', block: 'postRecoveryChecks', phase: 'post-recovery checks', undos: afterStart, undone: afterStartText },
];
