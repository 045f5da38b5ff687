/**
 * Loads the configuration once, at startup: YAML file (`--config`, else
 * `MCP_RUNBOOKS_CONFIG`, else the built-in sandbox), then `TEMPORAL_*`
 * variables, then flags; validated with zod; paths made absolute; secrets read.
 * This module and its callers' `env` argument are the only readers of the environment.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../common/errors.js';
import { DEFAULT_NOTIFY_EVENTS } from '../common/notify.js';
import { SEED_MAINTENANCE } from '../common/seed.js';
import { HOST_ID_PATTERN, pickHost } from '../common/task-queues.js';
import { sandboxConfigObject } from '../dev/sandbox/layout.js';
import { devOffsite } from '../dev/sandbox/offsite.js';
import { resolveProgram } from '../services/run-argv.js';
import type { BackupSource, BackupTarget, Config, GatewayToken, MaintenanceConfig, NotifyConfig, NotifyTarget, ServiceConfig, TemporalConfig, TlsConfig } from './config.js';
import type { InventoryHost } from './host-selector.js';
import { resolveBlackouts, resolveSchedules } from './schedules.js';
import { configSchema, type ParsedConfig, type SecretRef } from './schema.js';
import { Secret } from './secret.js';

/** The shortest gateway bearer token the config accepts. */
export const GATEWAY_TOKEN_MIN_LENGTH = 32;

/** The built-in sandbox's restic target, unless its password cannot be written (a read-only checkout): then the archive folder alone. */
function offsiteIfWritable(dataDir: string): { offsite?: ReturnType<typeof devOffsite> } {
  try {
    return { offsite: devOffsite(dataDir) };
  } catch {
    return {};
  }
}

/** `Config.source` of the built-in sandbox (no --config, no MCP_RUNBOOKS_CONFIG). */
export const BUILT_IN_SOURCE = 'built-in sandbox';

export type Env = Record<string, string | undefined>;

export interface LoadConfigOptions {
  /** The `--config` flag. */
  path?: string;
  /** Environment to read (`MCP_RUNBOOKS_CONFIG`, `TEMPORAL_*`, secrets). @default process.env */
  env?: Env;
  /** Base for relative paths of the built-in sandbox. @default process.cwd() */
  cwd?: string;
  /** The `--host-id` flag: overrides `hostId`. */
  hostId?: string;
}

/** The `TEMPORAL_*` variables the `temporal` CLI reads, and the config fields they set. */
const TEMPORAL_ENV = {
  TEMPORAL_ADDRESS: ['temporal', 'address'],
  TEMPORAL_NAMESPACE: ['temporal', 'namespace'],
} as const;
const TEMPORAL_TLS_ENV = {
  TEMPORAL_TLS_SERVER_NAME: 'serverName',
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: 'serverRootCACertFile',
  TEMPORAL_TLS_CLIENT_CERT_PATH: 'clientCertFile',
  TEMPORAL_TLS_CLIENT_KEY_PATH: 'clientKeyFile',
} as const;

/**
 * The absolute path of the config file {@link loadConfig} reads with these
 * options (`--config`, else `MCP_RUNBOOKS_CONFIG`), or undefined for the built-in sandbox.
 */
export function configFilePath(opts: LoadConfigOptions = {}): string | undefined {
  const env = opts.env ?? process.env;
  const file = opts.path ?? (env.MCP_RUNBOOKS_CONFIG || undefined);
  return file === undefined ? undefined : resolve(opts.cwd ?? process.cwd(), file);
}

