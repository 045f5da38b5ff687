import { describe, expect, it } from 'vitest';
import { parseAuditStatus } from '../../src/maintenance/audit.js';

// `auditctl -s` as auditd 3.0 (Debian 12) prints it.
const ENABLED = 'enabled 1\nfailure 1\npid 612\nrate_limit 0\nbacklog_limit 8192\nlost 0\nbacklog 0\nbacklog_wait_time 60000\nbacklog_wait_time_actual 0\nloginuid_immutable 0 unlocked\n';

describe('parseAuditStatus', () => {
  it.each([
    ['enabled with a daemon', ENABLED, 1, 612],
    ['disabled', 'enabled 0\nfailure 1\npid 0\n', 0, 0],
    ['locked', 'enabled 2\npid 77\n', 2, 77],
  ])('%s', (_name, text, enabled, pid) => {
    const s = parseAuditStatus(text);
    expect(s).toMatchObject({ enabled, pid });
  });

  it('keeps every numeric field', () => {
    expect(parseAuditStatus(ENABLED).fields).toMatchObject({ backlog_limit: 8192, lost: 0 });
  });

  it('output without an enabled line is an error that quotes it', () => {
    expect(() => parseAuditStatus('Error sending status request (Operation not permitted)\n')).toThrow(/no "enabled" line in: Error sending status request/);
  });
});
