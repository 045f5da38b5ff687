/** The runbooks' input schemas: strict, every problem named; and the README's tables are theirs. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { withInputTables } from '../../src/common/input-docs.js';
import { backupInput, disasterRecoveryInput, parseInput, verifyBackupsInput, hostOnlyInput } from '../../src/common/inputs.js';

const problems = (schema: Parameters<typeof parseInput>[0], input: unknown) => {
  const r = parseInput(schema, input);
  return r.ok ? [] : r.problems.problems;
};

describe('runbook inputs', () => {
  it.each([
    [hostOnlyInput, { hostid: 'db-2' }, ['input.hostid: unknown field (fields: hostId)']],
    [backupInput, { dryRun: 'false' }, ['input.dryRun: expected boolean, got string "false"']],
    [backupInput, { dryRun: null }, ['input.dryRun: expected boolean, got null']],
    [backupInput, { reason: 42 }, ['input.reason: expected string, got number 42']],
    [backupInput, { hostId: ['a'] }, ['input.hostId: expected string, got an array']],
    [disasterRecoveryInput, { backup: 'mcp_backup_20261124_020000.tar.gz', approve: 'yes' }, ['input.approve: expected boolean, got string "yes"']],
    [disasterRecoveryInput, { backup: 'mcp_backup_20261124_020000.tar.gz', approvalTimeoutMinutes: '30' }, ['input.approvalTimeoutMinutes: expected number, got string "30"']],
    [disasterRecoveryInput, { backup: '../etc/passwd.tar.gz' }, ['input.backup: "../etc/passwd.tar.gz" must be a plain archive name inside the backups folder, without "/"']],
    [disasterRecoveryInput, {}, ['input.backup: missing (expected string)']],
    [verifyBackupsInput, { archives: 'all' }, ['input.archives: expected array, got string "all"']],
    [backupInput, [], ['input: expected object, got an array']],
    [backupInput, 7, ['input: expected object, got number 7']],
  ])('%#: refuses the input, naming the field', (schema, input, expected) => {
    expect(problems(schema, input)).toEqual(expected);
  });

  it('takes null and no input as {}, and well-formed input as it is', () => {
    expect(parseInput(backupInput, null)).toEqual({ ok: true, value: {} });
    expect(parseInput(backupInput, undefined)).toEqual({ ok: true, value: {} });
    expect(parseInput(backupInput, { hostId: 'db-1', dryRun: false, reason: 'x' })).toEqual({ ok: true, value: { hostId: 'db-1', dryRun: false, reason: 'x' } });
  });

  it('lists every problem of one input, not only the first', () => {
    expect(problems(backupInput, { hostid: 'x', dryRun: 1 })).toEqual(['input.dryRun: expected boolean, got number 1', 'input.hostid: unknown field (fields: hostId, reason, dryRun)']);
  });

  it("the README's input tables are the schemas' (run `npm run docs` after changing a schema)", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    expect(withInputTables(readme)).toBe(readme);
  });
});

describe('bounds', () => {
  it.each([
    [backupInput, { reason: 'x'.repeat(501) }, 'input.reason: at most 500 characters (got 501)'],
    [disasterRecoveryInput, { backup: 'mcp_backup_20261124_020000.tar.gz', approvalTimeoutMinutes: 0 }, 'input.approvalTimeoutMinutes: more than 0 (got number 0)'],
    [disasterRecoveryInput, { backup: 'mcp_backup_20261124_020000.tar.gz', approvalTimeoutMinutes: 20_000 }, 'input.approvalTimeoutMinutes: at most 10080 (got number 20000)'],
  ])('%#: names the bound and what came', (schema, input, expected) => {
    expect(problems(schema, input)).toEqual([expected]);
  });
});
