/** What each notification kind sends, from one event: pure, no server. */
import { describe, expect, it } from 'vitest';
import { endEvent, runLink, wantedEvents, type RunEvent } from '../../src/common/notify.js';
import type { NotifyTarget } from '../../src/config/config.js';
import { Secret } from '../../src/config/secret.js';
import { prepare } from '../../src/notify/send.js';

const event: RunEvent = {
  event: 'failure',
  outcome: 'failure',
  runbook: 'backup',
  hostId: 'db-1',
  scheduled: true,
  workflowId: 'backup-db-1-1',
  runId: '0f6a1c1e-1111-4222-8333-444455556666',
  summary: 'backup on db-1 failed: disk full',
  failureType: 'BackupFailed',
  at: '2026-12-03T02:00:00.000Z',
};
const target = (kind: NotifyTarget['kind'], url: string, extra: Partial<NotifyTarget> = {}): NotifyTarget => ({
  name: kind,
  kind,
  url: new Secret(url, 'config'),
  runbooks: ['*'],
  hosts: ['*'],
  events: ['failure'],
  scheduledOnly: false,
  timeoutSeconds: 10,
  ...extra,
});

describe('notification requests', () => {
  it('healthchecks: /start, the base URL, /fail, each with the run id, keeping a query the URL had; nothing for a declined run', () => {
    const t = target('healthchecks', 'https://hc.example/ping/abc/?x=1');
    expect(prepare(t, { ...event, event: 'started' }, undefined)?.url).toBe(`https://hc.example/ping/abc/start?x=1&rid=${event.runId}`);
    expect(prepare(t, { ...event, event: 'success' }, undefined)?.url).toBe(`https://hc.example/ping/abc?x=1&rid=${event.runId}`);
    const fail = prepare(t, event, 'http://ui/run')!;
    expect(fail.url).toBe(`https://hc.example/ping/abc/fail?x=1&rid=${event.runId}`);
    expect(fail.body).toBe('backup on db-1 failed (BackupFailed): backup on db-1 failed: disk full\nbackup-db-1-1\nhttp://ui/run\n');
    expect(prepare(t, { ...event, event: 'declined' }, undefined)).toBeUndefined();
  });

  it('slack: one text with the failure type, the approve and reject commands, and a link', () => {
    const body = JSON.parse(prepare(target('slack', 'https://hooks.example/T/B/x'), { ...event, event: 'waiting-for-approval', approveCommand: 'mcp-runbooks approve r-1' }, 'http://ui/r-1')!.body) as { text: string };
    expect(body.text.split('\n')).toEqual([
      ':raising_hand: *backup* on `db-1` waits for approval (BackupFailed)',
      'backup on db-1 failed: disk full',
      'Approve: `mcp-runbooks approve r-1` (or reject: `mcp-runbooks approve --reject r-1`)',
      '<http://ui/r-1|backup-db-1-1>',
    ]);
  });

  it('slack: text from outside cannot mention the channel or forge a link', () => {
    const body = JSON.parse(prepare(target('slack', 'https://hooks.example/T/B/x'), { ...event, summary: 'restic said <!channel> see <https://evil.example|docs> & more' }, 'http://ui/r-1')!.body) as { text: string };
    expect(body.text).toContain('restic said &lt;!channel&gt; see &lt;https://evil.example|docs&gt; &amp; more');
    expect(body.text).not.toContain('<!channel>');
    expect(body.text.endsWith('<http://ui/r-1|backup-db-1-1>')).toBe(true);
  });

  it('webhook: our JSON with the Authorization header when one is configured', () => {
    const req = prepare(target('webhook', 'https://ops.example/hook', { authorization: new Secret('Bearer t', 'file:/x') }), event, undefined)!;
    expect(req.headers).toEqual({ 'content-type': 'application/json', authorization: 'Bearer t' });
    expect(JSON.parse(req.body)).toEqual({ version: 1, event: 'failure', runbook: 'backup', host: 'db-1', outcome: 'failure', summary: event.summary, workflowId: event.workflowId, runId: event.runId, scheduled: true, at: event.at, failureType: 'BackupFailed' });
  });

  it('events: a completed run is success, warn or failure by its worst finding; filters by runbook, host and schedule', () => {
    expect([endEvent('success', 'ok'), endEvent('success', 'warn'), endEvent('success', 'fail'), endEvent('recovered'), endEvent('rejected'), endEvent('not-approved'), endEvent('timed-out')]).toEqual(['success', 'warn', 'failure', 'success', 'declined', 'declined', 'timed-out']);
    const hc = target('healthchecks', 'https://hc.example/x', { runbooks: ['backup'], hosts: ['db-1'], events: ['started', 'success'], scheduledOnly: true });
    expect(wantedEvents([hc], { runbook: 'backup', hostId: 'db-1', scheduled: true })).toEqual(['started', 'success']);
    expect(wantedEvents([hc], { runbook: 'backup', hostId: 'db-1', scheduled: false })).toEqual([]);
    expect(wantedEvents([hc], { runbook: 'daily', hostId: 'db-1', scheduled: true })).toEqual([]);
    expect(wantedEvents([hc], { runbook: 'backup', hostId: 'db-2', scheduled: true })).toEqual([]);
    expect(runLink('http://ui:8233/', 'default', 'a/b', 'r')).toBe('http://ui:8233/namespaces/default/workflows/a%2Fb/r/history');
  });
});
