/** The sandbox host: the seed's layout with real files, real processes and a real database. */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPgClient } from '../../src/postgres/client.js';
import { provisionSandbox } from '../../src/dev/sandbox/provision.js';
import { createTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

let sbx: TestSandbox;
let memoryUrl: string;
beforeAll(async () => {
  sbx = await createTestSandbox({ hostId: 'sbx' });
  memoryUrl = sbx.config.memoryService.url;
});
afterAll(async () => {
  await sbx?.cleanup();
});

describe('sandbox layout', () => {
  it('mirrors the seed\'s paths under the sandbox root', async () => {
    for (const rel of [
      'etc/kilocode/mcp/mcp.yaml',
      'etc/kilocode/mcp/mcp-memory.json',
      'etc/kilocode/mcp/security',
      'opt/kilocode/mcp-servers/kilocode-mcp-installer/VERSION',
      'opt/kilocode/mcp-servers/mcp-memory-service',
      'opt/kilocode/mcp-servers/memory_db/memories.json',
      'opt/kilocode/mcp-servers/memory_backups',
      'opt/kilocode/mcp-servers/reports',
      'opt/kilocode/mcp-servers/filesystem_data/notes/todo.md',
      'opt/kilocode/mcp-servers/compliance_data/policies.json',
      'var/log/kilocode/mcp/mcp-memory.log',
      'var/log/kilocode/mcp/mcp-compliance.log',
    ]) {
      await expect(stat(join(sbx.root, rel)), rel).resolves.toBeDefined();
    }
    expect((await stat(join(sbx.config.paths.backupDir))).mode & 0o777).toBe(0o700);
  });

  it('provisioning again keeps data files and reports nothing new', async () => {
    const dataFile = join(sbx.config.paths.installRoot, 'memory_db', 'memories.json');
    const before = await readFile(dataFile, 'utf8');
    const again = await provisionSandbox(sbx.config);
    expect(again.created).toEqual([]);
    expect(again.database.state).toBe('exists');
    expect(await readFile(dataFile, 'utf8')).toBe(before);
  });

  it('mcp-postgres\'s database exists on the local PostgreSQL with its table', async () => {
    const rows = await withPgClient(sbx.config.postgres!, async (c) => (await c.query<{ kind: string }>('SELECT kind FROM mcp_events ORDER BY id')).rows);
    expect(rows.map((r) => r.kind)).toEqual(['provisioned', 'memory.stored']);
  });
});

describe('sandbox mcp-memory service', () => {
  it('GET /get_stats answers {size, operations, errors, uptime}', async () => {
    const stats = (await (await fetch(`${memoryUrl}/get_stats`)).json()) as Record<string, number>;
    expect(Object.keys(stats).sort()).toEqual(['errors', 'operations', 'size', 'uptime']);
    expect(stats.size).toBe(2);
  });

  it('stores memories in memory_db and consolidate removes duplicates', async () => {
    const post = (key: string, value: string) =>
      fetch(`${memoryUrl}/memories`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, value }) });
    expect((await post('a', 'same value')).status).toBe(201);
    expect((await post('b', 'same value')).status).toBe(201);
    expect((await fetch(`${memoryUrl}/memories`, { method: 'POST', body: '{"key": 1}' })).status).toBe(400);
    const stored = JSON.parse(await readFile(join(sbx.config.paths.installRoot, 'memory_db', 'memories.json'), 'utf8')) as {
      memories: Record<string, unknown>;
    };
    expect(Object.keys(stored.memories)).toEqual(expect.arrayContaining(['a', 'b']));
    const c = (await (await fetch(`${memoryUrl}/consolidate`)).json()) as { before: number; after: number; removed: number };
    expect(c).toEqual({ before: 4, after: 3, removed: 1 });
    const stats = (await (await fetch(`${memoryUrl}/get_stats`)).json()) as Record<string, number>;
    expect(stats).toMatchObject({ size: 3, errors: 1 });
    expect(stats.operations).toBeGreaterThanOrEqual(3);
  });

  it('listens on loopback only', async () => {
    const port = new URL(memoryUrl).port;
    const listening = await readFile('/proc/net/tcp', 'utf8');
    const hexPort = Number(port).toString(16).toUpperCase().padStart(4, '0');
    const lines = listening.split('\n').filter((l) => l.includes(`:${hexPort} `) && / 0A /.test(l));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l.trim().split(/\s+/)[1]).toBe(`0100007F:${hexPort}`);
  });
});
