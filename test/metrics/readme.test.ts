/** The README's Metrics and Alerts tables list every metric the registry defines and every alert rule: operators read them. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';
import { createWorkerMetrics } from '../../src/metrics/registry.js';
import { gatewayMetrics } from '../../src/gateway/server.js';

const readme = () => readFile(join(PACKAGE_ROOT, 'README.md'), 'utf8');
/** The rows of the table under a `### heading` (up to the next heading), by their first cell. */
function firstCells(text: string, heading: string): string[] {
  const start = text.indexOf(`\n### ${heading}`);
  expect(start, heading).toBeGreaterThan(-1);
  const section = text.slice(start + 1).split(/\n#{2,3} /)[0]!;
  return [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
}

describe('README', () => {
  it('the Metrics table lists every metric of the registry (process and Node.js metrics aside)', async () => {
    const names = [...(await createWorkerMetrics({ role: 'all', hostId: 'h' }).registry.getMetricsAsJSON()), ...(await gatewayMetrics().registry.getMetricsAsJSON())]
      .map((m) => m.name)
      .filter((n) => n.startsWith('mcp_'));
    expect(names.length).toBeGreaterThan(30);
    const listed = new Set(firstCells(await readme(), 'Metrics'));
    expect(names.filter((n) => !listed.has(n))).toEqual([]);
  });

  it('the Alerts table lists every alert rule', async () => {
    const rules = parse(await readFile(join(PACKAGE_ROOT, 'monitoring', 'alert_rules.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string }> }> };
    const listed = new Set(firstCells(await readme(), 'Alerts'));
    expect(rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter((a) => !listed.has(a))).toEqual([]);
  });
});
