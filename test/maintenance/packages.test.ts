/** Pending updates from apt's own output formats, and from this machine's real `apt list --upgradable`. */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parsePendingUpdates } from '../../src/maintenance/packages.js';

// Lines as Debian 12's apt 2.6 prints them (from this machine).
const APT_LIST = `Listing...
apt/oldstable-security 2.6.2 amd64 [upgradable from: 2.6.1]
base-files/oldstable 12.4+deb12u15 amd64 [upgradable from: 12.4+deb12u11]
libgcrypt20-dev/oldstable,oldstable-security 1.10.1-3+deb12u1 amd64 [upgradable from: 1.10.1-3]
`;
const APT_GET_SIMULATE = `Reading package lists...
Calculating upgrade...
The following packages will be upgraded:
  base-files bash libgcrypt20-dev
Inst base-files [12.4+deb12u11] (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Inst libgcrypt20-dev [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64]) []
Conf base-files (12.4+deb12u15 Debian:12.15/oldstable [amd64])
`;

describe('parsePendingUpdates', () => {
  it('apt list --upgradable: suites, versions, security by suite', () => {
    expect(parsePendingUpdates(APT_LIST)).toEqual([
      { name: 'apt', origins: ['oldstable-security'], version: '2.6.2', arch: 'amd64', from: '2.6.1', security: true },
      { name: 'base-files', origins: ['oldstable'], version: '12.4+deb12u15', arch: 'amd64', from: '12.4+deb12u11', security: false },
      { name: 'libgcrypt20-dev', origins: ['oldstable', 'oldstable-security'], version: '1.10.1-3+deb12u1', arch: 'amd64', from: '1.10.1-3', security: true },
    ]);
  });

  it('apt-get --simulate upgrade: Inst lines, security by origin', () => {
    expect(parsePendingUpdates(APT_GET_SIMULATE)).toEqual([
      { name: 'base-files', origins: ['Debian:12.15/oldstable'], version: '12.4+deb12u15', arch: 'amd64', from: '12.4+deb12u11', security: false },
      { name: 'libgcrypt20-dev', origins: ['Debian:12.15/oldstable', 'Debian-Security:12/oldstable-security'], version: '1.10.1-3+deb12u1', arch: 'amd64', from: '1.10.1-3', security: true },
    ]);
  });

  it('nothing pending, or only warnings, is an empty list', () => {
    expect(parsePendingUpdates('Listing...\n\nWARNING: apt does not have a stable CLI interface.\n')).toEqual([]);
  });

  it('this machine\'s real apt list --upgradable parses line for line (read-only)', async () => {
    const r = await execa('apt', ['list', '--upgradable'], { env: { LC_ALL: 'C' }, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l.includes('[upgradable from:'));
    const parsed = parsePendingUpdates(r.stdout);
    expect(parsed).toHaveLength(lines.length);
    expect(parsed.filter((p) => p.security).length).toBe(lines.filter((l) => /^[^ ]+\/\S*security/.test(l)).length);
  });
});
