/**
 * Where things live in a sandbox: the seed's production paths, rooted in a
 * local folder (`.data/sandbox` by default).
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SEED_SERVICES } from '../../common/seed.js';

/** The package's root folder (works from `src/` under vitest and from `dist/`). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The compiled sandbox service controller, run as `node ctl.js start|stop|status <service> --root <root>`. */
export const SANDBOX_CTL = join(PACKAGE_ROOT, 'dist', 'dev', 'sandbox', 'ctl.js');

/** The compiled sandbox service program, run as `node service.js <service> --root <root>`. */
export const SANDBOX_SERVICE = join(PACKAGE_ROOT, 'dist', 'dev', 'sandbox', 'service.js');

export interface SandboxLayout {
  root: string;
  configDir: string;
  installRoot: string;
  logDir: string;
  backupDir: string;
  reportsDir: string;
  runDir: string;
  tempDirs: string[];
  /** The sandbox's logrotate file for its service logs, and logrotate's state file. */
  logrotateConfig: string;
  logrotateState: string;
  /** A self-signed certificate made at provisioning, where the seed keeps its TLS certificate. */
  certificate: string;
}

export function sandboxLayout(root: string): SandboxLayout {
  const installRoot = join(root, 'opt', 'kilocode', 'mcp-servers');
  const configDir = join(root, 'etc', 'kilocode', 'mcp');
  return {
    root,
    configDir,
    installRoot,
    logDir: join(root, 'var', 'log', 'kilocode', 'mcp'),
    backupDir: join(installRoot, 'backups'),
    reportsDir: join(installRoot, 'reports'),
    runDir: join(root, 'run'),
    tempDirs: [join(root, 'tmp'), join(root, 'var', 'tmp')],
    logrotateConfig: join(root, 'etc', 'logrotate.d', 'kilocode-mcp'),
    logrotateState: join(root, 'var', 'lib', 'logrotate', 'status'),
    certificate: join(configDir, 'security', 'ssl.crt'),
  };
}

export interface SandboxConfigOptions {
  /** Absolute sandbox root. */
  root: string;
  hostId?: string;
  /** @default 3002, the seed's memory service port */
  memoryPort?: number;
  /** Database created for mcp-postgres on the local PostgreSQL. @default mcp_sandbox */
  database?: string;
  postgresHost?: string;
  postgresPort?: number;
  postgresUser?: string;
  /** Create the database (false: point at it, do not create). @default true */
  createDatabase?: boolean;
  /** Node binary that runs the sandbox programs. @default process.execPath */
  nodePath?: string;
  /**
   * A local restic repository target named `offsite` beside the archive target
   * `local`, created by provisioning (`restic init`) when it does not exist yet.
   */
  offsite?: { repository: string; passwordFile: string };
}

/** The name of the restic target the built-in sandbox adds when restic is on PATH. */
export const SANDBOX_OFFSITE_TARGET = 'offsite';

/**
 * A configuration object (the YAML file's shape) for a sandbox host: the seed's
 * four services as local processes, controlled only through the `command`
 * service manager, exactly as a production host would be.
 */
export function sandboxConfigObject(opts: SandboxConfigOptions): Record<string, unknown> {
  const layout = sandboxLayout(opts.root);
  const node = opts.nodePath ?? process.execPath;
  const ctl = (action: string) => [node, SANDBOX_CTL, action, '{service}', '--root', opts.root];
  const memoryPort = opts.memoryPort ?? 3002;
  return {
    hostId: opts.hostId ?? 'local',
    // Its mcp-postgres makes it a database host: `fleet run health-check --hosts role=db` (README) selects it.
    hosts: [{ id: opts.hostId ?? 'local', labels: { role: 'db' } }],
    paths: {
      installRoot: layout.installRoot,
      configDir: layout.configDir,
      logDir: layout.logDir,
      backupDir: layout.backupDir,
      reportsDir: layout.reportsDir,
      tempDirs: layout.tempDirs,
    },
    services: [...SEED_SERVICES],
    serviceManager: {
      type: 'command',
      timeoutSeconds: 30,
      commands: { start: ctl('start'), stop: ctl('stop'), status: ctl('status'), restart: ctl('restart') },
    },
    memoryService: { url: `http://127.0.0.1:${memoryPort}`, timeoutSeconds: 5 },
    postgres: {
      host: opts.postgresHost ?? '127.0.0.1',
      port: opts.postgresPort ?? 5432,
      database: opts.database ?? 'mcp_sandbox',
      user: opts.postgresUser ?? 'postgres',
      statementTimeoutSeconds: 30,
    },
    backup: {
      // The seed's backup list, plus the data of the two services the seed left out.
      sources: [
        { mode: 'online', path: layout.configDir },
        { mode: 'online', path: join(layout.installRoot, 'kilocode-mcp-installer') },
        { mode: 'online', path: join(layout.installRoot, 'mcp-memory-service') },
        { mode: 'stop', path: join(layout.installRoot, 'memory_db'), services: ['mcp-memory'] },
        { mode: 'stop', path: join(layout.installRoot, 'memory_backups'), services: ['mcp-memory'] },
        { mode: 'online', path: join(layout.installRoot, 'reports') },
        { mode: 'stop', path: join(layout.installRoot, 'filesystem_data'), services: ['mcp-filesystem'] },
        { mode: 'stop', path: join(layout.installRoot, 'compliance_data'), services: ['mcp-compliance'] },
        { mode: 'pg_dump' },
      ],
      ...(opts.offsite
        ? {
            targets: [
              { name: 'local', type: 'archive' },
              { name: SANDBOX_OFFSITE_TARGET, type: 'restic', repository: opts.offsite.repository, password: { file: opts.offsite.passwordFile } },
            ],
          }
        : {}),
    },
    maintenance: {
      logs: { logrotateConfig: layout.logrotateConfig, logrotateStateFile: layout.logrotateState },
      packages: {
        // The sandbox reads this machine's pending updates but never changes its package lists or
        // packages: no `apt-get update`, and an approved upgrade is only apt-get's simulation.
        refreshCommand: false,
        upgradeCommand: ['apt-get', '--simulate', 'upgrade'],
      },
    },
    sandbox: { root: opts.root, memoryPort, createDatabase: opts.createDatabase ?? true, ...(opts.offsite ? { initRepository: SANDBOX_OFFSITE_TARGET } : {}) },
    // The seed's schedules (defaultSchedules) switch on as their runbooks land; a
    // health check every 15 minutes shows schedules at work in the dev UI meanwhile.
    schedules: [{ runbook: 'health-check', every: '15m' }],
  };
}
