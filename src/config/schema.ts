/**
 * The configuration file's schema. Defaults come from the seed operations guide
 * (`shared/seed`): four MCP services under /opt/kilocode/mcp-servers, 30-day
 * retention, disk 80 %, memory 85 %, database connections 80 %.
 */
import { z } from 'zod';
import { NOTIFY_EVENTS, NOTIFY_KINDS } from '../common/notify.js';
import { COUNTED_ACTIVITIES, HEARTBEAT_TIMEOUT_SECONDS, STALL_DEFAULT_SECONDS } from '../common/progress.js';
import { SEED_MAINTENANCE, SEED_PATHS, SEED_SERVICES } from '../common/seed.js';
import { HOST_ID_PATTERN, DEFAULT_TASK_QUEUE } from '../common/task-queues.js';
import { fleetPolicyInput } from '../common/inputs.js';
import { LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN, SELECTOR_EXPECTED } from './host-selector.js';
import { API_RUNBOOKS, isApiRunbookName, isRunbookName } from '../runbooks.js';
import { CRON_EXPECTED, cronProblem } from '../schedules/cron.js';
import { parseDuration } from '../schedules/duration.js';
import { OVERLAP_POLICIES, parseOverlapPolicy } from '../schedules/overlap.js';
import { canonicalTimeZone } from '../schedules/timezone.js';
import { runbookExpected, SCHEDULABLE } from './schedules.js';

export { SEED_MAINTENANCE, SEED_PATHS, SEED_SERVICES };

const nonEmpty = z.string().min(1, { error: 'a non-empty string' });
const pathString = nonEmpty;
const percent = z
  .number({ error: 'a number from 1 to 100' })
  .min(1, { error: 'a number from 1 to 100' })
  .max(100, { error: 'a number from 1 to 100' });
const port = z
  .number({ error: 'a port number from 0 to 65535' })
  .int({ error: 'a port number from 0 to 65535' })
  .min(0, { error: 'a port number from 0 to 65535' })
  .max(65535, { error: 'a port number from 0 to 65535' });
const positiveSeconds = z.number({ error: 'a number of seconds > 0' }).positive({ error: 'a number of seconds > 0' });
const probeSeconds = z.number({ error: 'a number of seconds >= 0 (0: off)' }).min(0, { error: 'a number of seconds >= 0 (0: off)' });

export const hostIdSchema = z
  .string({ error: 'a host id (letters, digits, ".", "_", "-"; at most 63 characters)' })
  .regex(HOST_ID_PATTERN, { error: 'a host id (letters, digits, ".", "_", "-"; at most 63 characters)' })
  // Metrics label runs whose host could not be resolved "unknown"; a real host of that name would mix with them.
  .refine((v) => v !== 'unknown', { error: 'a host id other than "unknown" (reserved for runs whose host could not be resolved)' })
  // A host selector `all` selects every host; a host of that name could not be selected alone.
  .refine((v) => v !== 'all', { error: 'a host id other than "all" (the host selector that selects every host)' });

const LABELS_EXPECTED = 'labels as {key: value}: keys of letters, digits, ".", "_", "/", "-"; values of letters, digits, ".", "_", "-"';
/** One inventory entry: a plain host id, or the id with labels that selectors match (`role=db`). */
const inventoryHostSchema = z.union(
  [
    hostIdSchema.transform((id) => ({ id, labels: {} as Record<string, string> })),
    z.strictObject({
      id: hostIdSchema,
      labels: z
        .record(z.string().regex(LABEL_KEY_PATTERN, { error: LABELS_EXPECTED }), z.string({ error: LABELS_EXPECTED }).regex(LABEL_VALUE_PATTERN, { error: LABELS_EXPECTED }), { error: LABELS_EXPECTED })
        .default({}),
    }),
  ],
  { error: 'a host id, or {id, labels: {key: value}}' },
);

const serviceNameSchema = z
  .string({ error: 'a service name' })
  .regex(/^[A-Za-z0-9@._-]{1,128}$/, { error: 'a service name (letters, digits, "@", ".", "_", "-")' });

/** Where a secret comes from; the value itself never appears in the file. */
export const secretRefSchema = z.union(
  [z.strictObject({ env: nonEmpty }), z.strictObject({ file: pathString })],
  { error: 'a secret reference: {env: VAR_NAME} or {file: /path/to/file}' },
);

/** An argv template: `{service}` in any element is replaced by the service name. */
const argvTemplate = z
  .array(z.string(), { error: 'an argv array of strings, e.g. ["systemctl", "start", "{service}"]' })
  .min(1, { error: 'an argv array with at least the program' })
  .refine((a) => (a[0] ?? '').length > 0, { error: 'an argv array whose first element names a program' });

const commandTemplates = z.strictObject({
  start: argvTemplate,
  stop: argvTemplate,
  /** Exit code 0 means active; any other exit code means not active. */
  status: argvTemplate,
  /** Defaults to stop then start. */
  restart: argvTemplate.optional(),
});

