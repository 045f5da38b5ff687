import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { groupsOf, isNoLoginShell, parseGroupLines, parsePasswdLine } from '../../src/maintenance/accounts.js';

describe('accounts', () => {
  it('a passwd line and the groups listing the user, primary group included', () => {
    const user = parsePasswdLine('mcp-service:x:998:997:MCP services:/opt/kilocode:/usr/sbin/nologin')!;
    expect(user).toEqual({ name: 'mcp-service', uid: 998, gid: 997, gecos: 'MCP services', home: '/opt/kilocode', shell: '/usr/sbin/nologin' });
    const groups = parseGroupLines('mcp-service:x:997:\nadm:x:4:syslog,mcp-service\nsudo:x:27:alice\n');
    expect(groupsOf(user, groups).map((g) => g.name)).toEqual(['mcp-service', 'adm']);
  });

  it.each([
    ['/usr/sbin/nologin', true],
    ['/bin/false', true],
    ['', true],
    ['/bin/bash', false],
    ['/bin/sh', false],
  ])('%s refuses a login: %s', (shell, expected) => {
    expect(isNoLoginShell(shell)).toBe(expected);
  });

  it('reads this machine\'s real getent output', async () => {
    const r = await execa('getent', ['passwd', 'nobody']);
    expect(parsePasswdLine(r.stdout)).toMatchObject({ name: 'nobody', uid: 65534 });
    const groups = parseGroupLines((await execa('getent', ['group'])).stdout);
    expect(groups.find((g) => g.name === 'root')?.gid).toBe(0);
  });
});
