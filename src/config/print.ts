/**
 * The resolved configuration written back as a config file: `mcp-runbooks config`
 * prints it, and `--config` loads it to the same resolved config. Every field is
 * spelled out (paths absolute, defaults filled in); a secret appears only as its
 * reference (`{env: NAME}` or `{file: PATH}`), never as its value; derived fields
 * (`source`, a pg_dump source's database) are left out.
 */
import { stringify } from 'yaml';
import type { BackupSource, BackupTarget, Config, ScheduleConfig, ServiceConfig } from './config.js';
import { octalMode } from './config.js';
import type { Secret } from './secret.js';

/** `{env: NAME}` or `{file: PATH}`, from where the secret was read. */
export function secretReference(secret: Secret): { env: string } | { file: string } {
  const at = secret.origin.indexOf(':');
  const kind = secret.origin.slice(0, at);
  const where = secret.origin.slice(at + 1);
  if (kind === 'env') return { env: where };
  if (kind === 'file') return { file: where };
  throw new Error(`secret of unknown origin "${secret.origin}"`);
}

function service(s: ServiceConfig): Record<string, unknown> {
  return {
    name: s.name,
    ...(s.unit !== s.name ? { unit: s.unit } : {}),
    logFiles: s.logFiles,
    ...(Object.keys(s.commands).length ? { commands: s.commands } : {}),
  };
}

function backupSource(src: BackupSource): Record<string, unknown> {
  // A dump's database is always `postgres.database`; the file has no field for it.
  return src.mode === 'pg_dump' ? { mode: 'pg_dump' } : { ...src };
}

function backupTarget(t: BackupTarget): Record<string, unknown> {
  if (t.type === 'archive') return { ...t };
  return {
    name: t.name,
    type: t.type,
    // A location written in the file is shown without the user:password a URL may carry (give those as a secret reference).
    repository: t.repository.origin === 'config' ? t.location : secretReference(t.repository),
    password: secretReference(t.password),
    env: Object.fromEntries(Object.entries(t.env).map(([k, v]) => [k, secretReference(v)])),
    options: t.options,
    checkReadDataSubset: t.checkReadDataSubset,
    layout: t.layout,
    retention: t.retention,
  };
}

function schedule(s: ScheduleConfig): Record<string, unknown> {
  return {
    runbook: s.runbook,
    ...(s.fleet ? { hosts: s.fleet.selector, ...(Object.keys(s.fleet.policy).length ? { policy: s.fleet.policy } : {}) } : { host: s.hostId }),
    ...(s.cron !== undefined ? { cron: s.cron } : {}),
    ...(s.every !== undefined ? { every: s.every } : {}),
    timezone: s.timezone,
    jitter: s.jitter,
    overlap: s.overlap,
    catchupWindow: s.catchupWindow,
    pauseOnFailure: s.pauseOnFailure,
    enabled: s.enabled,
  };
}

/** The config as the file's shape (see the module comment). */
export function configDocument(config: Config): Record<string, unknown> {
  const { apiKey, ...temporal } = config.temporal;
  const { refreshCommand, ...packages } = config.maintenance.packages;
  const security = config.maintenance.security;
  const doc: Record<string, unknown> = {
    hostId: config.hostId,
    // A host without labels is written as its plain id, as most files have it.
    hosts: config.inventory.map((h) => (Object.keys(h.labels).length ? { id: h.id, labels: h.labels } : h.id)),
    temporal: { ...temporal, ...(apiKey ? { apiKey: secretReference(apiKey) } : {}) },
    paths: config.paths,
    thresholds: config.thresholds,
    retention: config.retention,
    backup: { sources: config.backup.sources.map(backupSource), stagingDir: config.backup.stagingDir, compression: config.backup.compression, targets: config.backup.targets.map(backupTarget) },
    recovery: config.recovery,
    maintenance: {
      ...config.maintenance,
      security: { ...security, allowedFileModes: security.allowedFileModes.map(octalMode), allowedDirModes: security.allowedDirModes.map(octalMode) },
      // Absent in the resolved config means "read the lists as they are", which the file spells `false`.
      packages: { ...packages, refreshCommand: refreshCommand ?? false },
    },
    remediation: config.remediation,
    services: config.services.map(service),
    serviceManager: config.serviceManager,
    memoryService: config.memoryService,
  };
  if (config.postgres) {
    const { password, ...rest } = config.postgres;
    doc.postgres = { ...rest, ...(password ? { password: secretReference(password) } : {}) };
  }
  doc.worker = config.worker;
  doc.metrics = config.metrics;
  doc.dev = config.dev;
  if (config.gateway) doc.gateway = { ...config.gateway, tokens: config.gateway.tokens.map((t) => ({ ...t, token: secretReference(t.token) })) };
  if (config.notify.targets.length || config.notify.temporalUiUrl) {
    doc.notify = {
      ...(config.notify.temporalUiUrl ? { temporalUiUrl: config.notify.temporalUiUrl } : {}),
      targets: config.notify.targets.map((t) => ({
        ...t,
        url: t.url.origin === 'config' ? t.url.reveal() : secretReference(t.url),
        ...(t.authorization ? { authorization: secretReference(t.authorization) } : {}),
      })),
    };
  }
  // The seed's defaults stay implicit (so they keep their `seed` origin); everything declared is spelled out.
  // With no seed schedule left, `defaultSchedules: false` and the entries give the same list in the same order.
  doc.defaultSchedules = config.schedules.some((s) => s.origin === 'seed');
  doc.schedules = config.schedules.filter((s) => s.origin === 'config').map(schedule);
  if (config.sandbox) doc.sandbox = config.sandbox;
  return doc;
}

/** {@link configDocument} as YAML, headed by where it came from. */
export function configYaml(config: Config): string {
  return `# mcp-runbooks effective configuration, from ${config.source}\n${stringify(configDocument(config))}`;
}
