/** Log rotation with the real logrotate, and error lines counted since the previous scan, on real files. */
import { mkdtempSync } from 'node:fs';
import { appendFile, chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMaintenanceLogActivities, logScanMarkerPath } from '../../../src/activities/maintenance/logs.js';
import type { Config, ServiceConfig } from '../../../src/config/config.js';
import { logrotateConfig } from '../../../src/dev/sandbox/provision.js';
import { CommandServiceManager } from '../../../src/services/index.js';

const dir = mkdtempSync(join(tmpdir(), 'mcp-logs-act-'));
const logDir = join(dir, 'log');
beforeAll(async () => {
  await mkdir(logDir, { mode: 0o750 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const services: ServiceConfig[] = ['mcp-a', 'mcp-b'].map((name) => ({ name, unit: name, logFiles: [join(dir, 'log', `${name}.log`)], commands: {} }));
const manager = () => new CommandServiceManager({ services, commands: { start: ['true'], stop: ['true'], status: ['true'] }, timeoutSeconds: 5 });

function activities(logs: Partial<Config['maintenance']['logs']> = {}, logrotate?: string) {
  const config = {
    services,
    maintenance: {
      stateDir: join(dir, 'state'),
      logs: { maxAgeDays: 7, logrotateConfig: join(dir, 'logrotate.conf'), logrotateStateFile: join(dir, 'lr', 'status'), forceRotation: true, errorPatterns: ['error', 'failed'], firstScanDays: 7, ...logs },
    } as Config['maintenance'],
  };
  return createMaintenanceLogActivities({ config, services: manager(), ...(logrotate ? { logrotate } : {}) });
}

describe('rotateLogs (real logrotate)', () => {
  it('rotates every log with the configured file and state file (copytruncate keeps the service\'s open file)', async () => {
    await writeFile(join(dir, 'logrotate.conf'), logrotateConfig(logDir), { mode: 0o644 });
    for (const s of services) await writeFile(s.logFiles[0]!, `${new Date().toISOString()} INFO ${s.name} up\n`);
    const f = await activities().rotateLogs();
    expect(f).toMatchObject({ check: 'logs.rotate', status: 'ok', message: `rotated 2 of 2 log files with ${join(dir, 'logrotate.conf')}` });
    expect((await readdir(logDir)).sort()).toEqual(['mcp-a.log', 'mcp-a.log.1', 'mcp-b.log', 'mcp-b.log.1']);
    expect(await readFile(join(logDir, 'mcp-a.log'), 'utf8')).toBe('');
    expect(await readFile(join(dir, 'lr', 'status'), 'utf8')).toContain('mcp-a.log');
  });

  it.each([
    ['no configuration file', { logrotateConfig: join(dir, 'nope.conf') }, undefined, 'warn', /^no logrotate configuration at .*nope\.conf: logs were not rotated$/],
    ['logrotate not installed', {}, 'logrotate-not-installed', 'warn', /^logrotate-not-installed is not installed: logs were not rotated$/],
  ])('%s: %s', async (_name, logs, program, status, message) => {
    const f = await activities(logs, program).rotateLogs();
    expect(f.status).toBe(status);
    expect(f.message).toMatch(message);
  });

  it('a configuration file others may write is ignored by logrotate (exit 0): a fail, not an ok', async () => {
    const unsafe = join(dir, 'unsafe.conf');
    await writeFile(unsafe, logrotateConfig(logDir));
    await chmod(unsafe, 0o666);
    const f = await activities({ logrotateConfig: unsafe }).rotateLogs();
    expect(f.status).toBe('fail');
    expect(f.message).toMatch(/reported errors: error: Ignoring .*unsafe\.conf because it is writable by group or others/);
  });
});

describe('countLogErrors', () => {
  it('counts error lines per service since the previous scan, including a copy rotated in between; texts stay on the host', async () => {
    const [a, b] = services.map((s) => s.logFiles[0]!);
    await rm(join(dir, 'state'), { recursive: true, force: true });
    const t = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
    await writeFile(a!, `${t(30)} ERROR secret=hunter2 lost\n${t(20)} INFO fine\n${t(10)} request FAILED\n`);
    await writeFile(b!, `${t(15)} INFO fine\n`);
    const first = await activities().countLogErrors({ workflowId: 'weekly-1' });
    expect(first.map((f) => [f.check, f.status, f.data.count])).toEqual([
      ['logs.errors.mcp-a', 'warn', 2],
      ['logs.errors.mcp-b', 'ok', 0],
    ]);
    expect(first[0]!.message).toMatch(new RegExp(`^2 error lines in mcp-a's log since .* \\(see ${a!.replaceAll('/', '\\/').replaceAll('.', '\\.')}\\)$`));
    expect(JSON.stringify(first)).not.toContain('hunter2');

    // A retry of the same run reads the same window again.
    const retry = await activities().countLogErrors({ workflowId: 'weekly-1' });
    expect(retry.map((f) => f.data.count)).toEqual([2, 0]);

    // The next run reads only what came after; a rotation in between loses nothing.
    await new Promise((r) => setTimeout(r, 20));
    await appendFile(a!, `${new Date().toISOString()} ERROR after the scan\n`);
    await rm(`${a!}.1`, { force: true });
    await writeFile(`${a!}.1`, await readFile(a!, 'utf8'));
    await writeFile(a!, `${new Date(Date.now() + 5).toISOString()} error again\n`);
    await new Promise((r) => setTimeout(r, 20));
    const second = await activities().countLogErrors({ workflowId: 'weekly-2' });
    expect(second.map((f) => f.data.count)).toEqual([2, 0]);
    const marker = JSON.parse(await readFile(logScanMarkerPath(join(dir, 'state')), 'utf8')) as { workflowId: string };
    expect(marker.workflowId).toBe('weekly-2');
  });
});
