/** The fleet's rules apart from the workflow: window, failure budget, order, seeded shuffle, input. */
import { describe, expect, it } from 'vitest';
import { budgetExceeded, countStates, describeCounts, orderHosts, resolvePolicy, seededRandom, windowSize } from '../../src/common/fleet.js';
import { parseFleetInput } from '../../src/common/inputs.js';

const HOSTS = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7', 'h8'];

describe('windowSize', () => {
  it.each([
    [undefined, 8, 1],
    [3, 8, 3],
    [20, 8, 8],
    ['25%', 8, 2],
    ['25%', 9, 3],
    ['1%', 8, 1],
    ['100%', 8, 8],
  ] as const)('maxParallel %j over %i hosts is %i', (maxParallel, total, want) => {
    expect(windowSize(maxParallel, total)).toBe(want);
  });
});

describe('resolvePolicy', () => {
  it('a runbook that changes hosts stops at its first failure unless told; a read-only one goes on', () => {
    expect(resolvePolicy({}, 4, true)).toEqual({ maxParallel: 1, canary: 0, maxFailures: 0, order: 'listed', jitterSeconds: 0, pingTimeoutSeconds: 5 });
    expect(resolvePolicy({}, 4, false).maxFailures).toBeUndefined();
    expect(resolvePolicy({ maxFailPercent: 20 }, 4, true)).toMatchObject({ maxFailPercent: 20 });
    expect(resolvePolicy({ maxFailPercent: 20 }, 4, true).maxFailures).toBeUndefined();
    expect(resolvePolicy({ canary: 9, maxParallel: '50%' }, 4, true)).toMatchObject({ canary: 4, maxParallel: 2 });
  });
});

describe('budgetExceeded', () => {
  it.each([
    [0, 10, { maxFailures: 0 }, undefined],
    [1, 10, { maxFailures: 0 }, '1 host failed, more than maxFailures 0'],
    [1, 10, { maxFailures: 1 }, undefined],
    [2, 10, { maxFailures: 1 }, '2 hosts failed, more than maxFailures 1'],
    [2, 10, { maxFailPercent: 20 }, undefined],
    [3, 10, { maxFailPercent: 20 }, '3 of 10 hosts failed (30%), more than maxFailPercent 20%'],
    [5, 10, {}, undefined],
  ] as const)('%i failures of %i with %j: %s', (failures, total, policy, want) => {
    expect(budgetExceeded(failures, total, policy)).toBe(want);
  });
});

describe('orderHosts', () => {
  it('a shuffle is a permutation fixed by its seed: the same seed, the same order; another seed, another', () => {
    const a = orderHosts(HOSTS, 'shuffle', { seed: 42 });
    expect([...a].sort()).toEqual(HOSTS);
    expect(orderHosts(HOSTS, 'shuffle', { seed: 42 })).toEqual(a);
    expect(a).not.toEqual(HOSTS);
    expect(orderHosts(HOSTS, 'shuffle', { seed: 43 })).not.toEqual(a);
    // Golden: a change of generator would reorder every recorded fleet's rerun.
    expect(a).toEqual(['h3', 'h8', 'h2', 'h1', 'h7', 'h6', 'h4', 'h5']);
  });

  it('a shuffle without a seed is refused (the workflow picks one and records it)', () => {
    expect(() => orderHosts(HOSTS, 'shuffle')).toThrow(/needs a seed/);
  });

  it('label:KEY groups by the value in value order, keeps the listed order inside a group, hosts without it last', () => {
    const labels = { h1: { rack: 'b' }, h2: { rack: 'a' }, h3: {}, h4: { rack: 'b' }, h5: { rack: 'a' } };
    expect(orderHosts(['h1', 'h2', 'h3', 'h4', 'h5'], 'label:rack', { labels })).toEqual(['h2', 'h5', 'h1', 'h4', 'h3']);
  });

  it('seededRandom is in [0, 1) and repeatable', () => {
    const r = seededRandom(7);
    const xs = Array.from({ length: 1000 }, () => r());
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const again = seededRandom(7);
    expect(Array.from({ length: 1000 }, () => again())).toEqual(xs);
  });
});

describe('counts', () => {
  it('names only the states that have hosts', () => {
    const c = countStates([{ state: 'ok' }, { state: 'ok' }, { state: 'unreachable' }, { state: 'pending' }]);
    expect(c).toMatchObject({ total: 4, ok: 2, unreachable: 1, pending: 1, fail: 0 });
    expect(describeCounts(c)).toBe('4 hosts: 1 pending, 2 ok, 1 unreachable');
  });
});

describe('parseFleetInput', () => {
  const base = { runbook: 'backup', hosts: ['h1', 'h2'] };

  it('takes the runbook\'s own input, checked by its schema', () => {
    const r = parseFleetInput({ ...base, input: { reason: 'upgrade', dryRun: true }, policy: { maxParallel: '50%', canary: 1 } });
    expect(r).toEqual({ ok: true, value: { ...base, input: { reason: 'upgrade', dryRun: true }, policy: { maxParallel: '50%', canary: 1 } } });
  });

  it.each([
    ['an unknown runbook', { ...base, runbook: 'defrag' }, /^input\.runbook: a runbook name \(health-check, backup/],
    ['a field the runbook does not take', { ...base, input: { force: true } }, /^input\.input\.force: unknown field \(fields: .*reason.*\)$/],
    ['a wrong type in the runbook\'s input', { ...base, input: { dryRun: 'yes' } }, /^input\.input\.dryRun: expected boolean, got string "yes"$/],
    ['a hostId in the runbook\'s input', { ...base, input: { hostId: 'h1' } }, /^input\.input\.hostId: set by the fleet for each host/],
    ['restart-service without its service', { runbook: 'restart-service', hosts: ['h1'] }, /^input\.input\.service: missing/],
    ['repeated hosts', { ...base, hosts: ['h1', 'h1'] }, /^input\.hosts: host ids without repeats/],
    ['no hosts', { ...base, hosts: [] }, /^input\.hosts: at least 1 items/],
    ['a bad host id', { ...base, hosts: ['h 1'] }, /^input\.hosts\.0: a host id/],
    ['a percentage above 100', { ...base, policy: { maxParallel: '120%' } }, /^input\.policy\.maxParallel:/],
    ['an unknown order', { ...base, policy: { order: 'random' } }, /^input\.policy\.order: listed, shuffle, or label:<key>/],
    ['label order without labels', { ...base, policy: { order: 'label:rack' } }, /^input\.policy\.order: label:rack needs the hosts' `labels`$/],
    ['a misspelt policy field', { ...base, policy: { maxparallel: 2 } }, /^input\.policy\.maxparallel: unknown field/],
  ])('%s is refused, naming the field', (_what, input, problem) => {
    const r = parseFleetInput(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.problems[0]).toMatch(problem);
  });
});
