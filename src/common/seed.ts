/** Facts from the seed operations guide (`shared/seed`) that several parts share. */

/** The four services the seed manages. */
export const SEED_SERVICES = ['mcp-filesystem', 'mcp-postgres', 'mcp-memory', 'mcp-compliance'] as const;

export const SEED_PATHS = {
  installRoot: '/opt/kilocode/mcp-servers',
  configDir: '/etc/kilocode/mcp',
  logDir: '/var/log/kilocode/mcp',
  tempDirs: ['/tmp', '/var/tmp'],
} as const;
