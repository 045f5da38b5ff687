/**
 * `mcp-runbooks fleet ...` and `status` as subprocesses, against one real host
 * worker (role all) and two inventory hosts with no worker at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetInputFor, startFleet } from '../../src/client/fleet.js';
import type { FleetProgress, FleetResult } from '../../src/common/fleet.js';
import { runCli } from '../helpers/cli.js';
import { startTestHost, type TestHost } from '../helpers/host.js';
import { pollUntil, resultWithin } from '../helpers/temporal.js';

const HOST = 'cli-fleet';
let host: TestHost;

beforeAll(async () => {
  host = await startTestHost({
    hostId: HOST,
    extra: {
      hosts: [
        { id: HOST, labels: { role: 'db', region: 'eu' } },
        { id: 'cli-ghost', labels: { role: 'db', region: 'us' } },
        { id: 'cli-web', labels: { role: 'web' } },
      ],
    },
  });
});
afterAll(() => host?.close());

const cli = (...args: string[]) => runCli(['--config', host.sbx.configPath, ...args]);

describe('mcp-runbooks fleet', () => {
  it('fleet run --json: the per-host table as JSON; a host with no worker is unreachable at once, and the exit code is 1', async () => {
    const started = Date.now();
    const r = await cli('fleet', 'run', 'health-check', '--hosts', 'role=db', '--max-parallel', '2', '--json');
    expect(r.exitCode, r.all).toBe(1);
    const result = JSON.parse(r.stdout) as FleetResult;
    expect(result).toMatchObject({ runbook: 'fleet', target: 'health-check', selector: 'role=db', counts: { total: 2, unreachable: 1 }, policy: { maxParallel: 2 } });
    expect(result.hosts.map((h) => [h.host, h.state])).toEqual([
      [HOST, expect.stringMatching(/^(ok|warn)$/)],
      ['cli-ghost', 'unreachable'],
    ]);
    expect(result.hosts[1]!.summary).toMatch(/^no worker polls .*\.host\.cli-ghost/);
    expect(result.hosts[0]!.workflowId).toBe(`${result.workflowId}.${HOST}`);
    // No progress lines with --json; and nothing waited for a lock or a heartbeat timeout.
    expect(r.stderr).toBe('');
    expect(Date.now() - started).toBeLessThan(30_000);

    const status = await cli('fleet', 'status', result.workflowId);
    expect(status.exitCode, status.all).toBe(0);
    expect(status.stdout).toContain(`${result.workflowId}: fleet of health-check over role=db, done`);
    expect(status.stdout).toMatch(/^HOST\s+STATE\s+WORKFLOW\s+SUMMARY$/m);
    expect(status.stdout).toMatch(new RegExp(`^${HOST}\\s+(ok|warn)\\s+${result.workflowId}\\.${HOST}\\s+\\d+ ok, \\d+ warn, 0 fail`, 'm'));
    expect(status.stdout).toMatch(/^cli-ghost\s+unreachable\s+\S+\.cli-ghost\s+no worker polls/m);
    expect(status.stdout).toMatch(/^2 hosts: 1 (ok|warn), 1 unreachable$/m);
  });

  it('fleet run prints each host\'s progress on stderr, then the table; exit 0 when every host ends ok or warn', async () => {
    const r = await cli('fleet', 'run', 'health-check', '--hosts', HOST);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stderr).toMatch(/^fleet of health-check over cli-fleet: 1 host \(cli-fleet\): fleet-health-check-\S+$/m);
    expect(r.stderr).toMatch(/^ {2}cli-fleet: running - /m);
    expect(r.stderr).toMatch(/^ {2}cli-fleet: (ok|warn) - \d+ ok/m);
    expect(r.stdout).toMatch(/^1 host: 1 (ok|warn)$/m);
  });

  it('a selector that matches nothing, or a policy out of range, is a usage error (exit 2) naming it; nothing starts', async () => {
    const none = await cli('fleet', 'run', 'health-check', '--hosts', 'role=cache');
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('host selector "role=cache": matches no host (role: db, web)');
    const bad = await cli('fleet', 'run', 'daily', '--hosts', 'all', '--max-parallel', '0');
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--max-parallel: /);
    const mixed = await cli('run', 'health-check', '--host', 'role=db');
    expect(mixed.exitCode).toBe(2);
    expect(mixed.stderr).toContain('--host role=db selects 2 hosts (cli-fleet, cli-ghost); run one host, or use `mcp-runbooks fleet run <runbook> --hosts role=db`');
  });

  it('fleet pause, status, abort; the aborted fleet ends at once (nothing was running) and a resume is refused (exit 2); the rest are skipped', async () => {
    const handle = await startFleet(host.client, host.sbx.config, fleetInputFor(host.sbx.config, { runbook: 'health-check', selector: `${HOST},cli-web`, policy: { maxParallel: 1 } }));
    await handle.executeUpdate('pause', { args: [{ by: 'test' }] });
    await pollUntil('the first host done, nothing running', () => handle.query<FleetProgress>('progress'), (p) => p.counts.running === 0);
    const paused = await cli('fleet', 'pause', handle.workflowId, '--by', 'ops');
    expect(paused.exitCode, paused.all).toBe(0);
    expect(paused.stdout).toMatch(new RegExp(`^${handle.workflowId}: paused; 2 hosts: `));
    const status = await cli('fleet', 'status', handle.workflowId);
    expect(status.stdout).toContain(`${handle.workflowId}: fleet of health-check over cli-fleet,cli-web, paused`);
    expect(status.stdout).toMatch(/^cli-web\s+pending\s+/m);
    expect(status.stdout).toContain('paused: no new host starts until `mcp-runbooks fleet resume`');
    const aborted = await cli('fleet', 'abort', handle.workflowId, '--by', 'ops', '--reason', 'change freeze');
    expect(aborted.exitCode, aborted.all).toBe(0);
    expect(aborted.stdout).toMatch(new RegExp(`^${handle.workflowId}: aborted; `));
    const resumed = await cli('fleet', 'resume', handle.workflowId);
    expect(resumed.exitCode).toBe(2);
    expect(resumed.stderr).toContain(`resume ${handle.workflowId}: the fleet has ended (completed); nothing to resume`);
    const result = await resultWithin<FleetResult>(handle, 30_000);
    expect(result.aborted).toMatchObject({ by: 'ops', reason: 'change freeze' });
    expect(result.hosts.find((h) => h.host === 'cli-web')).toMatchObject({ state: 'skipped', summary: 'not started: the fleet was aborted by ops (change freeze)' });
  });

  it('fleet abort of a run that is not a fleet is refused (exit 2) naming its type; the run goes on untouched', async () => {
    // A healthCheck run that was already completed is still "not a fleet": nothing is sent to it.
    const run = await host.client.workflow.start('healthCheck', { taskQueue: host.sbx.config.temporal.taskQueue, workflowId: `cli-not-a-fleet-${Date.now()}`, args: [{ hostId: HOST }] });
    const refused = await cli('fleet', 'abort', run.workflowId, '--by', 'ops');
    expect(refused.exitCode, refused.all).toBe(2);
    expect(refused.stderr).toContain(`${run.workflowId} is a healthCheck run, not a fleet: nothing to abort`);
    await resultWithin(run, 60_000);
    const history = await run.fetchHistory();
    expect(history.events!.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionUpdateAdmittedEventAttributes)).toBe(false);
  });

  it('status shows each configured host\'s worker as polling or absent', async () => {
    const r = await cli('status');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${HOST}: free; worker polling \\(last poll \\S+\\)$`, 'm'));
    expect(r.stdout).toMatch(/^cli-ghost: free; worker absent$/m);
    const json = JSON.parse((await cli('status', '--json')).stdout) as Array<{ hostId: string; worker: { state: string } }>;
    expect(json.map((s) => [s.hostId, s.worker.state])).toEqual([
      [HOST, 'polling'],
      ['cli-ghost', 'absent'],
      ['cli-web', 'absent'],
    ]);
  });
});
