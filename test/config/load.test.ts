import { writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/common/errors.js';
import { redactedConfig } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function file(content: unknown): Promise<string> {
  const path = join(dir, `c${n++}.yaml`);
  await writeFile(path, typeof content === 'string' ? content : stringify(content));
  return path;
}

file.sync = (content: unknown): string => {
  const path = join(dir, `c${n++}.yaml`);
  writeFileSync(path, typeof content === 'string' ? content : stringify(content));
  return path;
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('seed defaults', () => {
  it('an empty mapping (`{}`) gives the seed operations guide values', async () => {
    const c = loadConfig({ path: await file('{}\n'), env: {} });
    expect(c.services.map((s) => s.name)).toEqual(['mcp-filesystem', 'mcp-postgres', 'mcp-memory', 'mcp-compliance']);
    expect(c.paths).toEqual({
      installRoot: '/opt/kilocode/mcp-servers',
      configDir: '/etc/kilocode/mcp',
      logDir: '/var/log/kilocode/mcp',
      backupDir: '/opt/kilocode/mcp-servers/backups',
      reportsDir: '/opt/kilocode/mcp-servers/reports',
      tempDirs: ['/tmp', '/var/tmp'],
    });
    expect(c.thresholds).toEqual({ diskPercent: 80, memoryPercent: 85, dbConnectionsPercent: 80 });
    expect(c.retention.days).toBe(30);
    expect(c.memoryService.url).toBe('http://localhost:3002');
    expect(c.serviceManager).toEqual({ type: 'systemd', timeoutSeconds: 60 });
    expect(c.services[0]).toEqual({
      name: 'mcp-filesystem',
      unit: 'mcp-filesystem',
      logFiles: ['/var/log/kilocode/mcp/mcp-filesystem.log'],
      commands: {},
    });
    expect(c.temporal).toEqual({ namespace: 'default', taskQueue: 'mcp-runbooks' });
    expect(c.metrics).toEqual({ host: '127.0.0.1', port: 9464, sdkPort: 9465, probeSeconds: 15, backupProbeSeconds: 60, scheduleProbeSeconds: 120 });
    expect(c.hosts).toEqual([c.hostId]);
    expect(c.sandbox).toBeUndefined();
    // The seed's tar -czf list, with the memory service's folders copied while it is stopped.
    expect(c.backup.sources).toEqual([
      { mode: 'online', path: '/etc/kilocode/mcp' },
      { mode: 'online', path: '/opt/kilocode/mcp-servers/kilocode-mcp-installer' },
      { mode: 'online', path: '/opt/kilocode/mcp-servers/mcp-memory-service' },
      { mode: 'stop', path: '/opt/kilocode/mcp-servers/memory_db', services: ['mcp-memory'] },
      { mode: 'stop', path: '/opt/kilocode/mcp-servers/memory_backups', services: ['mcp-memory'] },
      { mode: 'online', path: '/opt/kilocode/mcp-servers/reports' },
    ]);
    expect(c.backup.stagingDir).toBe('/opt/kilocode/mcp-servers/backups/.staging');
    expect(c.backup.compression).toEqual({ program: 'auto', level: 6 });
  });

  it('with a postgres section the database is dumped online too', async () => {
    const c = loadConfig({ path: await file({ postgres: {} }), env: {} });
    expect(c.backup.sources.at(-1)).toEqual({ mode: 'pg_dump', database: 'mcp_db' });
  });

  it('without --config or MCP_RUNBOOKS_CONFIG it is the built-in sandbox under ./.data', () => {
    const c = loadConfig({ env: {}, cwd: dir });
    expect(c.source).toBe('built-in sandbox');
    expect(c.hostId).toBe('local');
    expect(c.sandbox?.root).toBe(join(dir, '.data', 'sandbox'));
    expect(c.paths.installRoot).toBe(join(dir, '.data', 'sandbox', 'opt', 'kilocode', 'mcp-servers'));
    expect(c.serviceManager.type).toBe('command');
    expect(c.memoryService.url).toBe('http://127.0.0.1:3002');
    expect(c.temporal.address).toBeUndefined();
  });

  it('with restic on PATH the built-in sandbox adds a local restic target `offsite` beside the archive target; its password is generated once, 0600', async () => {
    const cwd = await mkdtemp(join(dir, 'builtin-'));
    const c = loadConfig({ env: { PATH: process.env.PATH }, cwd });
    expect(c.backup.targets.map((t) => [t.name, t.type])).toEqual([
      ['local', 'archive'],
      ['offsite', 'restic'],
    ]);
    const offsite = c.backup.targets[1]!;
    expect(offsite.type === 'restic' && offsite.location).toBe(join(cwd, '.data', 'restic-repo'));
    expect(offsite.type === 'restic' && offsite.password.origin).toBe(`file:${join(cwd, '.data', 'restic-password')}`);
    expect(c.sandbox?.initRepository).toBe('offsite');
    const pw = join(cwd, '.data', 'restic-password');
    expect((await stat(pw)).mode & 0o777).toBe(0o600);
    const first = await readFile(pw, 'utf8');
    loadConfig({ env: { PATH: process.env.PATH }, cwd });
    expect(await readFile(pw, 'utf8')).toBe(first);
  });

  it('with restic on PATH but a data folder it cannot write, the built-in sandbox keeps the archive target alone', async () => {
    const cwd = await mkdtemp(join(dir, 'builtin-'));
    await writeFile(join(cwd, '.data'), 'a file where the folder would be');
    const c = loadConfig({ env: { PATH: process.env.PATH }, cwd });
    expect(c.backup.targets).toEqual([{ name: 'local', type: 'archive' }]);
  });

  it('without restic on PATH the built-in sandbox has the archive target alone and writes no password', async () => {
    const cwd = await mkdtemp(join(dir, 'builtin-'));
    const c = loadConfig({ env: { PATH: join(cwd, 'empty-bin') }, cwd });
    expect(c.backup.targets).toEqual([{ name: 'local', type: 'archive' }]);
    expect(c.sandbox?.initRepository).toBeUndefined();
    await expect(stat(join(cwd, '.data', 'restic-password'))).rejects.toThrow(/ENOENT/);
  });

  it('gateway tokens: a secret reference each, scopes checked against the runbooks, names unique; printed as references', async () => {
    const tok = join(dir, 'gw.token');
    await writeFile(tok, 'tok-value-very-secret-0123456789abcdef\n');
    const ok = loadConfig({ path: file.sync({ gateway: { tokens: [{ name: 'am', token: { file: tok }, runbooks: ['restart-service', 'disaster-recovery'] }] } }), env: {} });
    expect(ok.gateway).toMatchObject({ host: '127.0.0.1', port: 9470, bodyLimitBytes: 65536, tokens: [{ name: 'am', runbooks: ['restart-service', 'disaster-recovery'], approve: false }] });
    expect(ok.gateway!.tokens[0]!.token.reveal()).toBe('tok-value-very-secret-0123456789abcdef');
    expect(inspect(ok)).not.toContain('tok-value-very-secret');
    const badScope = configError(() => loadConfig({ path: file.sync({ gateway: { tokens: [{ name: 'am', token: { file: tok }, runbooks: ['defrag'] }] } }), env: {} }));
    expect(badScope.message).toContain('gateway.tokens[0].runbooks[0]');
    const twice = configError(() => loadConfig({ path: file.sync({ gateway: { tokens: [{ name: 'am', token: { file: tok } }, { name: 'am', token: { file: tok } }] } }), env: {} }));
    expect(twice.message).toContain('gateway.tokens[1].name');
    // The same secret under two names: the request's scopes would be whichever matched first.
    expect(twice.message).toContain('gateway.tokens[1].token: expected a secret no other token has, found the same secret as token "am"');
    const short = join(dir, 'short.token');
    await writeFile(short, 'abc123\n');
    const weak = configError(() => loadConfig({ path: file.sync({ gateway: { tokens: [{ name: 'am', token: { file: short } }] } }), env: {} }));
    expect(weak.message).toContain('gateway.tokens[0].token: expected a secret of at least 32 characters');
    expect(weak.message).toContain('found 6 characters');
    expect(weak.message).not.toContain('abc123');
    const rule = { name: 'down', alert: 'ServiceDown', runbook: 'restart-service', labels: { service: 'service' } };
    const withRules = loadConfig({ path: file.sync({ gateway: { alertRules: [rule] } }), env: {} });
    expect(withRules.gateway).toMatchObject({ maxConcurrentRemediations: 3, alertRules: [{ ...rule, hostLabel: 'host', matchers: {}, input: {}, throttleMinutes: 30 }] });
    const badRule = configError(() => loadConfig({ path: file.sync({ gateway: { alertRules: [{ ...rule, runbook: 'reboot' }, rule, rule] } }), env: {} }));
    expect(badRule.message).toContain('gateway.alertRules[0].runbook');
    const dupRule = configError(() => loadConfig({ path: file.sync({ gateway: { alertRules: [rule, rule] } }), env: {} }));
    expect(dupRule.message).toContain('gateway.alertRules[1].name');
    const plain = configError(() => loadConfig({ path: file.sync({ gateway: { tokens: [{ name: 'am', token: 'tok-value-very-secret' }] } }), env: {} }));
    expect(plain.message).toContain('gateway.tokens[0].token');
    expect(plain.message).not.toContain('tok-value-very-secret');
  });

  it('notify targets: a URL or a secret reference each, events by kind unless given, names unique; a secret URL never shown, printed as its reference', async () => {
    const hc = join(dir, 'hc.url');
    await writeFile(hc, 'https://hc-ping.com/0f6a1c1e-very-secret\n');
    const auth = join(dir, 'hook.auth');
    await writeFile(auth, 'Bearer hook-very-secret\n');
    const path = file.sync({
      notify: {
        temporalUiUrl: 'http://127.0.0.1:8233',
        targets: [
          { name: 'hook', kind: 'webhook', url: 'https://ops.example/hook', authorization: { file: auth } },
          { name: 'chat', kind: 'slack', url: { env: 'SLACK_URL' }, runbooks: ['backup', 'disaster-recovery'] },
          { name: 'dms', kind: 'healthchecks', url: { file: hc }, runbooks: ['backup'], hosts: ['db-1'] },
        ],
      },
    });
    const ok = loadConfig({ path, env: { SLACK_URL: 'https://hooks.slack.com/services/T/B/slack-very-secret' } });
    expect(ok.notify.targets.map((t) => [t.name, t.kind, t.scheduledOnly, t.events.length, t.runbooks, t.hosts])).toEqual([
      ['hook', 'webhook', false, 9, ['*'], ['*']],
      ['chat', 'slack', false, 5, ['backup', 'disaster-recovery'], ['*']],
      ['dms', 'healthchecks', true, 7, ['backup'], ['db-1']],
    ]);
    expect(ok.notify.targets[2]!.url.reveal()).toBe('https://hc-ping.com/0f6a1c1e-very-secret');
    const shown = inspect(ok, { depth: 10 }) + JSON.stringify(redactedConfig(ok));
    for (const s of ['hc-very-secret', 'slack-very-secret', 'hook-very-secret']) expect(shown).not.toContain(s);
    const { configYaml } = await import('../../src/config/print.js');
    const printed = configYaml(ok);
    expect(printed).toContain('https://ops.example/hook');
    expect(printed).toContain('SLACK_URL');
    for (const s of ['hc-very-secret', 'slack-very-secret', 'hook-very-secret']) expect(printed).not.toContain(s);
    const again = loadConfig({ path: file.sync(printed), env: { SLACK_URL: 'https://hooks.slack.com/services/T/B/slack-very-secret' } });
    expect(again.notify.targets.map((t) => [t.name, t.url.reveal(), t.events])).toEqual(ok.notify.targets.map((t) => [t.name, t.url.reveal(), t.events]));

    const badKind = configError(() => loadConfig({ path: file.sync({ notify: { targets: [{ name: 'x', kind: 'pager', url: 'https://x.example' }] } }), env: {} }));
    expect(badKind.message).toContain('notify.targets[0].kind');
    const badUrl = configError(() => loadConfig({ path: file.sync({ notify: { targets: [{ name: 'x', kind: 'webhook', url: 'ftp://x.example' }] } }), env: {} }));
    expect(badUrl.message).toContain('notify.targets[0].url');
    const notUrl = configError(() => loadConfig({ path: file.sync({ notify: { targets: [{ name: 'x', kind: 'slack', url: { env: 'SLACK_URL' } }] } }), env: { SLACK_URL: 'xoxb-not-a-url-secret' } }));
    expect(notUrl.message).toContain('notify.targets[0].url');
    expect(notUrl.message).not.toContain('xoxb-not-a-url-secret');
    const twice = configError(() => loadConfig({ path: file.sync({ notify: { targets: [{ name: 'x', kind: 'webhook', url: 'https://a.example' }, { name: 'x', kind: 'webhook', url: 'https://b.example' }] } }), env: {} }));
    expect(twice.message).toContain('notify.targets[1].name');
    const badEvent = configError(() => loadConfig({ path: file.sync({ notify: { targets: [{ name: 'x', kind: 'webhook', url: 'https://a.example', events: ['exploded'] }] } }), env: {} }));
    expect(badEvent.message).toContain('notify.targets[0].events[0]');
  });

  it('sandbox.initRepository must name a restic target with a local repository', async () => {
    const pw = join(dir, 'init-pw');
    await writeFile(pw, 'pw\n');
    const targets = [
      { name: 'local', type: 'archive' },
      { name: 'remote', type: 'restic', repository: 'rest:http://127.0.0.1:1/', password: { file: pw } },
    ];
    for (const init of ['local', 'remote', 'nope']) {
      const e = configError(() => loadConfig({ path: file.sync({ backup: { targets }, sandbox: { initRepository: init } }), env: {} }));
      expect(e.message).toContain('sandbox.initRepository');
      expect(e.message).toContain(JSON.stringify(init));
    }
  });

  it('MCP_RUNBOOKS_CONFIG is used when --config is absent, and --config wins over it', async () => {
    const a = await file({ hostId: 'from-env' });
    const b = await file({ hostId: 'from-flag' });
    expect(loadConfig({ env: { MCP_RUNBOOKS_CONFIG: a } }).hostId).toBe('from-env');
    expect(loadConfig({ env: { MCP_RUNBOOKS_CONFIG: a } }).source).toContain('MCP_RUNBOOKS_CONFIG');
    expect(loadConfig({ path: b, env: { MCP_RUNBOOKS_CONFIG: a } }).hostId).toBe('from-flag');
  });

  it('relative paths are relative to the config file', async () => {
    const c = loadConfig({ path: await file({ paths: { installRoot: 'srv/mcp', tempDirs: ['tmp'] } }), env: {} });
    expect(c.paths.installRoot).toBe(join(dir, 'srv', 'mcp'));
    expect(c.paths.backupDir).toBe(join(dir, 'srv', 'mcp', 'backups'));
    expect(c.paths.tempDirs).toEqual([join(dir, 'tmp')]);
  });

  it('--host-id overrides the file', async () => {
    expect(loadConfig({ path: await file({ hostId: 'a' }), env: {}, hostId: 'b' }).hostId).toBe('b');
  });
});

describe('Temporal connection from TEMPORAL_* variables', () => {
  it('address, namespace, API key and TLS files come from the variables the temporal CLI reads', async () => {
    const path = await file({ temporal: { address: 'file:7233' } });
    const cert = join(dir, 'client.pem');
    const key = join(dir, 'client.key');
    await writeFile(cert, 'not checked as PEM here\n');
    await writeFile(key, 'not checked as PEM here\n');
    const c = loadConfig({
      path,
      env: {
        TEMPORAL_ADDRESS: 'temporal.example:7233',
        TEMPORAL_NAMESPACE: 'ops',
        TEMPORAL_API_KEY: 'key-123',
        TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      },
    });
    expect(c.temporal.address).toBe('temporal.example:7233');
    expect(c.temporal.namespace).toBe('ops');
    expect(c.temporal.apiKey?.reveal()).toBe('key-123');
    expect(c.temporal.tls).toEqual({ clientCertFile: cert, clientKeyFile: key });
  });

  it('a TLS file from a variable that cannot be read names the variable', async () => {
    const key = join(dir, 'only-the-key.key');
    await writeFile(key, 'x\n');
    const path = await file({});
    const e = configError(() => loadConfig({ path, env: { TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'missing.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: key } }));
    expect(e.issues).toEqual([
      {
        path: 'temporal.tls.clientCertFile (from TEMPORAL_TLS_CLIENT_CERT_PATH)',
        expected: 'a readable PEM file',
        found: `ENOENT reading ${join(dir, 'missing.pem')}`,
      },
    ]);
  });
});

describe('secrets', () => {
  it('come from env or a file and never print', async () => {
    const secretFile = join(dir, 'pg.pass');
    await writeFile(secretFile, 's3cret-from-file\n');
    const c1 = loadConfig({ path: await file({ postgres: { password: { env: 'PGPASS' } } }), env: { PGPASS: 's3cret-from-env' } });
    const c2 = loadConfig({ path: await file({ postgres: { password: { file: secretFile } } }), env: {} });
    expect(c1.postgres?.password?.reveal()).toBe('s3cret-from-env');
    expect(c2.postgres?.password?.reveal()).toBe('s3cret-from-file');
    for (const c of [c1, c2]) {
      const shown = [JSON.stringify(c), inspect(c, { depth: 10 }), String(c.postgres?.password), JSON.stringify(redactedConfig(c))].join('\n');
      expect(shown).not.toContain('s3cret');
    }
    expect(redactedConfig(c1)).toMatchObject({ postgres: { password: '[secret from env:PGPASS]' } });
  });
});

describe('the printable config', () => {
  it('shows permission modes as the octal strings the file takes, not as numbers', async () => {
    const c = loadConfig({ path: await file({ maintenance: { security: { allowedFileModes: ['640', '4755'], allowedDirModes: ['0750'] } } }), env: {} });
    expect(c.maintenance.security.allowedFileModes).toEqual([0o640, 0o4755]);
    expect(redactedConfig(c)).toMatchObject({ maintenance: { security: { allowedFileModes: ['640', '4755'], allowedDirModes: ['750'] } } });
    // The config itself is not changed by printing it.
    expect(c.maintenance.security.allowedDirModes).toEqual([0o750]);
  });
});

const BAD: Array<[string, unknown, { path: string; expected: string; found: string }]> = [
  ['a threshold that is not a number', { thresholds: { diskPercent: 'eighty' } }, { path: 'thresholds.diskPercent', expected: 'a number from 1 to 100', found: '"eighty"' }],
  ['a threshold out of range', { thresholds: { memoryPercent: 150 } }, { path: 'thresholds.memoryPercent', expected: 'a number from 1 to 100', found: 'number 150' }],
  ['no services', { services: [] }, { path: 'services', expected: 'at least one service', found: 'a list of 0' }],
  ['a misspelt service field', { services: [{ nmae: 'mcp-memory' }] }, { path: 'services[0].nmae', expected: 'no such field', found: 'unknown field "nmae"' }],
  ['a service name with a space', { services: ['mcp memory'] }, { path: 'services[0]', expected: 'a service name (letters', found: '"mcp memory"' }],
  ['a duplicate service', { services: ['mcp-memory', 'mcp-memory'] }, { path: 'services[1].name', expected: 'a service name not listed before', found: '"mcp-memory"' }],
  ['an unknown service manager', { serviceManager: { type: 'upstart' } }, { path: 'serviceManager.type', expected: 'a service manager', found: '"upstart"' }],
  [
    'a shell string instead of an argv array',
    { serviceManager: { type: 'command', commands: { start: 'systemctl start {service}', stop: ['x'], status: ['y'] } } },
    { path: 'serviceManager.commands.start', expected: 'an argv array of strings', found: '"systemctl start {service}"' },
  ],
  ['a Temporal address without a port', { temporal: { address: 'localhost' } }, { path: 'temporal.address', expected: 'host:port', found: '"localhost"' }],
  ['a memory service URL that is not a URL', { memoryService: { url: 'localhost 3002' } }, { path: 'memoryService.url', expected: 'an http(s) URL', found: '"localhost 3002"' }],
  ['an unknown top-level field', { treshold: { disk: 90 } }, { path: 'treshold', expected: 'no such field', found: 'unknown field "treshold"' }],
  ['a host id with spaces', { hostId: 'db 1' }, { path: 'hostId', expected: 'a host id', found: '"db 1"' }],
  ['the reserved host id "unknown"', { hosts: ['db-1', 'unknown'] }, { path: 'hosts[1]', expected: 'other than "unknown"', found: '"unknown"' }],
  ['zero retention days', { retention: { days: 0 } }, { path: 'retention.days', expected: 'a whole number of days >= 1', found: 'number 0' }],
  ['a metrics port out of range', { metrics: { port: 70000 } }, { path: 'metrics.port', expected: 'a port number', found: 'number 70000' }],
  ['a password written in the file', { postgres: { password: 'hunter2' } }, { path: 'postgres.password', expected: 'a secret reference', found: 'a plain string (value hidden)' }],
  ['a TLS value that is neither a boolean nor a mapping', { temporal: { tls: 'yes' } }, { path: 'temporal.tls', expected: 'true, false, or {serverName?, serverRootCACertFile?', found: '"yes"' }],
  ['a misspelt TLS field', { temporal: { tls: { caFile: '/ca.pem' } } }, { path: 'temporal.tls.caFile', expected: 'no such field', found: 'unknown field "caFile"' }],
  ['a TLS CA file that does not exist', { temporal: { tls: { serverRootCACertFile: '/nonexistent/ca.pem' } } }, { path: 'temporal.tls.serverRootCACertFile', expected: 'a readable PEM file', found: 'ENOENT reading /nonexistent/ca.pem' }],
  [
    'a TLS client certificate that does not exist',
    { temporal: { tls: { clientCertFile: '/nonexistent/client.pem', clientKeyFile: '/nonexistent/client.key' } } },
    { path: 'temporal.tls.clientCertFile', expected: 'a readable PEM file', found: 'ENOENT reading /nonexistent/client.pem' },
  ],
  [
    'a TLS client key that is a folder',
    { temporal: { tls: { clientCertFile: '/nonexistent/client.pem', clientKeyFile: '/tmp' } } },
    { path: 'temporal.tls.clientKeyFile', expected: 'a readable PEM file', found: 'EISDIR reading /tmp' },
  ],
  ['a list where a section belongs', { thresholds: [] }, { path: 'thresholds', expected: 'an object', found: 'a list of 0' }],
  ['a string where a number belongs', { dev: { temporalPort: '7233' } }, { path: 'dev.temporalPort', expected: 'a port number', found: '"7233"' }],
  ['half an mTLS pair', { temporal: { tls: { clientCertFile: '/c.pem' } } }, { path: 'temporal.tls', expected: 'clientCertFile and clientKeyFile together', found: 'only clientCertFile' }],
  ['a secret from an unset variable', { postgres: { password: { env: 'NO_SUCH_VAR' } } }, { path: 'postgres.password.env', expected: 'environment variable NO_SUCH_VAR to be set', found: 'it unset or empty' }],
  ['a secret file that does not exist', { postgres: { password: { file: '/nonexistent/pg.pass' } } }, { path: 'postgres.password.file', expected: 'a readable file', found: 'ENOENT reading /nonexistent/pg.pass' }],
  [
    'a stop-mode source owned by an unknown service',
    { backup: { sources: [{ mode: 'stop', path: '/srv/data', services: ['mcp-nope'] }] } },
    { path: 'backup.sources[0].services[0]', expected: 'a configured service', found: '"mcp-nope"' },
  ],
  [
    'a source that holds the backups folder (the seed copied backups into themselves)',
    { backup: { sources: [{ mode: 'online', path: '/opt/kilocode/mcp-servers' }] } },
    { path: 'backup.sources[0].path', expected: 'neither holds nor lies in the backups folder', found: '"/opt/kilocode/mcp-servers"' },
  ],
  [
    'overlapping sources',
    { backup: { sources: [{ mode: 'online', path: '/srv/a' }, { mode: 'online', path: '/srv/a/b' }] } },
    { path: 'backup.sources[1].path', expected: 'does not overlap another source', found: '"/srv/a/b" overlaps "/srv/a"' },
  ],
  ['a pg_dump source without a postgres section', { backup: { sources: [{ mode: 'pg_dump' }] } }, { path: 'backup.sources[0].mode', expected: 'a postgres section', found: 'no postgres section' }],
  ['an unknown backup mode', { backup: { sources: [{ mode: 'rsync', path: '/x' }] } }, { path: 'backup.sources[0].mode', expected: 'a backup source', found: '"rsync"' }],
  ['a gzip level out of range', { backup: { compression: { level: 12 } } }, { path: 'backup.compression.level', expected: 'a gzip level from 1 to 9', found: 'number 12' }],
  [
    'a staging folder inside a source',
    { backup: { stagingDir: '/opt/kilocode/mcp-servers/memory_db/tmp' } },
    { path: 'backup.stagingDir', expected: 'outside every backup source', found: 'inside "/opt/kilocode/mcp-servers/memory_db"' },
  ],
  // Fault points are armed only by a test entry point (test/fixtures/fault-worker.mjs), never by a config file.
  ['fault injection', { faultInjection: { pauseAt: ['backup.snapshot'], markerDir: '/tmp' } }, { path: 'faultInjection', expected: 'no such field', found: 'unknown field "faultInjection"' }],
  ['a YAML list instead of a mapping', '- a\n- b\n', { path: '(file)', expected: 'a YAML mapping of settings', found: 'a list of 2' }],
  ['broken YAML', 'services: [mcp-memory\n', { path: '(file)', expected: 'valid YAML', found: 'a syntax error at line 2, column 1: Flow sequence' }],
];

describe('bad configuration is refused with the field, what was expected and what was found', () => {
  it.each(BAD)('%s', async (_name, content, want) => {
    const path = await file(content);
    const e = configError(() => loadConfig({ path, env: {} }));
    const issue = e.issues.find((i) => i.path === want.path);
    expect(issue, `issues: ${JSON.stringify(e.issues)}`).toBeDefined();
    expect(issue!.expected).toContain(want.expected);
    expect(issue!.found).toContain(want.found);
    expect(e.message).toContain(want.path);
    expect(e.message).not.toContain('hunter2');
  });

  it.each([
    ['an empty file', '', 'is empty'],
    ['a file of blank lines', '\n  \n', 'is empty'],
    ['a file of comments only', '# hostId: db-1\n# temporal: { address: temporal:7233 }\n', 'has no settings'],
  ])('%s is refused, naming the file, rather than running with the production defaults', async (_name, content, why) => {
    const path = await file(content);
    const e = configError(() => loadConfig({ path, env: {} }));
    expect(e.issues).toEqual([{ path: '(file)', expected: expect.stringContaining('a YAML mapping of settings') as unknown, found: expect.stringContaining(`${path} ${why}`) as unknown }]);
    expect(e.message).toContain(`invalid configuration (${path})`);
    // The same through MCP_RUNBOOKS_CONFIG.
    expect(configError(() => loadConfig({ env: { MCP_RUNBOOKS_CONFIG: path } })).message).toContain(`${path} ${why}`);
  });

  it('a missing file names the file', () => {
    const e = configError(() => loadConfig({ path: join(dir, 'nope.yaml'), env: {} }));
    expect(e.issues[0]).toMatchObject({ path: '(file)', found: expect.stringContaining('ENOENT') as unknown });
  });

  it('broken YAML states its position once', async () => {
    const path = await file('services: [mcp-memory\n');
    const found = configError(() => loadConfig({ path, env: {} })).issues[0]?.found ?? '';
    expect(found).toMatch(/^a syntax error at line 2, column 1: [^\n]+ end with a \]$/);
    expect(found.match(/line \d+/g)).toHaveLength(1);
  });

  it('a bad TEMPORAL_ADDRESS names the variable', async () => {
    const path = await file({});
    const e = configError(() => loadConfig({ path, env: { TEMPORAL_ADDRESS: 'no-port' } }));
    expect(e.issues[0]?.path).toBe('temporal.address (from TEMPORAL_ADDRESS)');
  });

  it('problems that need several fields or the machine come in a second round, once the fields themselves pass', async () => {
    const second = { hosts: ['a'], hostId: 'a', schedules: [{ runbook: 'health-check', host: 'b', every: '1h' }], postgres: { password: { env: 'NO_SUCH_VAR' } } };
    const withBadField = await file({ ...second, thresholds: { diskPercent: 0 } });
    expect(configError(() => loadConfig({ path: withBadField, env: {} })).issues.map((i) => i.path)).toEqual(['thresholds.diskPercent']);
    const fixed = await file(second);
    expect(configError(() => loadConfig({ path: fixed, env: {} })).issues.map((i) => i.path).sort()).toEqual(['postgres.password.env', 'schedules[0].host']);
  });

  it('every problem is reported at once', async () => {
    const path = await file({ thresholds: { diskPercent: 0 }, retention: { days: -1 }, hostId: '!' });
    expect(configError(() => loadConfig({ path, env: {} })).issues.map((i) => i.path).sort()).toEqual([
      'hostId',
      'retention.days',
      'thresholds.diskPercent',
    ]);
  });
});
