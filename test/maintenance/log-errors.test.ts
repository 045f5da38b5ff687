import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countErrorLines, errorMatchers, readScanMarker, scanWindowStart, writeScanMarker } from '../../src/maintenance/log-errors.js';

describe('countErrorLines', () => {
  it('matches the patterns case-insensitively, like grep -i "error\\|failed", and keeps the first and last times', () => {
    const lines = [
      { time: '2026-11-20T01:00:00.000Z', text: 'INFO ready', source: 'a.log' },
      { time: '2026-11-21T01:00:00.000Z', text: 'ERROR disk gone', source: 'a.log' },
      { time: '2026-11-22T01:00:00.000Z', text: 'request Failed', source: 'a.log.1' },
      { text: '    at stack frame', source: 'a.log' },
    ];
    expect(countErrorLines(lines, errorMatchers(['error', 'failed']))).toEqual({
      count: 2,
      lines: 4,
      firstAt: '2026-11-21T01:00:00.000Z',
      lastAt: '2026-11-22T01:00:00.000Z',
      sources: ['a.log', 'a.log.1'],
    });
  });
});

describe('scan window', () => {
  const first = new Date('2026-11-16T00:00:00Z');
  it.each([
    ['no marker: the first-scan fallback', undefined, 'wf-2', first.toISOString()],
    ['another run\'s marker: where it stopped', { scannedUntil: '2026-11-22T03:00:00.000Z', workflowId: 'wf-1', since: '2026-11-15T03:00:00.000Z' }, 'wf-2', '2026-11-22T03:00:00.000Z'],
    ['this run\'s own marker (a retried activity): the same window again', { scannedUntil: '2026-11-22T03:00:00.000Z', workflowId: 'wf-2', since: '2026-11-15T03:00:00.000Z' }, 'wf-2', '2026-11-15T03:00:00.000Z'],
  ])('%s', (_name, marker, workflowId, expected) => {
    expect(scanWindowStart(marker, workflowId, first).toISOString()).toBe(expected);
  });

  it('the marker round-trips; a damaged one reads as none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcp-marker-'));
    try {
      const path = join(dir, 'state', 'log-scan.json');
      const m = { scannedUntil: '2026-11-22T03:00:00.000Z', workflowId: 'wf-1', since: '2026-11-15T03:00:00.000Z' };
      await writeScanMarker(path, m);
      expect(await readScanMarker(path)).toEqual(m);
      await writeFile(path, '{"scannedUntil": "yesterday"');
      expect(await readScanMarker(path)).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
