/**
 * One strict input schema per runbook. Pure (zod only): the workflows validate
 * their input with it, the README's input tables and the gateway's OpenAPI
 * document are generated from it, and the CLI builds inputs that pass it.
 *
 * Strict means: an unknown field (a typo such as `hostid`) is an error, and
 * no value is taken by truthiness (`"dryRun": "false"` is refused, not true).
 */
import { z } from 'zod';
import { archiveNameProblem } from './archive-names.js';
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
} as const;

export type RunbookType = keyof typeof RUNBOOK_INPUTS;
export type HostOnlyInput = z.infer<typeof hostOnlyInput>;
export type BackupInput = z.infer<typeof backupInput>;
export type DisasterRecoveryInput = z.infer<typeof disasterRecoveryInput>;
export type VerifyBackupsInput = z.infer<typeof verifyBackupsInput>;
export type ApprovalInput = z.infer<typeof approvalInput>;

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