const serviceSchema = z.union(
  [
    serviceNameSchema.transform((name) => ({ name })),
    z.strictObject({
      name: serviceNameSchema,
      /** systemd unit; @default the service name */
      unit: nonEmpty.optional(),
      /** Log files read for "logs since" with the command backend. @default `<logDir>/<name>.log` */
      logFiles: z.array(pathString).optional(),
      /** Per-service argv templates for the command backend, overriding `serviceManager.commands`. */
      commands: commandTemplates.partial().optional(),
    }),
  ],
  { error: 'a service name or {name, unit?, logFiles?, commands?}' },
);

const serviceManagerSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({
      type: z.literal('systemd'),
      /** @default 60 */
      timeoutSeconds: positiveSeconds.default(60),
    }),
    z.strictObject({
      type: z.literal('command'),
      timeoutSeconds: positiveSeconds.default(60),
      commands: commandTemplates,
    }),
  ],
  { error: 'a service manager: {type: systemd} or {type: command, commands: {start, stop, status}}' },
);

/** A backup target's name: it labels metrics and picks the target in `backups list --target`. */
export const TARGET_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
const targetName = z
  .string({ error: 'a target name (lower-case letters, digits and "-", starting with a letter; at most 32)' })
  .regex(TARGET_NAME_PATTERN, { error: 'a target name (lower-case letters, digits and "-", starting with a letter; at most 32)' });

const retentionSchema = z.strictObject({
  days: z.number({ error: 'a whole number of days >= 1' }).int().min(1, { error: 'a whole number of days >= 1' }).default(30),
  /** Also keep the newest archive of each of the last N days / ISO weeks / months. */
  keepDaily: z.number({ error: 'a whole number >= 0' }).int().min(0, { error: 'a whole number >= 0' }).optional(),
  keepWeekly: z.number({ error: 'a whole number >= 0' }).int().min(0, { error: 'a whole number >= 0' }).optional(),
  keepMonthly: z.number({ error: 'a whole number >= 0' }).int().min(0, { error: 'a whole number >= 0' }).optional(),
});

/** restic's repository locations: a local path, or one of the backends restic 0.14 reads. */
const RESTIC_REPOSITORY = /^(\/|sftp:|s3:|rest:|b2:|azure:|gs:|swift:|rclone:)/;
const resticOption = z.string().regex(/^[a-z0-9]+\.[a-z0-9.-]+$/, { error: 'a restic -o option name such as s3.connections' });

/** Where a backup goes. `archive`: the seed's .tar.gz folder (paths.backupDir); `restic`: a restic repository. */
const backupTargetSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ name: targetName, type: z.literal('archive') }),
    z.strictObject({
      name: targetName,
      type: z.literal('restic'),
      /** `/path`, `sftp:user@host:/path`, `s3:https://host/bucket/path`, `rest:https://host/path/`; or a secret reference when it holds credentials (a REST URL with user:password). */
      repository: z.union([
        z.string({ error: 'a restic repository' }).regex(RESTIC_REPOSITORY, { error: 'a restic repository: /path, sftp:..., s3:..., rest:...' }),
        secretRefSchema,
      ]),
      /** The repository password. Without it nothing in the repository can be read: keep a copy off the host. */
      password: secretRefSchema,
      /** Backend credentials given to restic alone, e.g. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for s3. */
      env: z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/, { error: 'an environment variable name' }), secretRefSchema).default({}),
      /** restic `-o name=value` options, e.g. {"s3.connections": "4"}. */
      options: z.record(resticOption, z.string()).default({}),
      /** `restic check --read-data-subset` after each backup (e.g. "5%", "1/10"); "0%" checks only the structure. @default 5% */
      checkReadDataSubset: z.string().regex(/^(\d{1,3}(\.\d+)?%|\d+\/\d+|\d+[KMGT]?)$/, { error: 'a restic --read-data-subset: 5%, 1/10 or 500M' }).default('5%'),
      /**
       * How a backup is stored. `folders`: restic reads the snapshot copies, each at its original path (a
       * private mount namespace: the worker must be root or hold CAP_SYS_ADMIN), and stores only what changed
       * since the last backup; `tar`: the archive target's tar stream as one file (any worker; restic reads
       * all of it every night). `auto`: `folders` where the worker can, else `tar`. @default auto
       */
      layout: z.enum(['auto', 'folders', 'tar'], { error: 'auto, folders or tar' }).default('auto'),
      /** Keep-policy for this repository. @default the top-level `retention` */
      retention: retentionSchema.optional(),
    }),
  ],
  { error: 'a backup target: {name, type: archive} or {name, type: restic, repository, password}' },
);

/** Where a backup reads from and how it keeps the copy consistent. */
const backupSourceSchema = z.discriminatedUnion(
  'mode',
  [
    z.strictObject({
      /** Owning services are stopped only while the folder is copied to staging. */
      mode: z.literal('stop'),
      path: pathString,
      services: z.array(serviceNameSchema).min(1, { error: 'at least one owning service' }),
    }),
    /** Copied while the services run (configuration, program files, reports). */
    z.strictObject({ mode: z.literal('online'), path: pathString }),
    /** The `postgres` database, dumped online with `pg_dump -Fc`. */
    z.strictObject({ mode: z.literal('pg_dump') }),
  ],
  { error: 'a backup source: {mode: stop, path, services}, {mode: online, path} or {mode: pg_dump}' },
);