export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const abs = configFilePath({ ...opts, env, cwd });
  const fromEnvVar = opts.path === undefined && abs !== undefined;

  let raw: Record<string, unknown>;
  let source: string;
  let baseDir: string;
  if (abs !== undefined) {
    source = fromEnvVar ? `${abs} (from MCP_RUNBOOKS_CONFIG)` : abs;
    raw = readYamlFile(abs, source);
    baseDir = dirname(abs);
  } else {
    source = BUILT_IN_SOURCE;
    raw = sandboxConfigObject({
      root: resolve(cwd, '.data', 'sandbox'),
      ...(env.PGUSER ? { postgresUser: env.PGUSER } : {}),
      ...(resolveProgram('restic', env) ? offsiteIfWritable(resolve(cwd, '.data')) : {}),
    });
    baseDir = cwd;
  }

  // Environment and flags override the file; remember which fields they set so errors can say so.
  const overridden = new Map<string, string>();
  const set = (path: readonly string[], value: unknown, from: string) => {
    let node = raw;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      node[key] = next && typeof next === 'object' && !Array.isArray(next) ? next : {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = value;
    overridden.set(path.join('.'), from);
  };
  for (const [name, path] of Object.entries(TEMPORAL_ENV)) {
    const v = env[name];
    if (v) set(path, v, name);
  }
  if (env.TEMPORAL_API_KEY) set(['temporal', 'apiKey'], { env: 'TEMPORAL_API_KEY' }, 'TEMPORAL_API_KEY');
  const tlsFromEnv: Record<string, string> = {};
  for (const [name, field] of Object.entries(TEMPORAL_TLS_ENV)) {
    const v = env[name];
    if (v) tlsFromEnv[field] = v;
  }
  if (Object.keys(tlsFromEnv).length > 0) {
    const current = (raw.temporal as Record<string, unknown> | undefined)?.tls;
    const base = current && typeof current === 'object' ? (current as Record<string, unknown>) : {};
    set(['temporal', 'tls'], { ...base, ...tlsFromEnv }, Object.keys(TEMPORAL_TLS_ENV).join('/'));
  } else if (env.TEMPORAL_TLS) {
    set(['temporal', 'tls'], parseBool(env.TEMPORAL_TLS), 'TEMPORAL_TLS');
  }
  if (opts.hostId !== undefined) set(['hostId'], opts.hostId, '--host-id');

  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError(source, toIssues(parsed.error.issues, overridden));
  }
  const tlsEnv = Object.fromEntries(Object.entries(TEMPORAL_TLS_ENV).filter(([name]) => env[name]).map(([name, field]) => [field, name]));
  return resolveConfig(parsed.data, { source, baseDir, cwd, env, tlsEnv });
}

function readYamlFile(abs: string, source: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(source, [{ path: '(file)', expected: 'a readable YAML file', found: `${code} reading ${abs}` }], {
      cause: err,
    });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    // The yaml package ends its first line with the position again ("... at line 2, column 1:"): said once, in `where`.
    const what = (err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)).replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(source, [{ path: '(file)', expected: 'valid YAML', found: `a syntax error${where}: ${what}` }], {
      cause: err,
    });
  }
  // An empty file would silently run with the production defaults (systemd, /opt/kilocode, ...):
  // almost always a file that was truncated or never filled in. `{}` says "defaults" on purpose.
  if (doc === null || doc === undefined) {
    const found = text.trim() === '' ? `${abs} is empty` : `${abs} has no settings (only comments)`;
    throw new ConfigError(source, [{ path: '(file)', expected: 'a YAML mapping of settings (write `{}` to take every default on purpose)', found }]);
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(source, [{ path: '(file)', expected: 'a YAML mapping of settings', found: describeValue(doc) }]);
  }
  return doc as Record<string, unknown>;
}

function parseBool(v: string): unknown {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  return v;
}

/** Renders a found value for an error message: type and a short preview. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  if (v === null) return 'null';
  if (typeof v === 'string') return `"${v.length > 60 ? `${v.slice(0, 57)}...` : v}"`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') {
    const keys = Object.keys(v);
    return keys.length ? `a mapping with ${keys.map((k) => `"${k}"`).join(', ')}` : 'an empty mapping';
  }
  return typeof v;
}

type ZodIssue = z.core.$ZodIssue;

/** Fields whose value may be a secret written in by mistake: a gateway token, a password, restic's backend keys and repository URL. */
const SECRET_FIELD = /(^|\.)(password|apiKey|token|authorization)(\.|$)|^backup\.targets\[\d+\]\.(env|repository)(\.|$)|^notify\.targets\[\d+\]\.url(\.|$)/;

function describeKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'string' ? 'a plain string' : `a ${typeof v}`;
}

