import { ApplicationFailure, isCancellation } from '@temporalio/workflow';
import type { DrillPlan } from '../activities/drill.js';
import { restoreDrillInput, type RestoreDrillInput } from '../common/inputs.js';
import { buildReport, finding, type Finding, type RunbookReport } from '../common/report.js';
import { leaseFor, withRepositoryLease } from './repository-lease.js';
import { runbook, type RunbookContext } from './runbook.js';
import { failedWith, failureMessage } from './shared.js';

export type { RestoreDrillInput };

/** What a drill reports: its findings, the backup and target it restored, and the measured restore time. */
export interface RestoreDrillResult extends RunbookReport {
  archive: string;
  /** The target it was read from (`archive`: the backups folder). */
  target: string;
  /**
   * Seconds the physical restore took: extracting every folder and restoring the database into scratch
   * copies. The recovery time objective this backup can really meet, before services are stopped and started.
   */
  restoreSeconds: number;
  durations: { fetchSeconds?: number; inspectSeconds: number; extractSeconds: number; databaseSeconds?: number; checkSeconds: number; totalSeconds: number };
  files: number;
  bytes: number;
  /** What did not match: files, tables, the validate command. Empty for a drill that passed. */
  mismatches: string[];
}

/** The label of the backups folder as a drill's target (what the metrics show). */
export const ARCHIVE_TARGET = 'archive';
const tenths = (ms: number) => Math.round(ms / 100) / 10;

/**
 * Proof that a backup restores: the newest verified backup (or `backup`), from
 * the backups folder or a restic `target`, restored into scratch copies on the
 * host (never the live folders, database or services), every file checked
 * against the manifest's sha256 and every table's rows against the counts of
 * the dump's snapshot, then the configured drill validate command. The scratch
 * copies are removed whatever happens (success, a mismatch, a failure, a
 * cancel). Takes no host lock: it changes nothing the host serves. A drill
 * with a mismatch fails as `RestoreDrillFailed`, its report in the details.
 */
export const restoreDrill = runbook(
  'restoreDrill',
  restoreDrillInput,
  {
    lock: 'none',
    budget: { lockWaits: 0, work: '16 hours' },
    failure: 'RestoreDrillFailed',
    summary: (i, host) => `restore drill on ${host}${i.backup ? ` of ${i.backup}` : ''}${i.target ? ` from ${i.target}` : ''}`,
  },
  async (ctx, input): Promise<RestoreDrillResult> => {
    const t0 = Date.now();
    const findings: Finding[] = [];
    const durations: Partial<RestoreDrillResult['durations']> = {};
    const timed = async <T>(key: keyof RestoreDrillResult['durations'], fn: () => Promise<T>): Promise<T> => {
      const s = Date.now();
      try {
        return await fn();
      } finally {
        durations[key] = tenths(Date.now() - s);
      }
    };
    const { archive, fromDir, target } = await timed('fetchSeconds', () => source(ctx, input, findings));
    if (fromDir) ctx.undo.addCleanup(`remove the copy fetched from ${target}`, () => [fromDir], () => ctx.acts.removeFetched({ dir: fromDir }));

    let plan: DrillPlan;
    try {
      ctx.progress.set('inspect', archive);
      plan = await timed('inspectSeconds', () => ctx.acts.inspectDrill({ archive, workflowId: ctx.workflowId, runId: ctx.runId, ...(fromDir ? { fromDir } : {}) }));
    } catch (err) {
      if (isCancellation(err)) throw err;
      throw ApplicationFailure.nonRetryable(`${failureMessage(err)}. Nothing was restored.`, failedWith(err, 'RestoreRefusedError') ? 'RestoreRefused' : 'RestoreDrillFailed');
    }
    findings.push(finding('drill.inspect', 'ok', `${archive} matches its manifest and is safe to restore: ${plan.roots.length} folders${plan.dump ? ' and a database dump' : ''}`, { space: plan.space }));
    if (plan.databaseSpaceUnchecked) findings.push(finding('drill.database-space', 'warn', `room for the scratch database on PostgreSQL's disk was not checked: ${plan.databaseSpaceUnchecked}`, {}));
    // Registered before anything is written: a failure, a cancel or the deadline removes the scratch copies too.
    const drop = ctx.undo.addCleanup('remove the drill\'s scratch copies', () => [plan.scratchDir, ...(plan.dump ? [`database ${plan.dump.scratchDatabase}`] : [])], () => ctx.acts.cleanupDrill({ plan }));

    ctx.progress.set('extract', `${plan.roots.length} folders into ${plan.scratchDir}`);
    const extracted = await timed('extractSeconds', () => ctx.acts.extractDrill({ plan }));
    let restoreSeconds = extracted.seconds;
    if (plan.dump) {
      ctx.progress.set('restore database', plan.dump.scratchDatabase);
      restoreSeconds += (await timed('databaseSeconds', () => ctx.acts.restoreDrillDatabase({ plan }))).seconds;
    }
    ctx.progress.set('check', `${plan.digests} files, ${plan.dump?.tables ?? 0} tables`);
    const checked = await timed('checkSeconds', () => ctx.acts.checkDrill({ plan }));
    findings.push(...checked.findings);

    ctx.progress.set('clean up', plan.scratchDir);
    // The undo stays registered until the cleanup is done: a cancel during it still removes the copies.
    const { removed } = await ctx.acts.cleanupDrill({ plan });
    drop();
    findings.push(finding('drill.cleanup', 'ok', `removed ${removed.join(', ') || 'nothing (already gone)'}`, {}));
    if (fromDir) await ctx.acts.removeFetched({ dir: fromDir });

    const result: RestoreDrillResult = {
      ...buildReport({ runbook: 'restoreDrill', hostId: ctx.hostId, startedAt: ctx.startedAt, finishedAt: new Date(), findings }),
      archive,
      target,
      restoreSeconds: tenths(restoreSeconds * 1000),
      durations: { ...durations, totalSeconds: tenths(Date.now() - t0) } as RestoreDrillResult['durations'],
      files: extracted.files,
      bytes: extracted.bytes,
      mismatches: checked.mismatches,
    };
    if (checked.mismatches.length) {
      throw ApplicationFailure.nonRetryable(
        `the restore of ${archive} (${target}) does not match the backup: ${checked.mismatches.slice(0, 10).join('; ')}${checked.mismatches.length > 10 ? `; and ${checked.mismatches.length - 10} more` : ''}`,
        'RestoreDrillFailed',
        result,
      );
    }
    return result;
  },
);

