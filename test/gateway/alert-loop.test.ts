/**
 * The whole remediation loop with Debian's real Prometheus and Alertmanager on
 * loopback: the memory service of a sandbox host is killed; the host worker's
 * probe reports `mcp_runbooks_service_up` 0; Prometheus's ServiceDown rule (the
 * one in monitoring/alert_rules.yml, only its `for` shortened) fires;
 * Alertmanager posts its webhook to `mcp-runbooks gateway`; the gateway starts
 * restartService, which brings the service back; the alert resolves and
 * Alertmanager tells the gateway so. Exactly one remediation runs, and the
 * time from the kill to the service being back is recorded.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';
import { freePort } from '../../src/dev/ports.js';
import { startGatewayCli } from '../helpers/cli.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { pollUntil } from '../helpers/temporal.js';

const HOST = 'loop-host';
const SERVICE = 'mcp-memory';
/** The rule under test, as monitoring/alert_rules.yml has it (expression, labels, annotations); `for` is the only change. */
const ALERT = 'ServiceDown';
/** The loop's bound: a broken loop fails here, well inside the test's timeout. */
const LOOP_TIMEOUT_MS = 45_000;

let host: TestHost;
let gateway: Awaited<ReturnType<typeof startGatewayCli>> | undefined;
let prometheus: Server | undefined;
let alertmanager: Server | undefined;
let dir: string | undefined;
let promUrl: string;
let amUrl: string;
const token = randomBytes(24).toString('hex');

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** ServiceDown from the real rules file, with `for` shortened so the test does not wait two minutes. */
async function serviceDownRule(forDuration: string): Promise<AlertRule> {
  const file = parse(await readFile(join(PACKAGE_ROOT, 'monitoring', 'alert_rules.yml'), 'utf8')) as { groups: Array<{ rules: AlertRule[] }> };
  const rule = file.groups.flatMap((g) => g.rules).find((r) => r.alert === ALERT);
  if (!rule) throw new Error(`monitoring/alert_rules.yml has no ${ALERT} rule`);
  return { ...rule, for: forDuration };
}

/** A program on loopback, its output kept for the failure message; stopped with SIGTERM (SIGKILL after 5s). */
interface Server {
  proc: ResultPromise;
  /** Set once the program has exited. */
  exited(): boolean;
  output(): string;
}
function startServer(file: string, args: string[]): Server {
  const proc = execa(file, args, { reject: false, all: true, forceKillAfterDelay: 5000 });
  let output = '';
  let exited = false;
  proc.all.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  void proc.then(() => {
    exited = true;
  });
  return { proc, exited: () => exited, output: () => output.slice(-4000) };
}

async function stopServer(server: Server | undefined): Promise<void> {
  if (!server || server.exited()) return;
  server.proc.kill('SIGTERM');
  await server.proc;
}

