/**
 * `npm test` type-checks here, beside the other test files, instead of before
 * them: `tsc --noEmit` over src, test, bench and scripts (tsconfig.json).
 */
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/dev/sandbox/layout.js';

describe('the repository', () => {
  it('type-checks (tsc --noEmit)', async () => {
    const r = await execa(process.execPath, [join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', join(PACKAGE_ROOT, 'tsconfig.json')], {
      cwd: PACKAGE_ROOT,
      reject: false,
      all: true,
    });
    expect(r.exitCode, r.all).toBe(0);
  }, 240_000);
});
