import { describe, expect, it } from 'vitest';
import { decideRetention, isoWeek, type ArchiveInfo } from '../../src/archive/retention.js';
import { archiveName, archiveNameProblem, archiveTime } from '../../src/common/archive-names.js';

const now = new Date('2026-11-24T02:00:00Z');
const daysAgo = (d: number, verified = true): ArchiveInfo => {
  const t = new Date(now.getTime() - d * 86_400_000);
  return { name: archiveName(t), createdAt: t, verified };
};

describe('retention', () => {
  it('keeps archives younger than the retention and removes older ones (seed: 30 days)', () => {
    const d = decideRetention([daysAgo(1), daysAgo(29), daysAgo(31), daysAgo(60)], now, { days: 30 });
    expect(d.keep.map((k) => k.name)).toEqual([daysAgo(1).name, daysAgo(29).name]);
    expect(d.remove.map((r) => r.ageDays)).toEqual([31, 60]);
  });

  it('never removes the newest verified archive, however old', () => {
    const d = decideRetention([daysAgo(40, false), daysAgo(50, true), daysAgo(70, true)], now, { days: 30 });
    expect(d.keep).toEqual([{ name: daysAgo(50).name, why: ['newest verified archive'] }]);
    expect(d.remove.map((r) => r.ageDays)).toEqual([40, 70]);
  });

  it('keeps the newest of each of the last N days, ISO weeks and months', () => {
    const archives = [0.125, 0.5, 1, 2, 8, 9, 15, 35, 36, 70, 100, 400].map((d) => daysAgo(d));
    const d = decideRetention(archives, now, { days: 1, keepDaily: 3, keepWeekly: 3, keepMonthly: 4 });
    const kept = new Map(d.keep.map((k) => [Math.round((now.getTime() - Date.parse(archiveTime(k.name)!.toISOString())) / 3_600_000) / 24, k.why]));
    // 2026-11-23 is a Monday: weeks W48 (0.125), W47 (2 = Sunday 11-22), W46 (9 = Sunday 11-15).
    expect([...kept.keys()]).toEqual([0.125, 0.5, 1, 2, 8, 9, 35, 70, 100]);
    expect(kept.get(2)).toEqual(['daily 2026-11-22', 'weekly 2026-W47']);
    expect(kept.get(8)).toEqual(['daily 2026-11-16']);
    expect(kept.get(9)).toEqual(['weekly 2026-W46']);
    expect(kept.get(100)).toEqual(['monthly 2026-08']);
    expect(d.remove.map((r) => r.ageDays)).toEqual([15, 36, 400]);
  });

  it('protected names stay', () => {
    expect(decideRetention([daysAgo(90, false)], now, { days: 30 }, [daysAgo(90).name]).remove).toEqual([]);
  });

  it.each([
    ['2026-01-01', '2026-W01'],
    ['2027-01-01', '2026-W53'],
    ['2024-12-30', '2025-W01'],
  ])('ISO week of %s is %s', (day, week) => {
    expect(isoWeek(new Date(`${day}T12:00:00Z`))).toBe(week);
  });
});

describe('archive names', () => {
  it('follow the seed: mcp_backup_YYYYMMDD_HHMMSS.tar.gz, in UTC', () => {
    expect(archiveName(new Date('2026-11-24T02:03:04.999Z'))).toBe('mcp_backup_20261124_020304.tar.gz');
    expect(archiveTime('mcp_backup_20261124_020304.tar.gz')?.toISOString()).toBe('2026-11-24T02:03:04.000Z');
    expect(archiveTime('backup.tar.gz')).toBeUndefined();
  });

  it.each([
    ['', 'non-empty'],
    ['../x.tar.gz', 'without "/"'],
    ['a/b.tar.gz', 'without "/"'],
    ['mcp..tar.gz', '".."'],
    ['.hidden.tar.gz', 'start with "."'],
    ['mcp_backup.zip', 'is not a .tar.gz'],
  ])('%j is refused', (name, why) => {
    expect(archiveNameProblem(name)).toContain(why);
  });
});
