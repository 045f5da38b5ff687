/**
 * Host selectors: which of the inventory's hosts a fleet run or a fleet
 * schedule is about. Pure: the config, the CLI and the schedules share it.
 *
 * A selector is one of
 * - `all`: every host, in inventory order;
 * - label equalities joined by commas, all of which must hold
 *   (`role=db,region=eu`);
 * - host ids joined by commas (`db-1,db-2`), in the order given.
 *
 * Ids and label equalities are not mixed in one selector (an id beside a label
 * would have to mean OR, a label beside a label means AND). A selector that
 * names a label key no host has, an id not in the inventory, or that matches no
 * host, is an error naming the selector: a typo never quietly selects nothing.
 */
import { UsageError } from '../common/errors.js';

/** A label key: letters, digits, `.`, `_`, `/`, `-`, starting with a letter or digit (Kubernetes-like). */
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;
/** A label value: letters, digits, `.`, `_`, `-` (never `,` or `=`, which a selector uses). */
export const LABEL_VALUE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** One host of the orchestrator's inventory (config `hosts`). */
export interface InventoryHost {
  id: string;
  labels: Readonly<Record<string, string>>;
}

export type HostSelector =
  | { kind: 'all' }
  | { kind: 'labels'; equals: ReadonlyArray<readonly [key: string, value: string]> }
  | { kind: 'ids'; ids: readonly string[] };

/** A selector that does not parse or selects nothing; a usage error (exit code 2) wherever it is given. */
export class HostSelectorError extends UsageError {
  constructor(
    readonly selector: string,
    readonly problem: string,
  ) {
    super(`host selector "${selector}": ${problem}`);
  }
}

/** What a selector looks like, for error messages and help. */
export const SELECTOR_EXPECTED = '`all`, label equalities such as `role=db,region=eu`, or host ids such as `db-1,db-2`';

/** Parses a selector's syntax (nothing about the inventory). */
export function parseHostSelector(text: string): HostSelector {
  const selector = text.trim();
  if (selector === '') throw new HostSelectorError(text, `empty; expected ${SELECTOR_EXPECTED}`);
  if (selector === 'all') return { kind: 'all' };
  const items = selector.split(',').map((s) => s.trim());
  if (items.some((i) => i === '')) throw new HostSelectorError(text, `an empty item between commas; expected ${SELECTOR_EXPECTED}`);
  if (items.includes('all')) throw new HostSelectorError(text, '`all` stands alone (it already selects every host)');
  const labels = items.filter((i) => i.includes('='));
  if (labels.length > 0 && labels.length < items.length) {
    throw new HostSelectorError(text, `mixes host ids (${items.filter((i) => !i.includes('=')).join(', ')}) with label equalities (${labels.join(', ')}); use one kind`);
  }
  if (labels.length === 0) return { kind: 'ids', ids: [...new Set(items)] };
  const equals = items.map((item) => {
    const at = item.indexOf('=');
    const key = item.slice(0, at).trim();
    const value = item.slice(at + 1).trim();
    if (!LABEL_KEY_PATTERN.test(key)) throw new HostSelectorError(text, `"${item}": "${key}" is not a label key (letters, digits, ".", "_", "/", "-")`);
    if (!LABEL_VALUE_PATTERN.test(value)) throw new HostSelectorError(text, `"${item}": "${value}" is not a label value (letters, digits, ".", "_", "-")`);
    return [key, value] as const;
  });
  return { kind: 'labels', equals };
}

/** The selector written back in its canonical form (`role=db,region=eu`, `db-1,db-2`, `all`). */
export function formatHostSelector(s: HostSelector): string {
  switch (s.kind) {
    case 'all':
      return 'all';
    case 'ids':
      return s.ids.join(',');
    case 'labels':
      return s.equals.map(([k, v]) => `${k}=${v}`).join(',');
  }
}

/**
 * The ids of the hosts `text` selects: inventory order for `all` and labels,
 * the given order for ids. Throws {@link HostSelectorError} for a bad selector,
 * a label key no host has, an unknown id, or no match.
 */
export function selectHosts(inventory: readonly InventoryHost[], text: string): string[] {
  const s = parseHostSelector(text);
  const known = inventory.map((h) => h.id);
  switch (s.kind) {
    case 'all':
      if (known.length === 0) throw new HostSelectorError(text, 'the inventory (config "hosts") is empty');
      return known;
    case 'ids': {
      const unknown = s.ids.filter((id) => !known.includes(id));
      if (unknown.length) throw new HostSelectorError(text, `unknown host${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (config "hosts": ${known.join(', ')})`);
      return [...s.ids];
    }
    case 'labels': {
      const keys = new Set(inventory.flatMap((h) => Object.keys(h.labels)));
      const unknownKeys = s.equals.map(([k]) => k).filter((k) => !keys.has(k));
      if (unknownKeys.length) {
        throw new HostSelectorError(text, `no host has the label${unknownKeys.length > 1 ? 's' : ''} ${unknownKeys.join(', ')} (label keys in config "hosts": ${[...keys].sort().join(', ') || 'none'})`);
      }
      const selected = inventory.filter((h) => s.equals.every(([k, v]) => h.labels[k] === v)).map((h) => h.id);
      if (selected.length === 0) throw new HostSelectorError(text, `matches no host (${describeLabelValues(inventory, s.equals.map(([k]) => k))})`);
      return selected;
    }
  }
}

/** `role: db, web; region: eu` for the keys a selector used. */
function describeLabelValues(inventory: readonly InventoryHost[], keys: readonly string[]): string {
  return [...new Set(keys)]
    .map((k) => `${k}: ${[...new Set(inventory.flatMap((h) => (h.labels[k] !== undefined ? [h.labels[k]] : [])))].sort().join(', ')}`)
    .join('; ');
}

/** The labels of the selected hosts (for a fleet's `order: label:KEY`), only those that have any. */
export function labelsOf(inventory: readonly InventoryHost[], ids: readonly string[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const h of inventory) if (ids.includes(h.id) && Object.keys(h.labels).length) out[h.id] = { ...h.labels };
  return out;
}
