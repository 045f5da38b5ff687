/** The maintenance section: the seed's values by default, and errors that name the field. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/common/errors.js';
import { loadConfig } from '../../src/config/load.js';

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-config-maint-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
async function load(content: unknown) {
  const path = join(dir, `c${n++}.yaml`);
  await writeFile(path, stringify(content));
  return loadConfig({ path, env: {} });
}

describe('maintenance config', () => {
  it('defaults to the seed\'s values; only reports package updates', async () => {
    const c = await load({});
    expect(c.maintenance).toEqual({
      stateDir: '/opt/kilocode/mcp-servers/maintenance',
      logs: { maxAgeDays: 7, logrotateConfig: '/etc/logrotate.d/kilocode-mcp', forceRotation: true, errorPatterns: ['error', 'failed'], firstScanDays: 7 },
      backups: { maxAgeHours: 26 },
      tempFiles: { prefix: 'mcp_', maxAgeHours: 24 },
      postgres: { slowQueryMs: 1000, slowQueryLimit: 10, vacuumTimeoutMinutes: 240 },
      security: {
        serviceUser: 'mcp-service',
        allowedFileModes: [0o644, 0o600, 0o755, 0o750],
        allowedDirModes: [0o755, 0o750],
        permissionRoots: ['/opt/kilocode/mcp-servers', '/etc/kilocode/mcp'],
        certificates: ['/etc/kilocode/mcp/security/ssl.crt'],
        certificateWarnDays: 30,
        certificateFailDays: 7,
        auditStatusCommand: ['auditctl', '-s'],
      },
      packages: {
        allowUpgrades: false,
        upgradeApprovalTimeoutMinutes: 0,
        refreshCommand: ['apt-get', 'update', '-qq'],
        listCommand: ['apt', 'list', '--upgradable'],
        upgradeCommand: ['apt-get', 'upgrade', '--yes', '--quiet', '-o', 'Dpkg::Options::=--force-confold'],
        timeoutMinutes: 30,
      },
    });
  });

  it('paths follow the config\'s own folders and are resolved against the file', async () => {
    const c = await load({
      paths: { installRoot: '/srv/mcp', configDir: '/srv/etc' },
      maintenance: { stateDir: 'state', logs: { logrotateConfig: 'lr.conf', logrotateStateFile: 'lr.state' }, security: { certificates: ['tls/a.crt'] }, packages: { refreshCommand: false } },
    });
    expect(c.maintenance.stateDir).toBe(join(dir, 'state'));
    expect(c.maintenance.logs).toMatchObject({ logrotateConfig: join(dir, 'lr.conf'), logrotateStateFile: join(dir, 'lr.state') });
    expect(c.maintenance.security.permissionRoots).toEqual(['/srv/mcp', '/srv/etc']);
    expect(c.maintenance.security.certificates).toEqual([join(dir, 'tls/a.crt')]);
    expect(c.maintenance.packages.refreshCommand).toBeUndefined();
  });

  it.each([
    [{ security: { allowedFileModes: ['rw-r--r--'] } }, 'maintenance.security.allowedFileModes[0]', 'a permission mode as 3 or 4 octal digits in quotes, e.g. "644" or "0750"', '"rw-r--r--"'],
    [{ security: { allowedDirModes: [755] } }, 'maintenance.security.allowedDirModes[0]', 'a permission mode as 3 or 4 octal digits in quotes, e.g. "644" or "0750"', 'number 755'],
    [{ logs: { errorPatterns: ['(unclosed'] } }, 'maintenance.logs.errorPatterns[0]', 'a regular expression, e.g. "error" or "fail(ed|ure)"', '"(unclosed"'],
    [{ logs: { maxAgeDays: 0 } }, 'maintenance.logs.maxAgeDays', 'a number of days > 0', 'number 0'],
    [{ packages: { allowUpgrades: 'yes' } }, 'maintenance.packages.allowUpgrades', 'true or false', '"yes"'],
    [{ packages: { upgradeApprovalTimeoutMinutes: 2000 } }, 'maintenance.packages.upgradeApprovalTimeoutMinutes', 'a number of minutes from 0 to 1440', 'number 2000'],
    [{ packages: { upgradeCommand: 'apt-get upgrade -y' } }, 'maintenance.packages.upgradeCommand', 'an argv array of strings, e.g. ["systemctl", "start", "{service}"]', '"apt-get upgrade -y"'],
    [{ tempFiles: { prefix: '../mcp_' } }, 'maintenance.tempFiles.prefix', 'a file name prefix without "/"', '"../mcp_"'],
    [{ security: { certificateWarnDays: 5, certificateFailDays: 7 } }, 'maintenance.security.certificateFailDays', 'fewer days than certificateWarnDays (5)', 'number 7'],
    [{ pakages: {} }, 'maintenance.pakages', 'no such field (check the spelling against the README)', 'unknown field "pakages"'],
  ])('%o is refused at %s', async (maintenance, path, expected, found) => {
    const err = await load({ maintenance }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toContainEqual({ path, expected, found });
  });
});
