/**
 * A real Prometheus on loopback scrapes a running worker (the CLI, with the
 * SDK's metrics merged in) while a backup and a maintenance runbook run; the
 * runbook metrics are read back through Prometheus's HTTP API. Every metric a
 * dashboard panel or an alert uses must be one the live worker exports.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';
import { freePort } from '../../src/dev/ports.js';
import { spawnCliUntil, type RunningCli } from '../helpers/cli.js';
import { baseName, metricNames } from '../helpers/promql.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { pollUntil, testClient } from '../helpers/temporal.js';

let sbx: TestSandbox;
let client: Client;
let worker: RunningCli;
let prometheus: ResultPromise;
let dir: string;
let metricsUrl: string;
let promUrl: string;

beforeAll(async () => {
  const ports = { metrics: await freePort(), sdk: await freePort(), prometheus: await freePort() };
  sbx = await createTestSandbox({ hostId: 'prom-host' });
  const obj = parse(await readFile(sbx.configPath, 'utf8')) as Record<string, unknown>;
  obj.metrics = { port: ports.metrics, sdkPort: ports.sdk, probeSeconds: 1, backupProbeSeconds: 1, scheduleProbeSeconds: 2 };
  obj.defaultSchedules = false;
  obj.schedules = [{ runbook: 'health-check', every: '1h' }];
  await writeFile(sbx.configPath, stringify(obj));
  worker = await spawnCliUntil(['--config', sbx.configPath, 'worker', '--role', 'all', '--apply-schedules'], /create .*health-check/);
  metricsUrl = `http://127.0.0.1:${ports.metrics}/metrics`;

  dir = await mkdtemp(join(tmpdir(), 'mcp-prom-'));
  await writeFile(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [join(PACKAGE_ROOT, 'monitoring', 'alert_rules.yml')],
      scrape_configs: [{ job_name: 'mcp-runbooks', static_configs: [{ targets: [`127.0.0.1:${ports.metrics}`] }] }],
    }),
  );
  promUrl = `http://127.0.0.1:${ports.prometheus}`;
  prometheus = execa(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${ports.prometheus}`, '--log.level=warn'],
    { reject: false, all: true, forceKillAfterDelay: 5000 },
  );
  await pollUntil('Prometheus ready', () => fetch(`${promUrl}/-/ready`).then((r) => r.ok), (ok) => ok, { timeoutMs: 60_000, intervalMs: 200 });
  client = await testClient();
}, 120_000);

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  await prometheus;
  worker?.kill('SIGTERM');
  await worker?.exited;
  await client?.connection.close();
  await sbx?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const r = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as {
    status: string;
    data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
  };
  expect(r.status).toBe('success');
  return r.data.result;
}

async function eventually(expr: string, accept: (v: number) => boolean, seconds = 30): Promise<number> {
  let last: number | undefined;
  for (let i = 0; i < seconds * 2; i++) {
    const res = await query(expr);
    last = res.length ? Number(res[0]!.value[1]) : undefined;
    if (last !== undefined && accept(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${expr}: last value ${String(last)}`);
}

function run(type: string, input: unknown): Promise<unknown> {
  return client.workflow.execute(type, { taskQueue: sbx.config.temporal.taskQueue, workflowId: `prom-${type}-${Date.now()}`, args: [input] });
}

describe('Prometheus scraping a worker', () => {
  it('reads backup and maintenance runbook metrics back through the HTTP API', async () => {
    const { RUNBOOKS } = await import('../../src/runbooks.js');
    const maintenanceType = RUNBOOKS.daily.workflowType;
    await run('backup', { hostId: 'prom-host' });
    await run(maintenanceType, { hostId: 'prom-host' });

    const labels = (runbook: string) => `runbook="${runbook}", host="prom-host"`;
    expect(await eventually(`mcp_runbooks_runbook_runs_total{${labels('backup')}, outcome="success"}`, (v) => v >= 1)).toBe(1);
    expect(await eventually(`mcp_runbooks_runbook_runs_total{${labels(maintenanceType)}, outcome="success"}`, (v) => v >= 1)).toBe(1);
    await eventually(`mcp_runbooks_runbook_last_success_timestamp_seconds{${labels('backup')}}`, (v) => Math.abs(v - Date.now() / 1000) < 120);
    await eventually(`mcp_runbooks_runbook_duration_seconds_count{${labels('backup')}}`, (v) => v === 1);
    await eventually(`sum(mcp_runbooks_runbook_findings{${labels(maintenanceType)}})`, (v) => v > 0);
    await eventually(`mcp_runbooks_runbook_findings{${labels('backup')}, status="fail"}`, (v) => v === 0);
    await eventually('sum(mcp_runbooks_runbook_downtime_seconds_total{runbook="backup"})', (v) => v > 0);
    await eventually('mcp_runbooks_backup_last_size_bytes{host="prom-host"}', (v) => v > 0);
    await eventually('mcp_runbooks_backup_archives{host="prom-host"}', (v) => v === 1);
    await eventually('mcp_runbooks_backup_newest_verified{host="prom-host"}', (v) => v === 1);
    await eventually('time() - mcp_runbooks_backup_newest_timestamp_seconds{host="prom-host"}', (v) => v < 300);
    await eventually('count(mcp_runbooks_service_up{host="prom-host"} == 1)', (v) => v === 4);
    await eventually('mcp_memory_up{host="prom-host"}', (v) => v === 1);
    await eventually('mcp_memory_size{host="prom-host"}', (v) => v >= 2);
    await eventually('sum(mcp_runbooks_activity_duration_seconds_count{activity="createArchive"})', (v) => v >= 1);
    await eventually('count(mcp_runbooks_schedule_paused{runbook="health-check", host="prom-host"})', (v) => v === 1);
    await eventually('sum(temporal_workflow_completed_total)', (v) => v >= 2);
    await eventually('mcp_runbooks_worker_ready', (v) => v === 1);
    // The default target: the backups folder, as an archive target named local.
    const target = 'host="prom-host", target="local", type="archive"';
    await eventually(`time() - mcp_runbooks_backup_target_last_success_timestamp_seconds{${target}}`, (v) => v < 300);
    await eventually(`mcp_runbooks_backup_target_runs_total{${target}, outcome="success"}`, (v) => v === 1);
    await eventually(`mcp_runbooks_backup_target_bytes_added_bytes{${target}}`, (v) => v > 0);
    await eventually(`mcp_runbooks_backup_target_snapshots{${target}}`, (v) => v === 1);
    await eventually(`mcp_runbooks_backup_target_verification_ok{${target}}`, (v) => v === 1);
    await eventually(`time() - mcp_runbooks_backup_target_last_verified_timestamp_seconds{${target}}`, (v) => v < 300);
    // The alert rules load and evaluate against these series: no backup alert for a fresh, verified backup.
    const alerts = (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ labels: { alertname: string } }> } };
    const firing = alerts.data.alerts.map((a) => a.labels.alertname);
    for (const alert of ['BackupTooOld', 'BackupFailed', 'OffsiteBackupTooOld', 'OffsiteBackupFailed', 'OffsiteBackupNotVerified']) expect(firing).not.toContain(alert);
  }, 180_000);

  it('a backup dry run and a recovery dry run are counted as dry-run and move neither the last success nor the findings', async () => {
    const labels = (runbook: string) => `runbook="${runbook}", host="prom-host"`;
    // The real backup of the test above has been scraped: its last success and findings are the baseline.
    const lastSuccess = await eventually(`mcp_runbooks_runbook_last_success_timestamp_seconds{${labels('backup')}}`, (v) => v > 0);
    const okFindings = await eventually(`mcp_runbooks_runbook_findings{${labels('backup')}, status="ok"}`, (v) => v > 0);
    const archive = (await readdir(sbx.config.paths.backupDir)).find((f) => /^mcp_backup_\d{8}_\d{6}\.tar\.gz$/.test(f))!;
    expect(archive).toBeDefined();

    expect(await run('backup', { hostId: 'prom-host', dryRun: true })).toMatchObject({ dryRun: true });
    expect(await run('disasterRecovery', { hostId: 'prom-host', backup: archive, dryRun: true })).toMatchObject({ outcome: 'dry-run' });
    await eventually(`mcp_runbooks_runbook_runs_total{${labels('backup')}, outcome="dry-run"}`, (v) => v === 1);
    await eventually(`mcp_runbooks_runbook_runs_total{${labels('disasterRecovery')}, outcome="dry-run"}`, (v) => v === 1);

    // Both counters above come from the scrape that would carry the dry runs' other updates too.
    const values = async (expr: string) => (await query(expr)).map((r) => Number(r.value[1]));
    expect(await values(`mcp_runbooks_runbook_last_success_timestamp_seconds{${labels('backup')}}`)).toEqual([lastSuccess]);
    expect(await values(`mcp_runbooks_runbook_last_success_timestamp_seconds{${labels('disasterRecovery')}}`)).toEqual([]);
    expect(await values(`mcp_runbooks_runbook_findings{${labels('backup')}, status="ok"}`)).toEqual([okFindings]);
    expect(await values(`mcp_runbooks_runbook_findings{${labels('disasterRecovery')}}`)).toEqual([]);
    expect(await values(`mcp_runbooks_runbook_runs_total{${labels('backup')}, outcome="success"}`)).toEqual([1]);
    expect(await values(`mcp_runbooks_runbook_duration_seconds_count{${labels('backup')}}`)).toEqual([1]);
  }, 120_000);

  it('a run for a host that does not resolve is counted as invalid-input under host="unknown", never under the input\'s host name', async () => {
    const { RUNBOOKS } = await import('../../src/runbooks.js');
    const bogus = `no-such-host-${Date.now()}`;
    const runs: Array<[string, Record<string, unknown>]> = [
      ['backup', {}],
      ['healthCheck', {}],
      ['verifyBackups', {}],
      ['disasterRecovery', { backup: 'mcp_backup_20260101_000000.tar.gz' }],
      [RUNBOOKS.daily.workflowType, {}],
    ];
    for (const [type, input] of runs) await expect(run(type, { ...input, hostId: bogus })).rejects.toThrow();
    const text = await (await fetch(metricsUrl)).text();
    expect(text).not.toContain(bogus);
    for (const [type] of runs) expect(text).toContain(`mcp_runbooks_runbook_runs_total{runbook="${type}",host="unknown",outcome="invalid-input"} 1`);
  }, 60_000);

  it('every metric a dashboard panel or an alert uses is one the worker exports (node-exporter and `up` aside)', async () => {
    const text = await (await fetch(metricsUrl)).text();
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const histograms = new Set([...types].filter(([, t]) => t === 'histogram').map(([n]) => n));
    const used = new Map<string, string>();
    const rules = parse(await readFile(join(PACKAGE_ROOT, 'monitoring', 'alert_rules.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
    for (const r of rules.groups.flatMap((g) => g.rules)) for (const n of metricNames(r.expr)) used.set(n, `alert ${r.alert}`);
    const dashboards = join(PACKAGE_ROOT, 'monitoring', 'grafana', 'dashboards');
    for (const f of await readdir(dashboards)) {
      const d = JSON.parse(await readFile(join(dashboards, f), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
      for (const p of d.panels) for (const t of p.targets) for (const n of metricNames(t.expr)) used.set(n, `${f}: ${p.title}`);
    }
    expect(used.size).toBeGreaterThan(20);
    const missing = [...used]
      .filter(([n]) => !n.startsWith('node_') && n !== 'up' && n !== 'time')
      .filter(([n]) => !types.has(baseName(n, histograms)))
      .map(([n, where]) => `${n} (${where})`);
    expect(missing).toEqual([]);
  });
});

describe('Grafana provisioning files', () => {
  it('dashboards are the model itself (file provisioning), with unique uids, and use the provisioned data source', async () => {
    const dsFile = parse(await readFile(join(PACKAGE_ROOT, 'monitoring', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')) as {
      datasources: Array<{ uid: string; type: string }>;
    };
    const provider = parse(await readFile(join(PACKAGE_ROOT, 'monitoring', 'grafana', 'provisioning', 'dashboards', 'mcp-runbooks.yml'), 'utf8')) as {
      providers: Array<{ type: string; options: { path: string } }>;
    };
    expect(provider.providers[0]).toMatchObject({ type: 'file' });
    const dsUid = dsFile.datasources[0]!.uid;
    const dir2 = join(PACKAGE_ROOT, 'monitoring', 'grafana', 'dashboards');
    const files = await readdir(dir2);
    expect(files.sort()).toEqual(['backups.json', 'runbooks-overview.json', 'services.json']);
    const uids = new Set<string>();
    for (const f of files) {
      const d = JSON.parse(await readFile(join(dir2, f), 'utf8')) as Record<string, unknown> & { panels: Array<{ datasource: { uid: string }; targets: unknown[] }> };
      expect(d, f).not.toHaveProperty('dashboard');
      expect(d).toMatchObject({ uid: expect.any(String) as unknown, title: expect.any(String) as unknown, schemaVersion: expect.any(Number) as unknown });
      uids.add(d.uid as string);
      expect(d.panels.length).toBeGreaterThan(3);
      for (const p of d.panels) {
        expect(p.datasource.uid).toBe(dsUid);
        expect(p.targets.length).toBeGreaterThan(0);
      }
    }
    expect(uids.size).toBe(files.length);
  });
});
