/** Daily disk check and old-log cleanup on a real folder; a 0 % threshold makes the cleanup run. */
import { lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMaintenanceSystemActivities, type MaintenanceSystemDeps } from '../../../src/activities/maintenance/system.js';
import type { Config } from '../../../src/config/config.js';
import { makeOld } from '../../helpers/files.js';

let logDir: string;
beforeEach(async () => {
  logDir = await mkdtemp(join(tmpdir(), 'mcp-daily-logs-'));
});
afterEach(async () => {
  await rm(logDir, { recursive: true, force: true });
});
const exists = (p: string) => lstat(p).then(() => true, () => false);

function activities(diskPercent: number, logFiles: Record<string, string[]>, installRoot = logDir) {
  const config: MaintenanceSystemDeps['config'] = {
    paths: { installRoot, logDir } as Config['paths'],
    thresholds: { diskPercent } as Config['thresholds'],
    maintenance: { logs: { maxAgeDays: 7 } } as Config['maintenance'],
    services: Object.entries(logFiles).map(([name, files]) => ({ name, unit: `${name}.service`, logFiles: files, commands: {} })),
  };
  return createMaintenanceSystemActivities({ config });
}

describe('checkDiskAndCleanLogs', () => {
  it('above the threshold, a quiet service\'s live log (old by its time) is kept; other old logs go', async () => {
    const live = join(logDir, 'mcp-quiet.log');
    const other = join(logDir, 'mcp-busy-extra.log');
    const stale = join(logDir, 'old-tool.log');
    for (const p of [live, other, stale]) {
      await writeFile(p, 'x'.repeat(100));
      await makeOld(p, 10 * 24);
    }
    const [disk, cleanup] = await activities(0, { 'mcp-quiet': [live], 'mcp-busy': [other] }).checkDiskAndCleanLogs();
    expect(disk).toMatchObject({ check: 'system.disk', status: 'warn', data: { thresholdPercent: 0 } });
    expect(cleanup).toMatchObject({ check: 'logs.cleanup', status: 'ok', data: { ran: true, removed: [stale], removedCount: 1, freedBytes: 100 } });
    expect((cleanup!.data.left as Array<{ path: string }>).map((l) => l.path).sort()).toEqual([other, live].sort());
    expect(await readFile(live, 'utf8')).toBe('x'.repeat(100));
    expect(await exists(other)).toBe(true);
    expect(await exists(stale)).toBe(false);
  });

  it('within the threshold nothing is looked at; the disk finding is the shared checkDisk one', async () => {
    const stale = join(logDir, 'old-tool.log');
    await writeFile(stale, 'x');
    await makeOld(stale, 10 * 24);
    const [disk, cleanup] = await activities(100, {}).checkDiskAndCleanLogs();
    expect(disk).toMatchObject({ check: 'system.disk', status: 'ok', message: `disk holding ${logDir} is ${disk!.data.usedPercent as number}% full` });
    expect(cleanup).toMatchObject({ check: 'logs.cleanup', status: 'ok', data: { ran: false } });
    expect(await exists(stale)).toBe(true);
  });

  it('a disk that cannot be measured: fail, and the cleanup says why it did not run', async () => {
    const findings = await activities(0, {}, join(logDir, 'missing')).checkDiskAndCleanLogs();
    expect(findings.map((f) => [f.check, f.status])).toEqual([
      ['system.disk', 'fail'],
      ['logs.cleanup', 'warn'],
    ]);
    expect(findings[0]!.message).toMatch(new RegExp(`^cannot measure disk usage of ${join(logDir, 'missing')}: `));
  });
});
