/**
 * The monthly security review (seed 4.3): audit subsystem, the service account,
 * permission modes under the install root and config folder, TLS certificate
 * expiry. Reads only: it installs and enables nothing (the seed ran
 * `apt install -y auditd` from a cron job).
 */
import { basename } from 'node:path';
import { errorMessage } from '../../common/errors.js';
import { finding, type Finding } from '../../common/report.js';
import type { Config } from '../../config/config.js';
import { groupsOf, isNoLoginShell, parseGroupLines, parsePasswdLine } from '../../maintenance/accounts.js';
import { parseAuditStatus } from '../../maintenance/audit.js';
import { readCertificates } from '../../maintenance/certificates.js';
import { octal, scanPermissions } from '../../maintenance/permissions.js';
import { lastLines, runCommand } from '../../maintenance/run-command.js';
import { activitySignal, trackStep, rethrowIfCancelled } from '../context.js';
import { count } from '../../common/words.js';

export interface MaintenanceSecurityDeps {
  config: Pick<Config, 'maintenance'>;
  /** @default getent */
  getent?: string;
}

/** Groups whose members can become root or read every log. */
export const PRIVILEGED_GROUPS = ['root', 'sudo', 'wheel', 'admin', 'adm', 'docker', 'lxd', 'disk', 'shadow'] as const;

const COMMAND_TIMEOUT_MS = 30_000;
const DAY_MS = 86_400_000;

