/**
 * deploy/examples: the three-host fleet's configs load with the project's
 * loader, agree on Temporal and the host list, and hold secrets only as
 * references. Each file is loaded from a copy of /etc/mcp-runbooks (its folder)
 * where every referenced secret file exists and every referenced variable is set.
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load.js';
import { Secret } from '../../src/config/secret.js';
import { PACKAGE_ROOT } from '../../src/dev/sandbox/layout.js';

const EXAMPLES = join(PACKAGE_ROOT, 'deploy', 'examples');
const HOSTS = ['db-1', 'web-1', 'web-2'];

let etc: string;
const env: Record<string, string> = {};
const configs: Record<string, Config> = {};

/** Every `{env: NAME}` and `{file: PATH}` in a parsed YAML document. */
function secretRefs(node: unknown, out: { env: Set<string>; file: Set<string> }): void {
  if (Array.isArray(node)) for (const n of node) secretRefs(n, out);
  else if (node && typeof node === 'object') {
    const keys = Object.keys(node);
    const ref = node as { env?: unknown; file?: unknown };
    if (keys.length === 1 && typeof ref.env === 'string') out.env.add(ref.env);
    else if (keys.length === 1 && typeof ref.file === 'string') out.file.add(ref.file);
    else for (const v of Object.values(node)) secretRefs(v, out);
  }
}

function secrets(value: unknown, path = '', out: { path: string; secret: Secret }[] = []): { path: string; secret: Secret }[] {
  if (value instanceof Secret) out.push({ path, secret: value });
  else if (Array.isArray(value)) value.forEach((v, i) => secrets(v, `${path}[${i}]`, out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) secrets(v, path ? `${path}.${k}` : k, out);
  return out;
}

/** A stand-in secret the loader accepts: a URL where the reference's name says it is one (a Slack webhook), else a token. */
const fakeSecret = (name: string) => (/url/i.test(name) ? 'https://hooks.example.invalid/services/T0/B0/x' : `test-secret-for-${name}`);

beforeAll(async () => {
  etc = await mkdtemp(join(tmpdir(), 'mcp-etc-'));
  const refs = { env: new Set<string>(), file: new Set<string>() };
  for (const name of await readdir(EXAMPLES)) {
    await copyFile(join(EXAMPLES, name), join(etc, name));
    secretRefs(parse(await readFile(join(EXAMPLES, name), 'utf8')), refs);
  }
  for (const file of refs.file) {
    // Relative, as the examples write them, so the copy finds them beside itself.
    expect(file.startsWith('/'), `${file} is relative to the config file`).toBe(false);
    await mkdir(dirname(resolve(etc, file)), { recursive: true });
    await writeFile(resolve(etc, file), `${fakeSecret(file)}\n`, { mode: 0o600 });
  }
  for (const name of refs.env) env[name] = fakeSecret(name);
  for (const name of ['orchestrator', ...HOSTS, 'gateway']) configs[name] = loadConfig({ path: join(etc, `${name}.yaml`), env });
});
afterAll(() => rm(etc, { recursive: true, force: true }));

describe('deploy/examples', () => {
  it('holds an orchestrator, three hosts and a gateway config, and nothing else', async () => {
    expect((await readdir(EXAMPLES)).sort()).toEqual(['db-1.yaml', 'gateway.yaml', 'orchestrator.yaml', 'web-1.yaml', 'web-2.yaml']);
  });

  it('the orchestrator routes to exactly the three hosts, and every file names the same Temporal', () => {
    expect(configs.orchestrator!.hosts).toEqual(HOSTS);
    expect(HOSTS.map((h) => configs[h]!.hostId)).toEqual(HOSTS);
    expect(configs.gateway!.hosts).toEqual(HOSTS);
    const temporal = (c: Config) => ({ address: c.temporal.address, namespace: c.temporal.namespace, taskQueue: c.temporal.taskQueue, tls: c.temporal.tls });
    for (const c of Object.values(configs)) expect(temporal(c), c.source).toEqual(temporal(configs.orchestrator!));
    // Every seed schedule and the health checks are declared for the three hosts: per host, or by a fleet schedule's selection.
    const covered = configs.orchestrator!.schedules.flatMap((s) => s.fleet?.hosts ?? [s.hostId]);
    expect([...new Set(covered)].sort()).toEqual(HOSTS);
    // The web hosts' daily rolls one at a time; db-1 keeps the seed's own daily.
    const daily = configs.orchestrator!.schedules.filter((s) => s.runbook === 'daily');
    expect(daily.map((s) => s.fleet?.hosts ?? [s.hostId])).toEqual(expect.arrayContaining([['db-1'], ['web-1', 'web-2']]));
  });

  it('each host describes its own services, folders and targets', () => {
    const db = configs['db-1']!;
    expect(db.services.map((s) => s.name)).toEqual(['mcp-postgres']);
    expect(db.backup.sources.some((s) => s.mode === 'pg_dump')).toBe(true);
    for (const h of ['web-1', 'web-2']) {
      const c = configs[h]!;
      expect(c.postgres).toBeUndefined();
      expect(c.backup.sources.filter((s) => s.mode === 'stop').flatMap((s) => (s.mode === 'stop' ? s.services : [])).sort()).toEqual(['mcp-compliance', 'mcp-filesystem', 'mcp-memory', 'mcp-memory']);
    }
    for (const h of HOSTS) {
      expect(configs[h]!.serviceManager.type).toBe('systemd');
      expect(configs[h]!.backup.targets.map((t) => `${t.name}:${t.type}`)).toEqual(['local:archive', 'offsite:restic']);
    }
    // One restic repository for the fleet: one repository lock across the hosts.
    const repositories = HOSTS.flatMap((h) => configs[h]!.backup.targets.flatMap((t) => (t.type === 'restic' ? [t.repositoryId] : [])));
    expect(repositories).toHaveLength(3);
    expect(new Set(repositories).size).toBe(1);
  });

  it('the gateway has tokens and an Alertmanager rule', () => {
    const g = configs.gateway!.gateway!;
    expect(g.tokens.map((t) => t.name)).toEqual(['alertmanager', 'ops']);
    expect(g.alertRules.map((r) => `${r.alert}->${r.runbook}`)).toEqual(['ServiceDown->restart-service']);
  });

  it('every secret comes from an env or file reference, none is written in', () => {
    for (const [name, c] of Object.entries(configs)) {
      const found = secrets(c);
      expect(found.length, name).toBeGreaterThan(0);
      for (const { path, secret } of found) {
        // A restic repository written as plain text is a location (no credentials in it), not a secret.
        if (path.endsWith('.repository') && secret.origin === 'config') expect(secret.reveal(), `${name} ${path}`).not.toContain('@');
        else expect(secret.origin, `${name} ${path}`).toMatch(/^(env|file):/);
      }
    }
  });
});