function toIssues(issues: readonly ZodIssue[], overridden: Map<string, string>, prefix: PropertyKey[] = []): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const fullPath = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union') {
      // Prefer the branch that got past the type check: its issues say what is actually wrong.
      const branch = issue.errors.find((branchIssues) => branchIssues.length > 0 && !branchIssues.some((i) => i.path.length === 0 && i.code === 'invalid_type'));
      if (branch && !('discriminator' in issue && issue.discriminator)) {
        out.push(...toIssues(branch, overridden, fullPath));
        continue;
      }
    }
    const path = renderPath(fullPath);
    const from = overridden.get(path);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({ path: renderPath([...fullPath, key]), expected: 'no such field (check the spelling against the README)', found: `unknown field "${key}"` });
      }
      continue;
    }
    out.push({
      path: from ? `${path} (from ${from})` : path,
      expected: expectedText(issue),
      // A secret written into the file by mistake must not be echoed back.
      found: SECRET_FIELD.test(path) ? `${describeKind(issue.input)} (value hidden)` : describeValue(inputAt(issue)),
    });
  }
  return out;
}

/** The offending value: a discriminated union reports the whole object at the discriminator's path. */
function inputAt(issue: ZodIssue): unknown {
  const key = issue.path[issue.path.length - 1];
  const input = issue.input;
  if (issue.code === 'invalid_union' && typeof key === 'string' && input && typeof input === 'object' && !Array.isArray(input) && key in input) {
    return (input as Record<string, unknown>)[key];
  }
  return input;
}

function expectedText(issue: ZodIssue): string {
  const m = /^Invalid input: expected (\w+)/.exec(issue.message);
  if (m) return `${/^[aeiou]/i.test(m[1]!) ? 'an' : 'a'} ${m[1]}`;
  return issue.message.replace(/^(Too small|Too big|Invalid option): expected /, '');
}

function renderPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

interface ResolveContext {
  source: string;
  baseDir: string;
  cwd: string;
  env: Env;
  /** TLS fields set from TEMPORAL_TLS_* variables, and the variable each came from. */
  tlsEnv: Record<string, string>;
}