const positiveNumber = (what: string) => z.number({ error: `a number of ${what} > 0` }).positive({ error: `a number of ${what} > 0` });
const wholeNumber = (min: number, max: number, what: string) => {
  const expected = `a whole number of ${what} from ${min} to ${max}`;
  return z.number({ error: expected }).int({ error: expected }).min(min, { error: expected }).max(max, { error: expected });
};

const MODE_EXPECTED = 'a permission mode as 3 or 4 octal digits in quotes, e.g. "644" or "0750"';
const permissionMode = z.string({ error: MODE_EXPECTED }).regex(/^0?[0-7]{3}$|^[0-7]{4}$/, { error: MODE_EXPECTED });

const PATTERN_EXPECTED = 'a regular expression, e.g. "error" or "fail(ed|ure)"';
const errorPattern = z.string({ error: PATTERN_EXPECTED }).min(1, { error: PATTERN_EXPECTED }).refine(
  (v) => {
    try {
      new RegExp(v, 'i');
      return true;
    } catch {
      return false;
    }
  },
  { error: PATTERN_EXPECTED },
);

/**
 * The daily, weekly and monthly maintenance runbooks (seed section 4). Every
 * default is the seed's value; paths are relative to the config file.
 */
const maintenanceSchema = z.strictObject({
  /** Where maintenance keeps its own state (the time of the last log scan). @default `<installRoot>/maintenance` */
  stateDir: pathString.optional(),
  logs: z
    .strictObject({
      /** Above `thresholds.diskPercent`, daily maintenance deletes `*.log` files under `paths.logDir` older than this. @default 7 */
      maxAgeDays: positiveNumber('days').default(SEED_MAINTENANCE.logMaxAgeDays),
      /** logrotate configuration daily maintenance rotates with; a missing file is a `warn`. @default /etc/logrotate.d/kilocode-mcp */
      logrotateConfig: pathString.default(SEED_MAINTENANCE.logrotateConfig),
      /** logrotate's state file (`--state`). @default logrotate's own, /var/lib/logrotate/status */
      logrotateStateFile: pathString.optional(),
      /** Rotate even when logrotate's own schedule says not yet (`--force`, the seed's `logrotate -f`). @default true */
      forceRotation: z.boolean({ error: 'true or false' }).default(true),
      /** Case-insensitive regular expressions; a log line matching one counts as an error line. @default ["error", "failed"] */
      errorPatterns: z.array(errorPattern, { error: 'a list of regular expressions' }).min(1, { error: 'at least one pattern' }).default([...SEED_MAINTENANCE.errorPatterns]),
      /** The first weekly error scan reads this far back; later ones read from where the previous scan stopped. @default 7 */
      firstScanDays: positiveNumber('days').default(7),
    })
    .prefault({}),
  backups: z
    .strictObject({
      /** Daily maintenance warns when the newest archive is older than this (a daily backup plus slack). @default 26 */
      maxAgeHours: positiveNumber('hours').default(26),
    })
    .prefault({}),
  tempFiles: z
    .strictObject({
      /** Weekly maintenance removes files with this name prefix from the top level of each of `paths.tempDirs`. @default mcp_ */
      prefix: z.string({ error: 'a file name prefix without "/"' }).regex(/^[^/\0]+$/, { error: 'a file name prefix without "/"' }).default(SEED_MAINTENANCE.tempFilePrefix),
      /** Only files last modified longer ago than this. @default 24 */
      maxAgeHours: positiveNumber('hours').default(SEED_MAINTENANCE.tempFileMaxAgeHours),
    })
    .prefault({}),
  postgres: z
    .strictObject({
      /** A statement whose mean execution time is above this is a slow query. @default 1000 */
      slowQueryMs: positiveNumber('milliseconds').default(SEED_MAINTENANCE.slowQueryMs),
      /** At most this many slow queries (slowest first) are listed in the report. @default 10 */
      slowQueryLimit: wholeNumber(1, 100, 'queries').default(10),
      /** Statement timeout of the monthly VACUUM ANALYZE; the other queries use `postgres.statementTimeoutSeconds`. @default 240 */
      vacuumTimeoutMinutes: positiveNumber('minutes').default(240),
    })
    .prefault({}),
  security: z
    .strictObject({
      /** The account the services run as; its groups and shell are reviewed monthly. @default mcp-service */
      serviceUser: nonEmpty.default(SEED_MAINTENANCE.serviceUser),
      /** A file's mode may grant nothing beyond one of these (640 is within 644). @default ["644", "600", "755", "750"] */
      allowedFileModes: z.array(permissionMode, { error: 'a list of permission modes' }).min(1, { error: 'at least one mode' }).default([...SEED_MAINTENANCE.allowedFileModes]),
      /** A folder's mode may grant nothing beyond one of these (700 is within 750). @default ["755", "750"] */
      allowedDirModes: z.array(permissionMode, { error: 'a list of permission modes' }).min(1, { error: 'at least one mode' }).default([...SEED_MAINTENANCE.allowedDirModes]),
      /** Trees whose files and folders are checked. @default [paths.installRoot, paths.configDir] */
      permissionRoots: z.array(pathString, { error: 'a list of paths' }).optional(),
      /** PEM certificate files whose expiry is checked. @default [`<paths.configDir>/security/ssl.crt`] */
      certificates: z.array(pathString, { error: 'a list of paths' }).optional(),
      /** A certificate expiring within this many days is a `warn`. @default 30 */
      certificateWarnDays: positiveNumber('days').default(30),
      /** Within this many days (or expired) it is a `fail`. @default 7 */
      certificateFailDays: positiveNumber('days').default(7),
      /** argv printing the audit subsystem's state (`enabled 0|1|2`). @default ["auditctl", "-s"] */
      auditStatusCommand: argvTemplate.default(['auditctl', '-s']),
    })
    .prefault({}),
  packages: z
    .strictObject({
      /** Install pending updates without asking. Off: weekly maintenance only reports them, unless an operator approves. @default false */
      allowUpgrades: z.boolean({ error: 'true or false' }).default(false),
      /** How long weekly maintenance waits for an operator's `approve` when updates are pending; 0 does not wait. @default 0 */
      upgradeApprovalTimeoutMinutes: z
        .number({ error: 'a number of minutes from 0 to 1440' })
        .min(0, { error: 'a number of minutes from 0 to 1440' })
        .max(1440, { error: 'a number of minutes from 0 to 1440' })
        .default(0),
      /** Refreshes the package lists before they are read; `false` reads them as they are. @default ["apt-get", "update", "-qq"] */
      refreshCommand: z.union([argvTemplate, z.literal(false)], { error: 'an argv array, or false' }).default(['apt-get', 'update', '-qq']),
      /** Prints pending updates as `apt list --upgradable` does. @default ["apt", "list", "--upgradable"] */
      listCommand: argvTemplate.default(['apt', 'list', '--upgradable']),
      /** Installs them, run only when allowed or approved. @default ["apt-get", "upgrade", "--yes", "--quiet", "-o", "Dpkg::Options::=--force-confold"] */
      upgradeCommand: argvTemplate.default(['apt-get', 'upgrade', '--yes', '--quiet', '-o', 'Dpkg::Options::=--force-confold']),
      /** Time limit of each package command. @default 30 */
      timeoutMinutes: positiveNumber('minutes').default(30),
    })
    .prefault({}),
});

