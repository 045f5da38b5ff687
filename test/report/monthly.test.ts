/** The monthly report file's sections and recommendations, from findings. */
import { describe, expect, it } from 'vitest';
import { buildReport, finding, type Finding } from '../../src/common/report.js';
import { buildMonthlyReport, monthlyReportBaseName, recommendations, renderMonthlyReportText } from '../../src/report/monthly.js';

const findings: Finding[] = [
  finding('security.audit', 'warn', 'auditctl not found', { installed: false }),
  finding('service.mcp-memory', 'fail', 'mcp-memory is inactive (inactive)', { service: 'mcp-memory', state: 'inactive' }),
  finding('service.mcp-postgres', 'ok', 'mcp-postgres is active', { service: 'mcp-postgres', state: 'active' }),
  finding('system.disk', 'ok', 'disk is 40% full', { path: '/opt/kilocode/mcp-servers', usedPercent: 40, thresholdPercent: 80, availableBytes: 10 * 1024 ** 3 }),
  finding('system.memory', 'ok', 'memory usage is 12%', { usedPercent: 12, thresholdPercent: 85, totalBytes: 8 * 1024 ** 3 }),
  finding('system.cpu', 'ok', 'CPU 3%', { usedPercent: 3, cores: 4, sampleMs: 1000 }),
  finding('system.load', 'ok', 'load', { one: 0.5, five: 0.4, fifteen: 0.3 }),
  finding('security.certificate.ssl.crt', 'warn', '/etc/kilocode/mcp/security/ssl.crt (CN=x) expires in 12 days', { path: '/etc/kilocode/mcp/security/ssl.crt', daysLeft: 12, validTo: '2026-12-06T00:00:00.000Z', subject: 'CN=x' }),
  finding('security.permissions', 'fail', '1 world-writable entry: /opt/x (0666)', { scanned: 40, totals: { worldWritable: 1, notAllowed: 0 } }),
  finding('backup.status', 'ok', '3 archives', { count: 3, newest: 'mcp_backup_20261101_020000.tar.gz', newestAgeHours: 2 }),
];
const report = buildReport({ runbook: 'monthlyMaintenance', hostId: 'db-1', startedAt: new Date('2026-12-01T04:00:00Z'), finishedAt: new Date('2026-12-01T04:01:00Z'), findings });

describe('monthly report', () => {
  it('is named after the run\'s month in UTC, like the seed\'s $(date +%Y%m)', () => {
    expect(monthlyReportBaseName('2026-12-01T04:00:00.000Z')).toBe('monthly-report-202612');
    expect(monthlyReportBaseName('2027-01-31T23:59:59.000Z')).toBe('monthly-report-202701');
  });

  it('has the seed\'s sections, from the findings', () => {
    const m = buildMonthlyReport(report, 'monthly-db-1-x');
    expect(m.services).toEqual([
      { service: 'mcp-memory', state: 'inactive', status: 'fail' },
      { service: 'mcp-postgres', state: 'active', status: 'ok' },
    ]);
    expect(m.usage).toMatchObject({ disk: { usedPercent: 40 }, memory: { usedPercent: 12 }, cpu: { usedPercent: 3, cores: 4 }, load: { one: 0.5 } });
    expect(m.security.certificates).toEqual([
      { path: '/etc/kilocode/mcp/security/ssl.crt', status: 'warn', validTo: '2026-12-06T00:00:00.000Z', daysLeft: 12, subject: 'CN=x', message: findings[7]!.message },
    ]);
    expect(m.security.permissions).toMatchObject({ status: 'fail', scanned: 40, worldWritable: 1 });
    expect(m.backups).toMatchObject({ count: 3, latest: 'mcp_backup_20261101_020000.tar.gz' });
    expect(m.month).toBe('2026-12');
  });

  it.each([
    ['the listing failed: the packages.updates finding says why', [finding('packages.updates', 'fail', '`apt list --upgradable` failed (exit 100): E: Could not open lock file', { listCommand: ['apt', 'list', '--upgradable'] })], 'fail', '`apt list --upgradable` failed (exit 100): E: Could not open lock file'],
    ['apt is not installed', [finding('packages.updates', 'warn', 'apt not found: this host\'s package updates were not checked', {})], 'warn', 'apt not found: this host\'s package updates were not checked'],
    ['the listing worked: the packages.security finding', [finding('packages.updates', 'ok', '3 package updates pending', { pending: 3 }), finding('packages.security', 'warn', '2 security updates pending: libssl3, openssl', { security: 2 })], 'warn', '2 security updates pending: libssl3, openssl'],
  ])('security updates when %s', (_name, extra, status, message) => {
    const r = buildReport({ runbook: 'monthlyMaintenance', hostId: 'db-1', startedAt: new Date('2026-12-01T04:00:00Z'), finishedAt: new Date('2026-12-01T04:01:00Z'), findings: [...findings, ...extra] });
    const m = buildMonthlyReport(r, 'monthly-db-1-x');
    expect(m.security.securityUpdates).toMatchObject({ status, message });
    expect(renderMonthlyReportText(m, r)).toContain(`Security updates: ${message}`);
  });

  it('security updates not checked at all (no package finding) says so', () => {
    expect(renderMonthlyReportText(buildMonthlyReport(report, 'monthly-db-1-x'), report)).toContain('Security updates: not checked');
  });

  it('recommends one action per finding that is not ok, failures first', () => {
    const r = recommendations(findings);
    expect(r).toHaveLength(4);
    expect(r[0]).toMatch(/^Bring mcp-memory back up/);
    expect(r[1]).toMatch(/^Remove world write permission \(chmod o-w\)/);
    expect(r.slice(2).join('\n')).toMatch(/Install the auditd package/);
    expect(r.slice(2).join('\n')).toMatch(/Renew or replace the certificate/);
  });

  it('with nothing wrong, it says so instead of a fixed list', () => {
    expect(recommendations([finding('system.disk', 'ok', 'fine')])).toEqual(['No action needed: all 1 checks passed.']);
  });

  it('renders text a person reads, section by section, with every check at the end', () => {
    const text = renderMonthlyReportText(buildMonthlyReport(report, 'monthly-db-1-x'), report);
    const sections = ['MCP Monthly Maintenance Report', 'System Status', 'Performance Metrics', 'Security Status', 'Backup Status', 'Recommendations', 'All checks'];
    let at = -1;
    for (const s of sections) {
      const i = text.indexOf(s);
      expect(i, s).toBeGreaterThan(at);
      at = i;
    }
    expect(text).toContain('  FAIL  mcp-memory: inactive');
    expect(text).toContain('Disk usage: 40% of the disk holding /opt/kilocode/mcp-servers (threshold 80%, 10.0 GiB free)');
    expect(text).toContain('Load average: 0.5, 0.4, 0.3 (1, 5, 15 min)');
    expect(text).toContain('Latest backup: mcp_backup_20261101_020000.tar.gz (2 h old)');
    expect(text).toContain('summary: 6 ok, 2 warn, 2 fail');
  });
});