function resolveConfig(p: ParsedConfig, ctx: ResolveContext): Config {
  const abs = (path: string) => (isAbsolute(path) ? path : resolve(ctx.baseDir, path));
  const issues: ConfigIssue[] = [];
  const secret = (ref: SecretRef | undefined, field: string): Secret | undefined => {
    if (!ref) return undefined;
    if ('env' in ref) {
      const value = ctx.env[ref.env];
      if (!value) {
        issues.push({ path: `${field}.env`, expected: `environment variable ${ref.env} to be set`, found: 'it unset or empty' });
        return undefined;
      }
      return new Secret(value, `env:${ref.env}`);
    }
    const file = abs(ref.file);
    try {
      const value = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      if (!value) {
        issues.push({ path: `${field}.file`, expected: 'a file holding the secret', found: `an empty file ${file}` });
        return undefined;
      }
      return new Secret(value, `file:${file}`);
    } catch (err) {
      issues.push({ path: `${field}.file`, expected: 'a readable file holding the secret', found: `${(err as NodeJS.ErrnoException).code ?? 'error'} reading ${file}` });
      return undefined;
    }
  };

  const installRoot = abs(p.paths.installRoot);
  const logDir = abs(p.paths.logDir);
  const hostId = p.hostId ?? defaultHostId();
  const dataDir = abs(p.dev.dataDir);

  const services: ServiceConfig[] = p.services.map((s) => ({
    name: s.name,
    unit: 'unit' in s && s.unit ? s.unit : s.name,
    logFiles: 'logFiles' in s && s.logFiles ? s.logFiles.map(abs) : [join(logDir, `${s.name}.log`)],
    commands: 'commands' in s && s.commands ? s.commands : {},
  }));

  const temporal: TemporalConfig = {
    namespace: p.temporal.namespace,
    taskQueue: p.temporal.taskQueue,
  };
  if (p.temporal.address) temporal.address = p.temporal.address;
  if (p.temporal.tls !== undefined) {
    if (typeof p.temporal.tls === 'boolean') temporal.tls = p.temporal.tls;
    else {
      const tls: TlsConfig = {};
      if (p.temporal.tls.serverName) tls.serverName = p.temporal.tls.serverName;
      // The connection reads these files; a missing one is a config error here, not a bare ENOENT at connect time.
      for (const field of ['serverRootCACertFile', 'clientCertFile', 'clientKeyFile'] as const) {
        const path = p.temporal.tls[field];
        if (!path) continue;
        tls[field] = abs(path);
        try {
          readFileSync(tls[field]);
        } catch (err) {
          const from = ctx.tlsEnv[field];
          issues.push({
            path: `temporal.tls.${field}${from ? ` (from ${from})` : ''}`,
            expected: 'a readable PEM file',
            found: `${(err as NodeJS.ErrnoException).code ?? 'error'} reading ${tls[field]}`,
          });
        }
      }
      if (Boolean(tls.clientCertFile) !== Boolean(tls.clientKeyFile)) {
        issues.push({
          path: 'temporal.tls',
          expected: 'clientCertFile and clientKeyFile together',
          found: tls.clientCertFile ? 'only clientCertFile' : 'only clientKeyFile',
        });
      }
      temporal.tls = tls;
    }
  }
  const apiKey = secret(p.temporal.apiKey, 'temporal.apiKey');
  if (apiKey) temporal.apiKey = apiKey;

  const inventory: InventoryHost[] = p.hosts ?? [{ id: hostId, labels: {} }];
  const hosts = inventory.map((h) => h.id);
  const schedules = resolveSchedules({
    entries: p.schedules,
    defaultSchedules: p.defaultSchedules,
    inventory,
    defaultHost: pickHost(hosts, hostId) ?? hostId,
  });
  issues.push(...schedules.issues);
  const blackouts = resolveBlackouts(p.blackouts, schedules.schedules, issues);

  const config: Config = {
    blackouts,
    source: ctx.source,
    hostId,
    hosts,
    inventory,
    temporal,
    paths: {
      installRoot,
      configDir: abs(p.paths.configDir),
      logDir,
      backupDir: p.paths.backupDir ? abs(p.paths.backupDir) : join(installRoot, 'backups'),
      reportsDir: p.paths.reportsDir ? abs(p.paths.reportsDir) : join(installRoot, 'reports'),
      tempDirs: p.paths.tempDirs.map(abs),
    },
    thresholds: p.thresholds,
    retention: p.retention,
    backup: { sources: [], stagingDir: '', incrementalSnapshot: p.backup.incrementalSnapshot, compression: p.backup.compression, targets: [] },
    recovery: {
      freeSpaceMarginPercent: p.recovery.freeSpaceMarginPercent,
      maxCompressionRatio: p.recovery.maxCompressionRatio,
      emergencyCompressionLevel: p.recovery.emergencyCompressionLevel,
      maxEntries: p.recovery.maxEntries,
      ...(p.recovery.validateCommand ? { validateCommand: p.recovery.validateCommand } : {}),
      ...(p.recovery.drillValidateCommand ? { drillValidateCommand: p.recovery.drillValidateCommand } : {}),
    },
    maintenance: resolveMaintenance(p, installRoot, abs(p.paths.configDir), abs, issues),
    remediation: p.remediation,
    services,
    serviceManager: p.serviceManager,
    memoryService: p.memoryService,
    worker: p.worker,
    activities: { stallSeconds: p.activities.stallSeconds, ...(p.activities.stallSecondsFor ? { stallSecondsFor: p.activities.stallSecondsFor } : {}), heartbeatTimeoutSeconds: p.activities.heartbeatTimeoutSeconds },
    metrics: p.metrics,
    dev: { dataDir, temporalPort: p.dev.temporalPort, uiPort: p.dev.uiPort },
    notify: { targets: [] },
    schedules: schedules.schedules,
  };
  if (p.postgres) {
    const password = secret(p.postgres.password, 'postgres.password');
    const { password: _ref, ...rest } = p.postgres;
    config.postgres = password ? { ...rest, password } : rest;
  }
  config.backup.stagingDir = p.backup.stagingDir ? abs(p.backup.stagingDir) : join(config.paths.backupDir, '.staging');
  config.backup.sources = resolveBackupSources(p, config, abs, issues);
  config.backup.targets = resolveBackupTargets(p, config, abs, secret);
  if (p.gateway) {
    const g = p.gateway;
    const tokens: GatewayToken[] = [];
    const seen = new Map<string, string>();
    g.tokens.forEach((t, i) => {
      const path = `gateway.tokens[${i}].token`;
      const token = secret(t.token, path);
      if (!token) return;
      const value = token.reveal();
      // A guessable bearer token is a runbook anyone can start: at least 32 characters (`openssl rand -hex 32` gives 64).
      // Two tokens with the same secret would make a request's scopes the first one's: refused as well. Neither message shows the secret.
      if (value.length < GATEWAY_TOKEN_MIN_LENGTH) issues.push({ path, expected: `a secret of at least ${GATEWAY_TOKEN_MIN_LENGTH} characters (e.g. \`openssl rand -hex 32\`)`, found: `${value.length} characters` });
      else if (seen.has(value)) issues.push({ path, expected: 'a secret no other token has', found: `the same secret as token ${JSON.stringify(seen.get(value))}` });
      seen.set(value, t.name);
      tokens.push({ name: t.name, token, runbooks: t.runbooks, approve: t.approve });
    });
    const names = new Set<string>();
    g.tokens.forEach((t, i) => {
      if (names.has(t.name)) issues.push({ path: `gateway.tokens[${i}].name`, expected: 'a name no other token has', found: JSON.stringify(t.name) });
      names.add(t.name);
    });
    const ruleNames = new Set<string>();
    g.alertRules.forEach((r, i) => {
      if (ruleNames.has(r.name)) issues.push({ path: `gateway.alertRules[${i}].name`, expected: 'a name no other rule has', found: JSON.stringify(r.name) });
      ruleNames.add(r.name);
    });
    config.gateway = { host: g.host, port: g.port, inWorker: g.inWorker, bodyLimitBytes: g.bodyLimitBytes, tokens, maxConcurrentRemediations: g.maxConcurrentRemediations, alertRules: g.alertRules, ...(g.tls ? { tls: { certFile: abs(g.tls.certFile), keyFile: abs(g.tls.keyFile) } } : {}) };
  }
  config.notify = resolveNotify(p, secret, issues);
  if (p.sandbox) {
    config.sandbox = {
      root: p.sandbox.root ? abs(p.sandbox.root) : join(dataDir, 'sandbox'),
      memoryPort: p.sandbox.memoryPort,
      createDatabase: p.sandbox.createDatabase,
    };
    const init = p.sandbox.initRepository;
    if (init !== undefined) {
      const target = config.backup.targets.find((t) => t.name === init);
      const local = target?.type === 'restic' && target.repository.origin === 'config' && target.location.startsWith('/');
      if (!local) issues.push({ path: 'sandbox.initRepository', expected: 'the name of a restic target in backup.targets whose repository is a local path', found: JSON.stringify(init) });
      else config.sandbox.initRepository = init;
    }
  }
  if (issues.length > 0) throw new ConfigError(ctx.source, issues);
  return config;
}

