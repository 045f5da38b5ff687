import type { Blackout } from '../schedules/blackouts.js';
/** The resolved configuration every part of mcp-runbooks receives. */
import type { FleetPolicy } from '../common/fleet.js';
import type { NotifyEvent, NotifyKind } from '../common/notify.js';
import type { CountedActivity } from '../common/progress.js';
import type { RunbookName } from '../runbooks.js';
import type { OverlapPolicy } from '../schedules/overlap.js';
import type { InventoryHost } from './host-selector.js';
import type { CommandTemplates } from './schema.js';
import { Secret } from './secret.js';

export interface ServiceConfig {
  name: string;
  /** systemd unit name. */
  unit: string;
  /** Absolute paths of the service's log files (command backend). */
  logFiles: string[];
  /** argv templates overriding the service manager's, for this service. */
  commands: Partial<CommandTemplates>;
}

export type ServiceManagerConfig =
  | { type: 'systemd'; timeoutSeconds: number }
  | { type: 'command'; timeoutSeconds: number; commands: CommandTemplates };

export interface TlsConfig {
  serverName?: string;
  serverRootCACertFile?: string;
  clientCertFile?: string;
  clientKeyFile?: string;
}

export interface TemporalConfig {
  /** Absent: `dev` starts an embedded server; other commands use 127.0.0.1:7233. */
  address?: string;
  namespace: string;
  taskQueue: string;
  /** `false`/absent: plain TCP; `true`: TLS with system roots; object: mTLS files. */
  tls?: boolean | TlsConfig;
  apiKey?: Secret;
}

export interface PathsConfig {
  installRoot: string;
  configDir: string;
  logDir: string;
  backupDir: string;
  reportsDir: string;
  tempDirs: string[];
}

export interface PostgresConfig {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: Secret;
  statementTimeoutSeconds: number;
}

export type BackupSource =
  | { mode: 'stop'; path: string; services: string[] }
  | { mode: 'online'; path: string }
  | { mode: 'pg_dump'; database: string };

export interface BackupConfig {
  sources: BackupSource[];
  /** Snapshots are copied here, then archived. */
  stagingDir: string;
  /** Keep the stop-mode snapshot copy between backups and update only what changed. */
  incrementalSnapshot: boolean;
  compression: { program: 'auto' | 'pigz' | 'gzip'; level: number };
  /** Where each backup goes, in order; never empty (default: one archive target named `local`). */
  targets: BackupTarget[];
}

/** The seed's `.tar.gz` folder, `paths.backupDir`. */
export interface ArchiveTarget {
  name: string;
  type: 'archive';
}

/** A restic repository. Its secrets go to restic alone, through its environment. */
export interface ResticTarget {
  name: string;
  type: 'restic';
  /** The repository as it may be shown: a plain location, user:password removed, or where its secret came from. */
  location: string;
  repository: Secret;
  password: Secret;
  env: Record<string, Secret>;
  options: Record<string, string>;
  checkReadDataSubset: string;
  /** `folders`: restic reads the snapshot copies at their original paths; `tar`: one tar stream per backup; `auto`: folders where the worker can. */
  layout: 'auto' | 'folders' | 'tar';
  retention: RetentionConfig;
  /** Identifies the repository across hosts (sha256 of its location): the repository lock's id. Not secret. */
  repositoryId: string;
}

export type BackupTarget = ArchiveTarget | ResticTarget;

export interface RecoveryConfig {
  validateCommand?: string[];
  /** A restore drill's check of its scratch copies; `{root}` and `{database}` are replaced. */
  drillValidateCommand?: string[];
  freeSpaceMarginPercent: number;
  /** Tar stream bytes per compressed byte above which inspection refuses an archive as a bomb. */
  maxCompressionRatio: number;
  /** Entries above which inspection refuses an archive. */
  maxEntries: number;
  /** gzip level of the emergency archive of the state a recovery replaced (0: stored). */
  emergencyCompressionLevel: number;
}

