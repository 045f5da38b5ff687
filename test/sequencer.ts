/**
 * Runs the slowest test files first. With a few files side by side (maxWorkers),
 * longest-first keeps one long file from starting last and running alone at the
 * end; vitest's default order on a fresh clone (no timing cache) is by file size,
 * which says little about time. The list is the slowest files as measured on
 * 2 cores (the suite's `Duration` lines); files not listed follow in vitest's order.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const SLOWEST_FIRST = [
  'test/workflows/backup-faults.test.ts',
  'test/dev/dev.test.ts',
  'test/targets/restic-faults.test.ts',
  // CPU work (tsc, eslint) early, beside the long files that mostly wait.
  'test/typecheck.test.ts',
  'test/lint.test.ts',
  'test/cli/follow-restart.test.ts',
  'test/targets/restic-backends.test.ts',
  'test/workflows/recovery-safety.test.ts',
  'test/cli/backup-cli.test.ts',
  'test/dev/dev-offsite.test.ts',
  'test/schedules/schedules.test.ts',
  'test/targets/restic-bare-host.test.ts',
  'test/workflows/host-lock.test.ts',
  'test/cli/maintenance-cli.test.ts',
  'test/workflows/weekly-maintenance.test.ts',
  'test/workflows/logic/lock-approval.test.ts',
  'test/notify/notify.test.ts',
  'test/cli/cli.test.ts',
  'test/workflows/backup-recovery.test.ts',
  'test/gateway/alert-loop.test.ts',
];

export default class SlowestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = SLOWEST_FIRST.findIndex((s) => f.moduleId.endsWith(s));
      return i === -1 ? SLOWEST_FIRST.length : i;
    };
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}