/**
 * The backup targets, secrets read: the configured ones, or one archive target
 * named `local` (the backups folder, as before targets existed).
 */
function resolveBackupTargets(
  p: ParsedConfig,
  config: Config,
  abs: (path: string) => string,
  secret: (ref: SecretRef | undefined, field: string) => Secret | undefined,
): BackupTarget[] {
  if (!p.backup.targets) return [{ name: 'local', type: 'archive' }];
  const out: BackupTarget[] = [];
  p.backup.targets.forEach((t, i) => {
    const field = `backup.targets[${i}]`;
    if (t.type === 'archive') {
      out.push({ name: t.name, type: 'archive' });
      return;
    }
    const plain = typeof t.repository === 'string' ? t.repository : undefined;
    // A local path is made absolute like every other path; restic reads it relative to its own cwd otherwise.
    const location = plain?.startsWith('/') ? abs(plain) : plain;
    const repository = location !== undefined ? new Secret(location, 'config') : secret(t.repository as SecretRef, `${field}.repository`);
    const password = secret(t.password, `${field}.password`);
    const env: Record<string, Secret> = {};
    for (const [name, ref] of Object.entries(t.env)) {
      const value = secret(ref, `${field}.env.${name}`);
      if (value) env[name] = value;
    }
    if (!repository || !password) return;
    out.push({
      name: t.name,
      type: 'restic',
      location: location !== undefined ? displayLocation(location) : `[repository from ${repository.origin}]`,
      repository,
      password,
      env,
      options: t.options,
      checkReadDataSubset: t.checkReadDataSubset,
      layout: t.layout,
      retention: t.retention ?? config.retention,
      repositoryId: createHash('sha256').update(repository.reveal().replace(/\/+$/, '')).digest('hex').slice(0, 16),
    });
  });
  return out;
}

