/**
 * restartService on a real sandbox host: a killed memory service is restarted
 * (a new process, answering /get_stats), the restarts are counted on the host,
 * and once `remediation.maxRestarts` is reached the next run refuses (exit 3,
 * a fail finding) and leaves the service alone. The CLI as a subprocess.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestartServiceResult } from '../../src/workflows/index.js';
import { runCli } from '../helpers/cli.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { pollUntil } from '../helpers/temporal.js';

let host: TestHost;
const HOST = 'restart-svc';

beforeAll(async () => {
  host = await startTestHost({ hostId: HOST, extra: { remediation: { maxRestarts: 2, windowMinutes: 60 } } });
}, 120_000);
afterAll(() => host?.close());

const cli = (...args: string[]) => runCli(['--config', host.sbx.configPath, ...args], { timeout: 120_000 });
const pidOf = async (service: string) => Number((await readFile(join(host.sbx.config.sandbox!.root, 'run', `${service}.pid`), 'utf8')).trim());

describe('mcp-runbooks run restart-service', () => {
  it('brings a killed memory service back as a new process that answers; the third restart within the window is refused', async () => {
    const { manager } = host.sbx;
    const before = await pidOf('mcp-memory');
    process.kill(before, 'SIGKILL');
    await pollUntil('mcp-memory seen down', () => manager.status('mcp-memory'), (s) => s.state !== 'active', { timeoutMs: 10_000, intervalMs: 100 });

    const first = await cli('run', 'restart-service', '--service', 'mcp-memory', '--reason', 'ServiceDown', '--json');
    expect(first.exitCode, first.all).toBe(0);
    const r1 = JSON.parse(first.stdout) as RestartServiceResult;
    expect(r1).toMatchObject({ runbook: 'restartService', hostId: HOST, service: 'mcp-memory', refused: false, recentRestarts: [], summary: { fail: 0 } });
    expect(r1.findings.map((f) => [f.check, f.status])).toEqual([
      ['restart.done', 'ok'],
      ['service.mcp-memory', 'ok'],
      ['memory.get_stats', 'ok'],
    ]);
    expect((await manager.status('mcp-memory')).state).toBe('active');
    const after = await pidOf('mcp-memory');
    expect(after).not.toBe(before);

    const second = await cli('run', 'restart-service', '--service', 'mcp-memory', '--json');
    expect(second.exitCode, second.all).toBe(0);
    expect((JSON.parse(second.stdout) as RestartServiceResult).recentRestarts).toHaveLength(1);
    const running = await pidOf('mcp-memory');

    // The limit (2 within 60 minutes) is reached: refused, in text, exit 3, and the service is left as it is.
    const third = await cli('run', 'restart-service', '--service', 'mcp-memory');
    expect(third.exitCode, third.all).toBe(3);
    expect(third.stdout).toMatch(/FAIL\s+restart\.flapping\s+mcp-memory was restarted 2 times in the last 60 minutes \(limit 2\): not restarting it again/);
    expect(await pidOf('mcp-memory')).toBe(running);
    // The record is per service: another service may still be restarted.
    const other = await cli('run', 'restart-service', '--service', 'mcp-postgres', '--json');
    expect(other.exitCode, other.all).toBe(0);
    expect((JSON.parse(other.stdout) as RestartServiceResult).findings.map((f) => [f.check, f.status])).toEqual([
      ['restart.done', 'ok'],
      ['service.mcp-postgres', 'ok'],
      ['postgres.select1', 'ok'],
    ]);
  }, 300_000);

  it('refuses what it cannot do before anything runs: no --service (exit 2), a service the host does not run (InvalidInput, exit 2), --service on another runbook', async () => {
    const none = await cli('run', 'restart-service');
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('restart-service needs --service <name>');
    const unknown = await cli('run', 'restart-service', '--service', 'sshd');
    expect(unknown.exitCode, unknown.all).toBe(2);
    expect(unknown.all).toContain('input.service: service "sshd" is not configured on this host (configured: mcp-filesystem, mcp-postgres, mcp-memory, mcp-compliance)');
    const wrong = await cli('run', 'backup', '--service', 'mcp-memory');
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toContain('--service does not apply to backup');
  }, 120_000);
});
