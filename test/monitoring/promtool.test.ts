/** The shipped Prometheus config and rules pass promtool (Debian's prometheus package, installed by .ci/run). */
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';

const dir = join(PACKAGE_ROOT, 'monitoring');

describe('promtool', () => {
  it.each([
    [['check', 'config', 'prometheus.yml'], 'is valid prometheus config file syntax'],
    [['check', 'rules', 'alert_rules.yml'], 'SUCCESS: 19 rules found'],
    [['test', 'rules', 'alert_rules.test.yml'], 'SUCCESS'],
    [['test', 'rules', 'alert_rules.days.test.yml'], 'SUCCESS'],
  ])('promtool %j', async (args, success) => {
    const r = await execa('promtool', args, { cwd: dir, reject: false, all: true });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain(success);
  });

  it('every alert has a firing and a quiet case in the rule tests', async () => {
    const { parse } = await import('yaml');
    const { readFile } = await import('node:fs/promises');
    const rules = parse(await readFile(join(dir, 'alert_rules.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string }> }> };
    type Tests = { tests: Array<{ input_series: Array<{ series: string }>; alert_rule_test: Array<{ alertname: string; exp_alerts: Array<{ exp_labels: Record<string, string> }> }> }> };
    const tests: Tests = { tests: [] };
    for (const file of ['alert_rules.test.yml', 'alert_rules.days.test.yml']) tests.tests.push(...(parse(await readFile(join(dir, file), 'utf8')) as Tests).tests);
    for (const { alert } of rules.groups.flatMap((g) => g.rules)) {
      const cases = tests.tests.filter((t) => t.alert_rule_test.some((a) => a.alertname === alert));
      expect(cases.length, `${alert} has a test`).toBeGreaterThan(0);
      const fired = cases.flatMap((t) => t.alert_rule_test.filter((a) => a.alertname === alert).flatMap((a) => a.exp_alerts));
      expect(fired.length, `${alert} fires in a test`).toBeGreaterThan(0);
      // A quiet case: some input series of the test matches no expected alert.
      const inputs = cases.flatMap((t) => t.input_series.map((s) => s.series));
      const firingKeys = fired.map((f) => JSON.stringify(Object.entries(f.exp_labels).filter(([k]) => k !== 'severity').sort()));
      const quiet = inputs.filter((series) => !firingKeys.some((k) => (JSON.parse(k) as Array<[string, string]>).every(([key, value]) => series.includes(`${key}="${value}"`))));
      expect(quiet.length, `${alert} has an input that must not fire`).toBeGreaterThan(0);
    }
  });

  it("prometheus.yml scrapes the workers' and the gateway's /metrics on their default ports", async () => {
    const { parse } = await import('yaml');
    const { readFile } = await import('node:fs/promises');
    const prom = parse(await readFile(join(dir, 'prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }> };
    const ports = (job: string) => prom.scrape_configs.filter((c) => c.job_name === job).flatMap((c) => c.static_configs.flatMap((sc) => sc.targets.map((t) => Number(t.split(':').pop()))));
    const defaults = configSchema.parse({ gateway: {} });
    expect(ports('mcp-runbooks')).toContain(defaults.metrics.port);
    expect(ports('mcp-runbooks-gateway')).toContain(defaults.gateway!.port);
  });
});
