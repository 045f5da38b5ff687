/** The running Node.js against package.json's `engines.node`. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../dev/sandbox/layout.js';
import { fail, ok, warn, type CheckResult } from './check.js';
import { compareVersions, parseVersion } from './programs.js';

/** package.json's `engines.node`, e.g. `>=20.3.0`. */
export function enginesNode(): string | undefined {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { engines?: { node?: string } };
  return pkg.engines?.node;
}

/**
 * Whether `version` (e.g. `v20.20.2`) satisfies `range`. Only the form this
 * package uses, `>=a.b.c`, is understood: anything else is undefined (the
 * check says it cannot tell rather than guess).
 */
export function satisfiesMinimum(version: string, range: string): boolean | undefined {
  const m = /^\s*>=\s*(\d+(?:\.\d+){0,2})\s*$/.exec(range);
  const have = parseVersion(version);
  const need = m ? parseVersion(m[1]!) : undefined;
  if (!have || !need) return undefined;
  return compareVersions(have, need) >= 0;
}

export function checkNode(version: string = process.version, range: string | undefined = enginesNode()): CheckResult {
  if (!range) return warn('node', `Node.js ${version}; package.json names no engines.node to compare with`, 'reinstall the package: its package.json is incomplete');
  const okay = satisfiesMinimum(version, range);
  if (okay === undefined) return warn('node', `Node.js ${version}; cannot read the package's engines.node "${range}"`, `check by hand that Node.js ${version} satisfies ${range}`);
  if (!okay) {
    return fail('node', `Node.js ${version} is older than this package needs (${range})`, `install Node.js ${range.replace(/^>=\s*/, '')} or newer (e.g. the NodeSource or nodejs.org packages) and make it the \`node\` on the unit's PATH`);
  }
  return ok('node', `Node.js ${version} (package needs ${range})`);
}
