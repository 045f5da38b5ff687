/**
 * The monthly maintenance report file (seed 4.3's `monthly-report-YYYYMM.txt`):
 * the seed's sections (services, usage, performance, security, backups,
 * recommendations) built from the run's findings, as JSON and as text for a
 * person. Recommendations come from what the checks found, not a fixed list.
 */
import type { Finding, FindingStatus, RunbookReport } from '../common/report.js';
import { renderReportText } from './render-text.js';
import { age } from '../common/words.js';

/** `format` of the `.json` report file; changes when its shape does. */
export const MONTHLY_REPORT_FORMAT = 'mcp-runbooks.monthly-report/1';

/** The monthly report file's content: the seed's sections, recommendations, and every finding. */
export interface MonthlyReport {
  format: typeof MONTHLY_REPORT_FORMAT;
  title: string;
  hostId: string;
  /** `YYYY-MM` (UTC) of the run. */
  month: string;
  generatedAt: string;
  workflowId: string;
  services: Array<{ service: string; state: string; status: FindingStatus }>;
  usage: {
    disk?: { path: string; usedPercent: number; thresholdPercent: number; availableBytes: number };
    memory?: { usedPercent: number; thresholdPercent: number; totalBytes: number };
    cpu?: { usedPercent: number; cores: number; sampleMs: number };
    load?: { one: number; five: number; fifteen: number };
  };
  security: {
    audit?: { status: FindingStatus; message: string };
    certificates: Array<{ path: string; status: FindingStatus; validTo?: string; daysLeft?: number; subject?: string; message: string }>;
    users?: { status: FindingStatus; user: string; exists: boolean; uid?: number; groups?: string[]; shell?: string; message: string };
    permissions?: { status: FindingStatus; scanned?: number; worldWritable?: number; notAllowed?: number; message: string };
    securityUpdates?: { status: FindingStatus; pending?: number; message: string };
  };
  database?: { status: FindingStatus; message: string };
  memoryService?: { status: FindingStatus; message: string };
  backups?: { status: FindingStatus; count?: number; latest?: string; latestAgeHours?: number; message: string };
  recommendations: string[];
  summary: RunbookReport['summary'];
  findings: Finding[];
}

/** `monthly-report-202611` for a run started in November 2026 (UTC), as the seed's `$(date +%Y%m)`. */
export function monthlyReportBaseName(startedAt: string): string {
  const d = new Date(startedAt);
  return `monthly-report-${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const RANK: Record<FindingStatus, number> = { fail: 0, warn: 1, ok: 2 };

/** What to do about one finding that is not `ok`. */
export function recommendationFor(f: Finding): string {
  const d = f.data;
  const [area, kind] = f.check.split('.');
  const detail = f.message;
  switch (area) {
    case 'service':
      return f.status === 'fail'
        ? `Bring ${str(d.service) ?? kind} back up and read its log for the cause: ${detail}`
        : `Find out why ${str(d.service) ?? kind} had stopped (it was started again): read its log around the time it stopped`;
    case 'system':
      if (kind === 'disk') return `Free space on the disk holding ${str(d.path) ?? 'the install root'} or grow it: ${detail}`;
      if (kind === 'memory') return `Find what holds memory, or add memory: ${detail}`;
      if (kind === 'load') return `The host is overloaded; find the busy processes or add CPUs: ${detail}`;
      return `Look at ${f.check}: ${detail}`;
    case 'logs':
      if (kind === 'errors') return `Read the error lines in ${str(d.service) ?? 'the service'}'s log: ${detail}`;
      if (kind === 'rotate') return `Fix log rotation so logs cannot fill the disk: ${detail}`;
      return `Look at ${f.check}: ${detail}`;
    case 'backup':
      if (kind === 'verify') return `Take a new backup and delete the damaged archive: ${detail}`;
      return num(d.count) === 0 || d.count === undefined
        ? `Take a backup (mcp-runbooks run backup) and check that the backup schedule runs (mcp-runbooks schedules list): ${detail}`
        : `Check that the backup schedule runs (mcp-runbooks schedules list): ${detail}`;
    case 'packages':
      if (kind === 'security') {
        return `Install the ${num(d.security) ?? ''} pending security updates in a maintenance window: approve a weekly run's upgrade (mcp-runbooks approve <workflow id>) or run apt-get upgrade by hand`.replace('the  pending', 'the pending');
      }
      if (kind === 'upgrade') return `Finish the package upgrade by hand and read apt's output: ${detail}`;
      return `Look at package updates: ${detail}`;
    case 'postgres':
      if (kind === 'slow-queries') {
        return d.extension === false || d.preloaded === false
          ? `Enable pg_stat_statements so slow queries can be found: ${detail}`
          : `Look at the slowest statements with EXPLAIN (ANALYZE, BUFFERS) and add indexes or rewrite them: ${detail}`;
      }
      if (kind === 'connections') return `Use a connection pool or raise max_connections: ${detail}`;
      if (kind === 'vacuum') return `Run VACUUM ANALYZE by hand and look at what stops it: ${detail}`;
      return `Check the database: ${detail}`;
    case 'memory':
      return `Check the memory service: ${detail}`;
    case 'temp':
      return `Clean up the temp folders by hand: ${detail}`;
    case 'security':
      if (kind === 'audit') {
        return d.installed === false
          ? 'Install the auditd package and enable its service: nothing records security events on this host now'
          : `Enable the audit subsystem persistently so security events are recorded: ${detail}`;
      }
      if (kind === 'user') {
        return d.exists === false
          ? `Create the service account ${str(d.user) ?? ''} and run the services as it, or set maintenance.security.serviceUser to the account they run as`
          : `Review the service account: ${detail}`;
      }
      if (kind === 'permissions') {
        return f.status === 'fail'
          ? `Remove world write permission (chmod o-w) from: ${detail}`
          : `Tighten these modes to the allowed set (maintenance.security.allowedFileModes/allowedDirModes): ${detail}`;
      }
      if (kind === 'certificate') return `Renew or replace the certificate: ${detail}`;
      return `Look at ${f.check}: ${detail}`;
    default:
      return `Look at ${f.check}: ${detail}`;
  }
}