const tlsSchema = z.union(
  [
    z.boolean(),
    z.strictObject({
      serverName: nonEmpty.optional(),
      serverRootCACertFile: pathString.optional(),
      clientCertFile: pathString.optional(),
      clientKeyFile: pathString.optional(),
    }),
  ],
  { error: 'true, false, or {serverName?, serverRootCACertFile?, clientCertFile?, clientKeyFile?}' },
);

/** A duration such as `30s`, `15m`, `1h`, `1d`, at least `minMs`. */
function durationSchema(minMs: number, expected: string) {
  return z.string({ error: expected }).refine((v) => (parseDuration(v) ?? -1) >= minMs, { error: expected });
}

const cronSchema = z.string({ error: CRON_EXPECTED }).superRefine((value, ctx) => {
  const problem = cronProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `${CRON_EXPECTED} (here: ${problem})`, input: value });
});

/**
 * One schedule: a runbook on a host at the times of `cron` or `every`. Fields left
 * out come from the seed's schedule for the runbook, if it has one, else from
 * `SCHEDULE_FIELD_DEFAULTS`. Runbook and host are checked against `RUNBOOKS` and
 * `hosts` when the config is resolved.
 */
const scheduleEntrySchema = z.strictObject({
  /** Runbook name, as in `mcp-runbooks run <runbook>`. */
  runbook: z.string({ error: runbookExpected() }).refine((name): boolean => isRunbookName(name) && SCHEDULABLE.includes(name), { error: runbookExpected() }),
  /** Host the runbook is about. @default this config's host (else the first of `hosts`) */
  host: hostIdSchema.optional(),
  /**
   * A host selector instead of `host` (`all`, `role=db,region=eu`, `db-1,db-2`): one schedule
   * that starts the `fleet` runbook over the hosts it selects when the schedules are applied.
   */
  hosts: z.string({ error: `a host selector: ${SELECTOR_EXPECTED}` }).min(1, { error: `a host selector: ${SELECTOR_EXPECTED}` }).optional(),
  /** With `hosts`: the rolling policy ({maxParallel, canary, maxFailures, maxFailPercent, order, seed}); instead of `jitter`. */
  policy: fleetPolicyInput.omit({ jitterSeconds: true }).optional(),
  /** 5-field cron expression, read in `timezone`. @default the seed's time for the runbook */
  cron: cronSchema.optional(),
  /** Fixed interval instead of `cron`, e.g. `15m`; runs at multiples of it since the Unix epoch. */
  every: durationSchema(1000, 'an interval of at least 1s: a whole number and s, m, h or d, e.g. "15m"').optional(),
  /** IANA time zone of `cron`. @default UTC */
  timezone: z
    .string({ error: 'an IANA time zone name, e.g. UTC or Europe/Berlin' })
    .refine((v) => canonicalTimeZone(v) !== undefined, { error: 'an IANA time zone name, e.g. UTC or Europe/Berlin' })
    .optional(),
  /** Each run starts up to this much later, at random (spreads a fleet's load); with `hosts`, each host's run. @default 0s */
  jitter: durationSchema(0, 'a duration: a whole number and s, m, h or d, e.g. "30s" or "0s"').optional(),
  /** What happens when a run is due while the previous one still runs. @default SKIP */
  overlap: z
    .string({ error: `an overlap policy: one of ${OVERLAP_POLICIES.join(', ')}` })
    .refine((v) => parseOverlapPolicy(v) !== undefined, { error: `an overlap policy: one of ${OVERLAP_POLICIES.join(', ')}` })
    .optional(),
  /** How late a run missed while Temporal was unavailable may still start. @default 1d for backup, 1h for maintenance, else 1m */
  catchupWindow: durationSchema(10_000, 'a catch-up window of at least 10s (Temporal\'s minimum), e.g. "1h"').optional(),
  /** Pause the schedule when a run fails or times out (an operator unpauses it). @default false */
  pauseOnFailure: z.boolean({ error: 'true or false' }).optional(),
  /** `false` removes the schedule (e.g. to switch off a seed default); pause it instead to keep it. @default true */
  enabled: z.boolean({ error: 'true or false' }).optional(),
});