/** A repository location without the user:password a REST or S3 URL may carry. */
export function displayLocation(location: string): string {
  return location.replace(/^((?:rest|s3):)?(https?:\/\/)[^/@]*@/, (_m, kind: string | undefined, scheme: string) => `${kind ?? ''}${scheme}***@`);
}

/**
 * The backup sources: the configured ones, or the seed's (its `tar -czf` list:
 * the config folder and five install-root folders, memory_db and memory_backups
 * owned by mcp-memory) plus an online pg_dump when `postgres` is set. Sources
 * may not hold the backups folder (the seed's emergency copy copied it into itself)
 * nor overlap each other.
 */
function resolveBackupSources(p: ParsedConfig, config: Config, abs: (path: string) => string, issues: ConfigIssue[]): BackupSource[] {
  const services = config.services.map((s) => s.name);
  let sources: BackupSource[];
  const field = (i: number) => (p.backup.sources ? `backup.sources[${i}]` : 'backup.sources (default)');
  if (p.backup.sources) {
    sources = p.backup.sources.map((src): BackupSource => {
      if (src.mode === 'pg_dump') return { mode: 'pg_dump', database: config.postgres?.database ?? '' };
      if (src.mode === 'online') return { mode: 'online', path: abs(src.path) };
      return { mode: 'stop', path: abs(src.path), services: src.services };
    });
  } else {
    const root = config.paths.installRoot;
    const memoryOwned = (name: string): BackupSource =>
      services.includes('mcp-memory') ? { mode: 'stop', path: join(root, name), services: ['mcp-memory'] } : { mode: 'online', path: join(root, name) };
    sources = [
      { mode: 'online', path: config.paths.configDir },
      { mode: 'online', path: join(root, 'kilocode-mcp-installer') },
      { mode: 'online', path: join(root, 'mcp-memory-service') },
      memoryOwned('memory_db'),
      memoryOwned('memory_backups'),
      { mode: 'online', path: join(root, 'reports') },
      ...(config.postgres ? [{ mode: 'pg_dump', database: config.postgres.database } as const] : []),
    ];
  }
  const inside = (a: string, b: string) => a === b || a.startsWith(`${b}/`);
  const backupDir = config.paths.backupDir;
  let dumps = 0;
  sources.forEach((src, i) => {
    if (src.mode === 'pg_dump') {
      dumps += 1;
      if (!config.postgres) issues.push({ path: `${field(i)}.mode`, expected: 'a postgres section for a pg_dump source', found: 'no postgres section' });
      if (dumps > 1) issues.push({ path: `${field(i)}.mode`, expected: 'at most one pg_dump source', found: 'a second one' });
      return;
    }
    if (inside(src.path, backupDir) || inside(backupDir, src.path)) {
      issues.push({
        path: `${field(i)}.path`,
        expected: `a folder that neither holds nor lies in the backups folder ${backupDir}`,
        found: `"${src.path}" (an archive would contain the archives)`,
      });
    }
    if (inside(config.backup.stagingDir, src.path)) {
      issues.push({ path: 'backup.stagingDir', expected: 'a folder outside every backup source', found: `"${config.backup.stagingDir}" inside "${src.path}"` });
    }
    if (src.mode === 'stop') {
      src.services.forEach((svc, j) => {
        if (!services.includes(svc)) {
          issues.push({ path: `${field(i)}.services[${j}]`, expected: `a configured service (${services.join(', ')})`, found: `"${svc}"` });
        }
      });
    }
    sources.forEach((other, j) => {
      if (j <= i || other.mode === 'pg_dump') return;
      if (inside(src.path, other.path) || inside(other.path, src.path)) {
        issues.push({ path: `${field(j)}.path`, expected: 'a folder that does not overlap another source', found: `"${other.path}" overlaps "${src.path}"` });
      }
    });
  });
  return sources;
}

