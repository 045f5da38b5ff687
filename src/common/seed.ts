/** Facts from the seed operations guide (`shared/seed`) that several parts share. */

/** The four services the seed manages. */
export const SEED_SERVICES = ['mcp-filesystem', 'mcp-postgres', 'mcp-memory', 'mcp-compliance'] as const;

export const SEED_PATHS = {
  installRoot: '/opt/kilocode/mcp-servers',
  configDir: '/etc/kilocode/mcp',
  logDir: '/var/log/kilocode/mcp',
  tempDirs: ['/tmp', '/var/tmp'],
} as const;

/**
 * What the seed's maintenance scripts (section 4) use: the logrotate file
 * `logrotate -f` is run with, the service account whose access is reviewed, the
 * permission modes `find … | grep -v` lets through, the TLS certificate it reads,
 * the age of logs it deletes above the disk threshold, the `total_time > 1000`
 * slow query cut-off and the `mcp_*` temp file pattern.
 */
export const SEED_MAINTENANCE = {
  logrotateConfig: '/etc/logrotate.d/kilocode-mcp',
  serviceUser: 'mcp-service',
  allowedFileModes: ['644', '600', '755', '750'],
  allowedDirModes: ['755', '750'],
  /** Relative to the config folder: `/etc/kilocode/mcp/security/ssl.crt`. */
  certificate: 'security/ssl.crt',
  logMaxAgeDays: 7,
  slowQueryMs: 1000,
  tempFilePrefix: 'mcp_',
  tempFileMaxAgeHours: 24,
  errorPatterns: ['error', 'failed'],
} as const;
