/** What the sandbox gives the maintenance runbooks: a logrotate file, a certificate, pg_stat_statements, a clean permission review. */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCertificates } from '../../src/maintenance/certificates.js';
import { scanPermissions } from '../../src/maintenance/permissions.js';
import { withPgClient } from '../../src/postgres/client.js';
import { sandboxLayout } from '../../src/dev/sandbox/layout.js';
import { provisionSandbox } from '../../src/dev/sandbox/provision.js';
import { statStatementsState } from '../../src/postgres/maintenance.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

let sbx: TestSandbox;
beforeAll(async () => {
  sbx = await createTestSandbox({ hostId: 'sbx-maint', start: false });
});
afterAll(async () => {
  await sbx?.cleanup();
});

describe('sandbox for maintenance', () => {
  it('points maintenance at its own logrotate file and state, and never changes the machine\'s packages', () => {
    const layout = sandboxLayout(sbx.root);
    expect(sbx.config.maintenance.logs).toMatchObject({ logrotateConfig: layout.logrotateConfig, logrotateStateFile: layout.logrotateState });
    expect(sbx.config.maintenance.packages.refreshCommand).toBeUndefined();
    expect(sbx.config.maintenance.packages.upgradeCommand).toEqual(['apt-get', '--simulate', 'upgrade']);
    expect(sbx.config.maintenance.security.certificates).toEqual([layout.certificate]);
  });

  it('writes a logrotate file for its service logs that logrotate accepts (0644)', async () => {
    const file = sandboxLayout(sbx.root).logrotateConfig;
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    const text = await readFile(file, 'utf8');
    expect(text).toContain(`${join(sbx.config.paths.logDir, '*.log')} {`);
    expect(text).toContain('copytruncate');
  });

  it('makes a self-signed certificate for a year once, key 0600, and keeps it when provisioned again', async () => {
    const { certificate } = sandboxLayout(sbx.root);
    const [c] = await readCertificates(certificate);
    expect(c).toMatchObject({ subject: 'CN=sbx-maint.sandbox.mcp-runbooks' });
    expect(c!.daysLeft).toBeGreaterThanOrEqual(364);
    expect((await stat(certificate.replace(/\.crt$/, '.key'))).mode & 0o777).toBe(0o600);
    const again = await provisionSandbox(sbx.config);
    expect(again.certificate.state).toBe('exists');
    expect((await readCertificates(certificate))[0]!.fingerprint256).toBe(c!.fingerprint256);
  });

  it('creates pg_stat_statements in its database when the server preloads it', async () => {
    expect(await withPgClient(sbx.config.postgres!, statStatementsState)).toMatchObject({ installed: true, preloaded: true });
  });

  it('passes its own permission review: nothing world-writable, every mode within the seed\'s set', async () => {
    const s = sbx.config.maintenance.security;
    const r = await scanPermissions(s.permissionRoots, { fileModes: s.allowedFileModes, dirModes: s.allowedDirModes });
    expect(r.worldWritable).toEqual([]);
    expect(r.notAllowed).toEqual([]);
    expect(r.scanned).toBeGreaterThan(20);
  });
});
