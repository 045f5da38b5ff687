/** The lint rule that keeps workflow code deterministic and activities type-only. */
import { ESLint } from 'eslint';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/dev/sandbox/layout.js';

const eslint = new ESLint({ cwd: PACKAGE_ROOT });
const workflowFile = join(PACKAGE_ROOT, 'src', 'workflows', 'health-check.ts');

async function lintAsWorkflow(code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: workflowFile });
  return (result?.messages ?? []).filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.message);
}

describe('workflow import rule', () => {
  it.each([
    ["import { readFile } from 'node:fs/promises';\nexport const x = readFile;\n", 'Node built-ins'],
    ["import { createHash } from 'crypto';\nexport const x = createHash;\n", 'Node built-ins'],
    ["import { createActivities } from '../activities/index.js';\nexport const x = createActivities;\n", 'activities as types only'],
    ["import { heartbeat } from '@temporalio/activity';\nexport const x = heartbeat;\n", 'cannot bundle'],
    ["import { loadConfig } from '../config/load.js';\nexport const x = loadConfig;\n", 'only src/common'],
  ])('refuses %j', async (code, message) => {
    const messages = await lintAsWorkflow(code);
    expect(messages.join('\n')).toContain(message);
  });

  it('allows type imports of activities and imports of src/common', async () => {
    const code = "import type { HostActivities } from '../activities/index.js';\nimport { summarize } from '../common/report.js';\nexport type A = HostActivities;\nexport const s = summarize;\n";
    expect(await lintAsWorkflow(code)).toEqual([]);
  });

  it('does not apply outside src/workflows', async () => {
    const [result] = await eslint.lintText("import { readFile } from 'node:fs/promises';\nexport const x = readFile;\n", {
      filePath: join(PACKAGE_ROOT, 'src', 'activities', 'x.ts'),
    });
    expect(result?.messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')).toEqual([]);
  });
});

describe('the repository', () => {
  // `npm test` lints here, beside the other test files, instead of before them: the same ESLint
  // instance (its TypeScript program already built for the cases above) checks every file.
  it('passes eslint', async () => {
    const results = await eslint.lintFiles(['.']);
    const problems = results.filter((r) => r.errorCount > 0 || r.warningCount > 0);
    const text = problems.length ? await (await eslint.loadFormatter('stylish')).format(problems) : '';
    expect(problems.length, text).toBe(0);
  }, 240_000);
});
