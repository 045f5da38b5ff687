/**
 * Each restic backup target: restic installed, at least the version the
 * target code is written against, and the repository opens with the
 * configured password and backend credentials (`restic cat config`, read-only
 * and without a lock, so it never waits behind a running backup or prune).
 */
import type { Config, ResticTarget } from '../config/config.js';
import type { Env } from '../config/load.js';
import { errorMessage } from '../common/errors.js';
import { runRestic } from '../targets/restic.js';
import { fail, ok, type CheckResult } from './check.js';
import { installHint } from './maintenance-tools.js';
import { compareVersions, findProgram, parseVersion, pathOf, programVersion } from './programs.js';

/** src/targets/restic.ts is written against restic 0.14 (Debian 12): its `--json` lines and its messages. */
export const RESTIC_MINIMUM = [0, 14, 0] as const;

/** How long opening a repository may take (an S3 or SFTP backend far away). */
const OPEN_TIMEOUT_MS = 60_000;

export async function checkRestic(config: Config, env: Env): Promise<CheckResult[]> {
  const targets = config.backup.targets.filter((t): t is ResticTarget => t.type === 'restic');
  if (targets.length === 0) return [];
  const path = findProgram('restic', env);
  if (!path) {
    return [fail('tools.restic', `restic is not on PATH (${pathOf(env)}) but backup.targets has ${targets.map((t) => t.name).join(', ')}: backups to ${targets.length > 1 ? 'them' : 'it'} fail`, installHint('restic'))];
  }
  const v = await programVersion([path, 'version']);
  if ('error' in v) return [fail('tools.restic', `restic at ${path} does not run: ${v.error}`, installHint('restic'))];
  const version = parseVersion(v.line.replace(/^restic\s+/, ''));
  if (!version || compareVersions(version, RESTIC_MINIMUM) < 0) {
    return [fail('tools.restic', `${v.line} at ${path} is older than ${RESTIC_MINIMUM.join('.')}, the version mcp-runbooks reads`, `install restic ${RESTIC_MINIMUM.join('.')} or newer (Debian 12 ships 0.14; or restic's own release binary)`)];
  }
  const results: CheckResult[] = [ok('tools.restic', `${v.line.split(' compiled')[0]!} at ${path}`)];
  for (const t of targets) results.push(await checkRepository(t));
  return results;
}

async function checkRepository(target: ResticTarget): Promise<CheckResult> {
  const check = `restic.${target.name}`;
  try {
    await runRestic(target, ['--no-lock', 'cat', 'config'], { timeoutMs: OPEN_TIMEOUT_MS });
    return ok(check, `repository ${target.location} opens with the configured password`);
  } catch (err) {
    // runRestic's message names the target, says what restic meant (no repository, wrong password, backend down) and carries no secret.
    return fail(check, errorMessage(err), `check backup.targets ${target.name}: its repository, password and env (backend credentials); \`restic -r ${target.location} init\` creates a missing repository`);
  }
}
