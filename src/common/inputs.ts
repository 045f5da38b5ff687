/**
 * One strict input schema per runbook. Pure (zod only): the workflows validate
 * their input with it, the README's input tables and the gateway's OpenAPI
 * document are generated from it, and the CLI builds inputs that pass it.
 *
 * Strict means: an unknown field (a typo such as `hostid`) is an error, and
 * no value is taken by truthiness (`"dryRun": "false"` is refused, not true).
 */
import { z } from 'zod';
import { RUNBOOKS, isRunbookName } from '../runbooks.js';
import { archiveNameProblem } from './archive-names.js';
import { FLEET_DEFAULTS, FLEET_HOST_STATES, MAX_FLEET_HOSTS, MAX_PARALLEL, ORDER_PATTERN } from './fleet.js';
import { HOST_ID_PATTERN } from './task-queues.js';

const hostId = z
  .string()
  .regex(HOST_ID_PATTERN, { error: 'a host id (letters, digits, ".", "_", "-"; at most 63 characters)' })
  .describe("Host to run on. Default: the orchestrator's own host (or the first of `hosts`).");

const archiveName = z
  .string()
  .superRefine((name, ctx) => {
    const problem = archiveNameProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe('Archive name inside the host\'s backups folder, e.g. `mcp_backup_20261124_020000.tar.gz`.');

/** Input of `healthCheck`, `listBackups` and the three maintenance runbooks. */
export const hostOnlyInput = z.strictObject({ hostId: hostId.optional() });

const targetName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/);

export const restartServiceInput = z.strictObject({
  hostId: hostId.optional(),
  service: z
    .string()
    .regex(/^[A-Za-z0-9@._-]{1,128}$/, { error: 'a service name (letters, digits, "@", ".", "_", "-")' })
    .describe("The service to restart: one of the host's configured services, e.g. `mcp-memory`."),
  reason: z.string().max(500).optional().describe('Why, for the record, e.g. the alert that asked for it.'),
});

export const listBackupsInput = z.strictObject({
  hostId: hostId.optional(),
  target: targetName.optional().describe("A backup target's name (config backup.targets): lists the host's backups stored there, even with no backups folder. Default: the backups folder."),
});

export const backupInput = z.strictObject({
  hostId: hostId.optional(),
  reason: z.string().max(500).optional().describe('Recorded in the manifest, e.g. `before upgrade`.'),
  dryRun: z.boolean().optional().describe('Plan only: report what would be archived and which services would stop. Default false.'),
});

export const disasterRecoveryInput = z.strictObject({
  backup: archiveName,
  hostId: hostId.optional(),
  from: targetName
    .optional()
    .describe('The backup target to restore from (a name in the host\'s backup.targets), e.g. a restic repository on a bare host. Default: the backups folder.'),
  only: z
    .array(z.string().min(1).max(300))
    .min(1)
    .max(100)
    .optional()
    .describe('Restore only these: folders by their path or its last segments (`memory_db`, `etc/kilocode/mcp`), and `database` for the dump. Only their owning services are stopped. Default: every folder but the reports folder, and the database.'),
  skipDatabase: z.boolean().optional().describe('Restore the folders, leave the database as it is. Default false.'),
  includeReports: z.boolean().optional().describe('Also roll the reports folder back to the backup (its reports written since are lost). Default false.'),
  approve: z.boolean().optional().describe('Skip the wait for an `approve` update. Default false.'),
  dryRun: z.boolean().optional().describe('Inspect the archive and report the plan; change nothing. Default false.'),
  approvalTimeoutMinutes: z
    .number()
    .positive()
    .max(7 * 24 * 60)
    .optional()
    .describe('How long to wait for approval before ending with nothing changed: more than 0, at most 10080 (7 days). Default 60.'),
});

export const verifyBackupsInput = z.strictObject({
  hostId: hostId.optional(),
  archives: z.array(archiveName).max(1000).optional().describe('Archive names to verify. Default: every archive.'),
  target: targetName.optional().describe('A restic target: `restic check --read-data` (every byte of the repository), and the newest backup (or each of `archives`) read back whole against its manifest. Default: the backups folder.'),
  all: z.boolean().optional().describe('Verify every archive (the default when `archives` is not given).'),
});

export const restoreDrillInput = z.strictObject({
  hostId: hostId.optional(),
  backup: archiveName.optional().describe('The archive to drill. Default: the newest verified backup (in the target, its newest backup).'),
  target: targetName
    .optional()
    .describe("The backup target to read it from (a name in the host's backup.targets), e.g. a restic repository. Default: the backups folder."),
});

/** Input of the `approve` and `reject` updates and signal. */
export const approvalInput = z.strictObject({
  by: z.string().min(1).max(200).optional().describe('Who approved or rejected, for the record.'),
});

/** Every runbook's schema by workflow type: what `temporal workflow start --type T --input` takes. */
export const RUNBOOK_INPUTS = {
  healthCheck: hostOnlyInput,
  backup: backupInput,
  disasterRecovery: disasterRecoveryInput,
  listBackups: listBackupsInput,
  verifyBackups: verifyBackupsInput,
  dailyMaintenance: hostOnlyInput,
  weeklyMaintenance: hostOnlyInput,
  monthlyMaintenance: hostOnlyInput,
  restartService: restartServiceInput,
  restoreDrill: restoreDrillInput,
} as const;

export type RunbookType = keyof typeof RUNBOOK_INPUTS;

const PERCENT = /^(100|[1-9][0-9]?)%$/;
const wholeAtLeast = (min: number, max?: number) => {
  const n = z.number().int().min(min);
  return max === undefined ? n : n.max(max);
};

/** The fleet's rolling policy: the fleet input's `policy`, a fleet schedule's `policy`. */
export const fleetPolicyInput = z.strictObject({
  maxParallel: z
    .union([wholeAtLeast(1, MAX_PARALLEL), z.string().regex(PERCENT, { error: 'a percentage from 1% to 100%, e.g. "25%"' })], {
      error: `a whole number from 1 to ${MAX_PARALLEL}, or a percentage of the hosts such as "25%"`,
    })
    .optional()
    .describe(`Most hosts at once: a number, or a percentage of the hosts such as \`"25%"\` (rounded up, at least 1). Default ${FLEET_DEFAULTS.maxParallel}.`),
  canary: wholeAtLeast(0).optional().describe('The first N hosts run alone (within maxParallel); the rest start only if each of them ended ok or warn. Default 0.'),
  maxFailures: wholeAtLeast(0)
    .optional()
    .describe('Stop starting hosts once more than this many failed (`fail` or `unreachable`); running ones finish. Default 0 for a runbook that changes hosts, no limit for a read-only one.'),
  maxFailPercent: z.number().min(0).max(100).optional().describe('Stop starting hosts once more than this percentage of all hosts failed.'),
  order: z
    .string()
    .regex(ORDER_PATTERN, { error: 'listed, shuffle, or label:<key>' })
    .optional()
    .describe('`listed` (as given), `shuffle` (seeded: the seed is in the result), or `label:<key>` (grouped by that label\'s value; needs `labels`). Default listed.'),
  seed: wholeAtLeast(0, 2 ** 32 - 1).optional().describe('Seed of `shuffle`: the same seed gives the same order. Default: picked and recorded.'),
  jitterSeconds: z.number().min(0).max(86_400).optional().describe('Each host starts after a random wait of up to this many seconds. Default 0.'),
  pingTimeoutSeconds: z
    .number()
    .min(1)
    .max(300)
    .optional()
    .describe(`How long a host's worker has to pick up the liveness ping before the host is \`unreachable\`. Default ${FLEET_DEFAULTS.pingTimeoutSeconds}.`),
});

const fleetEndedState = z.enum(FLEET_HOST_STATES.filter((s) => s !== 'pending' && s !== 'running') as ['ok', 'warn', 'fail', 'skipped', 'unreachable']);
const control = z.strictObject({ by: z.string().max(200).optional(), reason: z.string().max(500).optional() });

/** What a fleet carries into its next run when it continues as new. */
const fleetCarried = z.strictObject({
  run: wholeAtLeast(1),
  startedAt: z.string(),
  /** Every host, in the order the fleet starts them (computed once, by the first run). */
  order: z.array(hostId),
  seed: wholeAtLeast(0).optional(),
  /** The hosts that ended, with how. */
  ended: z.record(z.string(), z.strictObject({ state: fleetEndedState, summary: z.string().max(500).optional(), failureType: z.string().max(200).optional() })),
  paused: z.boolean(),
  pausedBy: control.optional(),
});

/** Input of the `fleet` workflow. */
export const fleetInput = z.strictObject({
  runbook: z
    .string()
    .refine((n) => isRunbookName(n), { error: `a runbook name (${Object.keys(RUNBOOKS).join(', ')})` })
    .describe('The runbook each host runs, as in `mcp-runbooks run <runbook>`, e.g. `health-check`.'),
  input: z.record(z.string(), z.unknown()).optional().describe("That runbook's input without `hostId` (checked against the runbook's own schema), e.g. `{\"reason\": \"upgrade\"}`."),
  hosts: z
    .array(hostId)
    .min(1)
    .max(MAX_FLEET_HOSTS)
    .refine((h) => new Set(h).size === h.length, { error: 'host ids without repeats' })
    .describe('The host ids, resolved from the selector by the client or schedule (so the history says which hosts were meant).'),
  selector: z.string().max(500).optional().describe('The selector the hosts came from, e.g. `role=db`, for the record.'),
  labels: z
    .record(z.string(), z.record(z.string(), z.string()))
    .optional()
    .describe('Labels of the hosts, by host id: what `order: label:<key>` sorts by.'),
  policy: fleetPolicyInput.optional().describe('The rolling policy (see the fleet section).'),
  continueAsNewAfterEvents: wholeAtLeast(30, 40_000)
    .optional()
    .describe(`Continue as new once the run's history has this many events (or Temporal suggests it). Default ${FLEET_DEFAULTS.continueAsNewAfterEvents}.`),
  carried: fleetCarried.optional().describe('Set by the fleet itself when it continues as new; never give it.'),
});

/** The argument of the fleet's `pause`, `resume` and `abort` updates. */
export const fleetControlInput = control;

export type FleetInput = z.infer<typeof fleetInput>;
export type FleetCarried = z.infer<typeof fleetCarried>;

/**
 * Parses a fleet input: the fleet's own schema, then its `input` with the
 * schema of the runbook it names (without `hostId`, which the fleet sets per
 * host). Problems name the field as `input.input.<field>`.
 */
export function parseFleetInput(raw: unknown): { ok: true; value: FleetInput } | { ok: false; problems: InputProblems } {
  const parsed = parseInput(fleetInput, raw);
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  const type = RUNBOOKS[value.runbook as keyof typeof RUNBOOKS].workflowType as RunbookType;
  const given = value.input ?? {};
  if ('hostId' in given) return { ok: false, problems: new InputProblems(['input.input.hostId: set by the fleet for each host (give the hosts in `hosts`)']) };
  const inner = parseInput(RUNBOOK_INPUTS[type], given);
  if (!inner.ok) return { ok: false, problems: new InputProblems(inner.problems.problems.map((p) => p.replace(/^input\b/, 'input.input'))) };
  const order = value.policy?.order;
  if (order?.startsWith('label:') && !value.labels) {
    return { ok: false, problems: new InputProblems([`input.policy.order: ${order} needs the hosts' \`labels\``]) };
  }
  return { ok: true, value: { ...value, input: inner.value as Record<string, unknown> } };
}
export type HostOnlyInput = z.infer<typeof hostOnlyInput>;
export type BackupInput = z.infer<typeof backupInput>;
export type DisasterRecoveryInput = z.infer<typeof disasterRecoveryInput>;
export type VerifyBackupsInput = z.infer<typeof verifyBackupsInput>;
export type ApprovalInput = z.infer<typeof approvalInput>;
export type RestartServiceInput = z.infer<typeof restartServiceInput>;
export type RestoreDrillInput = z.infer<typeof restoreDrillInput>;

/** An input the schema refused: every problem, each naming its field, what was expected and what came. */
export class InputProblems {
  constructor(readonly problems: readonly string[]) {}
  get message(): string {
    return this.problems.join('; ');
  }
}

/**
 * Parses `input` with `schema`. `null` and `undefined` are an empty object
 * (`temporal workflow start` without `--input` passes null). Returns the parsed
 * value, or the problems, each as `input.<field>: <what was wrong>`.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): { ok: true; value: z.infer<S> } | { ok: false; problems: InputProblems } {
  const r = schema.safeParse(input === null || input === undefined ? {} : input, { reportInput: true });
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, problems: new InputProblems(r.error.issues.map((i) => describeIssue(i, schema))) };
}

function describeIssue(issue: z.core.$ZodIssue, schema: z.ZodType): string {
  const path = ['input', ...issue.path.map(String)].join('.');
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownFields(schema, issue.path);
      return issue.keys
        .map((k) => `${path}.${k}: unknown field${known.length ? ` (fields: ${known.join(', ')})` : ''}`)
        .join('; ');
    }
    case 'invalid_type':
      if (issue.input === undefined) return `${path}: missing (expected ${issue.expected})`;
      return `${path}: expected ${issue.expected === 'int' ? 'a whole number' : issue.expected}, got ${shown(issue.input)}`;
    case 'too_big':
    case 'too_small': {
      const bound = issue.code === 'too_big' ? `at most ${String(issue.maximum)}` : `${issue.inclusive === false ? 'more than' : 'at least'} ${String(issue.minimum)}`;
      const what = issue.origin === 'string' ? ' characters' : issue.origin === 'array' ? ' items' : '';
      const got = typeof issue.input === 'string' || Array.isArray(issue.input) ? `${issue.input.length}` : shown(issue.input);
      if (issue.code === 'too_big' && issue.inclusive === false) return `${path}: less than ${String(issue.maximum)}${what} (got ${got})`;
      return `${path}: ${bound}${what} (got ${got})`;
    }
    case 'invalid_format':
    case 'custom':
    default:
      return `${path}: ${issue.message}${'input' in issue && issue.input !== undefined && issue.code !== 'custom' ? ` (got ${shown(issue.input)})` : ''}`;
  }
}

function knownFields(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: unknown = schema;
  for (const key of path) {
    const shape = (s as { shape?: Record<string, unknown> }).shape;
    s = shape?.[String(key)];
  }
  const shape = (s as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : [];
}

/** A value as a person reads it in an error: its type and a short rendering. */
function shown(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
