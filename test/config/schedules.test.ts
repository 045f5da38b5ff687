/** Declared schedules: seed defaults, entries merged over them, and errors that name the field. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ConfigError } from '../../src/common/errors.js';
import { loadConfig } from '../../src/config/load.js';
import { configYaml } from '../../src/config/print.js';
import { resolveSchedules } from '../../src/config/schedules.js';
import type { InventoryHost } from '../../src/config/host-selector.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-config-schedules-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An inventory of plain ids. */
const inventory = (...ids: string[]) => ids.map((id) => ({ id, labels: {} }));

let n = 0;
async function file(content: unknown): Promise<string> {
  const path = join(dir, `s${n++}.yaml`);
  await writeFile(path, stringify(content));
  return path;
}

describe('seed defaults', () => {
  it('are the seed crontab\'s four jobs on every host, and no health check', () => {
    const r = resolveSchedules({ entries: [], defaultSchedules: true, inventory: inventory('db-1', 'db-2'), defaultHost: 'db-1' });
    expect(r.issues).toEqual([]);
    expect(r.schedules.map((s) => [s.runbook, s.hostId, s.cron, s.catchupWindow])).toEqual([
      ['backup', 'db-1', '0 2 * * *', '1d'],
      ['backup', 'db-2', '0 2 * * *', '1d'],
      ['daily', 'db-1', '0 2 * * *', '1h'],
      ['daily', 'db-2', '0 2 * * *', '1h'],
      ['weekly', 'db-1', '0 3 * * 0', '1h'],
      ['weekly', 'db-2', '0 3 * * 0', '1h'],
      ['monthly', 'db-1', '0 4 1 * *', '1h'],
      ['monthly', 'db-2', '0 4 1 * *', '1h'],
      ['restore-drill', 'db-1', '0 5 * * 6', '1d'],
      ['restore-drill', 'db-2', '0 5 * * 6', '1d'],
    ]);
    // Each host's run starts up to its jitter late: a fleet does not all start at 02:00:00.
    for (const s of r.schedules) expect(s).toMatchObject({ timezone: 'UTC', overlap: 'SKIP', jitter: s.runbook === 'restore-drill' ? '30m' : '10m', pauseOnFailure: false, enabled: true, origin: 'seed' });
  });

  it('an entry overrides the default for its runbook and host field by field; enabled: false switches one off', () => {
    const r = resolveSchedules({
      entries: [
        { runbook: 'backup', host: 'db-2', cron: '30 1 * * *', timezone: 'Europe/Berlin' },
        { runbook: 'weekly', enabled: false },
      ],
      defaultSchedules: true,
      inventory: inventory('db-1', 'db-2'),
      defaultHost: 'db-1',
    });
    expect(r.issues).toEqual([]);
    const find = (runbook: string, hostId: string) => r.schedules.find((s) => (s.runbook as string) === runbook && s.hostId === hostId);
    const backup2 = find('backup', 'db-2');
    expect(backup2).toMatchObject({ cron: '30 1 * * *', timezone: 'Europe/Berlin', catchupWindow: '1d', origin: 'config' });
    expect(find('weekly', 'db-1')).toMatchObject({ enabled: false, cron: '0 3 * * 0' });
    expect(find('weekly', 'db-2')).toMatchObject({ enabled: true });
    expect(r.schedules).toHaveLength(10);
  });

  it('defaultSchedules: false declares only the entries', () => {
    const r = resolveSchedules({
      entries: [{ runbook: 'health-check', every: '15m' }],
      defaultSchedules: false,
      inventory: inventory('db-1'),
      defaultHost: 'db-1',
    });
    expect(r.schedules).toEqual([
      {
        runbook: 'health-check',
        hostId: 'db-1',
        every: '15m',
        timezone: 'UTC',
        jitter: '0s',
        overlap: 'SKIP',
        catchupWindow: '1m',
        pauseOnFailure: false,
        enabled: true,
        origin: 'config',
      },
    ]);
  });
});

