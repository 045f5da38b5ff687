import type { RestartHistory, RestartResult } from '../activities/remediation.js';
import { restartServiceInput, type RestartServiceInput } from '../common/inputs.js';
import { buildReport, finding, type Finding, type RunbookReport } from '../common/report.js';
import { runbook } from './runbook.js';
import { failedWith, failureMessage, startEach } from './shared.js';
import { ApplicationFailure, isCancellation } from '@temporalio/workflow';
import { RUNBOOK_FAILURES } from '../common/failures.js';
import { stopIfUnchanged } from './stop-if-unchanged.js';

export type { RestartServiceInput };

export interface RestartServiceResult extends RunbookReport {
  service: string;
  /** The restart, when one was made; absent when it was refused as flapping, or stopped. */
  restart?: RestartResult;
  /** Restarts of this service the host recorded within the window, before this one (empty when stopped before it read them). */
  recentRestarts: string[];
  /** True when the restart was refused: the service was restarted too often within the window. */
  refused: boolean;
  /** Why the run stopped before it changed anything (the `stopIfUnchanged` update, e.g. its alert resolved); the outcome is `cancelled`. */
  stopped?: string;
}

/**
 * Remediation: restart one service under the host lock and check it (active;
 * the memory service's `/get_stats`; the database's `SELECT 1`). A service
 * restarted `remediation.maxRestarts` times within `remediation.windowMinutes`
 * is not restarted again: the run reports a `fail` finding instead, so the
 * alert that asked for it stays on and a human is paged instead of a flapping loop.
 * Until the restart begins, the `stopIfUnchanged` update stops the run (the
 * gateway sends it when the alert resolves); from then on it is refused.
 */
export const restartService = runbook(
  'restartService',
  restartServiceInput,
  {
    // The lock is taken inside the stoppable steps: a stop while the run waits for it withdraws the request.
    lock: 'steps',
    budget: { lockWaits: 1, work: '1 hour' },
    summary: (input, host) => `restart ${input.service} on ${host}${input.reason ? `: ${input.reason}` : ''}`,
    outcome: (r: RestartServiceResult) => (r.stopped !== undefined ? 'cancelled' : 'success'),
    handlers: (_input, progress) => stopIfUnchanged(progress),
  },
  async (ctx, { service }, stop): Promise<RestartServiceResult> => {
    const { acts, hostId, startedAt, progress } = ctx;
    const findings: Finding[] = [];
    let recentRestarts: string[] = [];
    const result = (extra: Partial<RestartServiceResult>): RestartServiceResult => ({
      ...buildReport({ runbook: 'restartService', hostId, startedAt, finishedAt: new Date(), findings }),
      service,
      recentRestarts,
      refused: false,
      ...extra,
    });
    const ran = await stop.run(() =>
      ctx.locked(async () => {
        progress.set('history');
        const history: RestartHistory = await acts.restartHistory({ service }).catch((err: unknown) => {
          // A service this host does not run is bad input, refused before anything changed.
          if (failedWith(err, 'ServiceNotConfiguredError')) throw ApplicationFailure.nonRetryable(`restartService input is invalid: input.service: ${failureMessage(err)}. Nothing ran.`, RUNBOOK_FAILURES.InvalidInput);
          throw err;
        });
        recentRestarts = history.restarts;
        if (history.restarts.length >= history.maxRestarts) {
          findings.push(
            finding(
              'restart.flapping',
              'fail',
              `${service} was restarted ${history.restarts.length} times in the last ${history.windowMinutes} minutes (limit ${history.maxRestarts}): not restarting it again; find out why it keeps failing`,
              { service, restarts: history.restarts, maxRestarts: history.maxRestarts, windowMinutes: history.windowMinutes },
            ),
          );
          return result({ refused: true });
        }
        stop.beginChanging();
        progress.set('restart');
        let restart: RestartResult | undefined;
        // Cancelled or out of time mid-restart (between its stop and its start): the wrapper starts the service again.
        const forget = ctx.undo.add(`start ${service}`, () => startEach(acts, [service]));
        try {
          restart = await acts.restartService({ service });
          findings.push(finding('restart.done', 'ok', `${service} restarted (was ${restart.before}); active after ${restart.seconds}s`, { ...restart }));
        } catch (err) {
          if (isCancellation(err)) throw err;
          // It did not come back within its retries: the checks below say how, and the run reports it rather than failing.
          findings.push(finding('restart.done', 'fail', `${service} did not come back after the restart: ${failureMessage(err)}`, { service }));
        }
        forget();
        progress.set('verify');
        findings.push(...(await acts.verifyService({ service })));
        return result(restart ? { restart } : {});
      }),
    );
    if ('value' in ran) return ran.value;
    progress.set('stopped', ran.stopped);
    findings.push(finding('restart.stopped', 'ok', `${service} was not restarted: stopped before anything changed (${ran.stopped})`, { service, reason: ran.stopped }));
    return result({ stopped: ran.stopped });
  },
);
