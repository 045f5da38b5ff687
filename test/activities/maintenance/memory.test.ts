/** The memory service checks against real HTTP servers: one that answers, one that never does, one that errs. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMaintenanceMemoryActivities } from '../../../src/activities/maintenance/memory.js';

const servers: Server[] = [];
const urls: Record<string, string> = {};
async function serve(name: string, handler: Parameters<typeof createServer>[1]): Promise<void> {
  const s = createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  servers.push(s);
  urls[name] = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}
beforeAll(async () => {
  await serve('answers', (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(req.url === '/get_stats' ? JSON.stringify({ size: 7, operations: 42, errors: 1, uptime: 3600 }) : JSON.stringify({ before: 7, after: 5, removed: 2 }));
  });
  await serve('hangs', () => undefined);
  await serve('errs', (_req, res) => {
    res.writeHead(500);
    res.end('boom');
  });
});
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});
const memory = (name: string) => createMaintenanceMemoryActivities({ config: { memoryService: { url: urls[name]!, timeoutSeconds: 1 } } });

describe('memory service', () => {
  it('size and operations from GET /get_stats; consolidate reports before and after', async () => {
    expect(await memory('answers').memoryServiceStats()).toMatchObject({ check: 'memory.stats', status: 'ok', message: 'memory service holds 7 memories after 42 operations (1 errors, up 3600s)' });
    expect(await memory('answers').consolidateMemoryService()).toMatchObject({ check: 'memory.consolidate', status: 'ok', message: 'memory service consolidated: 7 -> 5 memories' });
  });

  it.each([
    ['hangs', /does not answer: .*\/get_stats: no answer within 1s$/],
    ['errs', /does not answer: .*\/get_stats: HTTP 500$/],
  ])('a service that %s is a fail finding within the timeout', async (name, message) => {
    const t0 = Date.now();
    const f = await memory(name).memoryServiceStats();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(f.status).toBe('fail');
    expect(f.message).toMatch(message);
  });
});