describe('schedules in a config file', () => {
  it('are read with every field; time zone and overlap policy are normalised', async () => {
    const c = loadConfig({
      path: await file({
        hostId: 'a',
        hosts: ['a', 'b'],
        schedules: [
          { runbook: 'health-check', every: '5s' },
          { runbook: 'health-check', host: 'b', cron: '0 6 * * mon-fri', timezone: 'europe/berlin', overlap: 'buffer-one', jitter: '30s', catchupWindow: '2h', pauseOnFailure: true },
        ],
      }),
      env: {},
    });
    expect(c.schedules.filter((s) => s.origin === 'config')).toEqual([
      expect.objectContaining({ runbook: 'health-check', hostId: 'a', every: '5s', timezone: 'UTC', overlap: 'SKIP', catchupWindow: '1m' }),
      expect.objectContaining({
        runbook: 'health-check',
        hostId: 'b',
        cron: '0 6 * * mon-fri',
        timezone: 'Europe/Berlin',
        overlap: 'BUFFER_ONE',
        jitter: '30s',
        catchupWindow: '2h',
        pauseOnFailure: true,
      }),
    ]);
  });

  it('the built-in sandbox declares a health check every 15 minutes, besides the seed defaults', () => {
    const c = loadConfig({ env: {}, cwd: dir });
    expect(c.schedules.filter((s) => s.origin === 'seed').map((s) => [s.runbook, s.hostId])).toEqual([
      ['backup', 'local'],
      ['daily', 'local'],
      ['weekly', 'local'],
      ['monthly', 'local'],
      ['restore-drill', 'local'],
    ]);
    expect(c.schedules.filter((s) => s.origin === 'config')).toEqual([expect.objectContaining({ runbook: 'health-check', hostId: 'local', every: '15m' })]);
  });
});