async function ready(what: string, url: string, server: Server): Promise<void> {
  await pollUntil(
    `${what} ready at ${url}`,
    async () => {
      if (server.exited()) throw new Error(`${what} exited (${String(server.proc.exitCode)}):\n${server.output()}`);
      return (await fetch(url)).ok;
    },
    (ok) => ok,
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-loop-'));
  const ports = { metrics: await freePort(), gateway: await freePort(), prometheus: await freePort(), alertmanager: await freePort() };
  // The token reaches Alertmanager in a file it reads per request (http_config.authorization.credentials_file), never on a command line.
  const tokenFile = join(dir, 'gateway.token');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });

  host = await startTestHost({
    hostId: HOST,
    serveMetrics: true,
    extra: {
      // The service probe every second; the probes this test does not read are off.
      metrics: { port: ports.metrics, sdkPort: 0, probeSeconds: 1, backupProbeSeconds: 0, scheduleProbeSeconds: 0 },
      gateway: {
        port: ports.gateway,
        tokens: [{ name: 'alertmanager', token: { file: tokenFile }, runbooks: ['restart-service'] }],
        // The rule an operator writes for ServiceDown (README): the alert's service label names the service.
        alertRules: [{ name: 'service-down', alert: ALERT, matchers: { severity: 'critical' }, runbook: 'restart-service', labels: { service: 'service' } }],
      },
    },
  });
  gateway = await startGatewayCli(host.sbx.configPath);

  amUrl = `http://127.0.0.1:${ports.alertmanager}`;
  await writeFile(
    join(dir, 'alertmanager.yml'),
    stringify({
      route: { receiver: 'mcp-runbooks', group_by: ['alertname', 'host', 'service'], group_wait: '1s', group_interval: '1s', repeat_interval: '4h' },
      receivers: [
        {
          name: 'mcp-runbooks',
          webhook_configs: [{ url: `${gateway.url}/v1/alertmanager`, send_resolved: true, http_config: { authorization: { credentials_file: tokenFile } } }],
        },
      ],
    }),
  );
  alertmanager = startServer('prometheus-alertmanager', [
    `--config.file=${join(dir, 'alertmanager.yml')}`,
    `--storage.path=${join(dir, 'alertmanager')}`,
    `--web.listen-address=127.0.0.1:${ports.alertmanager}`,
    // No cluster: no gossip port, no peers, and no wait for them before the first notification.
    '--cluster.listen-address=',
    '--log.level=warn',
  ]);
  await ready('Alertmanager', `${amUrl}/-/ready`, alertmanager);

  promUrl = `http://127.0.0.1:${ports.prometheus}`;
  await writeFile(join(dir, 'rules.yml'), stringify({ groups: [{ name: 'alert-loop', rules: [await serviceDownRule('2s')] }] }));
  await writeFile(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [join(dir, 'rules.yml')],
      alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${ports.alertmanager}`] }] }] },
      scrape_configs: [{ job_name: 'mcp-runbooks', static_configs: [{ targets: [`127.0.0.1:${ports.metrics}`] }] }],
    }),
  );
  prometheus = startServer('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'prometheus')}`,
    `--web.listen-address=127.0.0.1:${ports.prometheus}`,
    '--log.level=warn',
  ]);
  await ready('Prometheus', `${promUrl}/-/ready`, prometheus);
}, 120_000);

