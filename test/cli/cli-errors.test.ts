/**
 * The CLI as a subprocess, without a Temporal server: usage errors are found
 * before connecting, config errors name the field, and an unreachable server
 * is named with where it was configured.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort } from '../../src/dev/ports.js';
import { loadConfig } from '../../src/config/load.js';
import { cliEnv, runCli } from '../helpers/cli.js';

let dir: string;
/** A port nothing listens on: connecting to it is refused. */
let closedPort: number;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-cli-errors-'));
  closedPort = await freePort();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function configFile(content: Record<string, unknown>): Promise<string> {
  const path = join(dir, `c${n++}.yaml`);
  await writeFile(path, stringify(content));
  return path;
}

/** A config whose Temporal address is the closed port. */
function unreachable(extra: Record<string, unknown> = {}): Promise<string> {
  return configFile({ hostId: 'errors', temporal: { address: `127.0.0.1:${closedPort}`, namespace: 'ops' }, ...extra });
}

describe('schedules backfill checks --from and --to before it connects', () => {
  it.each([
    [['--from', 'yesterday', '--to', '2026-11-21T00:00:00Z'], '--from: expected an ISO 8601 time, e.g. 2026-11-20T00:00:00Z, found "yesterday"'],
    [['--from', '2026-11-20T00:00:00Z', '--to', '2026-13-45T00:00:00Z'], '--to: expected an ISO 8601 time, e.g. 2026-11-20T00:00:00Z, found "2026-13-45T00:00:00Z"'],
    [['--from', '1', '--to', '2026-11-21T00:00:00Z'], '--from: expected an ISO 8601 time'],
    [['--from', '2026-11-21T00:00:00Z', '--to', '2026-11-20T00:00:00Z'], '--from (2026-11-21T00:00:00.000Z) must be before --to (2026-11-20T00:00:00.000Z)'],
    [['--from', '2026-11-20T00:00:00Z', '--to', '2026-11-20T00:00:00Z'], '--from (2026-11-20T00:00:00.000Z) must be before --to (2026-11-20T00:00:00.000Z)'],
  ])('%j', async (range, message) => {
    const started = Date.now();
    const r = await runCli(['--config', await unreachable(), 'schedules', 'backfill', 'health-check', ...range]);
    const seconds = (Date.now() - started) / 1000;
    expect(r.exitCode, r.all).toBe(2);
    expect(r.stderr).toContain(`mcp-runbooks: ${message}`);
    expect(r.stderr).not.toContain('cannot reach Temporal');
    // Connecting first would wait out the 10 s connect timeout.
    expect(seconds).toBeLessThan(8);
  });
});

describe('config errors exit 2 and name the field', () => {
  it('a TLS file that does not exist', async () => {
    const missing = join(dir, 'no-such-ca.pem');
    const r = await runCli(['--config', await unreachable({ temporal: { address: `127.0.0.1:${closedPort}`, tls: { serverRootCACertFile: missing } } }), 'status']);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.stderr).toContain(`temporal.tls.serverRootCACertFile: expected a readable PEM file, found ENOENT reading ${missing}`);
  });
});

describe('an unreachable Temporal server', () => {
  it('is named with its address and namespace, and where to set them: exit 7', async () => {
    const r = await runCli(['--config', await unreachable(), 'status']);
    expect(r.exitCode, r.all).toBe(7);
    expect(r.stderr).toContain(`mcp-runbooks: cannot reach Temporal at 127.0.0.1:${closedPort} (namespace ops): `);
    expect(r.stderr).toContain('check temporal.address in the config or TEMPORAL_ADDRESS, or start a local server with `mcp-runbooks dev`');
  });
});

describe('mcp-runbooks config', () => {
  it('prints YAML that --config loads back to the same resolved config (octal modes, secrets by reference)', async () => {
    const env = cliEnv({ MCP_PG_PASSWORD: 'pw-very-secret' });
    const path = await configFile({
      hostId: 'printed',
      postgres: { password: { env: 'MCP_PG_PASSWORD' } },
      maintenance: { security: { allowedFileModes: ['644', '4755'], allowedDirModes: ['0750'] }, packages: { refreshCommand: false } },
      schedules: [{ runbook: 'health-check', every: '15m' }],
    });
    const r = await runCli(['--config', path, 'config'], { env });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).not.toContain('pw-very-secret');
    expect(r.stdout).toMatch(/allowedFileModes:\n\s+- "644"\n\s+- "4755"\n\s+allowedDirModes:\n\s+- "750"\n/);
    const printed = join(dir, 'printed.yaml');
    await writeFile(printed, r.stdout);
    const { source: _a, ...original } = loadConfig({ path, env });
    const { source: _b, ...reloaded } = loadConfig({ path: printed, env });
    expect(reloaded).toEqual(original);
    // And the CLI takes its own output.
    const again = await runCli(['--config', printed, 'config'], { env });
    expect(again.exitCode, again.all).toBe(0);
    expect(parse(again.stdout)).toEqual(parse(r.stdout));
  });

  it('refuses an empty or comment-only config file: exit 2, the file named', async () => {
    for (const [content, why] of [['', 'is empty'], ['# nothing here yet\n', 'has no settings']] as const) {
      const path = join(dir, `c${n++}.yaml`);
      await writeFile(path, content);
      const r = await runCli(['--config', path, 'config']);
      expect(r.exitCode, r.all).toBe(2);
      expect(r.stderr).toContain(`mcp-runbooks: invalid configuration (${path})`);
      expect(r.stderr).toContain(`${path} ${why}`);
      expect(r.stdout).toBe('');
    }
  });
});