const BAD: Array<[string, unknown, { path: string; expected: string; found: string }]> = [
  [
    'a cron minute out of range',
    { schedules: [{ runbook: 'health-check', every: '1h' }, { runbook: 'health-check', host: 'x', cron: '61 * * * *' }], hosts: ['h', 'x'], hostId: 'h' },
    { path: 'schedules[1].cron', expected: 'a 5-field cron expression "minute hour day-of-month month day-of-week"', found: '"61 * * * *"' },
  ],
  ['a cron with 6 fields', { schedules: [{ runbook: 'health-check', cron: '0 0 2 * * *' }] }, { path: 'schedules[0].cron', expected: '6 fields instead of 5', found: '"0 0 2 * * *"' }],
  [
    'a cron that Temporal would read differently from cron',
    { schedules: [{ runbook: 'health-check', cron: '0 4 1 * 0' }] },
    { path: 'schedules[0].cron', expected: 'day-of-month and day-of-week are both restricted', found: '"0 4 1 * 0"' },
  ],
  ['an unknown runbook', { schedules: [{ runbook: 'defrag', every: '1h' }] }, { path: 'schedules[0].runbook', expected: 'a runbook this version can schedule (health-check', found: '"defrag"' }],
  ['a runbook that needs more input than a host', { schedules: [{ runbook: 'restart-service', every: '1h' }] }, { path: 'schedules[0].runbook', expected: 'a runbook this version can schedule (health-check, backup, daily, weekly, monthly, restore-drill)', found: '"restart-service"' }],
  ['an unknown host', { hostId: 'db-1', schedules: [{ runbook: 'health-check', host: 'db-9', every: '1h' }] }, { path: 'schedules[0].host', expected: 'a host listed in "hosts" (db-1)', found: '"db-9"' }],
  ['a bad time zone', { schedules: [{ runbook: 'health-check', cron: '0 2 * * *', timezone: 'Mars/Olympus' }] }, { path: 'schedules[0].timezone', expected: 'an IANA time zone name', found: '"Mars/Olympus"' }],
  ['an offset instead of a zone', { schedules: [{ runbook: 'health-check', cron: '0 2 * * *', timezone: '+01:00' }] }, { path: 'schedules[0].timezone', expected: 'an IANA time zone name', found: '"+01:00"' }],
  ['neither cron nor every', { schedules: [{ runbook: 'health-check' }] }, { path: 'schedules[0].cron', expected: 'a cron or an every ("health-check" has no default schedule)', found: 'neither' }],
  ['both cron and every', { schedules: [{ runbook: 'health-check', cron: '0 2 * * *', every: '1h' }] }, { path: 'schedules[0].every', expected: 'either cron or every, not both', found: 'every "1h" beside cron "0 2 * * *"' }],
  ['an interval without a unit', { schedules: [{ runbook: 'health-check', every: '300' }] }, { path: 'schedules[0].every', expected: 'an interval of at least 1s', found: '"300"' }],
  ['a catch-up window under Temporal\'s minimum', { schedules: [{ runbook: 'health-check', every: '1h', catchupWindow: '5s' }] }, { path: 'schedules[0].catchupWindow', expected: 'at least 10s', found: '"5s"' }],
  ['an unknown overlap policy', { schedules: [{ runbook: 'health-check', every: '1h', overlap: 'sometimes' }] }, { path: 'schedules[0].overlap', expected: 'an overlap policy: one of SKIP, BUFFER_ONE', found: '"sometimes"' }],
  ['a misspelt field', { schedules: [{ runbook: 'health-check', every: '1h', timzone: 'UTC' }] }, { path: 'schedules[0].timzone', expected: 'no such field', found: 'unknown field "timzone"' }],
  [
    'two entries for one runbook and host',
    { schedules: [{ runbook: 'health-check', every: '1h' }, { runbook: 'health-check', cron: '0 2 * * *' }] },
    { path: 'schedules[1]', expected: 'one entry per runbook and host (schedules[0] already declares health-check on', found: 'a second health-check on' },
  ],
  ['a fleet selector that matches nothing', { hosts: [{ id: 'db-1', labels: { role: 'db' } }], hostId: 'db-1', schedules: [{ runbook: 'daily', hosts: 'role=web' }] }, { path: 'schedules[0].hosts', expected: 'matches no host (role: db)', found: '"role=web"' }],
  ['a fleet selector with a label no host has', { hosts: [{ id: 'db-1', labels: { role: 'db' } }], hostId: 'db-1', schedules: [{ runbook: 'daily', hosts: 'rack=1' }] }, { path: 'schedules[0].hosts', expected: 'no host has the label rack', found: '"rack=1"' }],
  ['host and hosts together', { schedules: [{ runbook: 'daily', host: 'local', hosts: 'all' }] }, { path: 'schedules[0].hosts', expected: 'either host (one host) or hosts (a selector), not both', found: 'hosts "all" beside host "local"' }],
  ['a per-host jitter and a rolling policy together', { schedules: [{ runbook: 'daily', hosts: 'all', jitter: '5m', policy: { maxParallel: 2 } }] }, { path: 'schedules[0].policy', expected: 'either a per-host jitter or a rolling policy, not both', found: 'policy beside jitter "5m"' }],
  ['a policy without hosts', { schedules: [{ runbook: 'daily', policy: { maxParallel: 2 } }] }, { path: 'schedules[0].policy', expected: 'a policy only beside `hosts: <selector>`', found: 'policy without hosts' }],
  ['a bad maxParallel', { schedules: [{ runbook: 'daily', hosts: 'all', policy: { maxParallel: '150%' } }] }, { path: 'schedules[0].policy.maxParallel', expected: 'a percentage from 1% to 100%', found: '"150%"' }],
  [
    'a per-host entry on a host a fleet schedule of the same runbook covers',
    { hosts: [{ id: 'db-1', labels: { role: 'db' } }, 'web-1'], hostId: 'db-1', schedules: [{ runbook: 'daily', hosts: 'role=db' }, { runbook: 'daily', host: 'db-1' }] },
    { path: 'schedules[1].host', expected: 'a host no fleet schedule of daily covers (schedules[0] selects it with "role=db")', found: '"db-1"' },
  ],
  [
    'two fleet schedules of one runbook over the same host',
    { hosts: [{ id: 'db-1', labels: { role: 'db' } }], hostId: 'db-1', schedules: [{ runbook: 'daily', hosts: 'role=db' }, { runbook: 'daily', hosts: 'all', cron: '0 5 * * *' }] },
    { path: 'schedules[1].hosts', expected: 'hosts no other fleet schedule of daily covers (schedules[0] selects db-1 with "role=db")', found: '"all", which selects db-1 too' },
  ],
  ['schedules that are not a list', { schedules: { runbook: 'health-check' } }, { path: 'schedules', expected: 'a list of schedules', found: 'a mapping with "runbook"' }],
];

