/** The service account as `getent` reports it: passwd entry and every group it is in. */

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** One `getent passwd` line; undefined when it is not one. */
export function parsePasswdLine(line: string): PasswdEntry | undefined {
  const f = line.trim().split(':');
  if (f.length < 7) return undefined;
  return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), gecos: f[4]!, home: f[5]!, shell: f[6]! };
}

/** `getent group` output: name, gid and members of each group. */
export function parseGroupLines(text: string): GroupEntry[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(':'))
    .filter((f) => f.length >= 4)
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: f[3] ? f[3].split(',').filter(Boolean) : [] }));
}

/** Groups `user` belongs to: its primary group and every group listing it as a member. */
export function groupsOf(user: PasswdEntry, groups: readonly GroupEntry[]): GroupEntry[] {
  return groups.filter((g) => g.gid === user.gid || g.members.includes(user.name));
}

/** Shells that refuse an interactive login. */
export function isNoLoginShell(shell: string): boolean {
  return /(^|\/)(nologin|false)$/.test(shell) || shell === '';
}