/** Which backup, read from where: the backups folder, or a restic target (fetched into a private folder first). */
async function source(ctx: RunbookContext, input: RestoreDrillInput, findings: Finding[]): Promise<{ archive: string; target: string; fromDir?: string }> {
  const targets = input.target === undefined ? [] : await ctx.acts.describeTargets();
  const t = input.target === undefined ? undefined : targets.find((x) => x.name === input.target);
  if (input.target !== undefined && !t) {
    throw ApplicationFailure.nonRetryable(`host ${ctx.hostId} has no backup target "${input.target}" (config backup.targets: ${targets.map((x) => x.name).join(', ') || 'none'})`, 'RestoreRefused');
  }
  if (!t || t.type === 'archive') {
    ctx.progress.set('pick', input.backup ?? 'the newest verified backup');
    const archive = input.backup ?? (await ctx.acts.newestVerifiedBackup()).archive;
    return { archive, target: t?.name ?? ARCHIVE_TARGET };
  }
  let archive = input.backup;
  if (archive === undefined) {
    const stored = (await ctx.acts.listTargetBackups({ target: t.name })).filter((b) => b.kind !== 'emergency').sort((a, b) => (a.archive < b.archive ? 1 : -1));
    const newest = stored.find((b) => b.verified?.ok !== false);
    if (!newest) throw ApplicationFailure.nonRetryable(`target ${t.name} holds no backup of host ${ctx.hostId}; run \`mcp-runbooks run backup\` first`, 'RestoreRefused');
    archive = newest.archive;
  }
  const name = archive;
  // Shared with backups: a prune (which runs alone) cannot remove what is being read.
  const fetched = await withRepositoryLease(leaseFor(ctx, t, 'shared'), ctx.progress, () => {
    ctx.progress.set('fetch', `${name} from ${t.name} (${t.location})`);
    return ctx.acts.fetchFromTarget({ target: t.name, archive: name, workflowId: ctx.workflowId, runId: ctx.runId });
  });
  findings.push(finding('drill.fetch', 'ok', `${name} read from target ${t.name} (${t.location}): ${fetched.bytes} bytes`, { target: t.name }));
  return { archive: name, target: t.name, fromDir: fetched.dir };
}
