/**
 * systemd cannot run on this machine (no init system in the sandbox), so these
 * tests drive the systemd backend against stand-in `systemctl` and `journalctl`
 * programs that record their argv and answer as the real ones do.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMaintenanceLogActivities } from '../../src/activities/maintenance/logs.js';
import { ServiceCommandError, ServiceNotConfiguredError } from '../../src/common/errors.js';
import type { Config } from '../../src/config/config.js';
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
case "$2" in
  denied.service)
    # systemd 252 as a user outside root, adm and systemd-journal, when no journal file can be opened.
    echo "No journal files were opened due to insufficient permissions." >&2
    exit 1 ;;
  partial.service)
    # ... and when only the user's own journal opens: exit 0, no lines of the unit, a hint on stderr.
    echo "Hint: You are currently not seeing messages from other users and the system." >&2
    echo "      Users in groups 'adm', 'systemd-journal' can see all messages." >&2
    echo "      Pass -q to turn off this notice." >&2
    echo "-- No entries --"
    exit 0 ;;
  empty.service)
    echo "-- No entries --"
    exit 0 ;;
esac
echo "2026-11-23T02:00:01.123456+00:00 host mcp-memory[42]: ERROR failed to store"
echo "-- Boot 0123456789abcdef0123456789abcdef --"
echo "2026-11-23T02:00:02.000000+00:00 host mcp-memory[42]: ok"
echo "    continued on a second line"
`,
  );
  await chmod(join(dir, 'systemctl'), 0o755);
  await chmod(join(dir, 'journalctl'), 0o755);
  manager = new SystemdServiceManager({
    services: [
      { name: 'mcp-memory', unit: 'mcp-memory.service', logFiles: [], commands: {} },
      { name: 'mcp-broken', unit: 'broken.service', logFiles: [], commands: {} },
      { name: 'mcp-denied', unit: 'denied.service', logFiles: [], commands: {} },
      { name: 'mcp-partial', unit: 'partial.service', logFiles: [], commands: {} },
      { name: 'mcp-empty', unit: 'empty.service', logFiles: [], commands: {} },
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

  it('reads logs since a time from the journal; journalctl\'s own lines (boot separator) are not log lines', async () => {
    const since = new Date('2026-11-23T02:00:00Z');
    const lines = await manager.logsSince('mcp-memory', since);
    expect(lines.map((l) => l.text)).toEqual([
      '2026-11-23T02:00:01.123456+00:00 host mcp-memory[42]: ERROR failed to store',
      '2026-11-23T02:00:02.000000+00:00 host mcp-memory[42]: ok',
      '    continued on a second line',
    ]);
    expect(lines[0]).toMatchObject({ source: 'journal', time: '2026-11-23T02:00:01.123Z' });
    // Without --quiet: journalctl must be free to say it cannot read the journal.
    expect(await readFile(calls, 'utf8')).toContain(`journalctl --unit mcp-memory.service --since @${since.getTime() / 1000} --output short-iso-precise --no-pager\n`);
  });

  it('stand-in journalctl with nothing for the unit ("-- No entries --") gives no lines', async () => {
    expect(await manager.logsSince('mcp-empty', new Date(0))).toEqual([]);
  });

  it.each([
    ['no journal file opened (exit 1)', 'mcp-denied', 'denied.service', 'No journal files were opened due to insufficient permissions.'],
    ['only the user\'s own journal opened (exit 0, no entries)', 'mcp-partial', 'partial.service', 'Hint: You are currently not seeing messages from other users and the system.'],
  ])('stand-in journalctl as a worker without journal access, %s: an error, not 0 lines', async (_name, service, unit, said) => {
    const err = await manager.logsSince(service, new Date(0)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(
      `the journal of ${unit} could not be read: \`${join(dir, 'journalctl')} --unit ${unit} --since @0 --output short-iso-precise --no-pager\` said "${said}" (run the worker as root, or in the systemd-journal group)`,
    );
  });

  it('stand-in journalctl without journal access: the weekly log-error step reports that service\'s journal as unreadable', async () => {
    const stateDir = join(dir, 'state');
    const config = {
      services: manager.services.map((name) => ({ name, unit: `${name}.service`, logFiles: [], commands: {} })),
      maintenance: { stateDir, logs: { errorPatterns: ['error', 'failed'], firstScanDays: 7 } } as Config['maintenance'],
    };
    const findings = await createMaintenanceLogActivities({ config, services: manager }).countLogErrors({ workflowId: 'wf-journal' });
    expect(findings.find((f) => f.check === 'logs.errors.mcp-partial')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/^could not read mcp-partial's log: the journal of partial\.service could not be read: .*Hint: You are currently not seeing messages/),
    });
    expect(findings.find((f) => f.check === 'logs.errors.mcp-empty')).toMatchObject({ status: 'ok' });
  });
});
