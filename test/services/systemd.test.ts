/**
 * systemd cannot run on this machine (no init system in the sandbox), so these
 * tests drive the systemd backend against stand-in `systemctl` and `journalctl`
 * programs that record their argv and answer as the real ones do.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceCommandError, ServiceNotConfiguredError } from '../../src/common/errors.js';
import { SystemdServiceManager } from '../../src/services/index.js';

let dir: string;
let calls: string;
let manager: SystemdServiceManager;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-systemd-'));
  calls = join(dir, 'calls.log');
  // Stand-in systemctl: `is-active` answers from a state file; start/stop write it.
  await writeFile(
    join(dir, 'systemctl'),
    `#!/bin/sh
echo "systemctl $*" >> "${calls}"
state_file="${dir}/state.$2"
case "$1" in
  is-active) s=$(cat "$state_file" 2>/dev/null || echo inactive); echo "$s"; [ "$s" = active ] && exit 0 || exit 3 ;;
  start|restart) [ "$2" = broken.service ] && { echo "Job for $2 failed." >&2; exit 1; }; echo active > "$state_file" ;;
  stop) echo inactive > "$state_file" ;;
esac
`,
  );
  await writeFile(
    join(dir, 'journalctl'),
    `#!/bin/sh
echo "journalctl $*" >> "${calls}"
echo "2026-11-23T02:00:01.123456+00:00 host mcp-memory[42]: ERROR failed to store"
echo "2026-11-23T02:00:02.000000+00:00 host mcp-memory[42]: ok"
`,
  );
  await chmod(join(dir, 'systemctl'), 0o755);
  await chmod(join(dir, 'journalctl'), 0o755);
  manager = new SystemdServiceManager({
    services: [
      { name: 'mcp-memory', unit: 'mcp-memory.service', logFiles: [], commands: {} },
      { name: 'mcp-broken', unit: 'broken.service', logFiles: [], commands: {} },
    ],
    timeoutSeconds: 5,
    systemctl: join(dir, 'systemctl'),
    journalctl: join(dir, 'journalctl'),
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('systemd backend (stand-in systemctl/journalctl: no systemd here)', () => {
  it('maps start/stop/status to systemctl on the configured unit', async () => {
    expect(await manager.status('mcp-memory')).toEqual({ service: 'mcp-memory', state: 'inactive', detail: 'inactive' });
    await manager.start('mcp-memory');
    expect((await manager.status('mcp-memory')).state).toBe('active');
    await manager.stop('mcp-memory');
    expect((await manager.status('mcp-memory')).state).toBe('inactive');
    const log = await readFile(calls, 'utf8');
    expect(log).toContain('systemctl is-active mcp-memory.service');
    expect(log).toContain('systemctl start mcp-memory.service');
    expect(log).toContain('systemctl stop mcp-memory.service');
  });

  it('a failed start carries systemctl\'s message', async () => {
    const err = await manager.start('mcp-broken').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceCommandError);
    expect((err as Error).message).toContain('Job for broken.service failed.');
  });

  it('refuses services that are not configured, without calling systemctl', async () => {
    const before = await readFile(calls, 'utf8');
    await expect(manager.start('sshd')).rejects.toBeInstanceOf(ServiceNotConfiguredError);
    expect(await readFile(calls, 'utf8')).toBe(before);
  });

  it('reads logs since a time from the journal', async () => {
    const since = new Date('2026-11-23T02:00:00Z');
    const lines = await manager.logsSince('mcp-memory', since);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ source: 'journal', time: '2026-11-23T02:00:01.123Z' });
    expect(await readFile(calls, 'utf8')).toContain(`journalctl --unit mcp-memory.service --since @${since.getTime() / 1000} --output short-iso-precise --no-pager --quiet`);
  });
});