/** One recommendation per finding that is not `ok`, failures first; or that nothing needs doing. */
export function recommendations(findings: readonly Finding[]): string[] {
  const bad = findings.filter((f) => f.status !== 'ok').sort((a, b) => RANK[a.status] - RANK[b.status]);
  if (bad.length === 0) return [`No action needed: all ${findings.length} checks passed.`];
  return bad.map(recommendationFor);
}

/** The seed's sections read from a monthly run's findings; a section whose check did not run is left out. */
export function buildMonthlyReport(report: RunbookReport, workflowId: string): MonthlyReport {
  const by = (check: string) => report.findings.find((f) => f.check === check);
  const prefixed = (prefix: string) => report.findings.filter((f) => f.check.startsWith(prefix));
  const disk = by('system.disk');
  const memory = by('system.memory');
  const cpu = by('system.cpu');
  const load = by('system.load');
  const audit = by('security.audit');
  const user = by('security.user');
  const perms = by('security.permissions');
  // Without packages.security the listing itself failed (apt missing or erring): its packages.updates finding says why.
  const secUpdates = by('packages.security') ?? by('packages.updates');
  const vacuum = by('postgres.vacuum');
  const consolidate = by('memory.consolidate');
  const backups = by('backup.status');
  const month = new Date(report.startedAt).toISOString().slice(0, 7);
  const usage: MonthlyReport['usage'] = {};
  if (disk && num(disk.data.usedPercent) !== undefined) {
    usage.disk = { path: str(disk.data.path) ?? '', usedPercent: num(disk.data.usedPercent)!, thresholdPercent: num(disk.data.thresholdPercent) ?? 0, availableBytes: num(disk.data.availableBytes) ?? 0 };
  }
  if (memory && num(memory.data.usedPercent) !== undefined) {
    usage.memory = { usedPercent: num(memory.data.usedPercent)!, thresholdPercent: num(memory.data.thresholdPercent) ?? 0, totalBytes: num(memory.data.totalBytes) ?? 0 };
  }
  if (cpu && num(cpu.data.usedPercent) !== undefined) usage.cpu = { usedPercent: num(cpu.data.usedPercent)!, cores: num(cpu.data.cores) ?? 0, sampleMs: num(cpu.data.sampleMs) ?? 0 };
  if (load && num(load.data.one) !== undefined) usage.load = { one: num(load.data.one)!, five: num(load.data.five) ?? 0, fifteen: num(load.data.fifteen) ?? 0 };
  return {
    format: MONTHLY_REPORT_FORMAT,
    title: 'MCP Monthly Maintenance Report',
    hostId: report.hostId,
    month,
    generatedAt: report.finishedAt,
    workflowId,
    services: prefixed('service.').map((f) => ({ service: str(f.data.service) ?? f.check.slice('service.'.length), state: str(f.data.state) ?? 'unknown', status: f.status })),
    usage,
    security: {
      ...(audit ? { audit: { status: audit.status, message: audit.message } } : {}),
      certificates: prefixed('security.certificate.').map((f) => ({
        path: str(f.data.path) ?? '',
        status: f.status,
        ...(str(f.data.validTo) ? { validTo: str(f.data.validTo) } : {}),
        ...(num(f.data.daysLeft) !== undefined ? { daysLeft: num(f.data.daysLeft) } : {}),
        ...(str(f.data.subject) ? { subject: str(f.data.subject) } : {}),
        message: f.message,
      })),
      ...(user
        ? {
            users: {
              status: user.status,
              user: str(user.data.user) ?? '',
              exists: user.data.exists === true,
              ...(num(user.data.uid) !== undefined ? { uid: num(user.data.uid) } : {}),
              ...(Array.isArray(user.data.groups) ? { groups: user.data.groups as string[] } : {}),
              ...(str(user.data.shell) ? { shell: str(user.data.shell) } : {}),
              message: user.message,
            },
          }
        : {}),
      ...(perms
        ? {
            permissions: {
              status: perms.status,
              ...(num(perms.data.scanned) !== undefined ? { scanned: num(perms.data.scanned) } : {}),
              ...(perms.data.totals && typeof perms.data.totals === 'object'
                ? { worldWritable: num((perms.data.totals as Record<string, unknown>).worldWritable) ?? 0, notAllowed: num((perms.data.totals as Record<string, unknown>).notAllowed) ?? 0 }
                : {}),
              message: perms.message,
            },
          }
        : {}),
      ...(secUpdates ? { securityUpdates: { status: secUpdates.status, ...(num(secUpdates.data.security) !== undefined ? { pending: num(secUpdates.data.security) } : {}), message: secUpdates.message } } : {}),
    },
    ...(vacuum ? { database: { status: vacuum.status, message: vacuum.message } } : {}),
    ...(consolidate ? { memoryService: { status: consolidate.status, message: consolidate.message } } : {}),
    ...(backups
      ? {
          backups: {
            status: backups.status,
            ...(num(backups.data.count) !== undefined ? { count: num(backups.data.count) } : {}),
            ...(str(backups.data.newest) ? { latest: str(backups.data.newest) } : {}),
            ...(num(backups.data.newestAgeHours) !== undefined ? { latestAgeHours: num(backups.data.newestAgeHours) } : {}),
            message: backups.message,
          },
        }
      : {}),
    recommendations: recommendations(report.findings),
    summary: report.summary,
    findings: report.findings,
  };
}

