/**
 * A worker's metrics registry and HTTP server filled with the series of a
 * fleet of <hosts> x <services>, as an orchestrator serving all of them would
 * hold; prints its port, serves /metrics and /cpu (this process's CPU time).
 */
import { createServer } from 'node:http';
import { createWorkerMetrics } from '../../src/metrics/registry.js';
import { startMetricsServer } from '../../src/metrics/server.js';

const hosts = Number(process.argv[2] ?? 4);
const servicesPerHost = Number(process.argv[3] ?? 4);
const m = createWorkerMetrics({ role: 'all', hostId: 'bench' });
m.setReadiness(() => true);
const runbooks = ['healthCheck', 'backup', 'dailyMaintenance', 'weeklyMaintenance', 'monthlyMaintenance', 'disasterRecovery'];
const activities = ['checkServices', 'checkDisk', 'checkMemory', 'planBackup', 'snapshotSource', 'dumpDatabase', 'createArchive', 'verifyBackup', 'applyRetention', 'serviceStates', 'stopServices', 'startServices'];
for (let h = 0; h < hosts; h++) {
  const host = `host-${h}`;
  for (let s = 0; s < servicesPerHost; s++) {
    const service = `mcp-service-${s}`;
    m.serviceUp.set({ host, service }, 1);
    m.serviceDowntime.inc({ host, service }, s);
    m.runbookDowntime.inc({ runbook: 'backup', host, service }, 2);
  }
  for (const runbook of runbooks) {
    m.runbookRuns.inc({ runbook, host, outcome: 'success' }, 10);
    m.runbookDuration.observe({ runbook, host }, 30);
    m.runbookLastSuccess.set({ runbook, host }, Date.now() / 1000);
    for (const status of ['ok', 'warn', 'fail']) m.findings.set({ runbook, host, status }, 3);
  }
  for (const activity of activities) m.activityDuration.observe({ activity, task_queue: `mcp-runbooks.host.${host}`, outcome: 'success' }, 0.2);
  for (const schedule of ['backup', 'daily', 'weekly', 'monthly']) {
    const labels = { schedule: `mcp-runbooks.${schedule}.${host}`, runbook: schedule, host };
    m.scheduleLastSuccess.set(labels, Date.now() / 1000);
    m.scheduleMissed.inc(labels, 0);
    m.scheduleSkipped.inc(labels, 0);
    m.schedulePaused.set(labels, 0);
  }
  m.backups.set({ host }, 30);
  m.backupNewest.set({ host }, Date.now() / 1000);
  m.backupNewestSize.set({ host }, 1e9);
  m.backupNewestVerified.set({ host }, 1);
  m.memoryUp.set({ host }, 1);
  m.memorySize.set({ host }, 1000);
  m.memoryOperations.inc({ host }, 10);
  m.memoryLatency.observe({ host }, 0.01);
}
const server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: m.registry, readiness: () => ({ ready: true, detail: 'bench' }) });
const cpu = createServer((_req, res) => res.end(JSON.stringify(process.cpuUsage())));
await new Promise<void>((r) => cpu.listen(0, '127.0.0.1', () => r()));
const cpuPort = (cpu.address() as { port: number }).port;
process.stdout.write(`${JSON.stringify({ metrics: `${server.url}/metrics`, cpu: `http://127.0.0.1:${cpuPort}/` })}\n`);
