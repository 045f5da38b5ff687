/**
 * Bad inputs give findings, never a crashed workflow: one sandbox host whose
 * config points at an unreachable database, a memory service that is not there,
 * missing folders, unreadable certificates and missing tools; each runbook runs
 * to its report, and every broken part is a `warn` or `fail` with a message.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRunbook } from '../../src/client/run-runbook.js';
import type { RunbookName } from '../../src/runbooks.js';
import { freePort } from '../../src/dev/ports.js';
import { startWorker, type RunningWorker } from '../../src/worker.js';
import type { MaintenanceReport } from '../../src/workflows/index.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { assertReplays, testClient, testNativeConnection, workflowBundle } from '../helpers/temporal.js';

let sbx: TestSandbox;
let client: Client;
let connection: NativeConnection;
let worker: RunningWorker;
const reports = new Map<string, MaintenanceReport>();
const handles: WorkflowHandle[] = [];

beforeAll(async () => {
  const closedPgPort = await freePort();
  const closedMemoryPort = await freePort();
  // The paths below are made relative to the sandbox root once it exists; `sandbox.json` is a file, so "folders" under it cannot exist.
  sbx = await createTestSandbox({ hostId: 'broken-host', start: true });
  const root = sbx.root;
  await writeFile(join(root, 'not-a-cert.crt'), 'just text\n');
  await mkdir(join(root, 'a-folder.crt'));
  const broken = await createTestSandbox({
    hostId: 'broken-host',
    start: false,
    extra: {
      thresholds: { diskPercent: 1 },
      paths: {
        ...(sbx.config.paths as unknown as Record<string, unknown>),
        logDir: join(root, 'no-such-logs'),
        backupDir: join(root, 'no-such-backups'),
        reportsDir: join(root, 'sandbox.json', 'reports'),
        tempDirs: [join(root, 'no-such-tmp')],
      },
      memoryService: { url: `http://127.0.0.1:${closedMemoryPort}`, timeoutSeconds: 2 },
      postgres: { port: closedPgPort },
      maintenance: {
        stateDir: join(root, 'sandbox.json', 'state'),
        logs: { logrotateConfig: join(root, 'no-such-logrotate.conf') },
        security: { permissionRoots: [join(root, 'no-such-root')], certificates: [join(root, 'not-a-cert.crt'), join(root, 'a-folder.crt'), join(root, 'absent.crt')] },
        packages: { refreshCommand: false, listCommand: ['apt-not-installed', 'list', '--upgradable'] },
      },
    },
  });
  // The broken config runs against the first sandbox's real services (its own are never started).
  const config = { ...broken.config, services: sbx.config.services, serviceManager: sbx.config.serviceManager, temporal: sbx.config.temporal };
  const brokenCleanup = broken.cleanup;
  const sbxCleanup = sbx.cleanup;
  sbx.cleanup = async () => {
    await brokenCleanup();
    await sbxCleanup();
  };
  client = await testClient();
  connection = await testNativeConnection();
  worker = await startWorker({ config, role: 'all', connection, workflowBundle: workflowBundle(), serveMetrics: false });
  for (const runbook of ['daily', 'weekly', 'monthly'] as RunbookName[]) {
    const handle = await startRunbook({ client, config: sbx.config, runbook, hostId: 'broken-host' });
    handles.push(handle);
    reports.set(runbook, (await handle.result()) as MaintenanceReport);
  }
}, 240_000);
afterAll(async () => {
  await worker?.shutdown();
  await connection?.close();
  await client?.connection.close();
  await sbx?.cleanup();
});

describe('maintenance with broken inputs', () => {
  it.each([
    ['daily', 'warn', []],
    ['weekly', 'fail', ['postgres.slow-queries', 'postgres.connections', 'memory.stats']],
    ['monthly', 'fail', ['security.certificate.not-a-cert.crt', 'security.certificate.a-folder.crt', 'postgres.vacuum', 'memory.consolidate', 'report.monthly']],
  ])('%s completes with its report (%s) and names exactly the checks that failed', (runbook, status, failed) => {
    const r = reports.get(runbook)!;
    expect(r.summary.status).toBe(status);
    expect(r.findings.filter((f) => f.status === 'fail').map((f) => f.check)).toEqual(failed);
    expect(r.summary.fail).toBe(failed.length);
    if (failed.length) expect(r.summary.text).toContain(`; failed: ${failed.join(', ')}`);
    else expect(r.summary.text).not.toContain('failed:');
  });

  it('every run replays', async () => {
    expect([...reports.keys()]).toEqual(['daily', 'weekly', 'monthly']);
    await assertReplays(...handles);
  });

  it.each([
    ['unreachable database', 'weekly', 'postgres.slow-queries', 'fail', /^cannot query PostgreSQL at 127\.0\.0\.1:\d+\/mcp_test_\w+: .*ECONNREFUSED/],
    ['unreachable database', 'weekly', 'postgres.connections', 'fail', /^cannot query PostgreSQL at .*ECONNREFUSED/],
    ['unreachable database', 'monthly', 'postgres.vacuum', 'fail', /^VACUUM ANALYZE of 127\.0\.0\.1:\d+\/mcp_test_\w+ failed: .*ECONNREFUSED/],
    ['memory service down', 'weekly', 'memory.stats', 'fail', /^memory service at http:\/\/127\.0\.0\.1:\d+ does not answer: .*fetch failed \(ECONNREFUSED\)$/],
    ['memory service down', 'monthly', 'memory.consolidate', 'fail', /^memory service at http:\/\/127\.0\.0\.1:\d+ did not consolidate/],
    ['missing log folder', 'daily', 'logs.cleanup', 'warn', /^log folder .*no-such-logs does not exist; nothing to clean$/],
    ['missing logrotate file', 'daily', 'logs.rotate', 'warn', /^no logrotate configuration at .*no-such-logrotate\.conf: logs were not rotated$/],
    ['missing backups folder', 'daily', 'backup.status', 'warn', /^backup folder .*no-such-backups does not exist: no backups on this host$/],
    ['missing backups folder', 'weekly', 'backup.verify', 'warn', /^backup folder .*\/no-such-backups does not exist: no archives to verify$/],
    ['missing temp folder', 'weekly', 'temp.cleanup', 'warn', /temp folder .*no-such-tmp does not exist$/],
    ['state folder under a file', 'weekly', 'logs.errors', 'warn', /^could not record the scan in .*sandbox\.json\/state\/log-scan\.json \(.*ENOTDIR.*\): the next scan reads this window again$/],
    ['apt not installed', 'weekly', 'packages.updates', 'warn', /^apt-not-installed not found: this host's package updates were not checked/],
    ['missing permission root', 'monthly', 'security.permissions', 'warn', /^missing: .*no-such-root; 0 entries checked$/],
    ['a file that is not a certificate', 'monthly', 'security.certificate.not-a-cert.crt', 'fail', /^cannot read certificate .*not-a-cert\.crt: no PEM certificate block/],
    ['a folder where the certificate should be', 'monthly', 'security.certificate.a-folder.crt', 'fail', /^cannot read certificate .*a-folder\.crt: EISDIR/],
    ['a missing certificate', 'monthly', 'security.certificate.absent.crt', 'warn', /^certificate .*absent\.crt not found/],
    ['auditd not installed', 'monthly', 'security.audit', 'warn', /^auditctl not found/],
    ['reports folder under a file: the activity throws, the step is a fail finding', 'monthly', 'report.monthly', 'fail', /^report\.monthly could not run: .*ENOTDIR/],
  ])('%s: %s %s is %s', (_name, runbook, check, status, message) => {
    const f = reports.get(runbook)!.findings.find((x) => x.check === check);
    expect(f, `${check} in ${runbook}`).toBeDefined();
    expect(f!.status).toBe(status);
    expect(f!.message).toMatch(message);
  });
});
