/**
 * restartService's decisions, with fake host activities: it restarts and then
 * checks; it refuses a service restarted too often within the window (a fail
 * finding, no restart); a restart that does not bring the service back is a
 * fail finding, the checks still run and the run ends with a report. The
 * `stopIfUnchanged` update stops it before the restart and is refused after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceCommandError } from '../../../src/common/errors.js';
import { finding } from '../../../src/common/report.js';
import type { RestartServiceResult } from '../../../src/workflows/restart-service.js';
import { LogicEnv } from '../../helpers/time-skipping.js';
import { newFakes } from './fixtures.js';

const recent: Record<string, string[]> = {};
/** A restart of `svc-held` waits for this (the test lets it finish). */
let releaseHeld!: () => void;
const held = new Promise<void>((r) => (releaseHeld = r));
const fakes = newFakes({
  async restartHistory({ service }) {
    return { service, restarts: recent[service] ?? [], maxRestarts: 3, windowMinutes: 60 };
  },
  async restartService({ service }) {
    if (service === 'svc-held') await held;
    if (service === 'svc-broken') throw new ServiceCommandError({ service, action: 'restart', argv: [], exitCode: 0, timedOut: true, output: 'not active 30s after restart (failed: exit 1)' });
    return { service, before: 'failed', activeAt: new Date().toISOString(), seconds: 1.5 };
  },
  async verifyService({ service }) {
    return [service === 'svc-broken' ? finding(`service.${service}`, 'fail', `${service} is failed after the restart`) : finding(`service.${service}`, 'ok', `${service} is active`)];
  },
});
let env: LogicEnv;

beforeAll(async () => {
  env = await LogicEnv.start({ hosts: ['h'], fakes, lock: 'real' });
});
afterAll(async () => {
  releaseHeld();
  await env?.teardown();
});

const names = (workflowId: string) => fakes.of(workflowId).map((c) => c.name);

