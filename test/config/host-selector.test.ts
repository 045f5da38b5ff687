/** Host selectors over an inventory: what each form selects, and errors that name the selector. */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/common/errors.js';
import { formatHostSelector, HostSelectorError, labelsOf, parseHostSelector, selectHosts, type InventoryHost } from '../../src/config/host-selector.js';

const INVENTORY: InventoryHost[] = [
  { id: 'db-1', labels: { role: 'db', region: 'eu' } },
  { id: 'db-2', labels: { role: 'db', region: 'us' } },
  { id: 'web-1', labels: { role: 'web', region: 'eu' } },
  { id: 'plain', labels: {} },
];

describe('selectHosts', () => {
  it.each([
    ['all', ['db-1', 'db-2', 'web-1', 'plain']],
    [' all ', ['db-1', 'db-2', 'web-1', 'plain']],
    ['role=db', ['db-1', 'db-2']],
    ['role=db,region=eu', ['db-1']],
    ['region=eu , role=web', ['web-1']],
    ['region=eu', ['db-1', 'web-1']],
    ['plain', ['plain']],
    ['web-1,db-1', ['web-1', 'db-1']],
    ['db-2,db-2', ['db-2']],
  ])('%s selects %j', (selector, expected) => {
    expect(selectHosts(INVENTORY, selector)).toEqual(expected);
  });

  it.each([
    ['', /host selector "": empty; expected `all`/],
    ['role=db,,region=eu', /"role=db,,region=eu": an empty item between commas/],
    ['all,db-1', /"all,db-1": `all` stands alone/],
    ['db-1,role=db', /"db-1,role=db": mixes host ids \(db-1\) with label equalities \(role=db\); use one kind/],
    ['rack=7', /"rack=7": no host has the label rack \(label keys in config "hosts": region, role\)/],
    ['role=db,region=asia', /"role=db,region=asia": matches no host \(role: db, web; region: eu, us\)/],
    ['db-9,db-1', /"db-9,db-1": unknown host db-9 \(config "hosts": db-1, db-2, web-1, plain\)/],
    ['role=', /"role=": "role=": "" is not a label value/],
    ['=db', /"=db": "=db": "" is not a label key/],
  ])('%j is refused: %s', (selector, message) => {
    let caught: unknown;
    try {
      selectHosts(INVENTORY, selector);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HostSelectorError);
    // A usage error wherever it is given: the CLI exits 2, a config load names the field.
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as Error).message).toMatch(message);
    expect((caught as HostSelectorError).selector).toBe(selector);
  });

  it('an empty inventory selects nothing, and says so', () => {
    expect(() => selectHosts([], 'all')).toThrow(/inventory \(config "hosts"\) is empty/);
  });
});

describe('parse and format', () => {
  it.each([
    ['all', 'all'],
    [' role = db , region=eu ', 'role=db,region=eu'],
    ['db-1, db-2', 'db-1,db-2'],
  ])('%j is written back as %j', (text, canonical) => {
    expect(formatHostSelector(parseHostSelector(text))).toBe(canonical);
  });

  it('labelsOf gives the selected hosts that have labels', () => {
    expect(labelsOf(INVENTORY, ['db-2', 'plain'])).toEqual({ 'db-2': { role: 'db', region: 'us' } });
  });
});
