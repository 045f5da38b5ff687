/**
 * Lays out a sandbox host like the seed's production paths, with real config
 * and data files, and creates mcp-postgres's database on the local PostgreSQL
 * when one answers. Data files that exist are kept; config files are rewritten
 * from the current config so ports and database names follow it.
 */
import { mkdir, writeFile, chmod, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import type { Config } from '../../config/config.js';
import { errorMessage } from '../../common/errors.js';
import { quoteIdent, withPgClient } from '../../postgres/client.js';
import { sandboxLayout, type SandboxLayout } from './layout.js';
import { exists } from '../../system/fs.js';
import { provisionRepository, type RepositoryProvision } from './offsite.js';

/** Folders of the seed's install root (backup sources, reports, backups) plus the services' data. */
export const SANDBOX_INSTALL_FOLDERS = [
  'kilocode-mcp-installer',
  'mcp-memory-service',
  'memory_db',
  'memory_backups',
  'reports',
  'backups',
  'filesystem_data',
  'compliance_data',
  'maintenance',
  'scripts',
] as const;

export interface SandboxServiceFiles {
  'mcp-memory': { port: number; dataFile: string; snapshotDir: string };
  'mcp-filesystem': { dataDir: string; scanIntervalSeconds: number };
  'mcp-compliance': { dataDir: string; checkIntervalSeconds: number };
  'mcp-postgres': { host: string; port: number; database: string; user: string; checkIntervalSeconds: number };
}

export type DatabaseState = 'created' | 'exists' | 'unavailable' | 'disabled';

export interface ProvisionResult {
  root: string;
  /** Paths created by this call (folders and data files). */
  created: string[];
  database: { name: string; state: DatabaseState; detail: string };
  /** The sandbox's TLS certificate: made now, already there, or not made (no openssl). */
  certificate: { path: string; state: 'created' | 'exists' | 'unavailable'; detail: string };
  /** The sandbox's local restic repository (`sandbox.initRepository`), when it has one. */
  repository?: RepositoryProvision;
}

export function serviceConfigPath(layout: SandboxLayout, service: string): string {
  return join(layout.configDir, `${service}.json`);
}

export async function provisionSandbox(config: Config): Promise<ProvisionResult> {
  if (!config.sandbox) throw new Error(`config ${config.source} has no sandbox section`);
  const layout = sandboxLayout(config.sandbox.root);
  const created: string[] = [];

  const dirs = [
    layout.root,
    layout.configDir,
    join(layout.configDir, 'security'),
    layout.installRoot,
    ...SANDBOX_INSTALL_FOLDERS.map((f) => join(layout.installRoot, f)),
    layout.logDir,
    layout.runDir,
    ...layout.tempDirs,
    dirname(layout.logrotateConfig),
    dirname(layout.logrotateState),
  ];
  for (const dir of dirs) {
    if (!(await exists(dir))) created.push(dir);
    await mkdir(dir, { recursive: true, mode: 0o750 });
  }
  // The backups folder holds every service's data: owner only.
  await chmod(join(layout.installRoot, 'backups'), 0o700);

  const pgConfig = config.postgres;
  const files: SandboxServiceFiles = {
    'mcp-memory': {
      port: config.sandbox.memoryPort,
      dataFile: join(layout.installRoot, 'memory_db', 'memories.json'),
      snapshotDir: join(layout.installRoot, 'memory_backups'),
    },
    'mcp-filesystem': { dataDir: join(layout.installRoot, 'filesystem_data'), scanIntervalSeconds: 30 },
    'mcp-compliance': { dataDir: join(layout.installRoot, 'compliance_data'), checkIntervalSeconds: 30 },
    'mcp-postgres': {
      host: pgConfig?.host ?? '127.0.0.1',
      port: pgConfig?.port ?? 5432,
      database: pgConfig?.database ?? 'mcp_sandbox',
      user: pgConfig?.user ?? 'postgres',
      checkIntervalSeconds: 15,
    },
  };
  for (const [service, content] of Object.entries(files)) {
    await writeAtomic(serviceConfigPath(layout, service), `${JSON.stringify(content, null, 2)}\n`, 0o640);
  }
  await writeAtomic(join(layout.root, 'sandbox.json'), `${JSON.stringify({ hostId: config.hostId, createdBy: 'mcp-runbooks' }, null, 2)}\n`, 0o640);

  const seedFiles: Array<[string, string]> = [
    [join(layout.configDir, 'mcp.yaml'), `# MCP services on sandbox host ${config.hostId}\nservices:\n  memory: { port: ${config.sandbox.memoryPort} }\n  filesystem: { root: ${files['mcp-filesystem'].dataDir} }\n`],
    [join(layout.installRoot, 'kilocode-mcp-installer', 'VERSION'), '1.4.2\n'],
    [join(layout.installRoot, 'kilocode-mcp-installer', 'install.json'), `${JSON.stringify({ installedAt: new Date().toISOString(), components: ['memory', 'filesystem', 'postgres', 'compliance'] }, null, 2)}\n`],
    [join(layout.installRoot, 'mcp-memory-service', 'README.txt'), 'mcp-memory service files (sandbox)\n'],
    [
      files['mcp-memory'].dataFile,
      `${JSON.stringify({ memories: { welcome: { value: 'sandbox memory store', storedAt: new Date().toISOString() }, 'runbook:daily': { value: 'check services, disk, memory, backups, logs', storedAt: new Date().toISOString() } } }, null, 2)}\n`,
    ],
    [join(files['mcp-filesystem'].dataDir, 'notes', 'todo.md'), '# Sandbox filesystem data\n\n- keep backups verified\n'],
    [join(files['mcp-filesystem'].dataDir, 'projects', 'alpha', 'spec.txt'), 'Project alpha specification (sandbox data).\n'],
    [join(files['mcp-compliance'].dataDir, 'policies.json'), `${JSON.stringify({ policies: [{ id: 'retention', days: 30 }, { id: 'encryption-at-rest', required: true }] }, null, 2)}\n`],
    [join(files['mcp-compliance'].dataDir, 'audit.log'), `${new Date().toISOString()} sandbox provisioned\n`],
  ];
  for (const [path, content] of seedFiles) {
    if (await exists(path)) continue;
    await mkdir(join(path, '..'), { recursive: true, mode: 0o750 });
    await writeFile(path, content, { mode: 0o640 });
    created.push(path);
  }

  // logrotate ignores a configuration file that group or others may write.
  await writeAtomic(layout.logrotateConfig, logrotateConfig(layout.logDir), 0o644);
  const certificate = await provisionCertificate(layout.certificate, config.hostId);
  if (certificate.state === 'created') created.push(certificate.path);

  const database = await provisionDatabase(config);
  const repository = await provisionRepository(config);
  return { root: layout.root, created, database, certificate, ...(repository ? { repository } : {}) };
}

/**
 * The sandbox's logrotate file: its service logs, copied then truncated
 * (the services keep their log open), a week of copies, older ones compressed.
 */
export function logrotateConfig(logDir: string): string {
  return `# mcp-runbooks sandbox: rotated by daily maintenance (logrotate --force --state ...)
${join(logDir, '*.log')} {
    daily
    rotate 7
    missingok
    notifempty
    compress
    delaycompress
    copytruncate
}
`;
}

/** A self-signed certificate for a year, made with openssl (the checks read it in-process, without openssl). */
async function provisionCertificate(path: string, hostId: string): Promise<ProvisionResult['certificate']> {
  if (await exists(path)) return { path, state: 'exists', detail: path };
  const key = path.replace(/\.crt$/, '') + '.key';
  const r = await execa(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', path, '-days', '365', '-subj', `/CN=${hostId}.sandbox.mcp-runbooks`],
    { reject: false, all: true, stdin: 'ignore', timeout: 30_000 },
  );
  if (r.exitCode !== 0) return { path, state: 'unavailable', detail: `openssl could not make a certificate: ${r.shortMessage ?? ''}`.trim() };
  await chmod(key, 0o600);
  await chmod(path, 0o644);
  return { path, state: 'created', detail: `${path} (self-signed, 365 days)` };
}

async function provisionDatabase(config: Config): Promise<ProvisionResult['database']> {
  const pgConfig = config.postgres;
  const name = pgConfig?.database ?? 'mcp_sandbox';
  if (!pgConfig || !config.sandbox?.createDatabase) return { name, state: 'disabled', detail: 'database creation is off' };
  try {
    const existed = await withPgClient(
      pgConfig,
      async (c) => {
        const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (r.rowCount) return true;
        await c.query(`CREATE DATABASE ${quoteIdent(name)}`);
        return false;
      },
      { database: 'postgres', connectTimeoutMs: 3000 },
    );
    await withPgClient(pgConfig, async (c) => {
      await c.query(
        'CREATE TABLE IF NOT EXISTS mcp_events (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), kind text NOT NULL, detail jsonb NOT NULL DEFAULT \'{}\')',
      );
      // Slow queries are read from pg_stat_statements when the server preloads it.
      const preload = await c.query<{ v: string }>("SELECT current_setting('shared_preload_libraries') AS v");
      if ((preload.rows[0]?.v ?? '').split(',').map((x) => x.trim()).includes('pg_stat_statements')) {
        await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      }
      const r = await c.query<{ n: string }>('SELECT count(*) AS n FROM mcp_events');
      if (r.rows[0]?.n === '0') {
        await c.query("INSERT INTO mcp_events (kind, detail) VALUES ('provisioned', $1), ('memory.stored', $2)", [
          JSON.stringify({ host: config.hostId }),
          JSON.stringify({ key: 'welcome' }),
        ]);
      }
    });
    return { name, state: existed ? 'exists' : 'created', detail: `${pgConfig.host}:${pgConfig.port}/${name}` };
  } catch (err) {
    return { name, state: 'unavailable', detail: `PostgreSQL at ${pgConfig.host}:${pgConfig.port} did not answer: ${errorMessage(err)}` };
  }
}

/**
 * Drops the sandbox's database (tests and `sandbox destroy`), and the databases a recovery or a
 * drill of it left when it was stopped midway (`<db>_restore_<tag>`, `<db>_previous_<tag>`, `<db>_drill_<tag>`).
 */
export async function dropSandboxDatabase(config: Config): Promise<void> {
  if (!config.postgres) return;
  const name = config.postgres.database;
  await withPgClient(
    config.postgres,
    async (c) => {
      const { rows } = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname = $1 OR (left(datname, length($1) + 1) = $1 || '_' AND substr(datname, length($1) + 2) ~ '^(restore|previous|drill)_[0-9a-f]{8}$')", [name]);
      for (const r of rows) await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(r.datname)} WITH (FORCE)`);
    },
    { database: 'postgres', connectTimeoutMs: 3000 },
  );
}


async function writeAtomic(path: string, content: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, path);
}
