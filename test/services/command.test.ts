/** The command service manager against real sandbox processes, controlled by argv templates. */
import { readFileSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceCommandError, ServiceNotConfiguredError } from '../../src/common/errors.js';
import { CommandServiceManager } from '../../src/services/index.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

let sbx: TestSandbox;
beforeAll(async () => {
  sbx = await createTestSandbox({ start: false });
});
afterAll(async () => {
  await sbx?.cleanup();
});

function pidOf(service: string): Promise<number> {
  return readFile(join(sbx.root, 'run', `${service}.pid`), 'utf8').then((s) => Number(s.trim()));
}

/** Alive and not a zombie (this machine's init does not reap orphans). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describe('command backend', () => {
  it.each(['mcp-filesystem', 'mcp-postgres', 'mcp-memory', 'mcp-compliance'])('%s: status, start, status, stop, status round trip', async (service) => {
    const m = sbx.manager;
    expect((await m.status(service)).state).toBe('inactive');
    await m.start(service);
    const running = await m.status(service);
    expect(running.state).toBe('active');
    const pid = await pidOf(service);
    expect(running.detail).toContain(String(pid));
    expect(alive(pid)).toBe(true);
    await m.start(service); // idempotent: already running
    expect(await pidOf(service)).toBe(pid);
    await m.stop(service);
    expect((await m.status(service)).state).toBe('inactive');
    expect(alive(pid)).toBe(false);
    await m.stop(service); // idempotent: already stopped
  });

  it('restart gives a new process', async () => {
    await sbx.manager.start('mcp-compliance');
    const before = await pidOf('mcp-compliance');
    await sbx.manager.restart('mcp-compliance');
    const after = await pidOf('mcp-compliance');
    expect(after).not.toBe(before);
    expect(alive(before)).toBe(false);
    expect((await sbx.manager.status('mcp-compliance')).state).toBe('active');
    await sbx.manager.stop('mcp-compliance');
  });

  it('a service that is not in config is refused before anything runs', async () => {
    for (const action of ['status', 'start', 'stop', 'restart'] as const) {
      await expect(sbx.manager[action]('sshd')).rejects.toBeInstanceOf(ServiceNotConfiguredError);
    }
    await expect(sbx.manager.logsSince('sshd', new Date(0))).rejects.toThrow(/not configured on this host/);
  });

  it('logs since a time come from the configured log files', async () => {
    const log = join(sbx.config.paths.logDir, 'mcp-memory.log');
    await appendFile(log, '2020-01-01T00:00:00.000Z ERROR mcp-memory: old failure\n');
    const since = new Date();
    await sbx.manager.start('mcp-memory');
    await appendFile(log, `${new Date(Date.now() + 1000).toISOString()} ERROR mcp-memory: failed to store\n  at stack line\n`);
    const lines = await sbx.manager.logsSince('mcp-memory', since);
    await sbx.manager.stop('mcp-memory');
    const text = lines.map((l) => l.text);
    expect(text.some((t) => t.includes('listening on http://127.0.0.1'))).toBe(true);
    expect(text).toContain('  at stack line');
    expect(text.join('\n')).not.toContain('old failure');
    expect(lines.every((l) => l.source === log)).toBe(true);
  });

  it('a failing command reports argv, exit code and output', async () => {
    const m = new CommandServiceManager({
      services: sbx.config.services,
      timeoutSeconds: 5,
      commands: { start: ['sh', '-c', 'echo cannot bind >&2; exit 7', '{service}'], stop: ['true'], status: ['false'] },
    });
    const err = await m.start('mcp-memory').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceCommandError);
    expect(err).toMatchObject({ exitCode: 7, action: 'start', service: 'mcp-memory', timedOut: false });
    expect((err as Error).message).toContain('cannot bind');
    expect((await m.status('mcp-memory')).state).toBe('inactive');
  });

  it('a command that hangs is killed at the timeout', async () => {
    const m = new CommandServiceManager({
      services: sbx.config.services,
      timeoutSeconds: 0.5,
      commands: { start: ['sleep', '30'], stop: ['true'], status: ['sleep', '30'] },
    });
    const t0 = Date.now();
    await expect(m.start('mcp-memory')).rejects.toMatchObject({ timedOut: true });
    expect((await m.status('mcp-memory')).state).toBe('unknown');
    expect(Date.now() - t0).toBeLessThan(8000);
  });

  it('a program that does not exist is an error, not "inactive"', async () => {
    const m = new CommandServiceManager({
      services: sbx.config.services,
      timeoutSeconds: 5,
      commands: { start: ['/nonexistent/ctl'], stop: ['/nonexistent/ctl'], status: ['/nonexistent/ctl', '{service}'] },
    });
    await expect(m.status('mcp-memory')).rejects.toThrow(/could not be run/);
  });

  it('per-service argv templates override the shared ones, with {service} expanded', async () => {
    const m = new CommandServiceManager({
      services: [{ name: 'mcp-memory', unit: 'mcp-memory', logFiles: [], commands: { status: ['sh', '-c', 'test "$0" = mcp-memory', '{service}'] } }],
      timeoutSeconds: 5,
      commands: { start: ['true'], stop: ['true'], status: ['false'] },
    });
    expect((await m.status('mcp-memory')).state).toBe('active');
  });
});
