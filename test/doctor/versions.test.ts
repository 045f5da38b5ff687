/** Version parsing and comparison for the node, PostgreSQL and restic checks. */
import { describe, expect, it } from 'vitest';
import { checkNode, satisfiesMinimum } from '../../src/doctor/node-version.js';
import { majorFromToolVersion, majorFromVersionNum, versionMismatch } from '../../src/doctor/postgres.js';
import { compareVersions, parseVersion } from '../../src/doctor/programs.js';

describe('versions', () => {
  it.each<[string, [number, number, number] | undefined]>([
    ['v20.20.2', [20, 20, 2]],
    ['restic 0.14.0 compiled with go1.19.8 on linux/amd64', [0, 14, 0]],
    ['pigz 2.6', [2, 6, 0]],
    ['22', [22, 0, 0]],
    ['none', undefined],
  ])('parseVersion(%j)', (text, version) => {
    expect(parseVersion(text)).toEqual(version);
  });

  it('compare', () => {
    expect(compareVersions([0, 14, 0], [0, 14, 0])).toBe(0);
    expect(compareVersions([0, 13, 9], [0, 14, 0])).toBeLessThan(0);
    expect(compareVersions([1, 0, 0], [0, 14, 0])).toBeGreaterThan(0);
  });

  it.each<[string, string, boolean | undefined]>([
    ['v20.20.2', '>=20.3.0', true],
    ['v20.3.0', '>=20.3.0', true],
    ['v20.2.9', '>=20.3.0', false],
    ['v18.19.0', '>=20', false],
    ['v22.1.0', '^20 || ^22', undefined],
  ])('node %s against %s', (version, range, expected) => {
    expect(satisfiesMinimum(version, range)).toBe(expected);
  });

  it('the node check against package.json, and an older node', () => {
    expect(checkNode()).toMatchObject({ check: 'node', status: 'ok' });
    expect(checkNode('v18.19.0', '>=20.3.0')).toEqual({
      check: 'node',
      status: 'fail',
      message: 'Node.js v18.19.0 is older than this package needs (>=20.3.0)',
      fix: 'install Node.js 20.3.0 or newer (e.g. the NodeSource or nodejs.org packages) and make it the `node` on the unit\'s PATH',
    });
  });
});

describe('PostgreSQL majors', () => {
  it.each<[number, string]>([
    [150020, '15'],
    [170002, '17'],
    [90624, '9.6'],
  ])('server_version_num %i -> %s', (num, major) => {
    expect(majorFromVersionNum(num)).toBe(major);
  });

  it.each<[string, string | undefined]>([
    ['pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)', '15'],
    ['pg_restore (PostgreSQL) 17.2', '17'],
    ['pg_dump (PostgreSQL) 9.6.24', '9.6'],
    ['pg_dump: command not understood', undefined],
  ])('%j -> %s', (line, major) => {
    expect(majorFromToolVersion(line)).toBe(major);
  });

  it('same major fits; older and newer tools each say why not', () => {
    expect(versionMismatch('pg_dump', '15', '15')).toBeUndefined();
    expect(versionMismatch('pg_dump', '13', '15')).toBe('pg_dump 13 refuses to dump a newer server');
    expect(versionMismatch('pg_restore', '13', '15')).toBe('pg_restore 13 cannot read the dumps a 15 pg_dump writes');
    expect(versionMismatch('pg_restore', '17', '15')).toBe('pg_restore 17 sends settings a 15 server may reject, and restores run with --exit-on-error');
    expect(versionMismatch('pg_dump', '9.6', '15')).toBe('pg_dump 9.6 refuses to dump a newer server');
  });
});
