/**
 * The monthly security activities against this machine: real getent, real
 * certificate files made with openssl, real files with world-writable modes.
 * auditd is not installed here (a container cannot run it): "not installed" is
 * checked for real, the other audit states with a stand-in `auditctl -s`.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMaintenanceSecurityActivities } from '../../../src/activities/maintenance/security.js';
import type { Config } from '../../../src/config/config.js';
import { certificateBetween, certificateValidFor } from '../../helpers/certificates.js';

type Security = Config['maintenance']['security'];
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-sec-'));
  await certificateValidFor(join(dir, 'valid.crt'), 200, 'valid');
  await certificateValidFor(join(dir, 'expiring.crt'), 20, 'expiring');
  await certificateValidFor(join(dir, 'soon.crt'), 3, 'soon');
  await certificateBetween(join(dir, 'expired.crt'), '20250101000000Z', '20250301000000Z', 'expired');
  await certificateBetween(join(dir, 'future.crt'), '20400101000000Z', '20410101000000Z', 'future');
  await writeFile(join(dir, 'garbage.crt'), 'not a certificate\n');
  await mkdir(join(dir, 'folder.crt'));
  await mkdir(join(dir, 'tree', 'sub'), { recursive: true });
  await chmod(join(dir, 'tree'), 0o750);
  await chmod(join(dir, 'tree', 'sub'), 0o755);
  await writeFile(join(dir, 'tree', 'sub', 'ok.conf'), 'x', { mode: 0o640 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function security(overrides: Partial<Security> = {}) {
  const settings: Security = {
    serviceUser: 'nobody',
    allowedFileModes: [0o644, 0o600, 0o755, 0o750],
    allowedDirModes: [0o755, 0o750],
    permissionRoots: [join(dir, 'tree')],
    certificates: [],
    certificateWarnDays: 30,
    certificateFailDays: 7,
    auditStatusCommand: ['auditctl', '-s'],
    ...overrides,
  };
  return createMaintenanceSecurityActivities({ config: { maintenance: { security: settings } as Config['maintenance'] } });
}
const standInAuditctl = (output: string, code = 0) => [process.execPath, '-e', `process.stdout.write(${JSON.stringify(output)}); process.exit(${code})`];

describe('certificate expiry (certificates from openssl, read in-process)', () => {
  it.each([
    ['valid.crt', 'ok', /valid for (199|200) more days/],
    ['expiring.crt', 'warn', /expires in (19|20) days/],
    ['soon.crt', 'fail', /expires in [23] days/],
    ['expired.crt', 'fail', /expired on 2025-03-01T00:00:00.000Z/],
    ['future.crt', 'warn', /is not valid before 2040-01-01/],
    ['missing.crt', 'warn', /certificate .*missing\.crt not found \(maintenance\.security\.certificates\)/],
    ['garbage.crt', 'fail', /cannot read certificate .*garbage\.crt: no PEM certificate block and not a DER certificate/],
    ['folder.crt', 'fail', /cannot read certificate .*folder\.crt: EISDIR/],
  ])('%s: %s', async (file, status, message) => {
    const [f] = await security({ certificates: [join(dir, file)] }).checkCertificates();
    expect(f).toMatchObject({ check: `security.certificate.${file}`, status });
    expect(f!.message).toMatch(message);
  });

  it('two files with one name get distinct check ids', async () => {
    await mkdir(join(dir, 'other'), { recursive: true });
    await certificateValidFor(join(dir, 'other', 'valid.crt'), 100);
    const fs = await security({ certificates: [join(dir, 'valid.crt'), join(dir, 'other', 'valid.crt')] }).checkCertificates();
    expect(fs.map((f) => f.check)).toEqual(['security.certificate.valid.crt', 'security.certificate.valid.crt.2']);
  });
});

describe('service account (real getent)', () => {
  it.each([
    ['nobody', 'ok', /^service user nobody \(uid 65534\), groups nogroup$/],
    ['mcp-service-absent', 'warn', /^service user mcp-service-absent does not exist on this host/],
    ['root', 'fail', /^service user root has uid 0/],
  ])('%s: %s', async (serviceUser, status, message) => {
    const f = await security({ serviceUser }).serviceUserAccess();
    expect(f).toMatchObject({ check: 'security.user', status });
    expect(f.message).toMatch(message);
  });
});

describe('audit subsystem', () => {
  it('auditctl is not installed on this machine: warn, and nothing is installed', async () => {
    const f = await security().auditStatus();
    expect(f).toMatchObject({ check: 'security.audit', status: 'warn', data: { installed: false } });
    expect(f.message).toMatch(/^auditctl not found: auditd is not installed/);
  });

  it.each([
    ['enabled with auditd running', 'enabled 1\nfailure 1\npid 612\nbacklog_limit 8192\n', 0, 'ok', /enabled; auditd runs as pid 612/],
    ['enabled and locked', 'enabled 2\npid 612\n', 0, 'ok', /enabled and locked/],
    ['disabled', 'enabled 0\npid 612\n', 0, 'warn', /is disabled/],
    ['enabled without a daemon', 'enabled 1\npid 0\n', 0, 'warn', /no auditd daemon receives its events/],
    ['not permitted (a container)', 'Error sending status request (Operation not permitted)\n', 1, 'warn', /cannot be read: .* exited with 1: Error sending status request/],
  ])('stand-in auditctl -s (auditd cannot run here), %s: %s', async (_name, output, code, status, message) => {
    const f = await security({ auditStatusCommand: standInAuditctl(output, code) }).auditStatus();
    expect(f.status).toBe(status);
    expect(f.message).toMatch(message);
  });
});

describe('permissions', () => {
  it('a world-writable file is a fail; a group-writable one a warn; a clean tree ok', async () => {
    expect(await security().checkPermissions()).toMatchObject({ status: 'ok', data: { scanned: 3 } });
    await writeFile(join(dir, 'tree', 'group.txt'), 'g');
    await chmod(join(dir, 'tree', 'group.txt'), 0o664);
    expect(await security().checkPermissions()).toMatchObject({ status: 'warn', message: `1 entry with a mode outside the allowed set: ${join(dir, 'tree', 'group.txt')} (0664)` });
    await writeFile(join(dir, 'tree', 'sub', 'world.txt'), 'w');
    await chmod(join(dir, 'tree', 'sub', 'world.txt'), 0o666);
    const f = await security().checkPermissions();
    expect(f.status).toBe('fail');
    expect(f.message).toBe(`1 world-writable entry: ${join(dir, 'tree', 'sub', 'world.txt')} (0666); 1 more with modes outside the allowed set`);
  });
});