const MARK: Record<FindingStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };
const pct = (n: number | undefined) => (n === undefined ? 'unknown' : `${n}%`);
const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;

/** The report as text for a person, section by section like the seed's file. */
export function renderMonthlyReportText(m: MonthlyReport, report: RunbookReport): string {
  const u = m.usage;
  const s = m.security;
  const line = (status: FindingStatus | undefined, text: string) => `  ${status ? MARK[status] : '    '}  ${text}`;
  const out = [
    m.title,
    `Host: ${m.hostId}    Month: ${m.month}    Generated: ${m.generatedAt}`,
    `Workflow: ${m.workflowId}`,
    '',
    'System Status',
    ...(m.services.length ? m.services.map((x) => line(x.status, `${x.service}: ${x.state}`)) : [line(undefined, 'services: not checked')]),
    line(u.disk && u.disk.usedPercent > u.disk.thresholdPercent ? 'warn' : u.disk ? 'ok' : undefined, `Disk usage: ${u.disk ? `${pct(u.disk.usedPercent)} of the disk holding ${u.disk.path} (threshold ${u.disk.thresholdPercent}%, ${gib(u.disk.availableBytes)} free)` : 'unknown'}`),
    line(u.memory && u.memory.usedPercent > u.memory.thresholdPercent ? 'warn' : u.memory ? 'ok' : undefined, `Memory usage: ${u.memory ? `${pct(u.memory.usedPercent)} of ${gib(u.memory.totalBytes)} (threshold ${u.memory.thresholdPercent}%)` : 'unknown'}`),
    '',
    'Performance Metrics',
    line(undefined, `CPU usage: ${u.cpu ? `${pct(u.cpu.usedPercent)} over ${u.cpu.sampleMs / 1000}s on ${u.cpu.cores} CPUs` : 'unknown'}`),
    line(undefined, `Load average: ${u.load ? `${u.load.one}, ${u.load.five}, ${u.load.fifteen} (1, 5, 15 min)` : 'unknown'}`),
    ...(m.database ? [line(m.database.status, `Database: ${m.database.message}`)] : []),
    ...(m.memoryService ? [line(m.memoryService.status, `Memory service: ${m.memoryService.message}`)] : []),
    '',
    'Security Status',
    line(s.audit?.status, `Audit: ${s.audit?.message ?? 'not checked'}`),
    ...(s.certificates.length ? s.certificates.map((c) => line(c.status, `SSL certificate: ${c.message}`)) : [line(undefined, 'SSL certificate: none configured')]),
    line(s.users?.status, `User access: ${s.users?.message ?? 'not checked'}`),
    line(s.permissions?.status, `Permissions: ${s.permissions?.message ?? 'not checked'}`),
    line(s.securityUpdates?.status, `Security updates: ${s.securityUpdates?.message ?? 'not checked'}`),
    '',
    'Backup Status',
    line(m.backups?.status, m.backups?.latest ? `Latest backup: ${m.backups.latest} (${m.backups.latestAgeHours === undefined ? 'age unknown' : `${age(m.backups.latestAgeHours)} old`})` : `Latest backup: ${m.backups?.message ?? 'not checked'}`),
    line(undefined, `Backup count: ${m.backups?.count ?? 'unknown'}`),
    '',
    'Recommendations',
    ...m.recommendations.map((r) => `  - ${r}`),
    '',
    'All checks',
    ...renderReportText(report).trimEnd().split('\n').map((l) => `  ${l}`),
  ];
  return `${out.join('\n')}\n`;
}
