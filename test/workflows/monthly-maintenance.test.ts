/**
 * monthlyMaintenance (seed 4.3) on the real dev server: certificates made with
 * openssl (valid, expiring, expired), a world-writable file, the real service
 * account lookup, VACUUM ANALYZE and memory consolidation on the sandbox, and
 * the report files written on the host.
 */
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRunbook } from '../../src/client/run-runbook.js';
import type { MonthlyReport } from '../../src/report/monthly.js';
import { startWorker, type RunningWorker } from '../../src/worker.js';
import { MONTHLY_STEPS, type MaintenanceReport } from '../../src/workflows/index.js';
import { certificateBetween, certificateValidFor } from '../helpers/certificates.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { assertReplays, testClient, testNativeConnection, workflowBundle } from '../helpers/temporal.js';

let sbx: TestSandbox;
let client: Client;
let connection: NativeConnection;
let worker: RunningWorker;
let certs: { own: string; expiring: string; expired: string };

beforeAll(async () => {
  sbx = await createTestSandbox({ hostId: 'monthly-host', start: true });
  const security = join(sbx.config.paths.configDir, 'security');
  certs = { own: join(security, 'ssl.crt'), expiring: join(security, 'api.crt'), expired: join(security, 'old-ca.crt') };
  await certificateValidFor(certs.expiring, 20, 'api.sandbox');
  await certificateBetween(certs.expired, '20240101000000Z', '20250101000000Z', 'old-ca');
  // This host checks three certificates: the sandbox's own (made at provisioning), one expiring, one expired.
  const config = { ...sbx.config, maintenance: { ...sbx.config.maintenance, security: { ...sbx.config.maintenance.security, certificates: [certs.own, certs.expiring, certs.expired] } } };
  client = await testClient();
  connection = await testNativeConnection();
  worker = await startWorker({ config, role: 'all', connection, workflowBundle: workflowBundle(), serveMetrics: false });
});
afterAll(async () => {
  await worker?.shutdown();
  await connection?.close();
  await client?.connection.close();
  await sbx?.cleanup();
});

const by = (r: MaintenanceReport, check: string) => r.findings.find((f) => f.check === check)!;

describe('monthlyMaintenance', () => {
  it('reviews security, vacuums, consolidates, snapshots the system and writes the report files', async () => {
    const shared = join(sbx.config.paths.installRoot, 'filesystem_data', 'notes', 'shared.txt');
    await writeFile(shared, 'anyone may write this\n');
    await chmod(shared, 0o666);

    const handle = await startRunbook({ client, config: sbx.config, runbook: 'monthly', hostId: 'monthly-host' });
    const report = (await handle.result()) as MaintenanceReport;
    expect(report.runbook).toBe('monthlyMaintenance');
    expect(report.steps.map((s) => s.step)).toEqual([...MONTHLY_STEPS]);

    // auditd is not installed here; the seed installed it from cron, we only report.
    expect(by(report, 'security.audit')).toMatchObject({ status: 'warn', data: { installed: false } });
    expect(['ok', 'warn']).toContain(by(report, 'packages.security').status);
    expect(by(report, 'security.user')).toMatchObject({ status: 'warn', message: 'service user mcp-service does not exist on this host (maintenance.security.serviceUser)' });
    const perms = by(report, 'security.permissions');
    expect(perms).toMatchObject({ status: 'fail', data: { totals: { worldWritable: 1, notAllowed: 0 } } });
    expect(perms.message).toBe(`1 world-writable entry: ${shared} (0666)`);
    expect(by(report, 'security.certificate.ssl.crt')).toMatchObject({ status: 'ok', data: { subject: 'CN=monthly-host.sandbox.mcp-runbooks' } });
    expect(by(report, 'security.certificate.api.crt')).toMatchObject({ status: 'warn', data: { subject: 'CN=api.sandbox' } });
    expect(by(report, 'security.certificate.old-ca.crt')).toMatchObject({ status: 'fail', message: `${certs.expired} (CN=old-ca) expired on 2025-01-01T00:00:00.000Z` });
    expect(by(report, 'postgres.vacuum')).toMatchObject({ status: 'ok', data: { command: 'VACUUM (ANALYZE, SKIP_LOCKED)', database: sbx.config.postgres!.database } });
    expect(by(report, 'memory.consolidate')).toMatchObject({ status: 'ok', data: { before: 2, after: 2 } });
    for (const check of ['system.disk', 'system.memory', 'system.cpu', 'system.load']) expect(by(report, check), check).toBeDefined();
    expect(by(report, 'system.cpu').data.cores).toBeGreaterThan(0);
    for (const s of sbx.manager.services) expect(by(report, `service.${s}`).status).toBe('ok');
    expect(by(report, 'backup.status').status).toBe('warn');

    // The report files: the seed's name, on the host, 0640, written whole.
    const month = report.startedAt.slice(0, 7).replace('-', '');
    const files = { text: join(sbx.config.paths.reportsDir, `monthly-report-${month}.txt`), json: join(sbx.config.paths.reportsDir, `monthly-report-${month}.json`) };
    expect(report.reportFiles).toEqual(files);
    expect(by(report, 'report.monthly')).toMatchObject({ status: 'ok' });
    for (const f of Object.values(files)) expect((await stat(f)).mode & 0o777, f).toBe(0o640);
    const json = JSON.parse(await readFile(files.json, 'utf8')) as MonthlyReport;
    expect(json).toMatchObject({ format: 'mcp-runbooks.monthly-report/1', hostId: 'monthly-host', workflowId: handle.workflowId });
    expect(json.services.map((s) => s.state)).toEqual(['active', 'active', 'active', 'active']);
    expect(json.security.certificates.map((c) => c.status)).toEqual(['ok', 'warn', 'fail']);
    expect(json.security.users).toMatchObject({ user: 'mcp-service', exists: false });
    expect(json.usage.disk?.usedPercent).toBeGreaterThan(0);
    // Recommendations come from this run's findings: failures first.
    expect(json.recommendations[0]).toMatch(/^Remove world write permission \(chmod o-w\) from: 1 world-writable entry: .*shared\.txt/);
    expect(json.recommendations.join('\n')).toContain(`Renew or replace the certificate: ${certs.expired} (CN=old-ca) expired`);
    expect(json.recommendations.join('\n')).toContain('Create the service account mcp-service');
    const text = await readFile(files.text, 'utf8');
    expect(text).toMatch(/^MCP Monthly Maintenance Report\nHost: monthly-host {4}Month: \d{4}-\d{2}/);
    expect(text).toContain('  FAIL  SSL certificate: ');
    expect(text).toContain(`  FAIL  Permissions: 1 world-writable entry: ${shared} (0666)`);
    expect(report.summary.fail).toBe(2);
    await assertReplays(handle);
  }, 120_000);
});