/** Maintenance settings with absolute paths and numeric modes; the certificate thresholds must be ordered. */
function resolveMaintenance(p: ParsedConfig, installRoot: string, configDir: string, abs: (path: string) => string, issues: ConfigIssue[]): MaintenanceConfig {
  const m = p.maintenance;
  if (m.security.certificateFailDays >= m.security.certificateWarnDays) {
    issues.push({
      path: 'maintenance.security.certificateFailDays',
      expected: `fewer days than certificateWarnDays (${m.security.certificateWarnDays})`,
      found: `number ${m.security.certificateFailDays}`,
    });
  }
  const mode = (octal: string) => Number.parseInt(octal, 8);
  const { refreshCommand, ...packages } = m.packages;
  return {
    stateDir: m.stateDir ? abs(m.stateDir) : join(installRoot, 'maintenance'),
    logs: {
      maxAgeDays: m.logs.maxAgeDays,
      logrotateConfig: abs(m.logs.logrotateConfig),
      ...(m.logs.logrotateStateFile ? { logrotateStateFile: abs(m.logs.logrotateStateFile) } : {}),
      forceRotation: m.logs.forceRotation,
      errorPatterns: m.logs.errorPatterns,
      firstScanDays: m.logs.firstScanDays,
    },
    backups: m.backups,
    tempFiles: m.tempFiles,
    postgres: m.postgres,
    security: {
      ...m.security,
      allowedFileModes: m.security.allowedFileModes.map(mode),
      allowedDirModes: m.security.allowedDirModes.map(mode),
      permissionRoots: (m.security.permissionRoots ?? [installRoot, configDir]).map(abs),
      certificates: (m.security.certificates ?? [join(configDir, SEED_MAINTENANCE.certificate)]).map(abs),
    },
    packages: { ...packages, ...(refreshCommand ? { refreshCommand } : {}) },
  };
}

/** The machine's short hostname, made into a valid host id. */
export function defaultHostId(): string {
  const short = (hostname().split('.')[0] ?? '').replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  const id = short.slice(0, 63);
  return HOST_ID_PATTERN.test(id) ? id : 'localhost';
}

/** `notify`: URLs written in the file or read from secret references, each target's events filled in by its kind. */
function resolveNotify(p: ParsedConfig, secret: (ref: SecretRef | undefined, field: string) => Secret | undefined, issues: ConfigIssue[]): NotifyConfig {
  const n = p.notify;
  const targets: NotifyTarget[] = [];
  const names = new Set<string>();
  (n?.targets ?? []).forEach((t, i) => {
    const field = `notify.targets[${i}]`;
    if (names.has(t.name)) issues.push({ path: `${field}.name`, expected: 'a name no other target has', found: JSON.stringify(t.name) });
    names.add(t.name);
    const url = typeof t.url === 'string' ? new Secret(t.url, 'config') : secret(t.url, `${field}.url`);
    if (url && url.origin !== 'config' && !/^https?:\/\/[^\s]+$/.test(url.reveal())) {
      issues.push({ path: `${field}.url`, expected: `an http(s) URL in ${url.origin}`, found: 'something else' });
      return;
    }
    const authorization = secret(t.authorization, `${field}.authorization`);
    if (!url) return;
    targets.push({
      name: t.name,
      kind: t.kind,
      url,
      ...(authorization ? { authorization } : {}),
      runbooks: t.runbooks,
      hosts: t.hosts,
      events: t.events ?? [...DEFAULT_NOTIFY_EVENTS[t.kind]],
      scheduledOnly: t.scheduledOnly ?? t.kind === 'healthchecks',
      timeoutSeconds: t.timeoutSeconds,
    });
  });
  return { ...(n?.temporalUiUrl ? { temporalUiUrl: n.temporalUiUrl } : {}), targets };
}
