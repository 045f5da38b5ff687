/**
 * System package updates (apt): list pending and security updates; install
 * them only when the config allows it or an operator approved this run (seed
 * defect 9 ran `apt upgrade -y` unattended).
 */
import { finding, type Finding } from '../../common/report.js';
import type { Config } from '../../config/config.js';
import { parsePendingUpdates, type PendingUpdate } from '../../maintenance/packages.js';
import { lastLines, runCommand } from '../../maintenance/run-command.js';
import { activitySignal, trackStep } from '../context.js';
import { count } from '../../common/words.js';

export interface MaintenancePackageDeps {
  config: Pick<Config, 'maintenance'>;
}

/** What the package check found, and what this host's config says about upgrading. */
export interface PackageCheck {
  findings: Finding[];
  /** Whether the listing worked; false: nothing is known about pending updates. */
  listed: boolean;
  pending: number;
  security: number;
  /** Names of the pending packages (at most 200). */
  packages: string[];
  policy: { allowUpgrades: boolean; approvalTimeoutMinutes: number };
}

const NONINTERACTIVE = { DEBIAN_FRONTEND: 'noninteractive', NEEDRESTART_MODE: 'l' };
const names = (list: readonly PendingUpdate[], n: number) => `${list.slice(0, n).map((p) => p.name).join(', ')}${list.length > n ? `, … (${list.length - n} more)` : ''}`;

export function createMaintenancePackageActivities({ config }: MaintenancePackageDeps) {
  const p = config.maintenance.packages;
  const timeoutMs = p.timeoutMinutes * 60_000;
  const policy = { allowUpgrades: p.allowUpgrades, approvalTimeoutMinutes: p.upgradeApprovalTimeoutMinutes };

  const list = async (signal: AbortSignal | undefined) => {
    const r = await runCommand(p.listCommand, { timeoutMs, signal, onOutputLines: trackStep('packages: list updates', 'lines') });
    if (r.notFound) return { ok: false as const, status: 'warn' as const, why: `${p.listCommand[0]} not found: this host's package updates were not checked (not a Debian/Ubuntu host?)` };
    if (r.exitCode !== 0) return { ok: false as const, status: 'fail' as const, why: `\`${p.listCommand.join(' ')}\` ${r.timedOut ? 'timed out' : `failed (exit ${String(r.exitCode)})`}: ${r.error ?? lastLines(r.output)}` };
    return { ok: true as const, updates: parsePendingUpdates(r.stdout) };
  };

  return {
    /**
     * Refreshes the package lists (`refreshCommand`, unless false) and lists
     * pending updates. Pending updates are an `ok` finding that lists them;
     * pending security updates are a `warn`; lists that could not be
     * refreshed make the count a `warn` (it may be stale).
     */
    async checkPackages(): Promise<PackageCheck> {
      const signal = activitySignal();
      let refreshProblem: string | undefined;
      if (p.refreshCommand) {
        const r = await runCommand(p.refreshCommand, { timeoutMs, signal, env: NONINTERACTIVE, onOutputLines: trackStep('packages: refresh lists', 'lines') });
        if (r.exitCode !== 0) refreshProblem = `\`${p.refreshCommand.join(' ')}\` ${r.notFound ? 'is not installed' : `failed: ${r.error ?? lastLines(r.output, 3)}`}`;
      }
      const l = await list(signal);
      if (!l.ok) {
        return { findings: [finding('packages.updates', l.status, l.why, { listCommand: p.listCommand })], listed: false, pending: 0, security: 0, packages: [], policy };
      }
      const security = l.updates.filter((u) => u.security);
      const data = {
        pending: l.updates.length,
        security: security.length,
        listsRefreshed: Boolean(p.refreshCommand) && !refreshProblem,
        ...(refreshProblem ? { refreshProblem } : {}),
        packages: l.updates.slice(0, 200).map((u) => ({ name: u.name, version: u.version, ...(u.from ? { from: u.from } : {}), origins: u.origins, security: u.security })),
      };
      const pending = `${count(l.updates.length, 'package update')} pending${l.updates.length ? `: ${names(l.updates, 10)}` : ''}`;
      const findings: Finding[] = [
        refreshProblem
          ? finding('packages.updates', 'warn', `package lists could not be refreshed (${refreshProblem}); ${pending} according to the lists as they are`, data)
          : finding('packages.updates', 'ok', pending, data),
        security.length
          ? finding('packages.security', 'warn', `${count(security.length, 'security update')} pending: ${names(security, 10)}`, {
              security: security.length,
              packages: security.slice(0, 200).map((u) => ({ name: u.name, version: u.version, origins: u.origins })),
            })
          : finding('packages.security', 'ok', 'no security updates pending', { security: 0 }),
      ];
      return { findings, listed: true, pending: l.updates.length, security: security.length, packages: l.updates.slice(0, 200).map((u) => u.name), policy };
    },

    /**
     * Installs pending updates with `upgradeCommand` (non-interactive) and lists
     * again to report what is left. Called only when the config allows it or an
     * operator approved; `by` says which, for the record.
     */
    async upgradePackages(req: { by: string; approved?: { pending: number; packages: string[] } }): Promise<Finding> {
      const signal = activitySignal();
      if (req.approved) {
        // An approval covers what the operator was shown, not whatever is pending hours later.
        const now = await list(signal);
        const shown = new Set(req.approved.packages);
        // Names are compared when the operator saw them all (the listing shows at most 200); else only the count.
        const complete = req.approved.packages.length === req.approved.pending;
        const added = now.ok && complete ? now.updates.map((u) => u.name).filter((n) => !shown.has(n)) : [];
        if (!now.ok || now.updates.length > req.approved.pending || added.length > 0) {
          return finding(
            'packages.upgrade',
            'warn',
            `nothing installed: the pending updates changed since they were approved (${req.by})${added.length ? `; new: ${added.slice(0, 20).join(', ')}` : now.ok ? '' : `; ${now.why}`}. Run weekly maintenance again to approve the current list`,
            { by: req.by, approved: req.approved.pending, ...(now.ok ? { pendingNow: now.updates.length, added } : {}), installed: false },
          );
        }
      }
      const r = await runCommand(p.upgradeCommand, { timeoutMs, signal, env: NONINTERACTIVE, onOutputLines: trackStep('packages: upgrade', 'lines') });
      const data = { argv: p.upgradeCommand, by: req.by, exitCode: r.exitCode ?? null, output: r.output.trim().split('\n').slice(-20) };
      if (r.exitCode !== 0) {
        return finding('packages.upgrade', 'fail', `\`${p.upgradeCommand.join(' ')}\` (${req.by}) ${r.notFound ? 'is not installed' : r.timedOut ? `did not finish within ${p.timeoutMinutes} minutes` : `failed (exit ${String(r.exitCode)})`}: ${r.error ?? lastLines(r.output, 3)}`, data);
      }
      const after = await list(signal);
      const left = after.ok ? after.updates.length : undefined;
      return finding('packages.upgrade', 'ok', `updates installed (${req.by})${left === undefined ? '' : `; ${left} still pending`}`, { ...data, ...(left === undefined ? {} : { stillPending: left }) });
    },
  };
}
