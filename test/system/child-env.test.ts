/**
 * Programs the worker runs (maintenance commands, service commands) get the
 * worker's environment without its secrets: real child processes print what
 * they were given.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { childEnv, Secret } from '../../src/config/secret.js';
import { runCommand } from '../../src/maintenance/run-command.js';
import { runArgv } from '../../src/services/run-argv.js';

const printEnv = [process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.env))'];
const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

describe('childEnv', () => {
  it('drops the well-known secret variables and every variable a config secret came from, keeps the rest', () => {
    new Secret('s3cret', 'env:MCP_TEST_DB_PASSWORD');
    const env = childEnv({ LC_ALL: 'C' }, { PATH: '/usr/bin', HOME: '/root', TEMPORAL_API_KEY: 'k', PGPASSWORD: 'p', MCP_TEST_DB_PASSWORD: 's3cret' });
    expect(env).toEqual({ PATH: '/usr/bin', HOME: '/root', LC_ALL: 'C' });
  });

  it('a secret given on purpose (PGPASSWORD for pg_dump) is passed', () => {
    expect(childEnv({ PGPASSWORD: 'p' }, { TEMPORAL_API_KEY: 'k' })).toEqual({ PGPASSWORD: 'p' });
  });

  it.each([
    ['runCommand (maintenance: apt, logrotate, auditctl)', async () => (await runCommand(printEnv, { timeoutMs: 10_000 })).stdout],
    ['runArgv (service start/stop/status commands)', async () => (await runArgv(printEnv, { service: 'mcp-memory', action: 'status', timeoutMs: 10_000 })).output],
  ])('%s: the child process does not see them', async (_name, run) => {
    new Secret('pw', 'env:MCP_TEST_PG_PASSWORD');
    process.env.TEMPORAL_API_KEY = 'api-key-value';
    process.env.MCP_TEST_PG_PASSWORD = 'pw';
    process.env.MCP_TEST_PLAIN = 'plain';
    const seen = JSON.parse(await run()) as Record<string, string>;
    expect(seen.MCP_TEST_PLAIN).toBe('plain');
    expect(seen.PATH).toBe(process.env.PATH);
    expect(seen).not.toHaveProperty('TEMPORAL_API_KEY');
    expect(seen).not.toHaveProperty('MCP_TEST_PG_PASSWORD');
  });
});
