/** CPU and load from /proc: parsed from real-format text, and read from this machine's /proc. */
import { mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cpuUsage, loadAverage, parseLoadavg, parseProcStat } from '../../src/system/cpu.js';

const STAT = `cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
cpu1 1335386 28748 450124 13349478 3562 0 2790 0 23467 0
intr 1462898 0 9 0
ctxt 4131398
`;

describe('parseProcStat', () => {
  it('sums the first eight fields; idle includes iowait; guest time is not counted twice', () => {
    expect(parseProcStat(STAT)).toEqual({ total: 10132153 + 290696 + 3084719 + 46828483 + 16683 + 0 + 25195 + 0, idle: 46828483 + 16683, cores: 2 });
  });

  it.each([
    ['no aggregate line', 'cpu0 1 2 3 4\n', /no aggregate "cpu" line/],
    ['garbage numbers', 'cpu  a b c d\n', /unexpected \/proc\/stat cpu line/],
  ])('%s is an error', (_name, text, message) => {
    expect(() => parseProcStat(text)).toThrow(message);
  });
});

describe('parseLoadavg', () => {
  it('reads the three averages and the runnable/total counts', () => {
    expect(parseLoadavg('0.52 0.58 1.59 2/467 12345\n')).toEqual({ one: 0.52, five: 0.58, fifteen: 1.59, runnable: 2, entities: 467 });
  });
  it('refuses anything else', () => {
    expect(() => parseLoadavg('n/a')).toThrow(/unexpected \/proc\/loadavg/);
  });
});

describe('on this machine', () => {
  it('CPU usage is a share between 0 and 100 over the sample, with the CPUs the kernel lists', async () => {
    const u = await cpuUsage('/proc', 200);
    expect(u.usedPercent).toBeGreaterThanOrEqual(0);
    expect(u.usedPercent).toBeLessThanOrEqual(100);
    expect(u.cores).toBeGreaterThan(0);
    expect((await loadAverage()).one).toBeGreaterThanOrEqual(0);
  });

  it('a procRoot of fixed files gives an exact busy share', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcp-proc-'));
    const stat = join(dir, 'stat');
    try {
      // No timing: `stat` starts as a FIFO, so the first read blocks until this test writes the first
      // sample; before writing it, the FIFO's name is replaced (rename, atomic) by a file holding the
      // second sample. The first read keeps reading the FIFO it opened; the second read, after the
      // sample interval, can only open the file.
      await execa('mkfifo', [stat]);
      await writeFile(join(dir, 'stat.next'), 'cpu  200 0 0 200 0 0 0 0\ncpu0 200 0 0 200 0 0 0 0\n');
      const pending = cpuUsage(dir, 300);
      // Opening a FIFO to write waits for its reader: once this returns, the first read has it open.
      const first = await open(stat, 'w');
      try {
        await rename(join(dir, 'stat.next'), stat);
        await first.writeFile('cpu  100 0 0 100 0 0 0 0\ncpu0 100 0 0 100 0 0 0 0\n');
      } finally {
        await first.close();
      }
      // 100 more busy jiffies and 100 more idle ones during the sample: 50 % busy.
      expect(await pending).toEqual({ usedPercent: 50, cores: 1, sampleMs: 300 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
