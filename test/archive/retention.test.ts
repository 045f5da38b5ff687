import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { decideRetention, isoWeek, type ArchiveInfo, type RetentionPolicy, type VerificationState } from '../../src/archive/retention.js';
import { archiveName, archiveNameProblem, archiveTime } from '../../src/common/archive-names.js';

const now = new Date('2026-11-24T02:00:00Z');
const at = (d: number) => new Date(now.getTime() - d * 86_400_000);
const archive = (d: number, verification: VerificationState = 'ok', kind: ArchiveInfo['kind'] = 'backup'): ArchiveInfo => ({ name: archiveName(at(d)), createdAt: at(d), verification, kind });
const name = (d: number) => archiveName(at(d));
const ages = (names: string[]) => names.map((n) => Math.round((now.getTime() - archiveTime(n)!.getTime()) / 60_000) / 1440);

describe('retention', () => {
  it('keeps archives younger than the retention and removes older ones (seed: 30 days)', () => {
    const d = decideRetention([archive(1), archive(29), archive(31), archive(60)], now, { days: 30 });
    expect(d.keep.map((k) => k.name)).toEqual([name(1), name(29)]);
    expect(d.remove.map((r) => r.ageDays)).toEqual([31, 60]);
  });

  it('keeps the newest of each of the last N days, ISO weeks and months', () => {
    const archives = [0.125, 0.5, 1, 2, 8, 9, 15, 35, 36, 70, 100, 400].map((d) => archive(d));
    const d = decideRetention(archives, now, { days: 1, keepDaily: 3, keepWeekly: 3, keepMonthly: 4 });
    const kept = new Map(d.keep.map((k) => [ages([k.name])[0], k.why]));
    // 2026-11-23 is a Monday: weeks W48 (0.125), W47 (2 = Sunday 11-22), W46 (9 = Sunday 11-15).
    expect([...kept.keys()]).toEqual([0.125, 0.5, 1, 2, 8, 9, 35, 70, 100]);
    expect(kept.get(2)).toEqual(['daily 2026-11-22', 'weekly 2026-W47']);
    expect(kept.get(8)).toEqual(['daily 2026-11-16']);
    expect(kept.get(9)).toEqual(['weekly 2026-W46']);
    expect(kept.get(100)).toEqual(['monthly 2026-08']);
    expect(d.remove.map((r) => r.ageDays)).toEqual([15, 36, 400]);
  });

  // Each row: the archives (age in days and what their last verification said), the policy, the ages
  // kept and the ages removed. Verification decides which archives retention can count on.
  const ROWS: Array<[string, ArchiveInfo[], RetentionPolicy, number[], number[]]> = [
    ['a failed archive later the same day does not take the day from the verified one', [archive(40.05, 'ok'), archive(40, 'failed')], { days: 30, keepDaily: 1 }, [40.05], [40]],
    ['days whose only archive failed do not use up a daily slot', [archive(35), archive(36, 'failed'), archive(37), archive(38)], { days: 30, keepDaily: 3 }, [35, 37, 38], [36]],
    ['a week whose only archive failed does not use up a weekly slot', [archive(35), archive(42, 'failed'), archive(49), archive(56)], { days: 30, keepWeekly: 3 }, [35, 49, 56], [42]],
    ['a month whose only archive is unverified does not use up a monthly slot', [archive(40, 'none'), archive(70, 'none'), archive(100)], { days: 30, keepMonthly: 2 }, [40, 70, 100], []],
    ['the newest verified archive stays however old; a newer failed one does not replace it', [archive(40, 'failed'), archive(50), archive(70)], { days: 30 }, [50], [40, 70]],
    ['a failed archive goes once older than the retention, even as the newest archive', [archive(31, 'failed'), archive(33)], { days: 30 }, [33], [31]],
    ['a failed archive younger than the retention stays (to look at) but fills no slot', [archive(2, 'failed'), archive(40)], { days: 30, keepDaily: 1 }, [2, 40], []],
    ['an unverified archive newer than the newest verified one stays: it may yet verify', [archive(40, 'none'), archive(50), archive(60, 'none')], { days: 30 }, [40, 50], [60]],
    ['with nothing verified, unverified archives stay and failed ones go', [archive(40, 'none'), archive(45, 'failed'), archive(60, 'none')], { days: 30, keepDaily: 5 }, [40, 60], [45]],
    [
      'an emergency archive is no backup: it stays while young, fills no slot and is never the newest verified backup',
      [archive(1, 'ok', 'emergency'), archive(31, 'ok', 'emergency'), archive(40), archive(41)],
      { days: 30, keepDaily: 1 },
      [1, 40],
      [31, 41],
    ],
  ];
  it.each(ROWS)('%s', (_name, archives, policy, kept, removed) => {
    const d = decideRetention(archives, now, policy);
    expect(ages(d.keep.map((k) => k.name))).toEqual(kept);
    expect(ages(d.remove.map((r) => r.name))).toEqual(removed);
  });

  it('protected names stay', () => {
    expect(decideRetention([archive(90, 'failed')], now, { days: 30 }, [name(90)]).remove).toEqual([]);
  });

  describe('golden: a year of nightly backups with failures, gaps and recoveries', () => {
    // Deterministic: every 7th night failed, every 11th was never verified, every 13th is missing,
    // and two recoveries left emergency archives.
    const timeline: ArchiveInfo[] = [];
    for (let d = 0; d < 365; d++) {
      if (d % 13 === 12) continue;
      timeline.push(archive(d + 0.01, d % 7 === 3 ? 'failed' : d % 11 === 5 ? 'none' : 'ok'));
    }
    timeline.push(archive(10.5, 'ok', 'emergency'), archive(200.5, 'none', 'emergency'));
    const POLICIES: Record<string, RetentionPolicy> = {
      'seed-30-days': { days: 30 },
      'days-7-daily-14': { days: 7, keepDaily: 14 },
      'days-1-weekly-8': { days: 1, keepWeekly: 8 },
      'days-1-monthly-12': { days: 1, keepMonthly: 12 },
      'days-7-daily-7-weekly-4-monthly-6': { days: 7, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 },
    };
    it.each(Object.entries(POLICIES))('%s', async (policyName, policy) => {
      const d = decideRetention(timeline, now, policy);
      const got = { policy, keep: d.keep, remove: d.remove.map((r) => r.name) };
      const file = new URL(`./testdata/retention/${policyName}.json`, import.meta.url);
      // Regenerate with UPDATE_GOLDEN=1, then read the diff: it is the policy's behaviour.
      if (process.env.UPDATE_GOLDEN) {
        await mkdir(new URL('./testdata/retention/', import.meta.url), { recursive: true });
        await writeFile(file, `${JSON.stringify(got, null, 2)}\n`);
      }
      expect(got).toEqual(JSON.parse(await readFile(file, 'utf8')));

      // Whatever the policy: the slots are exactly those a timeline of only the verified backups
      // gets (nothing else displaces one), no slot goes to any other archive, and the newest
      // verified backup is kept.
      const slot = /^(daily|weekly|monthly) /;
      const slotsOf = (r: typeof d) => r.keep.flatMap((k) => k.why.filter((w) => slot.test(w)).map((w) => `${k.name} ${w}`));
      const onlyVerified = decideRetention(timeline.filter((a) => a.verification === 'ok' && a.kind === 'backup'), now, policy);
      expect(slotsOf(d)).toEqual(slotsOf(onlyVerified));
      const byName = new Map(timeline.map((a) => [a.name, a]));
      for (const k of d.keep) if (k.why.some((w) => slot.test(w))) expect(byName.get(k.name)).toMatchObject({ verification: 'ok', kind: 'backup' });
      const newestVerified = timeline.filter((a) => a.verification === 'ok' && a.kind === 'backup').sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0]!;
      expect(d.keep.find((k) => k.name === newestVerified.name)?.why).toContain('newest verified backup');
    });
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