export interface RetentionConfig {
  days: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

/** Daily, weekly and monthly maintenance, resolved: absolute paths, modes as numbers. */
export interface MaintenanceConfig {
  /** Maintenance's own state (time of the last log scan). */
  stateDir: string;
  logs: {
    maxAgeDays: number;
    logrotateConfig: string;
    logrotateStateFile?: string;
    forceRotation: boolean;
    /** Case-insensitive regular expressions. */
    errorPatterns: string[];
    firstScanDays: number;
  };
  backups: { maxAgeHours: number };
  tempFiles: { prefix: string; maxAgeHours: number };
  postgres: { slowQueryMs: number; slowQueryLimit: number; vacuumTimeoutMinutes: number };
  security: {
    serviceUser: string;
    /** Permission bits (e.g. 0o644), including setuid/setgid/sticky when given. */
    allowedFileModes: number[];
    allowedDirModes: number[];
    permissionRoots: string[];
    certificates: string[];
    certificateWarnDays: number;
    certificateFailDays: number;
    auditStatusCommand: string[];
  };
  packages: {
    allowUpgrades: boolean;
    upgradeApprovalTimeoutMinutes: number;
    /** Absent: the lists are read as they are. */
    refreshCommand?: string[];
    listCommand: string[];
    upgradeCommand: string[];
    timeoutMinutes: number;
  };
}

export interface GatewayToken {
  name: string;
  token: Secret;
  /** `mcp-runbooks run` names, or `*`. */
  runbooks: string[];
  approve: boolean;
}

export interface GatewayAlertRule {
  name: string;
  alert: string;
  matchers: Record<string, string>;
  runbook: string;
  hostLabel: string;
  labels: Record<string, string>;
  input: Record<string, string | number | boolean>;
  throttleMinutes: number;
}

export interface GatewayConfig {
  host: string;
  port: number;
  /** Served by `mcp-runbooks worker` (orchestrator roles) instead of `mcp-runbooks gateway`. */
  inWorker: boolean;
  bodyLimitBytes: number;
  tls?: { certFile: string; keyFile: string };
  tokens: GatewayToken[];
  maxConcurrentRemediations: number;
  alertRules: GatewayAlertRule[];
}

/** One `notify.targets[]` entry, resolved: which events it wants and where they go. */
export interface NotifyTarget {
  name: string;
  kind: NotifyKind;
  /** A URL written in the file has origin `config`; one from a secret reference never appears in config output. */
  url: Secret;
  authorization?: Secret;
  /** `mcp-runbooks run` names, or `*`. */
  runbooks: string[];
  /** Host ids, or `*`. */
  hosts: string[];
  events: NotifyEvent[];
  scheduledOnly: boolean;
  timeoutSeconds: number;
}

export interface NotifyConfig {
  temporalUiUrl?: string;
  targets: NotifyTarget[];
}

export interface SandboxConfig {
  root: string;
  memoryPort: number;
  createDatabase: boolean;
  /** A restic target with a local repository that provisioning creates (`restic init`) when it is missing. */
  initRepository?: string;
}

/** A fleet schedule's hosts and policy: its action starts the `fleet` runbook. */
export interface FleetScheduleConfig {
  /** The selector as written, e.g. `role=db`. */
  selector: string;
  /** The hosts it selected when the config was loaded (re-applying the schedules picks up inventory changes). */
  hosts: string[];
  /** Labels of those hosts, for `order: label:<key>`. */
  labels: Record<string, Record<string, string>>;
  /** The rolling policy as declared (empty with a per-host `jitter`: every host at once, each after its own wait). */
  policy: Omit<FleetPolicy, 'jitterSeconds'>;
}

/** One schedule as declared: a seed default or a `schedules` entry, every field filled in. */
export interface ScheduleConfig {
  runbook: RunbookName;
  /** The host of a per-host schedule; of a fleet schedule, its selector (what `schedules list` shows after "on"). */
  hostId: string;
  /** Set for a fleet schedule (`hosts: <selector>`). */
  fleet?: FleetScheduleConfig;
  /** 5-field cron expression; exactly one of `cron` and `every` is set. */
  cron?: string;
  /** Interval such as `15m`. */
  every?: string;
  /** Canonical IANA name. */
  timezone: string;
  /** Each run starts up to this much later; a fleet schedule starts on time and each host's run waits up to this long. */
  jitter: string;
  overlap: OverlapPolicy;
  catchupWindow: string;
  pauseOnFailure: boolean;
  /** `false`: the schedule must not exist; `schedules apply` deletes it. */
  enabled: boolean;
  /** `seed`: a default from the seed guide; `config`: declared or overridden in the config file. */
  origin: 'seed' | 'config';
}

export interface Config {
  /** Maintenance windows: the skip calendars of every schedule whose runbook changes a host. */
  blackouts: Blackout[];
  /** Where the config came from: a file path or `built-in sandbox`. */
  source: string;
  hostId: string;
  /** The inventory's host ids, in config order: where runbooks may be routed. */
  hosts: string[];
  /** The inventory with each host's labels (empty for a plain id): what host selectors match. */
  inventory: InventoryHost[];
  temporal: TemporalConfig;
  paths: PathsConfig;
  thresholds: { diskPercent: number; memoryPercent: number; dbConnectionsPercent: number };
  retention: RetentionConfig;
  backup: BackupConfig;
  recovery: RecoveryConfig;
  maintenance: MaintenanceConfig;
  remediation: { maxRestarts: number; windowMinutes: number };
  services: ServiceConfig[];
  serviceManager: ServiceManagerConfig;
  memoryService: { url: string; timeoutSeconds: number };
  postgres?: PostgresConfig;
  worker: { shutdownGraceSeconds: number; shutdownForceSeconds: number };
  /** How host activities are watched (see `withStallWatch`). */
  activities: { stallSeconds: number; stallSecondsFor?: Partial<Record<CountedActivity, number>>; heartbeatTimeoutSeconds: number };
  metrics: { host: string; port: number; sdkPort: number; probeSeconds: number; backupProbeSeconds: number; scheduleProbeSeconds: number };
  dev: { dataDir: string; temporalPort: number; uiPort: number };
  gateway?: GatewayConfig;
  /** Notifications out; no targets when the file has no `notify`. */
  notify: NotifyConfig;
  sandbox?: SandboxConfig;
  /** Every declared schedule (seed defaults merged with `schedules`), disabled ones included. */
  schedules: ScheduleConfig[];
}

/**
 * A copy of the config that is safe to print: a secret shows only where it came
 * from, and permission modes are octal strings as written in the file ("644", not 420).
 */
export function redactedConfig(config: Config): Record<string, unknown> {
  const shown = redact(config) as Record<string, unknown> & { maintenance: { security: Record<string, unknown> } };
  const { allowedFileModes, allowedDirModes } = config.maintenance.security;
  shown.maintenance.security.allowedFileModes = allowedFileModes.map(octalMode);
  shown.maintenance.security.allowedDirModes = allowedDirModes.map(octalMode);
  return shown;
}

/** 0o644 -> "644", 0o4755 -> "4755". */
export function octalMode(mode: number): string {
  return mode.toString(8).padStart(3, '0');
}

function redact(value: unknown): unknown {
  if (value instanceof Secret) return `[secret from ${value.origin}]`;
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v)]));
  }
  return value;
}
