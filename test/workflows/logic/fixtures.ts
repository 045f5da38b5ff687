/** A host as the fakes describe it: two stop-mode groups, an online folder, a database; its backup and restore plans. */
import type { BackupPlan } from '../../../src/activities/backup.js';
import type { RestorePlan } from '../../../src/activities/restore.js';
import type { ServiceTransition } from '../../../src/activities/services.js';
import { finding } from '../../../src/common/report.js';
import { HostFakes, type HostFakeImpl } from '../../helpers/time-skipping.js';

export const ARCHIVE = 'mcp_backup_20260101_020000.tar.gz';
export const SERVICES = ['svc-a', 'svc-b'];

export const BACKUP_PLAN: BackupPlan = {
  archive: ARCHIVE,
  createdAt: '2026-01-01T02:00:00.000Z',
  stagingDir: '/backups/.staging-1',
  sources: [
    { archivePath: 'srv/a', originalPath: '/srv/a', archiveFrom: '/backups/.staging-1/srv/a', mode: 'stop', services: ['svc-a'] },
    { archivePath: 'srv/b', originalPath: '/srv/b', archiveFrom: '/backups/.staging-1/srv/b', mode: 'stop', services: ['svc-b'] },
    { archivePath: 'srv/logs', originalPath: '/srv/logs', archiveFrom: '/srv/logs', mode: 'online', services: [] },
  ],
  dump: { archivePath: 'mcp-runbooks/pg_dump/mcp.dump', stagingPath: '/backups/.staging-1/mcp.dump', database: 'mcp' },
  stopGroups: [
    { services: ['svc-a'], sources: ['srv/a'] },
    { services: ['svc-b'], sources: ['srv/b'] },
  ],
  missing: [],
  estimatedBytes: 1000,
};

const root = (name: string) => ({
  archivePath: `srv/${name}`,
  target: `/srv/${name}`,
  staging: `/srv/.${name}.restore`,
  previous: `/srv/.${name}.previous`,
  existedBefore: true,
  bytes: 10,
  files: 1,
});

export const RESTORE_PLAN: RestorePlan = {
  archive: ARCHIVE,
  sha256: 'ab'.repeat(32),
  backupCreatedAt: '2026-01-01T02:00:00.000Z',
  backupHost: 'h',
  fromOtherHost: false,
  roots: [root('a'), root('b')],
  dump: { archivePath: 'mcp-runbooks/pg_dump/mcp.dump', database: 'mcp', file: '/recovery/1/mcp.dump', emergencyFile: '/recovery/1/emergency-mcp.dump' },
  recoveryDir: '/recovery/1',
  services: SERVICES,
  space: [],
  totals: { files: 2, bytes: 20 },
};

/** What the one pass returns: checked, extracted into staging, the database to be swapped in by rename. */
export const STAGED_PLAN: RestorePlan = {
  ...RESTORE_PLAN,
  dump: { ...RESTORE_PLAN.dump!, swap: { staging: 'mcp_restore_0123abcd', previous: 'mcp_previous_0123abcd' } },
  staged: true,
};

const at = (services: string[]): ServiceTransition[] => services.map((service) => ({ service, at: new Date().toISOString() }));

/** Every host activity the backup, recovery and read-only runbooks call, answering for the host above. */
export const hostFakes = {
  async planBackup() {
    return BACKUP_PLAN;
  },
  async serviceStates(req = {}) {
    return (req.services ?? SERVICES).map((service) => ({ service, state: 'active' as const, detail: 'active (fake)' }));
  },
  async stopServices(req) {
    return at(req.services);
  },
  async startServices(req) {
    return at(req.services);
  },
  async snapshotSource(req) {
    return { archivePath: req.source.archivePath, files: 1, reused: 0, bytes: 10, skipped: [], seconds: 0 };
  },
  async dumpDatabase() {
    return { bytes: 10, seconds: 0, tables: 1 };
  },
  async createArchive(req) {
    return { archive: req.plan.archive, path: `/backups/${req.plan.archive}`, bytes: 100, sha256: 'cd'.repeat(32), tarBytes: 200, compressor: 'gzip', seconds: 0, entries: 3 };
  },
  async removeStaging() {
    return { removed: true };
  },
  async verifyBackup(req) {
    return { archive: req.archive, status: 'ok' as const, problems: [], checkedAt: new Date().toISOString(), sha256: 'cd'.repeat(32), bytes: 100, entries: 3, fileBytes: 20, dumps: [] };
  },
  async applyRetention() {
    return { removed: [], kept: [{ archive: ARCHIVE, why: ['newest'] }], manifestFile: '/backups/retention.json', leftovers: [] };
  },
  async listBackups() {
    return [];
  },
  async describeTargets() {
    return [{ name: 'local', type: 'archive' as const, location: '/backups' }];
  },
  async inspectRestore() {
    return RESTORE_PLAN;
  },
  async stageRestore() {
    return STAGED_PLAN;
  },
  async discardStaged() {
    return { removed: [] };
  },
  async stageRestoreDatabase() {
    return { database: 'mcp_restore_0123abcd' };
  },
  async swapDatabase() {
    return 'swapped' as const;
  },
  async undoDatabaseSwap() {
    return 'restored previous' as const;
  },
  async extractForRestore() {
    return { files: 2, bytes: 20, seconds: 0 };
  },
  async dumpCurrentDatabase() {
    return { bytes: 10 };
  },
  async swapRoot() {
    return 'swapped' as const;
  },
  async undoSwap() {
    return 'restored previous' as const;
  },
  async restoreDatabase() {},
  async postRecoveryChecks() {
    return [];
  },
  async archivePreviousState() {
    return { archive: 'mcp_emergency_20260101_030000.tar.gz', path: '/backups/e.tar.gz', bytes: 1, sha256: 'ef'.repeat(32), tarBytes: 1, compressor: 'gzip', seconds: 0, entries: 1 };
  },
  async cleanupRecovery() {},
  async checkServices() {
    return [];
  },
  async checkDisk() {
    return finding('system.disk', 'ok', 'disk at 10%', {});
  },
  async checkMemory() {
    return finding('system.memory', 'ok', 'memory at 10%', {});
  },
} satisfies HostFakeImpl;

export function newFakes(overrides: HostFakeImpl = {}): HostFakes {
  return new HostFakes({ ...hostFakes, ...overrides });
}

/** Services stopped and not started again afterwards, from a run's calls in order. */
export function leftStopped(calls: Array<{ name: string; args: unknown[]; outcome?: string }>): string[] {
  const down = new Set<string>();
  for (const c of calls) {
    if (c.outcome !== 'completed' && c.outcome !== 'cancelled') continue;
    const services = (c.args[0] as { services?: string[] } | undefined)?.services ?? [];
    if (c.name === 'stopServices') for (const s of services) down.add(s);
    if (c.name === 'startServices' && c.outcome === 'completed') for (const s of services) down.delete(s);
  }
  return [...down];
}
