/**
 * `restartService`'s host side: the restart itself, its check, and the host's
 * record of recent restarts that lets the runbook refuse to flap a service.
 *
 * The record (`<maintenance.stateDir>/restarts.json`, 0600) holds one
 * entry per run that restarted a service (keyed by workflow id, so a retried
 * activity is one restart, not several), written before the restart so a worker
 * killed mid-restart still counts it. Entries older than a day are dropped.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { activityInfo } from '@temporalio/activity';
import type { Config } from '../config/config.js';
import { ServiceCommandError } from '../common/errors.js';
import { finding, type Finding } from '../common/report.js';
import { writeFileDurably } from '../archive/manifest.js';
import { assertConfigured, type ServiceManager } from '../services/manager.js';
import { activitySignal } from './context.js';
import { databaseAnswers, memoryServiceAnswers } from './service-checks.js';

/** The seed's services whose own check goes beyond "active" after a restart. */
const MEMORY_SERVICE = 'mcp-memory';
const POSTGRES_SERVICE = 'mcp-postgres';

const KEEP_MS = 86_400_000;

interface RestartEntry {
  service: string;
  workflowId: string;
  at: string;
}

export interface RestartHistory {
  service: string;
  /** Restarts of `service` within the window, oldest first (ISO times). */
  restarts: string[];
  maxRestarts: number;
  windowMinutes: number;
}

export interface RestartResult {
  service: string;
  /** The state before the restart. */
  before: string;
  /** When the service was active again. */
  activeAt: string;
  seconds: number;
}

export interface RemediationDeps {
  config: Config;
  services: ServiceManager;
  /** @default 30 s */
  startTimeoutMs?: number;
}

export function createRemediationActivities({ config, services, startTimeoutMs = 30_000 }: RemediationDeps) {
  const file = join(config.maintenance.stateDir, 'restarts.json');
  const read = async (): Promise<RestartEntry[]> => {
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '[]';
      throw err;
    });
    const parsed = JSON.parse(text) as unknown;
    return Array.isArray(parsed) ? (parsed as RestartEntry[]).filter((e) => typeof e?.service === 'string' && typeof e.at === 'string' && !Number.isNaN(Date.parse(e.at))) : [];
  };
  const signal = () => {
    const s = activitySignal();
    return s ? { signal: s } : {};
  };

  return {
    /** The restarts of `service` this host recorded within the configured window (from another run of ours). */
    async restartHistory(req: { service: string }): Promise<RestartHistory> {
      assertConfigured(req.service, services.services);
      const { maxRestarts, windowMinutes } = config.remediation;
      const since = Date.now() - windowMinutes * 60_000;
      const restarts = (await read())
        .filter((e) => e.service === req.service && Date.parse(e.at) >= since)
        .map((e) => e.at)
        .sort();
      return { service: req.service, restarts, maxRestarts, windowMinutes };
    },

    /** Restarts one configured service and waits until it is active; recorded first, once per run. */
    async restartService(req: { service: string }): Promise<RestartResult> {
      assertConfigured(req.service, services.services);
      const workflowId = activityInfo().workflowExecution?.workflowId ?? 'outside a workflow';
      const before = (await services.status(req.service, signal())).state;
      const entries = (await read()).filter((e) => Date.now() - Date.parse(e.at) < KEEP_MS);
      if (!entries.some((e) => e.workflowId === workflowId && e.service === req.service)) {
        entries.push({ service: req.service, workflowId, at: new Date().toISOString() });
        await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
        await writeFileDurably(file, `${JSON.stringify(entries)}\n`, 0o600);
      }
      const t0 = Date.now();
      await services.restart(req.service, signal());
      const deadline = Date.now() + startTimeoutMs;
      let s = await services.status(req.service, signal());
      while (s.state !== 'active' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        s = await services.status(req.service, signal());
      }
      if (s.state !== 'active') {
        throw new ServiceCommandError({ service: req.service, action: 'restart', argv: [], exitCode: 0, timedOut: true, output: `not active ${startTimeoutMs / 1000}s after restart (${s.state}: ${s.detail})` });
      }
      return { service: req.service, before, activeAt: new Date().toISOString(), seconds: Math.round((Date.now() - t0) / 100) / 10 };
    },

    /** After a restart: the service is active; the memory service answers `/get_stats`; the database answers `SELECT 1`. */
    async verifyService(req: { service: string }): Promise<Finding[]> {
      assertConfigured(req.service, services.services);
      const findings: Finding[] = [];
      const s = await services.status(req.service, signal());
      findings.push(
        s.state === 'active'
          ? finding(`service.${req.service}`, 'ok', `${req.service} is active`, { service: req.service, state: s.state, detail: s.detail })
          : finding(`service.${req.service}`, 'fail', `${req.service} is ${s.state} after the restart (${s.detail})`, { service: req.service, state: s.state, detail: s.detail }),
      );
      if (req.service === MEMORY_SERVICE) findings.push(await memoryServiceAnswers(config));
      if (req.service === POSTGRES_SERVICE) findings.push(...(await databaseAnswers(config)));
      return findings;
    },
  };
}
