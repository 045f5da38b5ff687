/** Pending package updates, parsed from `apt list --upgradable` or `apt-get --simulate upgrade` output. */

export interface PendingUpdate {
  name: string;
  /** Archive suites or origins offering it, e.g. `bookworm-security`, `Debian-Security:12/stable-security`. */
  origins: string[];
  version: string;
  arch?: string;
  /** The installed version, when the output says. */
  from?: string;
  /** Offered by a security archive (an origin or suite containing "security"). */
  security: boolean;
}

// apt list --upgradable:  openssl/stable-security,stable 3.0.17-1~deb12u3 amd64 [upgradable from: 3.0.16-1~deb12u1]
const APT_LIST = /^([^\s/]+)\/(\S+)\s+(\S+)\s+(\S+)(?:\s+\[upgradable from:\s*([^\]]+)\])?/;
// apt-get -s upgrade:     Inst openssl [3.0.16-1~deb12u1] (3.0.17-1~deb12u3 Debian-Security:12/stable-security [amd64])
const APT_GET_INST = /^Inst\s+(\S+)(?:\s+\[([^\]]+)\])?\s+\((\S+)\s+(.*?)(?:\s+\[([^\]]+)\])?\)/;

const isSecurity = (origins: readonly string[]) => origins.some((o) => /security/i.test(o));

/** One entry per package; lines that are neither format (headers, warnings) are ignored. */
export function parsePendingUpdates(output: string): PendingUpdate[] {
  const out = new Map<string, PendingUpdate>();
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    let m = APT_LIST.exec(line);
    if (m && !line.startsWith('Listing')) {
      const origins = m[2]!.split(',').filter(Boolean);
      out.set(m[1]!, { name: m[1]!, origins, version: m[3]!, arch: m[4]!, ...(m[5] ? { from: m[5].trim() } : {}), security: isSecurity(origins) });
      continue;
    }
    m = APT_GET_INST.exec(line);
    if (m) {
      const origins = m[4]!.split(',').map((o) => o.trim()).filter(Boolean);
      out.set(m[1]!, { name: m[1]!, origins, version: m[3]!, ...(m[5] ? { arch: m[5] } : {}), ...(m[2] ? { from: m[2] } : {}), security: isSecurity(origins) });
    }
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}