export const configSchema = z
  .strictObject({
    /** This machine's host id. @default the sandbox's `local`, else the short hostname */
    hostId: hostIdSchema.optional(),
    /**
     * The inventory: hosts the orchestrator routes runbooks to, each a plain id or
     * `{id, labels: {role: db}}` for host selectors (`role=db`). @default [hostId]
     */
    hosts: z
      .array(inventoryHostSchema, { error: 'a list of hosts: ids, or {id, labels}' })
      .min(1, { error: 'at least one host id' })
      .superRefine((hosts, ctx) => {
        const seen = new Set<string>();
        hosts.forEach((h, i) => {
          if (seen.has(h.id)) ctx.addIssue({ code: 'custom', path: [i], message: 'a host id not listed before', input: h.id });
          seen.add(h.id);
        });
      })
      .optional(),
    temporal: z
      .strictObject({
        /** host:port of the Temporal frontend. Absent: `dev` starts an embedded dev server; others use 127.0.0.1:7233. */
        address: z
          .string({ error: 'host:port' })
          .regex(/^[^\s:/]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, { error: 'host:port, e.g. 127.0.0.1:7233' })
          .optional(),
        namespace: nonEmpty.default('default'),
        taskQueue: nonEmpty.default(DEFAULT_TASK_QUEUE),
        tls: tlsSchema.optional(),
        apiKey: secretRefSchema.optional(),
      })
      .prefault({}),
    paths: z
      .strictObject({
        installRoot: pathString.default(SEED_PATHS.installRoot),
        configDir: pathString.default(SEED_PATHS.configDir),
        logDir: pathString.default(SEED_PATHS.logDir),
        /** @default `<installRoot>/backups` */
        backupDir: pathString.optional(),
        /** @default `<installRoot>/reports` */
        reportsDir: pathString.optional(),
        tempDirs: z.array(pathString).default([...SEED_PATHS.tempDirs]),
      })
      .prefault({}),
    thresholds: z
      .strictObject({
        diskPercent: percent.default(80),
        memoryPercent: percent.default(85),
        dbConnectionsPercent: percent.default(80),
      })
      .prefault({}),
    retention: retentionSchema.prefault({}),
    backup: z
      .strictObject({
        /** @default the seed's folders (config, installer, memory service, memory_db, memory_backups, reports) and a pg_dump when `postgres` is set */
        sources: z.array(backupSourceSchema).min(1, { error: 'at least one backup source' }).optional(),
        /** Where snapshots are copied before archiving. @default `<backupDir>/.staging` */
        stagingDir: pathString.optional(),
        /**
         * Keep the stop-mode folders' snapshot copy in the staging folder between backups
         * (`mcp_mirror_<host>`) and bring it up to date with only what changed since the last
         * backup: services are down for the changes, not for a whole copy. It costs the disk
         * space of one copy of those folders for good. `false`: a whole copy each night, removed after.
         * @default true
         */
        incrementalSnapshot: z.boolean({ error: 'true or false' }).default(true),
        /** Where each backup goes; every target gets the same snapshot. @default [{name: local, type: archive}] */
        targets: z
          .array(backupTargetSchema, { error: 'a list of backup targets' })
          .min(1, { error: 'at least one backup target' })
          .superRefine((targets, ctx) => {
            const names = new Set<string>();
            targets.forEach((t, i) => {
              if (names.has(t.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: 'a target name not used before', input: t.name });
              names.add(t.name);
            });
            if (targets.filter((t) => t.type === 'archive').length > 1) ctx.addIssue({ code: 'custom', path: [], message: 'at most one archive target (it is the backups folder)', input: targets });
          })
          .optional(),
        compression: z
          .strictObject({
            /** `auto` uses pigz when installed, else Node's zlib. */
            program: z.enum(['auto', 'pigz', 'gzip'], { error: 'one of auto, pigz, gzip' }).default('auto'),
            level: z.number({ error: 'a gzip level from 1 to 9' }).int().min(1, { error: 'a gzip level from 1 to 9' }).max(9, { error: 'a gzip level from 1 to 9' }).default(6),
          })
          .prefault({}),
      })
      .prefault({}),
    recovery: z
      .strictObject({
        /** Run after a recovery, as a post-recovery check (exit 0 = configuration valid), like the seed's validate-config.sh. */
        validateCommand: argvTemplate.optional(),
        /**
         * Run by a restore drill against its scratch copies (exit 0 = valid): `{root}` is the folder holding the
         * restored folders at their original paths, `{database}` the scratch database (also MCP_DRILL_ROOT, MCP_DRILL_DATABASE).
         */
        drillValidateCommand: argvTemplate.optional(),
        /** Free space required beside each target beyond the restored size, in percent. @default 10 */
        freeSpaceMarginPercent: z.number({ error: 'a percentage >= 0' }).min(0, { error: 'a percentage >= 0' }).default(10),
        /**
         * An archive whose tar stream is more than this many times its compressed size is refused at
         * inspection, before anything is extracted: a decompression bomb can come with an honest manifest.
         * @default 200
         */
        maxCompressionRatio: z.number({ error: 'a ratio >= 1' }).min(1, { error: 'a ratio >= 1' }).default(200),
        /**
         * gzip level of the emergency archive a recovery writes of the state it replaced. 0 (the default) stores
         * it without compressing (still a .tar.gz every tar reads): it exists to undo the recovery and is written
         * while the recovery still runs, so it costs a disk write rather than minutes of CPU. @default 0
         */
        emergencyCompressionLevel: z.number({ error: 'a gzip level from 0 to 9' }).int({ error: 'a gzip level from 0 to 9' }).min(0, { error: 'a gzip level from 0 to 9' }).max(9, { error: 'a gzip level from 0 to 9' }).default(0),
        /** An archive with more entries than this is refused at inspection (it also bounds the memory the checks use). @default 1000000 */
        maxEntries: z.number({ error: 'a whole number >= 1' }).int({ error: 'a whole number >= 1' }).min(1, { error: 'a whole number >= 1' }).default(1_000_000),
      })
      .prefault({}),
    /** Daily, weekly and monthly maintenance (seed section 4). */
    maintenance: maintenanceSchema.prefault({}),
    /** `restartService`: how often one service may be restarted before a restart is refused as flapping. */
    remediation: z
      .strictObject({
        /** Restarts of one service within `windowMinutes` after which the next is refused (a `fail` finding; a human looks). @default 3 */
        maxRestarts: z.number({ error: 'a whole number >= 1' }).int({ error: 'a whole number >= 1' }).min(1, { error: 'a whole number >= 1' }).default(3),
        /** @default 60 */
        windowMinutes: z.number({ error: 'minutes >= 1' }).int({ error: 'minutes >= 1' }).min(1, { error: 'minutes >= 1' }).default(60),
      })
      .prefault({}),
    services: z.array(serviceSchema).min(1, { error: 'at least one service' }).default(SEED_SERVICES.map((name) => ({ name }))),
    serviceManager: serviceManagerSchema.prefault({ type: 'systemd' }),
    memoryService: z
      .strictObject({
        url: z.url({ error: 'an http(s) URL, e.g. http://localhost:3002' }).default('http://localhost:3002'),
        timeoutSeconds: positiveSeconds.default(10),
      })
      .prefault({}),
    postgres: z
      .strictObject({
        host: nonEmpty.default('localhost'),
        port: port.default(5432),
        database: nonEmpty.default('mcp_db'),
        user: nonEmpty.default('mcp_user'),
        password: secretRefSchema.optional(),
        statementTimeoutSeconds: positiveSeconds.default(30),
      })
      .optional(),
    worker: z
      .strictObject({
        /** Time in-flight activities get to finish on SIGINT/SIGTERM before they are cancelled. @default 10 */
        shutdownGraceSeconds: positiveSeconds.default(10),
        /** Hard bound on shutdown after the grace time; the process exits anyway. @default 20 */
        shutdownForceSeconds: positiveSeconds.default(20),
      })
      .prefault({}),
    activities: z
      .strictObject({
        /**
         * A host activity whose progress counter (bytes copied, entries checked,
         * lines of a program's output) has not moved for this long fails as
         * stalled and its program is killed; the step is retried within its
         * bounded retries. Activities with no counter must finish within it.
         * @default 300
         */
        stallSeconds: positiveSeconds.default(STALL_DEFAULT_SECONDS),
        /**
         * Read by the orchestrator: how long a host activity may go without a heartbeat
         * before Temporal takes its worker for dead and retries the step on the next
         * worker of that host. Host activities beat three times within it, and the SDK
         * sends at most one beat per 0.8 of it, so it is at least 10 s: a shorter one
         * could time out a busy but healthy step and start a second attempt beside it.
         * @default 30
         */
        heartbeatTimeoutSeconds: z
          .number({ error: 'a number of seconds from 10 to 600' })
          .min(10, { error: 'a number of seconds from 10 to 600' })
          .max(600, { error: 'a number of seconds from 10 to 600' })
          .default(HEARTBEAT_TIMEOUT_SECONDS),
        /** Per counted activity (e.g. `vacuumDatabase: 1800` for a database whose index passes are long), overrides `stallSeconds`. */
        stallSecondsFor: z.partialRecord(z.enum(COUNTED_ACTIVITIES, { error: `one of ${COUNTED_ACTIVITIES.join(', ')}` }), positiveSeconds).optional(),
      })
      .prefault({}),
    metrics: z
      .strictObject({
        /** @default 127.0.0.1 */
        host: nonEmpty.default('127.0.0.1'),
        /** 0 picks a free port. @default 9464 */
        port: port.default(9464),
        /** Where the Temporal SDK's own metrics are served (127.0.0.1 only), and merged into /metrics; 0 turns them off. @default 9465 */
        sdkPort: port.default(9465),
        /** How often a host worker probes its services and memory service; 0 turns the probes off. @default 15 */
        probeSeconds: probeSeconds.default(15),
        /** How often a host worker reads its backups folder; 0 turns it off. @default 60 */
        backupProbeSeconds: probeSeconds.default(60),
        /** How often an orchestrator reads its schedules' counts from Temporal; 0 turns it off. @default 120 */
        scheduleProbeSeconds: probeSeconds.default(120),
      })
      .prefault({}),
    /** `mcp-runbooks gateway`: the authenticated HTTP API other systems start and approve runbooks through. */
    gateway: z
      .strictObject({
        /** @default 127.0.0.1 */
        host: nonEmpty.default('127.0.0.1'),
        /** 0 picks a free port. @default 9470 */
        port: port.default(9470),
        /** Serve it inside `mcp-runbooks worker` (roles orchestrator and all) instead of as its own process. @default false */
        inWorker: z.boolean({ error: 'true or false' }).default(false),
        /** Requests with a larger body are refused with 413. @default 65536 */
        bodyLimitBytes: z.number({ error: 'bytes >= 1024' }).int({ error: 'bytes >= 1024' }).min(1024, { error: 'bytes >= 1024' }).default(65_536),
        /** HTTPS from a PEM certificate and key file (the key is read at start, never logged). */
        tls: z.strictObject({ certFile: pathString, keyFile: pathString }).optional(),
        /** Bearer tokens, each a secret reference with what it may do. */
        tokens: z
          .array(
            z.strictObject({
              /** Who holds it: recorded as the approver, shown in logs. */
              name: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, { error: 'a token name (letters, digits, ".", "_", "@", "-"; at most 64)' }),
              token: secretRefSchema,
              /** Runbooks it may start and read, by `mcp-runbooks run` name, or `["*"]` for all. @default [] (none) */
              runbooks: z.array(z.string().refine((n) => n === '*' || isApiRunbookName(n), { error: `a runbook name (${Object.keys(API_RUNBOOKS).join(', ')}) or "*"` })).default([]),
              /** Whether it may approve or reject what a run waits for. @default false */
              approve: z.boolean().default(false),
            }),
          )
          .default([]),
        /** Remediations started by alert rules that may run at once; more alerts are answered `capped`. @default 3 */
        maxConcurrentRemediations: z.number({ error: 'a whole number >= 1' }).int({ error: 'a whole number >= 1' }).min(1, { error: 'a whole number >= 1' }).default(3),
        /** Alertmanager alerts (POST /v1/alertmanager) mapped to runbooks. @default [] */
        alertRules: z
          .array(
            z.strictObject({
              name: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { error: 'a rule name (lower-case letters, digits, "-")' }),
              /** The alert's `alertname`. */
              alert: nonEmpty,
              /** Other labels the alert must carry, with these values. @default {} */
              matchers: z.record(z.string(), z.string()).default({}),
              /** The runbook to start, by name (`restart-service`, `health-check`, ...). */
              runbook: z.string().refine((n) => isApiRunbookName(n), { error: `a runbook name (${Object.keys(API_RUNBOOKS).join(', ')})` }),
              /** The label that names the host. @default host */
              hostLabel: nonEmpty.default('host'),
              /** Input fields taken from labels: `{service: service}` sets input.service from the `service` label. @default {} */
              labels: z.record(z.string(), nonEmpty).default({}),
              /** Fixed input fields. @default {} */
              input: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
              /** One start per host within this many minutes. @default 30 */
              throttleMinutes: z.number({ error: 'minutes >= 0' }).min(0, { error: 'minutes >= 0' }).default(30),
            }),
          )
          .default([]),
      })
      .optional(),
    /** Notifications out: webhooks, Slack and Healthchecks pings when runbooks start, end or wait for approval. */
    notify: z
      .strictObject({
        /** The Temporal UI's address, for a link to the run in each message (e.g. http://127.0.0.1:8233). */
        temporalUiUrl: z.url({ error: 'an http(s) URL, e.g. http://127.0.0.1:8233' }).optional(),
        targets: z
          .array(
            z.strictObject({
              name: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { error: 'a target name (lower-case letters, digits, "-")' }),
              /** `webhook`: our JSON; `slack`: an incoming-webhook message; `healthchecks`: /start, the base URL, /fail. */
              kind: z.enum(NOTIFY_KINDS, { error: `one of ${NOTIFY_KINDS.join(', ')}` }),
              /** Where to POST: a URL, or a secret reference when the URL is itself the credential (Slack, Healthchecks). */
              url: z.union([z.url({ protocol: /^https?$/, error: 'an http(s) URL' }), secretRefSchema], { error: 'an http(s) URL or a secret reference ({env: VAR} or {file: PATH})' }),
              /** Sent as the Authorization header, e.g. `Bearer ...` (webhook). */
              authorization: secretRefSchema.optional(),
              /** Runbooks by `mcp-runbooks run` name, or `["*"]`. @default ["*"] */
              runbooks: z.array(z.string().refine((n) => n === '*' || isApiRunbookName(n), { error: `a runbook name (${Object.keys(API_RUNBOOKS).join(', ')}) or "*"` })).min(1).default(['*']),
              /** Host ids, or `["*"]`. @default ["*"] */
              hosts: z.array(z.string().refine((h) => h === '*' || HOST_ID_PATTERN.test(h), { error: 'a host id or "*"' })).min(1).default(['*']),
              /** Which events it wants. @default by kind (see README) */
              events: z.array(z.enum(NOTIFY_EVENTS, { error: `one of ${NOTIFY_EVENTS.join(', ')}` })).min(1).optional(),
              /** Only runs a schedule started. @default true for healthchecks, else false */
              scheduledOnly: z.boolean().optional(),
              /** Each POST's timeout. @default 10 */
              timeoutSeconds: positiveSeconds.default(10),
            }),
          )
          .default([]),
      })
      .optional(),
    dev: z
      .strictObject({
        /** State of the embedded dev server and sandbox. @default .data (relative to the working directory) */
        dataDir: pathString.default('.data'),
        /** @default 7233, the `temporal` CLI's default, so it works without --address */
        temporalPort: port.default(7233),
        /** @default 8233 */
        uiPort: port.default(8233),
      })
      .prefault({}),
    /** Declare the seed's schedules (backup, daily, weekly, monthly) on every host. @default true */
    defaultSchedules: z.boolean({ error: 'true or false' }).default(true),
    /**
     * Maintenance windows: no scheduled runbook that changes a host starts inside one (Temporal skip
     * calendars). A fixed range (`from`/`to` as `YYYY-MM-DD HH:MM`) or a weekly one (`from`/`to` as `HH:MM`,
     * on `days`, every day by default; `to` at or before `from` runs past midnight). @default []
     */
    blackouts: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { error: 'a name (letters, digits, ".", "_", "-"; at most 63 characters)' }),
          /** IANA zone of `from` and `to`. @default UTC */
          timezone: z.string().default('UTC'),
          from: z.string({ error: 'a time: YYYY-MM-DD HH:MM for a fixed range, HH:MM for a weekly one' }),
          to: z.string({ error: 'a time: YYYY-MM-DD HH:MM for a fixed range, HH:MM for a weekly one' }),
          days: z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], { error: 'a day: mon, tue, wed, thu, fri, sat or sun' })).min(1).optional(),
        }),
        { error: 'a list of blackouts, e.g. [{name: year-end, from: "2026-12-24 00:00", to: "2026-12-27 00:00"}]' },
      )
      .default([]),
    /** Schedules, added to the seed's or overriding one with the same runbook and host. @default [] */
    schedules: z.array(scheduleEntrySchema, { error: 'a list of schedules, e.g. [{runbook: health-check, every: 15m}]' }).default([]),
    sandbox: z
      .strictObject({
        /** @default `<dev.dataDir>/sandbox` */
        root: pathString.optional(),
        /** Port of the sandbox memory service. @default 3002 */
        memoryPort: port.default(3002),
        /** Database the sandbox creates for mcp-postgres; `false` for none. @default true */
        createDatabase: z.boolean().default(true),
        /** A restic target (by name) the sandbox creates with `restic init` when its local repository does not exist yet. */
        initRepository: nonEmpty.optional(),
      })
      .optional(),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.services.forEach((s, i) => {
      if (seen.has(s.name)) {
        ctx.addIssue({ code: 'custom', path: ['services', i, 'name'], message: 'a service name not listed before', input: s.name });
      }
      seen.add(s.name);
    });
  });

/** The configuration file's contents after validation, before paths and secrets are resolved. */
export type ParsedConfig = z.output<typeof configSchema>;
export type SecretRef = z.output<typeof secretRefSchema>;
export type ParsedBackupTarget = z.output<typeof backupTargetSchema>;
export type CommandTemplates = z.output<typeof commandTemplates>;
export type ScheduleEntry = z.output<typeof scheduleEntrySchema>;
export type ParsedMaintenance = z.output<typeof maintenanceSchema>;
