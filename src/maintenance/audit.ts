/** The Linux audit subsystem's state, from `auditctl -s`. */

export interface AuditStatus {
  /** 0 disabled, 1 enabled, 2 enabled and locked until reboot. */
  enabled: number;
  /** pid of auditd; 0 when no daemon receives the events. */
  pid: number;
  /** Every `key value` line, numbers where they are numbers. */
  fields: Record<string, number | string>;
}

/** Parses `enabled 1\nfailure 1\npid 612\n…`. Throws when there is no `enabled` line. */
export function parseAuditStatus(output: string): AuditStatus {
  const fields: Record<string, number | string> = {};
  for (const line of output.split('\n')) {
    const m = /^\s*([a-z_]+)\s+(\S+)\s*$/.exec(line);
    if (m) fields[m[1]!] = /^-?\d+$/.test(m[2]!) ? Number(m[2]) : m[2]!;
  }
  if (typeof fields.enabled !== 'number') throw new Error(`no "enabled" line in: ${output.trim().split('\n').slice(0, 3).join(' | ') || '(no output)'}`);
  return { enabled: fields.enabled, pid: typeof fields.pid === 'number' ? fields.pid : 0, fields };
}
