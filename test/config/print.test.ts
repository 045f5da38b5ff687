/** `configYaml`: the resolved config printed as a file that loads back to the same config. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/config.js';
import { loadConfig, type Env } from '../../src/config/load.js';
import { configYaml } from '../../src/config/print.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-config-print-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function file(content: string): Promise<string> {
  const path = join(dir, `c${n++}.yaml`);
  await writeFile(path, content);
  return path;
}

/** Prints `config`, loads the print, and returns both without their `source` (where each came from). */
async function roundTrip(config: Config, env: Env): Promise<{ before: Omit<Config, 'source'>; after: Omit<Config, 'source'>; printed: string; again: Config }> {
  const printed = configYaml(config);
  const again = loadConfig({ path: await file(printed), env });
  const { source: _a, ...before } = config;
  const { source: _b, ...after } = again;
  return { before, after, printed, again };
}

describe('mcp-runbooks config prints YAML that loads back to the same resolved config', () => {
  it('the built-in sandbox', async () => {
    const config = loadConfig({ env: {}, cwd: dir });
    const { before, after } = await roundTrip(config, {});
    expect(after).toEqual(before);
  });

  it('the built-in sandbox with restic on PATH (its restic target and initRepository)', async () => {
    const config = loadConfig({ env: { PATH: process.env.PATH }, cwd: dir });
    expect(config.sandbox?.initRepository).toBe('offsite');
    const { before, after } = await roundTrip(config, {});
    expect(after).toEqual(before);
  });

  it('the seed defaults (`{}`)', async () => {
    const config = loadConfig({ path: await file('{}\n'), env: {} });
    const { before, after } = await roundTrip(config, {});
    expect(after).toEqual(before);
  });

  it('everything set: secrets by reference, TLS, octal modes, schedules overriding and switching off seed ones, relative paths, env overrides', async () => {
    const secretFile = join(dir, 'api.key');
    const ca = join(dir, 'ca.pem');
    await writeFile(secretFile, 'key-from-file-very-secret\n');
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    const env = { PG_PASS: 'pw-very-secret', TEMPORAL_NAMESPACE: 'ops' };
    const path = await file(
      stringify({
        hostId: 'db-1',
        hosts: ['db-1', 'db-2'],
        temporal: { address: 'temporal.internal:7233', tls: { serverName: 'temporal', serverRootCACertFile: 'ca.pem' }, apiKey: { file: 'api.key' } },
        paths: { installRoot: 'opt/mcp', tempDirs: ['tmp'] },
        retention: { days: 14, keepWeekly: 4 },
        backup: {
          sources: [{ mode: 'online', path: 'etc' }, { mode: 'stop', path: 'opt/mcp/memory_db', services: ['mcp-memory'] }, { mode: 'pg_dump' }],
          compression: { program: 'gzip', level: 9 },
        },
        recovery: { validateCommand: ['/usr/local/bin/validate', '--strict'] },
        maintenance: {
          logs: { logrotateStateFile: 'state/logrotate' },
          security: { allowedFileModes: ['644', '0600', '4755'], allowedDirModes: ['0750', '1777'] },
          packages: { refreshCommand: false, upgradeApprovalTimeoutMinutes: 30 },
        },
        services: ['mcp-filesystem', { name: 'mcp-memory', unit: 'memory.service', logFiles: ['log/memory.log'] }, { name: 'mcp-postgres', commands: { status: ['pg_isready'] } }],
        serviceManager: { type: 'command', commands: { start: ['svc', 'start', '{service}'], stop: ['svc', 'stop', '{service}'], status: ['svc', 'status', '{service}'] } },
        postgres: { database: 'mcp', password: { env: 'PG_PASS' } },
        schedules: [
          { runbook: 'backup', host: 'db-2', cron: '30 1 * * *', timezone: 'Europe/Berlin', jitter: '5m' },
          { runbook: 'weekly', host: 'db-1', enabled: false },
          { runbook: 'health-check', every: '15m', overlap: 'buffer-one', pauseOnFailure: true },
        ],
      }),
    );
    const config = loadConfig({ path, env });
    const { before, after, printed, again } = await roundTrip(config, env);
    expect(after).toEqual(before);
    expect(again.schedules.map((s) => s.origin)).toEqual(config.schedules.map((s) => s.origin));
    // Secrets: the reference, never the value.
    expect(again.postgres?.password?.reveal()).toBe('pw-very-secret');
    expect(again.temporal.apiKey?.reveal()).toBe('key-from-file-very-secret');
    expect(printed).not.toContain('very-secret');
    expect(printed).toMatch(/password:\n\s+env: PG_PASS\n/);
    expect(printed).toContain(`file: ${secretFile}`);
    // Modes as the file writes them; derived fields left out.
    expect(printed).toMatch(/allowedFileModes:\n\s+- "644"\n\s+- "600"\n\s+- "4755"\n/);
    expect(printed).not.toContain('database: mcp\n      ');
    expect(printed).not.toMatch(/^source:/m);
  });

  it('without the seed schedules: the declared ones only, in the same order', async () => {
    const config = loadConfig({ path: await file(stringify({ defaultSchedules: false, schedules: [{ runbook: 'health-check', every: '1h' }, { runbook: 'daily' }] })), env: {} });
    const { before, after, printed } = await roundTrip(config, {});
    expect(after).toEqual(before);
    expect(printed).toContain('defaultSchedules: false');
  });
});
