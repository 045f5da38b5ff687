/**
 * The package activities. The listing runs this machine's real, read-only
 * `apt list --upgradable`; upgrades and list refreshes run a stand-in script,
 * because a real `apt-get upgrade` or `apt-get update` would change this machine.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMaintenancePackageActivities } from '../../../src/activities/maintenance/packages.js';
import type { Config } from '../../../src/config/config.js';
import { PACKAGE_ROOT } from '../../../src/dev/sandbox/layout.js';

const STAND_IN = join(PACKAGE_ROOT, 'test', 'fixtures', 'apt-stand-in.mjs');
let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-apt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Packages = Config['maintenance']['packages'];

/** Package activities whose apt commands are the stand-in (unless overridden); `state` records what the stand-in ran. */
function packages(overrides: (standIn: (...args: string[]) => string[]) => Partial<Packages> = () => ({})) {
  const state = join(dir, `state-${n++}`);
  const standIn = (...args: string[]) => [process.execPath, STAND_IN, state, ...args];
  const settings: Packages = {
    allowUpgrades: false,
    upgradeApprovalTimeoutMinutes: 0,
    listCommand: standIn('list'),
    upgradeCommand: standIn('upgrade', '0', '--yes'),
    timeoutMinutes: 1,
    ...overrides(standIn),
  };
  return { activities: createMaintenancePackageActivities({ config: { maintenance: { packages: settings } as Config['maintenance'] } }), state };
}

describe('checkPackages', () => {
  it('this machine\'s real apt list --upgradable (read-only): counts match the list', async () => {
    const { activities } = packages(() => ({ listCommand: ['apt', 'list', '--upgradable'] }));
    const r = await activities.checkPackages();
    // CI is Debian: apt is there and lists without error. Elsewhere this says why not.
    const why = `this machine's real \`apt list --upgradable\` (needs a Debian/Ubuntu host): ${r.findings[0]?.message}`;
    expect(r.listed, why).toBe(true);
    const [updates, security] = r.findings;
    expect(updates!.status, why).toBe('ok');
    expect(updates).toMatchObject({ check: 'packages.updates', status: 'ok', data: { pending: r.pending, listsRefreshed: false } });
    expect(security!.check).toBe('packages.security');
    expect(security!.status).toBe(r.security > 0 ? 'warn' : 'ok');
    expect(r.policy).toEqual({ allowUpgrades: false, approvalTimeoutMinutes: 0 });
  });

  it('(apt stand-in) security updates are a warn that names them; the rest are listed as ok', async () => {
    const r = await packages().activities.checkPackages();
    expect(r).toMatchObject({ listed: true, pending: 3, security: 2, packages: ['libssl3', 'openssl', 'tzdata'] });
    expect(r.findings).toEqual([
      expect.objectContaining({ check: 'packages.updates', status: 'ok', message: '3 package updates pending: libssl3, openssl, tzdata' }),
      expect.objectContaining({ check: 'packages.security', status: 'warn', message: '2 security updates pending: libssl3, openssl' }),
    ]);
  });

  it('(apt stand-in) lists that cannot be refreshed make the count a warn; the refresh ran first', async () => {
    const { activities, state } = packages((standIn) => ({ refreshCommand: standIn('refresh', '100') }));
    const r = await activities.checkPackages();
    expect(r.findings[0]).toMatchObject({ check: 'packages.updates', status: 'warn', data: { listsRefreshed: false } });
    expect(r.findings[0]!.message).toMatch(/^package lists could not be refreshed \(.*failed: E: Could not resolve deb\.debian\.org\); 3 package updates pending/);
    expect(await readFile(state, 'utf8')).toBe('refresh\n');
  });

  it.each([
    ['a program that is not installed', ['apt-that-does-not-exist', 'list'], 'warn', /^apt-that-does-not-exist not found: this host's package updates were not checked/],
    ['a failing list command', [process.execPath, '-e', 'process.stderr.write("E: boom\\n"); process.exit(100)'], 'fail', /failed \(exit 100\): E: boom$/],
  ])('%s is a finding, not an error', async (_name, listCommand, status, message) => {
    const r = await packages(() => ({ listCommand })).activities.checkPackages();
    expect(r.listed).toBe(false);
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]).toMatchObject({ check: 'packages.updates', status });
    expect(r.findings[0]!.message).toMatch(message);
  });
});

describe('upgradePackages (apt stand-in)', () => {
  it('runs the upgrade command non-interactively, says who allowed it, and lists again', async () => {
    const { activities, state } = packages();
    const f = await activities.upgradePackages({ by: 'approved by alice' });
    expect(f).toMatchObject({ check: 'packages.upgrade', status: 'ok', message: 'updates installed (approved by alice); 0 still pending', data: { by: 'approved by alice', exitCode: 0, stillPending: 0 } });
    expect(await readFile(state, 'utf8')).toBe('upgrade DEBIAN_FRONTEND=noninteractive args=--yes\n');
  });

  it('a failed upgrade is a fail finding with apt\'s last lines', async () => {
    const failing = packages((standIn) => ({ upgradeCommand: standIn('upgrade', '100') })).activities;
    const f = await failing.upgradePackages({ by: 'maintenance.packages.allowUpgrades' });
    expect(f.status).toBe('fail');
    expect(f.message).toMatch(/\(maintenance\.packages\.allowUpgrades\) failed \(exit 100\)/);
  });
});