export function createMaintenanceSecurityActivities({ config, getent = 'getent' }: MaintenanceSecurityDeps) {
  const s = config.maintenance.security;
  return {
    /** `auditctl -s`: enabled with a daemon is `ok`; disabled, no daemon, not installed or unreadable is a `warn` saying what to do. */
    async auditStatus(): Promise<Finding> {
      const argv = s.auditStatusCommand;
      const r = await runCommand(argv, { timeoutMs: COMMAND_TIMEOUT_MS, signal: activitySignal() });
      if (r.notFound) {
        return finding('security.audit', 'warn', `${argv[0]} not found: auditd is not installed, so nothing records security events (install the auditd package and enable its service)`, { argv, installed: false });
      }
      if (r.exitCode !== 0) {
        return finding('security.audit', 'warn', `the audit subsystem's state cannot be read: \`${argv.join(' ')}\` ${r.timedOut ? 'timed out' : `exited with ${String(r.exitCode)}`}: ${r.error ?? lastLines(r.output, 2)}`, { argv, installed: true, exitCode: r.exitCode ?? null });
      }
      try {
        const a = parseAuditStatus(r.stdout);
        const data = { argv, installed: true, ...a.fields };
        if (a.enabled === 0) return finding('security.audit', 'warn', 'the audit subsystem is disabled: enable it persistently (auditd service, `-e 1` in /etc/audit/rules.d)', data);
        if (a.pid === 0) return finding('security.audit', 'warn', 'the audit subsystem is enabled but no auditd daemon receives its events: start the auditd service', data);
        return finding('security.audit', 'ok', `the audit subsystem is enabled${a.enabled === 2 ? ' and locked' : ''}; auditd runs as pid ${a.pid}`, data);
      } catch (err) {
        return finding('security.audit', 'warn', `cannot read the output of \`${argv.join(' ')}\`: ${errorMessage(err)}`, { argv, installed: true });
      }
    },

    /**
     * The service account (seed: `getent passwd | grep mcp-service`): missing is a
     * `warn`; uid 0 is a `fail`; a login shell or membership of a privileged
     * group is a `warn`.
     */
    async serviceUserAccess(): Promise<Finding> {
      const user = s.serviceUser;
      const signal = activitySignal();
      const pw = await runCommand([getent, 'passwd', user], { timeoutMs: COMMAND_TIMEOUT_MS, signal });
      if (pw.notFound) return finding('security.user', 'warn', `${getent} not found: the service user's accounts and groups cannot be reviewed`, { user });
      // getent exits 2 when the key is not in the database.
      if (pw.exitCode === 2) return finding('security.user', 'warn', `service user ${user} does not exist on this host (maintenance.security.serviceUser)`, { user, exists: false });
      const entry = pw.exitCode === 0 ? parsePasswdLine(pw.stdout.split('\n')[0] ?? '') : undefined;
      if (!entry) return finding('security.user', 'fail', `\`${getent} passwd ${user}\` failed (exit ${String(pw.exitCode)}): ${pw.error ?? lastLines(pw.output, 2)}`, { user });
      const gr = await runCommand([getent, 'group'], { timeoutMs: COMMAND_TIMEOUT_MS, signal });
      const groups = gr.exitCode === 0 ? groupsOf(entry, parseGroupLines(gr.stdout)).map((g) => g.name) : [];
      const privileged = groups.filter((g) => (PRIVILEGED_GROUPS as readonly string[]).includes(g));
      const data = { user, exists: true, uid: entry.uid, gid: entry.gid, home: entry.home, shell: entry.shell, groups, privilegedGroups: privileged, loginShell: !isNoLoginShell(entry.shell) };
      if (entry.uid === 0) return finding('security.user', 'fail', `service user ${user} has uid 0: the services run with root's rights`, data);
      const problems = [
        ...(isNoLoginShell(entry.shell) ? [] : [`has a login shell (${entry.shell})`]),
        ...(privileged.length ? [`is in privileged groups ${privileged.join(', ')}`] : []),
        ...(gr.exitCode === 0 ? [] : ['its groups could not be listed']),
      ];
      const summary = `service user ${user} (uid ${entry.uid}), groups ${groups.join(', ') || 'none'}`;
      return problems.length ? finding('security.user', 'warn', `${summary}: ${problems.join('; ')}`, data) : finding('security.user', 'ok', summary, data);
    },

    /**
     * Modes of every file and folder under `permissionRoots`, by lstat, links not
     * followed: world-writable is a `fail`; a mode granting more than every
     * allowed mode is a `warn`.
     */
    async checkPermissions(): Promise<Finding> {
      const signal = activitySignal();
      try {
        const r = await scanPermissions(s.permissionRoots, {
          fileModes: s.allowedFileModes,
          dirModes: s.allowedDirModes,
          ...(signal ? { signal } : {}),
          onProgress: trackStep('permission scan', 'items'),
        });
        const data = {
          roots: r.roots,
          scanned: r.scanned,
          links: r.links,
          allowedFileModes: s.allowedFileModes.map(octal),
          allowedDirModes: s.allowedDirModes.map(octal),
          worldWritable: r.worldWritable,
          notAllowed: r.notAllowed,
          totals: r.totals,
          missingRoots: r.missingRoots,
          errors: r.errors.slice(0, 20),
        };
        const list = (xs: typeof r.worldWritable) => xs.slice(0, 5).map((x) => `${x.path} (${x.mode})`).join(', ');
        if (r.totals.worldWritable) return finding('security.permissions', 'fail', `${count(r.totals.worldWritable, 'world-writable entry', 'world-writable entries')}: ${list(r.worldWritable)}${r.totals.notAllowed ? `; ${r.totals.notAllowed} more with modes outside the allowed set` : ''}`, data);
        if (r.totals.notAllowed) return finding('security.permissions', 'warn', `${count(r.totals.notAllowed, 'entry', 'entries')} with a mode outside the allowed set: ${list(r.notAllowed)}`, data);
        if (r.missingRoots.length || r.errors.length) {
          return finding('security.permissions', 'warn', `${r.missingRoots.length ? `missing: ${r.missingRoots.join(', ')}` : ''}${r.missingRoots.length && r.errors.length ? '; ' : ''}${r.errors.length ? `${r.errors.length} unreadable (${r.errors[0]!.path}: ${r.errors[0]!.error})` : ''}; ${r.scanned} entries checked`, data);
        }
        return finding('security.permissions', 'ok', `${count(r.scanned, 'file or folder', 'files and folders')} under ${r.roots.join(', ')}: every mode allowed`, data);
      } catch (err) {
        rethrowIfCancelled(err, signal);
        return finding('security.permissions', 'fail', `permission scan failed: ${errorMessage(err)}`, { roots: s.permissionRoots });
      }
    },

    /**
     * Expiry of each configured certificate file, parsed in-process: `fail` when
     * expired or within `certificateFailDays`, `warn` within `certificateWarnDays`
     * or not yet valid; a missing file is a `warn`, an unreadable one a `fail`.
     */
    async checkCertificates(): Promise<Finding[]> {
      const now = new Date();
      const seen = new Map<string, number>();
      return Promise.all(
        s.certificates.map(async (path): Promise<Finding> => {
          const base = basename(path);
          const n = (seen.get(base) ?? 0) + 1;
          seen.set(base, n);
          const check = `security.certificate.${base}${n > 1 ? `.${n}` : ''}`;
          try {
            const certs = await readCertificates(path, now);
            const c = certs[0]!;
            const data = { path, certificates: certs.length, ...c, warnDays: s.certificateWarnDays, failDays: s.certificateFailDays };
            const what = `${path} (${c.subject})`;
            if (c.daysLeft < 0) return finding(check, 'fail', `${what} expired on ${c.validTo}`, data);
            if (c.daysLeft < s.certificateFailDays) return finding(check, 'fail', `${what} expires in ${c.daysLeft} days, on ${c.validTo}`, data);
            if (c.daysLeft < s.certificateWarnDays) return finding(check, 'warn', `${what} expires in ${c.daysLeft} days, on ${c.validTo}`, data);
            if (Date.parse(c.validFrom) > now.getTime() + DAY_MS) return finding(check, 'warn', `${what} is not valid before ${c.validFrom}`, data);
            return finding(check, 'ok', `${what} is valid for ${c.daysLeft} more days, until ${c.validTo}`, data);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') return finding(check, 'warn', `certificate ${path} not found (maintenance.security.certificates)`, { path, exists: false });
            return finding(check, 'fail', `cannot read certificate ${path}: ${errorMessage(err)}`, { path, exists: true });
          }
        }),
      );
    },
  };
}
