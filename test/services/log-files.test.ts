/** Log lines since a time from a log file and its rotated copies (logrotate's names, gzip included). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLogFamilySince, rotatedCopies } from '../../src/services/log-files.js';
import { makeOld } from '../helpers/files.js';

let dir: string;
const log = () => join(dir, 'mcp-memory.log');
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-logs-'));
  await writeFile(join(dir, 'mcp-memory.log.3.gz'), gzipSync('2026-11-01T00:00:00.000Z ERROR very old\n'));
  await writeFile(join(dir, 'mcp-memory.log.2.gz'), gzipSync('2026-11-18T00:00:00.000Z ERROR compressed copy\n'));
  await writeFile(join(dir, 'mcp-memory.log.1'), '2026-11-19T00:00:00.000Z INFO plain copy\n2026-11-20T00:00:00.000Z ERROR in plain copy\n');
  await writeFile(log(), '2026-11-21T00:00:00.000Z INFO current\n');
  await writeFile(join(dir, 'mcp-memory.log.bak'), '2026-11-21T00:00:00.000Z ERROR not a rotated copy\n');
  await writeFile(join(dir, 'mcp-memory.log-20261117'), '2026-11-17T00:00:00.000Z ERROR dateext copy\n');
  await makeOld(join(dir, 'mcp-memory.log.3.gz'), 24 * 22);
  await makeOld(join(dir, 'mcp-memory.log-20261117'), 24 * 6.5);
  await makeOld(join(dir, 'mcp-memory.log.2.gz'), 24 * 5);
  await makeOld(join(dir, 'mcp-memory.log.1'), 24 * 3);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('rotated copies', () => {
  it('lists logrotate\'s names only, oldest first', async () => {
    expect((await rotatedCopies(log())).map((p) => p.slice(dir.length + 1))).toEqual([
      'mcp-memory.log.3.gz',
      'mcp-memory.log-20261117',
      'mcp-memory.log.2.gz',
      'mcp-memory.log.1',
    ]);
  });

  it('lines since a time come from the file and every copy touched since, gzip read decompressed', async () => {
    const lines = await readLogFamilySince(log(), new Date('2026-11-10T00:00:00Z'));
    expect(lines.map((l) => l.text)).toEqual([
      '2026-11-17T00:00:00.000Z ERROR dateext copy',
      '2026-11-18T00:00:00.000Z ERROR compressed copy',
      '2026-11-19T00:00:00.000Z INFO plain copy',
      '2026-11-20T00:00:00.000Z ERROR in plain copy',
      '2026-11-21T00:00:00.000Z INFO current',
    ]);
    expect(lines.map((l) => l.source.slice(dir.length + 1))).toContain('mcp-memory.log.2.gz');
  });
});