describe('a bad schedule is refused at load with the field, what was expected and what was found', () => {
  it.each(BAD)('%s', async (_name, content, want) => {
    const path = await file(content);
    let error: unknown;
    try {
      loadConfig({ path, env: {} });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    const issue = issues.find((i) => i.path === want.path);
    expect(issue, `issues: ${JSON.stringify(issues)}`).toBeDefined();
    expect(issue!.expected).toContain(want.expected);
    expect(issue!.found).toContain(want.found);
    expect((error as ConfigError).message).toContain(`${want.path}: expected`);
  });
});

describe('fleet schedules (hosts: <selector>)', () => {
  const fleetInventory: InventoryHost[] = [
    { id: 'db-1', labels: { role: 'db', rack: 'b' } },
    { id: 'db-2', labels: { role: 'db', rack: 'a' } },
    { id: 'web-1', labels: { role: 'web' } },
  ];

  it('one entry selects its hosts now and takes over the seed default of its runbook on them; other hosts keep theirs', () => {
    const r = resolveSchedules({
      entries: [{ runbook: 'daily', hosts: 'role = db', cron: '0 2 * * *', policy: { maxParallel: 10, order: 'label:rack' } }],
      defaultSchedules: true,
      inventory: fleetInventory,
      defaultHost: 'db-1',
    });
    expect(r.issues).toEqual([]);
    const daily = r.schedules.filter((s) => s.runbook === 'daily');
    expect(daily.map((s) => [s.hostId, s.origin, s.fleet?.hosts])).toEqual([
      ['web-1', 'seed', undefined],
      ['role=db', 'config', ['db-1', 'db-2']],
    ]);
    expect(daily[1]!.fleet).toEqual({
      selector: 'role=db',
      hosts: ['db-1', 'db-2'],
      labels: { 'db-1': { role: 'db', rack: 'b' }, 'db-2': { role: 'db', rack: 'a' } },
      policy: { maxParallel: 10, order: 'label:rack' },
    });
    // The other runbooks' defaults are untouched on every host.
    expect(r.schedules.filter((s) => s.runbook === 'backup').map((s) => s.hostId)).toEqual(['db-1', 'db-2', 'web-1']);
  });

  it('a per-host jitter is kept as the entry\'s jitter, with no rolling policy', () => {
    const r = resolveSchedules({ entries: [{ runbook: 'health-check', hosts: 'all', every: '15m', jitter: '2m' }], defaultSchedules: false, inventory: fleetInventory, defaultHost: 'db-1' });
    expect(r.issues).toEqual([]);
    expect(r.schedules).toEqual([expect.objectContaining({ hostId: 'all', jitter: '2m', fleet: { selector: 'all', hosts: ['db-1', 'db-2', 'web-1'], labels: {}, policy: {} } })]);
  });

  it('a config with labelled hosts prints back to the same schedules', async () => {
    const c = loadConfig({ path: await file({ hostId: 'db-1', hosts: fleetInventory, schedules: [{ runbook: 'daily', hosts: 'role=db', policy: { maxParallel: '50%', canary: 1 } }] }), env: {} });
    expect(c.inventory).toEqual(fleetInventory);
    expect(c.hosts).toEqual(['db-1', 'db-2', 'web-1']);
    const again = loadConfig({ path: await file(parse(configYaml(c))), env: {} });
    expect(again.schedules).toEqual(c.schedules);
    expect(again.inventory).toEqual(c.inventory);
  });
});

describe('overlap policies that end a running run', () => {
  it.each(['cancel-other', 'TERMINATE_OTHER'])('%s is refused for every runbook that changes the host, and allowed for the read-only health check', (overlap) => {
    const entries = ['backup', 'daily', 'weekly', 'monthly', 'health-check'].map((runbook) => ({ runbook, host: 'a', cron: '0 4 * * *', overlap }));
    const r = resolveSchedules({ entries, defaultSchedules: false, inventory: inventory('a'), defaultHost: 'a' });
    expect(r.issues.map((i) => [i.path, i.found])).toEqual([0, 1, 2, 3].map((i) => [`schedules[${i}].overlap`, overlap.toUpperCase().replace('-', '_')]));
    expect(r.issues[0]!.expected).toContain('SKIP, BUFFER_ONE, BUFFER_ALL or ALLOW_ALL for backup, which changes the host');
    expect(r.schedules.map((s) => s.runbook)).toEqual(['health-check']);
  });
});
