/** The embedded dev server (`startDevServer`, used by `mcp-runbooks dev` and the test setup). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../../src/common/search-attributes.js';
import { startDevServer } from '../../src/dev/dev-server.js';
import { freePort } from '../../src/dev/ports.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-dev-server-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const binary = () => ({ path: inject('temporalBinary'), how: 'test', version: '' });

describe('startDevServer registers the runbooks\' search attributes', () => {
  it('McpRunbook, McpHost, McpOutcome as Keyword, on a fresh and on a persisted (restarted) server', async () => {
    const port = await freePort();
    for (const round of ['fresh', 'restarted on the same dev.db']) {
      const server = await startDevServer({ binary: binary(), dataDir: dir, port, namespace: 'ops' });
      try {
        const connection = await Connection.connect({ address: server.address });
        try {
          const r = await connection.operatorService.listSearchAttributes({ namespace: 'ops' });
          for (const name of Object.values(SEARCH_ATTRIBUTES)) {
            // 2 is INDEXED_VALUE_TYPE_KEYWORD.
            expect(r.customAttributes?.[name], `${name} (${round})`).toBe(2);
          }
        } finally {
          await connection.close();
        }
        // As an operator would check it.
        const cli = await execa(binary().path, ['operator', 'search-attribute', 'list', '--address', server.address, '--namespace', 'ops'], { reject: false });
        for (const name of Object.values(SEARCH_ATTRIBUTES)) expect(cli.stdout, round).toMatch(new RegExp(`${name}\\s+Keyword`));
      } finally {
        await server.stop();
      }
    }
  }, 120_000);
});