describe('restartService', () => {
  it('reads the restart history, restarts, then checks the service; reports ok', async () => {
    const h = await env.start('restartService', { hostId: 'h', service: 'svc-a', reason: 'ServiceDown' }, 'restart-ok');
    const r = (await h.result()) as RestartServiceResult;
    expect(names('restart-ok')).toEqual(['restartHistory', 'restartService', 'verifyService']);
    expect(r).toMatchObject({ service: 'svc-a', refused: false, restart: { before: 'failed', seconds: 1.5 }, summary: { fail: 0 } });
    expect(r.findings.map((f) => [f.check, f.status])).toEqual([
      ['restart.done', 'ok'],
      ['service.svc-a', 'ok'],
    ]);
    expect(env.ends.find((e) => e.workflowId === 'restart-ok')).toMatchObject({ runbook: 'restartService', hostId: 'h', outcome: 'success' });
  });

  it('a service restarted maxRestarts times within the window is not restarted again: a fail finding names the count and the limit', async () => {
    recent['svc-b'] = ['2026-01-01T01:00:00.000Z', '2026-01-01T01:10:00.000Z', '2026-01-01T01:20:00.000Z'];
    const h = await env.start('restartService', { hostId: 'h', service: 'svc-b' }, 'restart-flapping');
    const r = (await h.result()) as RestartServiceResult;
    expect(names('restart-flapping')).toEqual(['restartHistory']);
    expect(r.refused).toBe(true);
    expect(r.restart).toBeUndefined();
    expect(r.recentRestarts).toHaveLength(3);
    expect(r.findings).toEqual([
      expect.objectContaining({ check: 'restart.flapping', status: 'fail', message: expect.stringMatching(/^svc-b was restarted 3 times in the last 60 minutes \(limit 3\): not restarting it again/) }),
    ]);
  });

  it('two restarts within the window still allow a third', async () => {
    recent['svc-c'] = ['2026-01-01T01:00:00.000Z', '2026-01-01T01:10:00.000Z'];
    const h = await env.start('restartService', { hostId: 'h', service: 'svc-c' }, 'restart-third');
    expect(((await h.result()) as RestartServiceResult).refused).toBe(false);
    expect(names('restart-third')).toContain('restartService');
  });

  it('cancelled mid-restart: the restart is waited for, then the service is started again; the run ends cancelled', async () => {
    const blocked = fakes.block('restartService', { workflowId: 'restart-cancel', releaseAfterMs: 200 });
    const h = await env.start('restartService', { hostId: 'h', service: 'svc-a' }, 'restart-cancel');
    const call = await blocked.started;
    await h.cancel();
    await expect(h.result()).rejects.toMatchObject({ cause: { name: 'CancelledFailure' } });
    expect(call.outcome).toBe('cancelled');
    const start = fakes.of('restart-cancel').find((c) => c.name === 'startServices');
    expect(start?.args).toEqual([{ services: ['svc-a'] }]);
    expect(start!.startedAt).toBeGreaterThanOrEqual(call.endedAt!);
    expect(names('restart-cancel')).not.toContain('verifyService');
  });

  it('a restart that does not bring the service back is a fail finding; the checks still run; the run ends with its report', async () => {
    const h = await env.start('restartService', { hostId: 'h', service: 'svc-broken' }, 'restart-broken');
    const r = (await h.result()) as RestartServiceResult;
    // persistent(3): three attempts, then the finding.
    expect(names('restart-broken')).toEqual(['restartHistory', 'restartService', 'restartService', 'restartService', 'verifyService']);
    expect(r.findings.map((f) => [f.check, f.status])).toEqual([
      ['restart.done', 'fail'],
      ['service.svc-broken', 'fail'],
    ]);
    expect(r.findings[0]!.message).toMatch(/svc-broken did not come back after the restart: .*not active 30s after restart/);
    expect(r.summary.fail).toBe(2);
  });

  it('stopIfUnchanged while it reads the history: the read is cancelled, nothing is restarted, the run completes as stopped (outcome cancelled)', async () => {
    const blocked = fakes.block('restartHistory', { workflowId: 'restart-stopped', releaseAfterMs: 0 });
    const h = await env.start('restartService', { hostId: 'h', service: 'svc-a' }, 'restart-stopped');
    await blocked.started;
    expect(await h.executeUpdate('stopIfUnchanged', { args: [{ reason: 'alert ServiceDown resolved' }] })).toEqual({ stopped: true, phase: 'history' });
    // Asked again (Alertmanager resends): still stopped, nothing else happens.
    expect(await h.executeUpdate('stopIfUnchanged', { args: [{ reason: 'again' }] })).toMatchObject({ stopped: true });
    const r = (await h.result()) as RestartServiceResult;
    expect(r).toMatchObject({ service: 'svc-a', stopped: 'alert ServiceDown resolved', refused: false, summary: { fail: 0 } });
    expect(r.restart).toBeUndefined();
    expect(r.findings.map((f) => [f.check, f.status])).toEqual([['restart.stopped', 'ok']]);
    expect(fakes.of('restart-stopped').map((c) => [c.name, c.outcome])).toEqual([['restartHistory', 'cancelled']]);
    expect(env.ends.find((e) => e.workflowId === 'restart-stopped')).toMatchObject({ runbook: 'restartService', outcome: 'cancelled' });
    expect((await h.describe()).searchAttributes.McpOutcome).toEqual(['cancelled']);
  });

  it('stopIfUnchanged once the restart began is refused: the run goes on, restarts and checks the service', async () => {
    const h = await env.start('restartService', { hostId: 'h', service: 'svc-held' }, 'restart-not-stopped');
    await fakes.until('the restart started', (calls) => calls.some((c) => c.workflowId === 'restart-not-stopped' && c.name === 'restartService'));
    expect(await h.executeUpdate('stopIfUnchanged', { args: [{ reason: 'alert ServiceDown resolved' }] })).toEqual({ stopped: false, phase: 'restart' });
    releaseHeld();
    const r = (await h.result()) as RestartServiceResult;
    expect(r.stopped).toBeUndefined();
    expect(r.restart).toMatchObject({ service: 'svc-held' });
    expect(names('restart-not-stopped')).toEqual(['restartHistory', 'restartService', 'verifyService']);
    expect(env.ends.find((e) => e.workflowId === 'restart-not-stopped')).toMatchObject({ outcome: 'success' });
  });

  it('stopIfUnchanged refuses a request without a reason (the validator), and the run is not stopped by it', async () => {
    const blocked = fakes.block('restartHistory', { workflowId: 'restart-bad-stop', releaseAfterMs: 0 });
    const h = await env.start('restartService', { hostId: 'h', service: 'svc-a' }, 'restart-bad-stop');
    await blocked.started;
    await expect(h.executeUpdate('stopIfUnchanged', { args: [{}] })).rejects.toThrow();
    expect(await h.executeUpdate('stopIfUnchanged', { args: [{ reason: 'now with a reason' }] })).toMatchObject({ stopped: true });
    expect(((await h.result()) as RestartServiceResult).stopped).toBe('now with a reason');
  });
});