afterAll(async () => {
  await stopServer(prometheus);
  await stopServer(alertmanager);
  await gateway?.stop();
  await host?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

async function promQuery(expr: string): Promise<number[]> {
  const r = await getJson<{ data: { result: Array<{ value: [number, string] }> } }>(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return r.data.result.map((x) => Number(x.value[1]));
}

interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}
/** Prometheus's pending and firing ServiceDown alerts for the host. */
async function promAlerts(): Promise<PromAlert[]> {
  const r = await getJson<{ data: { alerts: PromAlert[] } }>(`${promUrl}/api/v1/alerts`);
  return r.data.alerts.filter((a) => a.labels.alertname === ALERT && a.labels.host === HOST);
}

/** Alertmanager's active (not resolved) ServiceDown alerts for the host. */
async function amAlerts(): Promise<Array<{ labels: Record<string, string> }>> {
  const all = await getJson<Array<{ labels: Record<string, string>; status: { state: string } }>>(`${amUrl}/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true`);
  return all.filter((a) => a.labels.alertname === ALERT && a.labels.host === HOST);
}

/** The gateway's counter for these labels (0 when it has no such series yet). */
async function gatewayCounter(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${gateway!.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

async function restartRuns(): Promise<Array<{ workflowId: string; startTime: Date }>> {
  const runs: Array<{ workflowId: string; startTime: Date }> = [];
  for await (const wf of host.client.workflow.list({ query: `WorkflowType = 'restartService' AND McpHost = '${HOST}'` })) runs.push({ workflowId: wf.workflowId, startTime: wf.startTime });
  return runs;
}

const pidFile = () => join(host.sbx.config.sandbox!.root, 'run', `${SERVICE}.pid`);
const pidOf = async () => Number((await readFile(pidFile(), 'utf8')).trim());

describe('the remediation loop: Prometheus, Alertmanager, the gateway, restartService', () => {
  it('a killed service is restarted once through the alert, and the alert resolves', async ({ annotate }) => {
    // Before the kill: Prometheus sees the four services up and nothing fires.
    await pollUntil('Prometheus seeing the four services up', () => promQuery(`count(mcp_runbooks_service_up{host="${HOST}"} == 1)`), (v) => v[0] === 4, { timeoutMs: 30_000, intervalMs: 250 });
    expect(await promAlerts()).toEqual([]);
    expect(await restartRuns()).toEqual([]);

    const killed = await pidOf();
    const killedAt = Date.now();
    process.kill(killed, 'SIGKILL');

    // Prometheus's rule fires on the worker's metric (pending for `for`, then firing).
    await pollUntil('ServiceDown firing in Prometheus', promAlerts, (a) => a.some((x) => x.state === 'firing' && x.labels.service === SERVICE), {
      timeoutMs: LOOP_TIMEOUT_MS,
      intervalMs: 200,
    });
    const firedAt = Date.now();

    // Back: active, with a new process (nothing in the sandbox restarts a killed service by itself).
    await pollUntil(
      `${SERVICE} running again (a new process)`,
      async () => ({ state: (await host.sbx.manager.status(SERVICE)).state, pid: await pidOf().catch(() => undefined) }),
      (s) => s.state === 'active' && s.pid !== undefined && s.pid !== killed,
      { timeoutMs: Math.max(1000, killedAt + LOOP_TIMEOUT_MS - Date.now()), intervalMs: 100 },
    ).catch(async (err: unknown) => {
      // Where the loop broke: did Alertmanager deliver, and what did the gateway do with it?
      const text = await (await fetch(`${gateway!.url}/metrics`)).text().catch((e: unknown) => String(e));
      const gatewaySaw = text.split('\n').filter((l) => /^mcp_runbooks_gateway_(alerts_received|remediations)_total\{/.test(l) || /^mcp_runbooks_gateway_requests_total\{route="POST \/v1\/alertmanager"/.test(l));
      const active = await amAlerts().then((a) => JSON.stringify(a.map((x) => x.labels)), (e: unknown) => String(e));
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nAlertmanager's active alerts: ${active}\ngateway: ${gatewaySaw.join('; ') || 'no alert received'}`, { cause: err });
    });
    const backAt = Date.now();

    // The run that did it: started by the gateway, and it reports a restart.
    const [run] = await pollUntil('visibility showing the restartService run', restartRuns, (r) => r.length > 0, { timeoutMs: 30_000, intervalMs: 250 });
    expect(run!.workflowId).toMatch(new RegExp(`^restart-service-${HOST}-am-`));
    const report = (await host.client.workflow.getHandle(run!.workflowId).result()) as { service: string; refused: boolean; restart?: { before: string; seconds: number }; summary: { fail: number } };
    expect(report).toMatchObject({ service: SERVICE, refused: false, summary: { fail: 0 } });
    expect(report.restart).toBeDefined();

    // The alert resolves: gone from Prometheus and Alertmanager, and Alertmanager's resolved notification reached the gateway.
    await pollUntil('ServiceDown gone from Prometheus', promAlerts, (a) => a.length === 0, { timeoutMs: 30_000, intervalMs: 200 });
    await pollUntil('ServiceDown resolved in Alertmanager', amAlerts, (a) => a.length === 0, { timeoutMs: 30_000, intervalMs: 200 });
    await pollUntil('the resolved notification at the gateway', () => gatewayCounter('mcp_runbooks_gateway_alerts_received_total', 'status="resolved"'), (n) => n >= 1, {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    const resolvedAt = Date.now();

    // Exactly one remediation: one run in visibility, one start counted by the gateway, whatever Alertmanager sent.
    expect((await restartRuns()).map((r) => r.workflowId)).toEqual([run!.workflowId]);
    expect(await gatewayCounter('mcp_runbooks_gateway_remediations_total', 'rule="service-down",action="started"')).toBe(1);
    expect((await host.sbx.manager.status(SERVICE)).state).toBe('active');

    const s = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
    const timing = {
      loopSeconds: (backAt - killedAt) / 1000,
      firingAfterSeconds: (firedAt - killedAt) / 1000,
      runStartedAfterSeconds: (run!.startTime.getTime() - killedAt) / 1000,
      restartActivitySeconds: report.restart!.seconds,
      resolvedAfterSeconds: (resolvedAt - killedAt) / 1000,
    };
    const line =
      `alert loop: ${SERVICE} killed -> back in ${s(backAt - killedAt)} ` +
      `(ServiceDown firing after ${s(firedAt - killedAt)}, restartService started after ${s(run!.startTime.getTime() - killedAt)}, ` +
      `its restart step ${report.restart!.seconds}s, ` +
      `resolved at the gateway after ${s(resolvedAt - killedAt)})`;
    console.log(`${line}\n${JSON.stringify(timing)}`);
    await annotate(line);
  }, 120_000);
});
